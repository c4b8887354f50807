"""The rollout's gate on promotion, handed to ``promote`` (``infra.ops.lifecycle.promote``).

``promote`` never imports the rollout: the CLI passes a ``RolloutGate``. Before a new
promotion it checks that testing and training (the phase before go-live) are complete
and still hold, observing the systems through the handles and preconditions promote
has already opened and evaluated (nothing is read twice); as promote's last step it
records the go-live and its milestones and publishes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from infra.core.errors import PreconditionFailed
from infra.core.replacement import StatefulChange
from infra.core.rollout import phase_gate
from infra.core.steps import Progress
from infra.core.text_rules import first_of
from infra.ops.adapters import control
from infra.ops.lifecycle.promote_plan import Precondition
from infra.ops.rollout import billing
from infra.ops.rollout.acceptance import go_live_reference
from infra.ops.rollout.observe import observe_opened
from infra.ops.rollout.store import actor, append_history, find, load_schedule, records_of
from infra.ops.rollout.transitions import override_gate, record_go_live
from infra.ops.stacks.handle import StackHandle


class RolloutGate:
    """``infra.ops.lifecycle.promote.PromotionGate`` backed by the control database.

    Without a control database (``TENANTCTL_CONTROL_DATABASE_URL`` unset) it checks and
    records nothing and says so."""

    def __init__(self, stacks_dir: Path, by: str | None = None) -> None:
        self.stacks_dir = stacks_dir
        self.by = by

    def check(
        self,
        preview: StackHandle,
        production: StackHandle,
        preconditions: Sequence[Precondition],
        override_reason: str | None,
        progress: Progress,
    ) -> str | None:
        """Refuse to start a promotion while the phase before go-live is incomplete, or any
        of its required tasks no longer holds, unless overridden with a reason (recorded).

        Returns a note when the gate could not be checked (no control database)."""
        if not control.configured():
            return f"  rollout gate not checked: {control.CONTROL_DATABASE_URL_ENV} not set"
        client = preview.spec.slug
        schedule = load_schedule()
        gate = schedule.phase(schedule.last - 1)
        needed = {t.observe for t in gate.tasks if t.observe}
        observations = observe_opened(self.stacks_dir, preview, production, preconditions, needed)
        with control.connect() as conn:
            row = find(conn, client)
            record = records_of(conn, [row])[row.id]
            problems = phase_gate(gate, record, observations, must_be_complete=True)
            if not problems:
                return None
            if override_reason:
                override_gate(conn, client, gate.number, override_reason, actor(self.by), problems)
                progress(f"  rollout gate overridden ({override_reason}): {'; '.join(problems)}")
                return None
        raise PreconditionFailed(
            f"cannot promote {client}: {first_of(problems)}; finish phase {gate.number} "
            f"(`tenantctl rollout status {client}`) or pass --override-gate --reason TEXT"
        )

    def record_go_live(self, slug: str, progress: Progress) -> str:
        """Promote's final step: the go-live phase and its milestones, then publish them."""
        if not control.configured():
            return f"rollout not recorded ({control.CONTROL_DATABASE_URL_ENV} not set)"
        schedule = load_schedule()
        with control.connect() as conn:
            evidence = go_live_reference(conn, find(conn, slug).id)
            change = record_go_live(conn, schedule, slug, actor(self.by), evidence)
            published = billing.publish_quietly(conn, progress)
        earned = ", ".join(change.milestones) or "already recorded"
        return f"milestones {earned}; {published or 'nothing to publish'}"


class RolloutReplacementLog:
    """``infra.ops.lifecycle.deploy.ReplacementRecorder`` backed by the rollout history:
    each stateful resource a deploy was allowed to replace or delete, with the reason and
    who allowed it, before the deploy runs."""

    def __init__(self, by: str | None = None) -> None:
        self.by = by

    def record_replacements(
        self, slug: str, stack: str, changes: Sequence[StatefulChange], reason: str
    ) -> str:
        if not control.configured():
            return f"not recorded in the rollout ({control.CONTROL_DATABASE_URL_ENV} not set)"
        with control.connect() as conn:
            row = find(conn, slug)
            append_history(
                conn,
                row.id,
                actor(self.by),
                "allow-replace",
                stack,
                {"reason": reason, "changes": [c.to_json() for c in changes]},
            )
        return "recorded in the rollout history"
