"""``tenantctl plan``: a client's stacks as the Pulumi program would build them, offline.

Reads and validates every asked-for stack file first (so one bad file fails
before any planning), reads the platform outputs the tenant really uses
(``infra.ops.stacks.platformfile``), then evaluates the real program under Pulumi's
mock runtime (``infra.program.plan``). Anything the user can cause (a template
that fails for this tenant, a platform that does not match) ends as one line.
"""

from __future__ import annotations

from pathlib import Path

from infra.core import naming
from infra.core.errors import DeployFailed, UserInputError
from infra.core.platform import PlatformError
from infra.core.rendering import RenderError
from infra.ops.stacks.platformfile import platform_outputs
from infra.ops.stacks.stackfiles import read_spec
from infra.program.plan import StackPlan, plan_stack
from infra.program.plan_checks import ordering_problems


def plan_tenant(stacks_dir: Path, slug: str, stages: tuple[naming.Stage, ...]) -> list[StackPlan]:
    """The plan of each of *slug*'s *stages*, in order."""
    specs = [read_spec(stacks_dir, slug, stage) for stage in stages]
    plans = []
    for spec in specs:
        outputs = platform_outputs(stacks_dir, spec.platform_stack)
        try:
            plan = plan_stack(spec, platform_outputs=outputs)
        except (PlatformError, RenderError, naming.NameError_) as exc:
            raise UserInputError(f"{spec.stack_name}: {exc}") from None
        problems = ordering_problems(plan, spec)
        if problems:
            # The program's fault, not the user's: AWS would refuse the update half-way.
            raise DeployFailed(f"{spec.stack_name}: pulumi up would fail: {problems[0]}")
        plans.append(plan)
    return plans
