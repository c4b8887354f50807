"""``tenantctl cost``: what a client costs the vendor a month, priced from the plans.

Each shape of client (``infra.ops.planning.shapes``) is planned offline at the stage
defaults a new client gets, or one real client's stacks as its files say, and
priced with ``infra.core.cost`` (prices in ``infra.core.prices``, one file with
the source of each). Account-wide charges (Cognito MAU beyond the free tier, SSM
parameters beyond the free 10,000) are priced for the whole fleet and shared out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.core import naming
from infra.core.cost import (
    AccountUse,
    CostLine,
    UnpricedResource,
    fleet_cost,
    pool_share,
    stack_cost,
    total,
)
from infra.core.errors import UserInputError
from infra.core.platform import REFERENCE_POOL_SERVERS
from infra.ops.planning.shapes import Shape, client_shapes, pool_capacities, reference_client
from infra.ops.stacks.platformfile import platform_outputs
from infra.ops.stacks.stackfiles import read_spec
from infra.program.plan import StackPlan, plan_stack

DEFAULT_CLIENTS = 1000

GOALS_USD: dict[str, float] = {
    "preview": 3.0,
    "production-dedicated": 60.0,
    "production-pooled": 30.0,
}
"""Issue 18's goals per client-month: a preview a few dollars, a production a few tens
(pooled, databaseTier pooled: at most $30; dedicated: at most $60)."""


@dataclass(frozen=True)
class ShapeCost:
    shape: str
    description: str
    stacks: dict[str, list[CostLine]]
    """Stage -> the stack's fixed monthly cost lines."""
    shared: list[CostLine]
    """This client's share of the account-wide charges."""

    def stage_total(self, stage: str) -> float:
        return total(self.stacks[stage])

    @property
    def per_client(self) -> float:
        return round(sum(total(lines) for lines in self.stacks.values()) + total(self.shared), 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "shape": self.shape,
            "description": self.description,
            "stacks": {
                stage: {"usd": total(lines), "lines": [line.to_json() for line in lines]}
                for stage, lines in self.stacks.items()
            },
            "shared": [line.to_json() for line in self.shared],
            "perClientUsd": self.per_client,
            "unconfirmedPrices": sorted(
                {
                    line.item
                    for line in [*self.shared, *(x for v in self.stacks.values() for x in v)]
                    if not line.checked and line.usd > 0
                }
            ),
        }


@dataclass(frozen=True)
class CostReport:
    clients: int
    reference: str
    sizing: str
    """``stage defaults`` (a typical new client) or ``stack files`` (one real client)."""
    shapes: list[ShapeCost]

    def to_json(self) -> dict[str, Any]:
        most = max(self.shapes, key=lambda s: s.per_client)
        return {
            "clients": self.clients,
            "reference": self.reference,
            "sizing": self.sizing,
            "shapes": [s.to_json() for s in self.shapes],
            "fleetUsdPerMonth": round(most.per_client * self.clients, 2),
            "fleetShape": most.shape,
            "goalsUsd": GOALS_USD,
        }


def _account_use(plans: tuple[StackPlan, ...]) -> AccountUse:
    resources = [r for plan in plans for r in plan.resources]
    return AccountUse(
        users=sum(1 for r in resources if r.type == "aws:cognito/user:User"),
        parameters=sum(1 for r in resources if r.type == "aws:ssm/parameter:Parameter"),
    )


def _priced(shape: Shape, clients: int) -> ShapeCost:
    stacks = {}
    for plan in shape.plans:
        stage = plan.stack.rsplit("-", 1)[-1]
        try:
            stacks[stage] = stack_cost(plan.resources)
            if stage in shape.pool_capacities:
                server = REFERENCE_POOL_SERVERS[stage]
                stacks[stage] += pool_share(server, shape.pool_capacities[stage])
        except UnpricedResource as exc:
            raise UserInputError(f"{plan.stack}: {exc}") from None
    shared = fleet_cost(clients, _account_use(shape.plans))
    return ShapeCost(shape.name, shape.description, stacks, shared)


def cost(stacks_dir: Path, clients: int = DEFAULT_CLIENTS, slug: str | None = None) -> CostReport:
    """The monthly cost per client of each shape, or of the client *slug* as it is."""
    if slug is None:
        reference = reference_client(stacks_dir)
        shapes = client_shapes(stacks_dir, reference, stage_defaults=True)
        return CostReport(
            clients, reference, "stage defaults", [_priced(s, clients) for s in shapes]
        )
    specs = [read_spec(stacks_dir, slug, stage) for stage in naming.STAGES]
    outputs = platform_outputs(stacks_dir, specs[0].platform_stack)
    plans = tuple(plan_stack(spec, platform_outputs=outputs) for spec in specs)
    shape = Shape(slug, f"{slug} as its stack files say", plans, pool_capacities(specs, outputs))
    return CostReport(clients, slug, "stack files", [_priced(shape, clients)])
