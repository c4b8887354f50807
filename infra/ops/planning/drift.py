"""``tenantctl drift``: does a stack as last deployed still match its stack file and program?

Read-only, and without the client's lock: it reads what the last deploy recorded and
plans the program offline, so it never waits for, or blocks, a person's deploy or reset.
A stack has drifted when any of these holds (each is named in the result):

- it was never deployed (no outputs recorded);
- a resource as last deployed differs in any input from what the program plans from the
  stack file now, or only one of them has it: what the next deploy would create, update
  or delete (the deployer's ``changes``); a stateful resource (database, bucket, user
  pool, secret) that would be replaced or deleted is named with the inputs forcing it
  (``stateful_changes``);
- a stack output the program computes from the stack file alone (``StackOutput.local``:
  names, URLs, the content bucket) differs from the output as last deployed, or is missing.

"As last deployed" is the deployer's record: on the local target what its stand-in for
``pulumi up`` recorded (a digest of each resource's inputs, the stateful inputs and the
outputs); with the Pulumi CLI, the stack's state (``pulumi preview``, no refresh: the
nightly Drift workflow refreshes from the cloud first). Changes made outside the stack's
resources (a console edit of a setting Pulumi ignores) are not drift here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.core import naming
from infra.core.errors import UserInputError
from infra.core.platform import PlatformError
from infra.core.rendering import RenderError
from infra.core.steps import quiet
from infra.ops.stacks.deployers import require_deployer
from infra.ops.stacks.platformfile import platform_outputs
from infra.ops.stacks.stackfiles import read_spec


@dataclass(frozen=True)
class Drift:
    stack: str
    differences: tuple[str, ...]
    """What differs, one line each (empty: no drift)."""

    @property
    def drifted(self) -> bool:
        return bool(self.differences)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "drifted": self.drifted,
            "differences": list(self.differences),
        }


def _output_differences(planned: Mapping[str, Any], deployed: Mapping[str, Any]) -> list[str]:
    from infra.program.tenant import STACK_OUTPUTS

    found = []
    for output in STACK_OUTPUTS:
        if not output.local or output.name not in planned:
            continue
        want = planned[output.name]
        if not isinstance(want, str | int | float | bool):  # unknown or secret under mocks
            continue
        if output.name not in deployed:
            found.append(f"output {output.name}: not deployed (the program plans {want!r})")
        elif deployed[output.name] != want:
            found.append(
                f"output {output.name}: deployed {deployed[output.name]!r}, "
                f"the stack file makes it {want!r}"
            )
    return found


def drift(stacks_dir: Path, slug: str, stage: naming.Stage) -> Drift:
    """*slug*'s *stage* stack as last deployed against what its stack file and program say."""
    from infra.program.plan import plan_stack  # the Pulumi SDK loads only for this command

    spec = read_spec(stacks_dir, slug, stage)
    deployer = require_deployer(spec)
    deployed = deployer.outputs(spec, None)
    if deployed is None:
        return Drift(spec.stack_name, ("never deployed (no outputs recorded)",))
    try:
        plan = plan_stack(spec, platform_outputs=platform_outputs(stacks_dir, spec.platform_stack))
        stateful = deployer.stateful_changes(spec, stacks_dir, quiet)
        changes = deployer.changes(spec, stacks_dir, quiet)
    except (PlatformError, RenderError, naming.NameError_) as exc:
        raise UserInputError(f"{spec.stack_name}: {exc}") from None
    named = {change.name for change in stateful}
    differences = [change.describe() for change in stateful]
    differences += [line for line in changes if line.split(" ", 1)[-1] not in named]
    differences += _output_differences(plan.outputs, deployed)
    return Drift(spec.stack_name, tuple(differences))
