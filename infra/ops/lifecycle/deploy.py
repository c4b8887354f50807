"""deploy: bring one existing stack to what its stack file and the program say.

What the merge-to-main pipeline runs for every affected stack: ``pulumi up``
(the local target's stand-in on the emulator), then the post-provision step
(idempotent: seeds the defaults database, creates the working database and
publishes the first release only when they do not exist yet), under the
client's lock. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from infra.core import naming
from infra.core.errors import UserInputError
from infra.core.replacement import StatefulChange, refused
from infra.core.steps import Progress, quiet
from infra.ops.lifecycle.provision import ProvisionedStack, deploy_new_stack, refuse_data_loss
from infra.ops.stacks.deployers import require_deployer
from infra.ops.stacks.locking import client_lock, lock_place
from infra.ops.stacks.platformfile import platform_outputs
from infra.ops.stacks.stackfiles import read_spec


class ReplacementRecorder(Protocol):
    """Where an allowed replacement of a stateful resource is recorded (the rollout)."""

    def record_replacements(
        self, slug: str, stack: str, changes: Sequence[StatefulChange], reason: str
    ) -> str:
        """Record *changes* with *reason* before the deploy makes them; what was done."""
        ...


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
    allowed: list[StatefulChange] = field(default_factory=list)
    """Stateful resources replaced or deleted because ``--allow-replace`` named them."""

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
            "allowedReplacements": [c.to_json() for c in self.allowed],
            "seconds": self.seconds,
        }


def deploy(
    stacks_dir: Path,
    stack: str,
    progress: Progress = quiet,
    allow_replace: Sequence[str] = (),
    reason: str | None = None,
    recorder: ReplacementRecorder | None = None,
) -> Deployed:
    """Deploy *stack* (``<slug>-<stage>``) and post-provision it; what was done.

    Refuses, before changing anything, an update that would replace or delete a
    stateful resource (database, content bucket, user pool, secret: what Pulumi
    cannot recreate) unless *allow_replace* names it; *reason* is then required and
    recorded through *recorder* before the update runs.
    """
    slug, stage = parse_stack(stack)
    if allow_replace and not (reason or "").strip():
        raise UserInputError("--allow-replace needs --reason TEXT, which is recorded")
    spec = read_spec(stacks_dir, slug, stage)
    platform_outputs(stacks_dir, spec.platform_stack)  # before the lock: changes nothing
    started = time.monotonic()
    # The lock lives where every other operation on the client looks for it (not in
    # a production stack's own region, which may differ from the preview's).
    with client_lock(slug, "deploy", lock_place(stacks_dir, slug)):
        changes = require_deployer(spec).stateful_changes(spec, stacks_dir, progress)
        refuse_data_loss(stack, refused(changes, allow_replace))
        allowed = [c for c in changes if c.name in set(allow_replace)]
        if allowed:
            note = (
                recorder.record_replacements(slug, stack, allowed, str(reason))
                if recorder is not None
                else "not recorded (no recorder)"
            )
            progress(f"allowed ({reason}): {'; '.join(c.describe() for c in allowed)}; {note}")
        done = deploy_new_stack(spec, stacks_dir, progress)
    return Deployed(slug, stage, done, round(time.monotonic() - started, 3), allowed)
