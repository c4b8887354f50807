"""``tenantctl capacity``: what clients consume of every AWS quota, counted from the plans.

Each shape of client (``infra.ops.planning.shapes``: on the platform's host
names, on its own domain) is planned offline, preview and live production, and
what the plans register is counted per quota. Shared resources are the
platform's and count once, outside the per-client figure. The per-client figure
is the largest over the shapes, so N clients of any mix fit; the table follows
the program, never a hand-kept list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.core.limits import QUOTAS, Quota
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


@dataclass(frozen=True)
class QuotaUse:
    quota: Quota
    per_client: int
    clients: int

    @property
    def total(self) -> int:
        return self.per_client * self.clients

    @property
    def max_clients(self) -> int | None:
        """Clients that fit under the default limit; ``None`` when a client uses none."""
        return self.quota.default // self.per_client if self.per_client else None

    @property
    def binds(self) -> bool:
        return self.total > self.quota.default

    def to_json(self) -> dict[str, Any]:
        return {
            "quota": self.quota.key,
            "name": self.quota.name,
            "scope": self.quota.scope,
            "perClient": self.per_client,
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
    uses = [QuotaUse(q, per_client[q.key], clients) for q in QUOTAS]
    return CapacityReport(clients, [s.name for s in shapes], reference, uses, by_shape)
