"""deploy: bring one existing stack to what its stack file and the program say.

What the merge-to-main pipeline runs for every affected stack: ``pulumi up``
(the local target's stand-in on the emulator), then the post-provision step
(idempotent: seeds the defaults database, creates the working database and
publishes the first release only when they do not exist yet), under the
client's lock. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.core import naming
from infra.core.errors import UserInputError
from infra.core.steps import Progress, quiet
from infra.ops.lifecycle.provision import ProvisionedStack, deploy_new_stack
from infra.ops.planning.platformfile import platform_outputs
from infra.ops.stacks.locking import client_lock, lock_region
from infra.ops.stacks.stackfiles import read_spec


def parse_stack(stack: str) -> tuple[str, naming.Stage]:
    try:
        return naming.parse_stack_name(stack)
    except naming.NameError_ as exc:
        raise UserInputError(str(exc)) from None


@dataclass(frozen=True)
class Deployed:
    """``tenantctl deploy``: one stack deployed and post-provisioned, and how long it took."""

    slug: str
    stage: naming.Stage
    provisioned: ProvisionedStack
    seconds: float

    @property
    def stack(self) -> str:
        return naming.stack_name(self.slug, self.stage)

    @property
    def how(self) -> str:
        return self.provisioned.how

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "slug": self.slug,
            "stage": self.stage,
            **self.provisioned.to_json(),
            "seconds": self.seconds,
        }


def deploy(stacks_dir: Path, stack: str, progress: Progress = quiet) -> Deployed:
    """Deploy *stack* (``<slug>-<stage>``) and post-provision it; what was done."""
    slug, stage = parse_stack(stack)
    spec = read_spec(stacks_dir, slug, stage)
    platform_outputs(stacks_dir, spec.platform_stack)  # before the lock: changes nothing
    started = time.monotonic()
    # The lock lives where every other operation on the client looks for it (not in
    # a production stack's own region, which may differ from the preview's).
    with client_lock(slug, "deploy", lock_region(stacks_dir, slug)):
        done = deploy_new_stack(spec, stacks_dir, progress)
    return Deployed(slug, stage, done, round(time.monotonic() - started, 3))
