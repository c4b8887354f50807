"""The shapes of client the platform holds, as plans: what capacity and cost count.

A fleet is not 1,000 copies of the demo: some clients keep the platform's host
names, some bring their own portal domain (production only, live). Each shape is
derived from a real client in the stacks folder (its specs with the one thing
that differs changed), planned offline with the platform it runs on, and counted
by what the plans register, never by a hand-kept list. Production is counted at
its largest state (live, attached): what it holds once it has gone live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.core import naming
from infra.core.errors import PreconditionFailed
from infra.core.integration_config import IntegrationSpec
from infra.core.platform import database_pools, find_pool
from infra.core.spec import CustomDomainSpec, DatabaseSpec, TenantSpec
from infra.ops.stacks.platformfile import platform_outputs
from infra.ops.stacks.stackfiles import read_spec, tenants
from infra.program.plan import StackPlan, plan_stack


@dataclass(frozen=True)
class Shape:
    name: str
    description: str
    plans: tuple[StackPlan, ...]
    """Preview, then production as it is once live."""
    pool_capacities: Mapping[str, int] = field(default_factory=dict)
    """Stage -> how many stacks share that stage's pool server, for each pooled stage."""


Outputs = Mapping[str, Any]


def _own_domain(spec: TenantSpec, outputs: Outputs) -> TenantSpec:
    if spec.stage == naming.PREVIEW:
        return spec
    domain = spec.portal_domain or f"parking.{spec.slug}.example.edu"
    # Live on it: its certificate (us-east-1) issued and attached as a distribution tenant.
    attached = CustomDomainSpec(certificate_generation=1, attached=True)
    return spec.model_copy(
        update={"portal_domain": domain, "live": True, "custom_domain": attached}
    )


def _platform_domain(spec: TenantSpec, outputs: Outputs) -> TenantSpec:
    if spec.stage == naming.PREVIEW:
        return spec
    return spec.model_copy(
        update={"portal_domain": None, "live": True, "custom_domain": CustomDomainSpec()}
    )


def _pooled_production(spec: TenantSpec, outputs: Outputs) -> TenantSpec:
    if spec.stage == naming.PREVIEW:
        return spec
    first = database_pools(spec.platform_stack, outputs, naming.PRODUCTION)[0]
    return _platform_domain(spec, outputs).model_copy(
        update={"database_tier": "pooled", "database_pool": first.name, "database": DatabaseSpec()}
    )


SHAPE_INTEGRATIONS: tuple[dict[str, object], ...] = (
    {
        "id": "parkmobile",
        "vendor": "parkmobile",
        "mode": "pull",
        "scheduleMinutes": 5,
        "timezone": "America/Chicago",
        "endpoints": {
            "preview": "https://sandbox.api.parkmobile.example",
            "production": "https://api.parkmobile.example",
        },
    },
    {
        "id": "meters",
        "vendor": "generic-push",
        "mode": "push",
        "timezone": "America/Chicago",
        "enforcementHours": {
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": "07:00",
            "end": "19:00",
        },
    },
)
"""The integrations of the "integrations" shape: a pulled mobile-parking app and pushed
meters enforced on weekdays (three silence-alarm schedules per stack: on, re-arm, off),
the phase-3 pair of a typical client."""


def _with_integrations(spec: TenantSpec, outputs: Outputs) -> TenantSpec:
    base = _platform_domain(spec, outputs)
    integrations = [IntegrationSpec.model_validate(i) for i in SHAPE_INTEGRATIONS]
    return base.model_copy(update={"integrations": integrations})


SHAPES: dict[str, tuple[str, Callable[[TenantSpec, Outputs], TenantSpec]]] = {
    "platform-domain": ("portal on the platform's host names", _platform_domain),
    "own-domain": ("portal on the client's own domain (a distribution tenant)", _own_domain),
    "pooled-production": (
        "a small client: production on a shared Multi-AZ server (databaseTier pooled)",
        _pooled_production,
    ),
    "integrations": (
        "platform host names, with a pulled app and pushed meters (2 integrations)",
        _with_integrations,
    ),
}
"""Shape name -> (what it is, how a real client's spec becomes it)."""

NEEDS_OUTPUT = {"pooled-production": "productionDatabasePools"}
"""Shapes the platform offers only with an (optional) output: left out without it."""


def reference_client(stacks_dir: Path) -> str:
    """The first client in *stacks_dir* with both stack files: the one shapes derive from."""
    slugs = sorted(slug for slug, stages in tenants(stacks_dir).items() if len(stages) == 2)
    if not slugs:
        raise PreconditionFailed(
            f"no client with both stack files in {stacks_dir}; shapes are derived from a real "
            "client (create one, or use the project's stacks/)"
        )
    return slugs[0]


def client_shapes(
    stacks_dir: Path, slug: str | None = None, *, stage_defaults: bool = False
) -> list[Shape]:
    """Every shape in ``SHAPES``, planned from *slug* (default: ``reference_client``).

    With *stage_defaults*, the client's own database sizing is dropped: the shape of a
    typical new client (``STAGE_DATABASE_DEFAULTS``), not of this one."""
    slug = slug or reference_client(stacks_dir)
    specs = [read_spec(stacks_dir, slug, stage) for stage in naming.STAGES]
    if stage_defaults:
        specs = [spec.model_copy(update={"database": DatabaseSpec()}) for spec in specs]
    outputs = platform_outputs(stacks_dir, specs[0].platform_stack)
    shapes = []
    for name, (description, make) in SHAPES.items():
        if name in NEEDS_OUTPUT and outputs.get(NEEDS_OUTPUT[name]) is None:
            continue
        made = [make(spec, outputs) for spec in specs]
        plans = tuple(plan_stack(spec, platform_outputs=outputs) for spec in made)
        shapes.append(Shape(name, description, plans, pool_capacities(made, outputs)))
    return shapes


def pool_capacities(specs: Iterable[TenantSpec], outputs: Outputs) -> dict[str, int]:
    """Stage -> the capacity of the pool server each pooled stack of *specs* is on."""
    capacities: dict[str, int] = {}
    for spec in specs:
        if spec.database_pool is not None:
            pools = database_pools(spec.platform_stack, outputs, spec.stage)
            pool = find_pool(spec.platform_stack, pools, spec.database_pool)
            capacities[spec.stage] = pool.capacity
    return capacities
