"""``tenantctl plan``: a client's stacks as the Pulumi program would build them, offline.

Reads and validates every asked-for stack file first (so one bad file fails
before any planning), then evaluates the real program under Pulumi's mock
runtime (``infra.program.plan``).
"""

from __future__ import annotations

from pathlib import Path

from infra.core import naming
from infra.ops.stackfiles import read_spec
from infra.program.plan import StackPlan, plan_stack


def plan_tenant(stacks_dir: Path, slug: str, stages: tuple[naming.Stage, ...]) -> list[StackPlan]:
    """The plan of each of *slug*'s *stages*, in order."""
    specs = [read_spec(stacks_dir, slug, stage) for stage in stages]
    return [plan_stack(spec) for spec in specs]
