"""The shapes of client the platform holds, as plans: what capacity and cost count.

A fleet is not 1,000 copies of the demo: some clients keep the platform's host
names, some bring their own portal domain (production only, live). Each shape is
derived from a real client in the stacks folder (its specs with the one thing
that differs changed), planned offline with the platform it runs on, and counted
by what the plans register, never by a hand-kept list. Production is counted at
its largest state (live, attached): what it holds once it has gone live.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.core import naming
from infra.core.errors import PreconditionFailed
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


def _own_domain(spec: TenantSpec) -> TenantSpec:
    if spec.stage == naming.PREVIEW:
        return spec
    domain = spec.portal_domain or f"parking.{spec.slug}.example.edu"
    # Live on it: its certificate (us-east-1) issued and attached as a distribution tenant.
    attached = CustomDomainSpec(certificate_generation=1, attached=True)
    return spec.model_copy(
        update={"portal_domain": domain, "live": True, "custom_domain": attached}
    )


def _platform_domain(spec: TenantSpec) -> TenantSpec:
    if spec.stage == naming.PREVIEW:
        return spec
    return spec.model_copy(
        update={"portal_domain": None, "live": True, "custom_domain": CustomDomainSpec()}
    )


SHAPES: dict[str, tuple[str, Callable[[TenantSpec], TenantSpec]]] = {
    "platform-domain": ("portal on the platform's host names", _platform_domain),
    "own-domain": ("portal on the client's own domain (a distribution tenant)", _own_domain),
}
"""Shape name -> (what it is, how a real client's spec becomes it)."""


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
        plans = tuple(plan_stack(make(spec), platform_outputs=outputs) for spec in specs)
        shapes.append(Shape(name, description, plans))
    return shapes
