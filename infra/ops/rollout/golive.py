"""Right after go-live: ``tenantctl verify --stage production`` on the live stack, recorded.

Read-only like every verify (no purchase, no sign-in: the suite only loads pages and
renders emails). It runs on the production handle promote bound to the go-live deploy's
outputs (nothing is opened again) and is recorded in the rollout history beside the
preview runs. A failure is not hidden: ``LiveCheckFailed`` (its own exit code) names the
first failed check and the rollback command. Without a control database it is skipped
and says so (the rollout it would be recorded in is not there).
"""

from __future__ import annotations

from infra.core.errors import LiveCheckFailed
from infra.core.steps import Progress
from infra.ops.adapters import control
from infra.ops.rollout.evidence import VerifyHistory
from infra.ops.stacks.handle import StackHandle
from infra.ops.verify.run import VerifyRun, verify


def verify_live(production: StackHandle, progress: Progress) -> VerifyRun | None:
    """Verify the just-launched *production*; ``None`` (skipped, said) without a control
    database. Raises ``LiveCheckFailed`` when a check fails, after recording the run."""
    if not control.configured():
        progress(f"  live verify skipped: {control.CONTROL_DATABASE_URL_ENV} not set")
        return None
    progress(f"  verifying {production.stack_name} read-only right after go-live")
    run = verify(production, progress, VerifyHistory())
    if run.passed:
        progress(
            f"  live verify passed: run {run.run_id} of release {run.release} "
            f"({len(run.checks)} checks)"
        )
        return run
    first = run.failures[0]
    raise LiveCheckFailed(
        f"{production.stack_name} is live, but its verify run {run.run_id} failed "
        f"{len(run.failures)} check(s), first {first.id}: {first.detail}; roll back with "
        f"`tenantctl promote {production.spec.slug} --rollback --yes`, or fix preview and "
        f"promote again (`tenantctl verify show {production.spec.slug} --stage production`)"
    )
