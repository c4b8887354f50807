"""``tenantctl capacity``: what clients consume of every AWS quota, counted from the plans.

Each shape of client (``infra.ops.planning.shapes``: on the platform's host
names, on its own domain) is planned offline, preview and live production, and
what the plans register is counted per quota. Shared resources are the
platform's and count once, outside the per-client figure. The per-client figure
is the largest over the shapes, so N clients of any mix fit; the table follows
the program, never a hand-kept list.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.core.limits import QUOTAS, Quota
from infra.core.platform import REFERENCE_POOL_SERVER, PoolServer
from infra.ops.planning.shapes import client_shapes, reference_client
from infra.program.plan import PlannedResource, StackPlan

DEFAULT_CLIENTS = 1000


def _count(type_: str) -> Callable[[PlannedResource], int]:
    return lambda r: 1 if r.type == type_ else 0


def _secrets(r: PlannedResource) -> int:
    if r.type == "aws:secretsmanager/secret:Secret":
        return 1
    managed = r.type == "aws:rds/instance:Instance" and r.inputs.get("manageMasterUserPassword")
    return 1 if managed else 0


def _storage(r: PlannedResource) -> int:
    if r.type != "aws:rds/instance:Instance":
        return 0
    return int(r.inputs.get("maxAllocatedStorage") or r.inputs.get("allocatedStorage") or 0)


COUNTERS: dict[str, Callable[[PlannedResource], int]] = {
    "alb-certificates": _count("aws:lb/listenerCertificate:ListenerCertificate"),
    "alb-rules": _count("aws:lb/listenerRule:ListenerRule"),
    "route53-records": _count("aws:route53/record:Record"),
    "acm-certificates": _count("aws:acm/certificate:Certificate"),
    "cognito-user-pools": _count("aws:cognito/userPool:UserPool"),
    "rds-instances": _count("aws:rds/instance:Instance"),
    "rds-parameter-groups": _count("aws:rds/parameterGroup:ParameterGroup"),
    "rds-subnet-groups": _count("aws:rds/subnetGroup:SubnetGroup"),
    "rds-storage-gib": _storage,
    "s3-buckets": _count("aws:s3/bucket:Bucket"),
    "secrets": _secrets,
    "ssm-parameters": _count("aws:ssm/parameter:Parameter"),
    "ses-identities": _count("aws:sesv2/emailIdentity:EmailIdentity"),
    "ses-configuration-sets": _count("aws:sesv2/configurationSet:ConfigurationSet"),
    "cloudfront-tenants": _count("aws:cloudfront/distributionTenant:DistributionTenant"),
}
"""Quota key -> how much one planned resource consumes of it."""


def consumption(plans: list[StackPlan]) -> dict[str, int]:
    """What *plans* (one client's stacks) consume of each quota."""
    return {
        key: sum(count(r) for plan in plans for r in plan.resources)
        for key, count in COUNTERS.items()
    }


def pool_server_use(server: PoolServer) -> dict[str, int]:
    """What one preview pool server (the platform's) consumes of each quota."""
    return {
        "rds-instances": 1,
        "rds-storage-gib": server.storage_gb,
        "secrets": 1 if server.managed_master_secret else 0,
    }


@dataclass(frozen=True)
class QuotaUse:
    quota: Quota
    per_client: int
    clients: int
    per_pool_server: int = 0
    """What one preview pool server consumes of this quota (shared, counted once)."""
    pool_capacity: int | None = None
    """Previews per pool server; ``None`` when previews have instances of their own."""

    def pool_servers(self, clients: int) -> int:
        return math.ceil(clients / self.pool_capacity) if self.pool_capacity else 0

    def total_for(self, clients: int) -> int:
        return self.per_client * clients + self.per_pool_server * self.pool_servers(clients)

    @property
    def total(self) -> int:
        return self.total_for(self.clients)

    @property
    def max_clients(self) -> int | None:
        """Clients that fit under the default limit; ``None`` when a client uses none."""
        if not self.per_client and not (self.per_pool_server and self.pool_capacity):
            return None
        low, high = 0, self.quota.default  # each client adds at least one pool server's share
        if not self.per_client:
            high = self.quota.default * (self.pool_capacity or 1)
        while low < high:  # the largest n with total_for(n) <= default
            mid = (low + high + 1) // 2
            low, high = (mid, high) if self.total_for(mid) <= self.quota.default else (low, mid - 1)
        return low

    @property
    def binds(self) -> bool:
        return self.total > self.quota.default

    def to_json(self) -> dict[str, Any]:
        return {
            "quota": self.quota.key,
            "name": self.quota.name,
            "scope": self.quota.scope,
            "perClient": self.per_client,
            "sharedByPoolServers": self.total - self.per_client * self.clients,
            "total": self.total,
            "defaultLimit": self.quota.default,
            "adjustable": self.quota.adjustable,
            "maxClientsAtDefault": self.max_clients,
            "binds": self.binds,
            "increaseTo": self.total if self.binds else None,
            "source": self.quota.source,
        }


@dataclass(frozen=True)
class CapacityReport:
    clients: int
    measured_on: list[str]
    """The shapes counted (``shapes.SHAPES``)."""
    reference: str
    """The real client the shapes derive from."""
    uses: list[QuotaUse]
    by_shape: dict[str, dict[str, int]]
    """Shape -> quota -> what one client of that shape uses."""

    @property
    def binding(self) -> list[QuotaUse]:
        """Quotas the clients exceed at their defaults, first-binding first."""
        return sorted((u for u in self.uses if u.binds), key=lambda u: u.max_clients or 0)

    def to_json(self) -> dict[str, Any]:
        first = self.binding[0] if self.binding else None
        return {
            "clients": self.clients,
            "measuredOn": self.measured_on,
            "reference": self.reference,
            "shapes": self.by_shape,
            "quotas": [u.to_json() for u in self.uses],
            "bindsFirst": first.quota.key if first else None,
            "bindsFirstAtClients": (first.max_clients or 0) + 1 if first else None,
        }


def capacity(stacks_dir: Path, clients: int = DEFAULT_CLIENTS) -> CapacityReport:
    """Each quota's use by *clients* clients of the most demanding shape, per quota."""
    reference = reference_client(stacks_dir)
    shapes = client_shapes(stacks_dir, reference)
    by_shape = {shape.name: consumption(list(shape.plans)) for shape in shapes}
    per_client = {key: max(used[key] for used in by_shape.values()) for key in COUNTERS}
    capacities = {shape.pool_capacity for shape in shapes}
    pool_capacity = min((c for c in capacities if c), default=None)
    server = pool_server_use(REFERENCE_POOL_SERVER)
    uses = [
        QuotaUse(q, per_client[q.key], clients, server.get(q.key, 0), pool_capacity) for q in QUOTAS
    ]
    return CapacityReport(clients, [s.name for s in shapes], reference, uses, by_shape)
