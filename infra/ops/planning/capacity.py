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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from infra.core.limits import QUOTAS, Quota
from infra.core.platform import REFERENCE_POOL_SERVERS, PoolServer
from infra.core.preflight import AppliedQuota
from infra.ops.adapters import aws
from infra.ops.adapters.service_quotas import applied_quotas
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
    """Allocated storage: what RDS's "Total storage for all DB instances" counts (the EBS
    volumes' sizes added together; DescribeAccountAttributes reports the used value as
    the total allocated storage). The autoscaling ceiling is not reserved: see GROWTH."""
    if r.type != "aws:rds/instance:Instance":
        return 0
    return int(r.inputs.get("allocatedStorage") or 0)


def _storage_ceiling(r: PlannedResource) -> int:
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
    "iam-roles": _count("aws:iam/role:Role"),
    "scheduler-schedules": _count("aws:scheduler/schedule:Schedule"),
}
"""Quota key -> how much one planned resource consumes of it."""

GROWTH: dict[str, Callable[[PlannedResource], int]] = {"rds-storage-gib": _storage_ceiling}
"""Quota key -> how much one planned resource may come to consume of it unattended: RDS
storage autoscaling grows an instance's allocated storage up to maxAllocatedStorage, and
what it allocates counts against the quota (an increase past the quota fails, and the
instance fills up). The table counts what AWS counts; this says when to ask for more."""


def growth(plans: list[StackPlan]) -> dict[str, int]:
    """What *plans* may come to consume of each ``GROWTH`` quota (every instance at its
    autoscaling ceiling)."""
    return {
        key: sum(count(r) for plan in plans for r in plan.resources)
        for key, count in GROWTH.items()
    }


def consumption(plans: list[StackPlan]) -> dict[str, int]:
    """What *plans* (one client's stacks) consume of each quota."""
    return {
        key: sum(count(r) for plan in plans for r in plan.resources)
        for key, count in COUNTERS.items()
    }


def _pools(capacities: Mapping[str, int], quota: str) -> tuple[PoolShare, ...]:
    return tuple(
        PoolShare(pool_server_use(REFERENCE_POOL_SERVERS[stage]).get(quota, 0), capacity)
        for stage, capacity in sorted(capacities.items())
    )


def pool_server_use(server: PoolServer) -> dict[str, int]:
    """What one preview pool server (the platform's) consumes of each quota."""
    return {
        "rds-instances": 1,
        "rds-storage-gib": server.storage_gb,
        "secrets": 1 if server.managed_master_secret else 0,
    }


@dataclass(frozen=True)
class PoolShare:
    """Stacks sharing a pool server: what one server uses of a quota, and how many share it."""

    per_server: int
    capacity: int

    def use(self, clients: int) -> int:
        return math.ceil(clients / self.capacity) * self.per_server


