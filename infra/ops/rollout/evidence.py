"""The rollout's record of ``tenantctl verify`` runs, handed to verify by the CLI.

``infra.ops.verify`` never imports the rollout; the CLI passes a ``VerifyHistory``
(an ``infra.ops.verify.run.EvidenceRecorder``) that appends each run's bundle hash, release
and outcome to the client's rollout history.
"""

from __future__ import annotations

from infra.ops.rollout.store import record_fact
from infra.ops.stacks.handle import StackHandle
from infra.ops.verify.run import VerifyRun

ACTION = "verify"


class VerifyHistory:
    """Records verify runs in the control database; without one it records nothing and
    says so."""

    def __init__(self, by: str | None = None) -> None:
        self.by = by

    def record(self, stack: StackHandle, run: VerifyRun) -> str:
        return record_fact(
            stack.spec.slug,
            self.by,
            ACTION,
            run.run_id,
            {
                "stage": run.stage,
                "release": run.release,
                "passed": run.passed,
                "bundle": run.bundle,
                "bundleHash": run.bundle_hash,
                "contentHash": run.content_hash,
                "configHash": run.config_hash,
                "configTables": dict(run.config_tables),
            },
        )