@dataclass(frozen=True)
class QuotaUse:
    quota: Quota
    per_client: int
    clients: int
    pools: tuple[PoolShare, ...] = ()
    """The pool servers the clients' pooled stacks share (the platform's, counted once)."""
    applied: AppliedQuota | None = None
    """What the account's Service Quotas said (``--account``); ``None``: not read."""
    shape: str = ""
    """The shape of client this use is of (the most demanding for this quota)."""
    ceiling: QuotaUse | None = None
    """For a ``GROWTH`` quota: the same clients with everything grown to its autoscaling
    ceiling (the pool servers at their allocated storage: the platform sizes them)."""

    @property
    def limit(self) -> int:
        """The account's applied value when read, else the documented default."""
        if self.applied is not None and self.applied.value is not None:
            return int(self.applied.value)
        return self.quota.default

    @property
    def limit_word(self) -> str:
        """What ``limit`` is, in a sentence: the applied value or the default."""
        read = self.applied is not None and self.applied.value is not None
        return "applied value" if read else "default"

    @property
    def limit_source(self) -> str:
        return self.applied.source if self.applied is not None else "documented default"

    def total_for(self, clients: int) -> int:
        return self.per_client * clients + sum(pool.use(clients) for pool in self.pools)

    @property
    def total(self) -> int:
        return self.total_for(self.clients)

    @property
    def shared(self) -> int:
        """What the platform's preview pool servers for these clients use of the quota."""
        return self.total - self.per_client * self.clients

    @property
    def max_clients(self) -> int | None:
        """Clients that fit under the default limit; ``None`` when a client uses none."""
        return self.fitting(self.quota.default)

    @property
    def max_clients_at_limit(self) -> int | None:
        """Clients that fit under ``limit`` (the applied value when read)."""
        return self.fitting(self.limit)

    def fitting(self, limit: int) -> int | None:
        """The most clients whose total stays within *limit*; ``None`` when they use none."""
        pools = [pool for pool in self.pools if pool.per_server]
        if not self.per_client and not pools:
            return None
        low, high = 0, limit  # each client adds at least one, or a pool server's share
        if not self.per_client:
            high = limit * max(pool.capacity for pool in pools)
        while low < high:  # the largest n with total_for(n) <= limit
            mid = (low + high + 1) // 2
            low, high = (mid, high) if self.total_for(mid) <= limit else (low, mid - 1)
        return low

    @property
    def binds(self) -> bool:
        """Whether the clients exceed the limit (the applied value when read)."""
        return self.total > self.limit

    def to_json(self) -> dict[str, Any]:
        return {
            "quota": self.quota.key,
            "shape": self.shape,
            "name": self.quota.name,
            "scope": self.quota.scope,
            "perClient": self.per_client,
            "sharedByPoolServers": self.shared,
            "total": self.total,
            "defaultLimit": self.quota.default,
            "limit": self.limit,
            "limitSource": self.limit_source,
            "adjustable": self.quota.adjustable,
            "maxClientsAtDefault": self.max_clients,
            "maxClientsAtLimit": self.max_clients_at_limit,
            "binds": self.binds,
            "increaseTo": self.total if self.binds else None,
            "source": self.quota.source,
            **({"atAutoscalingCeiling": self.ceiling.ceiling_json()} if self.ceiling else {}),
        }

    def ceiling_note(self) -> str:
        """One sentence on a ``GROWTH`` quota: what it counts, and when autoscaling would
        take the clients past the limit (``""`` for any other quota)."""
        grown = self.ceiling
        if grown is None:
            return ""
        when = (
            f"past the {self.limit_word} {self.limit:,} at "
            f"{(grown.max_clients_at_limit or 0) + 1:,} clients: request an increase (adjustable) "
            "before the fleet's allocated storage nears it, or autoscaling stops and instances "
            "fill up"
            if grown.binds
            else f"within the {self.limit_word} {self.limit:,}"
        )
        return (
            f"{self.quota.key} counts allocated storage, as AWS does; with every instance at "
            f"its autoscaling ceiling it would be {grown.total:,} GiB, {when}"
        )

    def ceiling_json(self) -> dict[str, Any]:
        return {
            "shape": self.shape,
            "perClient": self.per_client,
            "total": self.total,
            "maxClientsAtLimit": self.max_clients_at_limit,
            "binds": self.binds,
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
        return sorted((u for u in self.uses if u.binds), key=lambda u: u.max_clients_at_limit or 0)

    def to_json(self) -> dict[str, Any]:
        first = self.binding[0] if self.binding else None
        return {
            "clients": self.clients,
            "measuredOn": self.measured_on,
            "reference": self.reference,
            "shapes": self.by_shape,
            "quotas": [u.to_json() for u in self.uses],
            "bindsFirst": first.quota.key if first else None,
            "bindsFirstAtClients": (first.max_clients_at_limit or 0) + 1 if first else None,
        }


def capacity(
    stacks_dir: Path, clients: int = DEFAULT_CLIENTS, *, read_account: bool = False
) -> CapacityReport:
    """Each quota's use by *clients* clients of the most demanding shape, per quota,
    against the documented defaults or, *read_account*, the values the account's Service
    Quotas report (``infra.ops.adapters.service_quotas``, as preflight reads them)."""
    applied = applied_quotas(aws.region_name()) if read_account else None
    reference = reference_client(stacks_dir)
    shapes = client_shapes(stacks_dir, reference)
    by_shape = {shape.name: consumption(list(shape.plans)) for shape in shapes}
    grown = {shape.name: growth(list(shape.plans)) for shape in shapes}

    def most(q: Quota, used: dict[str, dict[str, int]]) -> QuotaUse:
        candidates = [
            QuotaUse(
                q,
                used[shape.name][q.key],
                clients,
                _pools(shape.pool_capacities, q.key),
                applied.get(q.key) if applied is not None else None,
                shape.name,
            )
            for shape in shapes
        ]
        return max(candidates, key=lambda use: (use.total, use.per_client))

    uses = []
    for q in QUOTAS:  # per quota, the shape that needs the most of it at this many clients
        use = most(q, by_shape)
        if q.key in GROWTH:
            use = replace(use, ceiling=most(q, grown))
        uses.append(use)
    return CapacityReport(clients, [s.name for s in shapes], reference, uses, by_shape)
