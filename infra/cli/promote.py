"""``tenantctl promote``: preview's vetted content and configuration to production."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from infra.cli.common import (
    TEXT,
    break_lock_option,
    echo_json,
    err,
    json_option,
    stacks_dir_option,
    yes_option,
)
from infra.core import naming
from infra.core.errors import ChangesDetected
from infra.core.promotion import dry_run_changes

if TYPE_CHECKING:
    from infra.ops.lifecycle.promote_plan import PromotionPlan


def _print_plan(plan: PromotionPlan) -> None:
    click.echo(f"Promotion plan for {plan.stack}:")
    for check in plan.preconditions:
        click.echo(f"  [{'ok' if check.ok else 'NOT MET'}] {check.message}")
    content = plan.content
    click.echo(
        f"  content: {len(content.added)} added, {len(content.changed)} changed, "
        f"{len(content.removed)} removed"
    )
    for kind, keys in (
        ("added", content.added),
        ("changed", content.changed),
        ("removed", content.removed),
    ):
        for key in keys:
            click.echo(f"    {kind[0].upper()} {key}")
    for table, diff in plan.config.items():
        click.echo(
            f"  {table}: {len(diff['added'])} added, {len(diff['changed'])} changed, "
            f"{len(diff['removed'])} removed"
        )
    for item in plan.imports:
        click.echo(f"  replay {item.kind}: {item.file_name} ({item.rows} rows)")
    click.echo(f"  payment mode: {plan.payment_from} -> {plan.payment_to}")
    click.echo(f"  portal: {plan.portal_from} -> {plan.portal_to}")
    for kind, ids in plan.integrations.items():
        if ids:
            click.echo(f"  integrations {kind}: {', '.join(ids)}")


@click.command()
@click.argument("slug")
@click.option("--dry-run", is_flag=True, help="Show exactly what would change; change nothing.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="With --dry-run: exit 6 when launch would change something, 0 when nothing.",
)
@click.option(
    "--rollback", is_flag=True, help="Return production to the previous release and configuration."
)
@click.option(
    "--override-gate",
    is_flag=True,
    help="Promote although the rollout's testing phase is incomplete (needs --reason).",
)
@click.option(
    "--reason", type=TEXT, help="Why the rollout gate is overridden (recorded in its history)."
)
@yes_option
@break_lock_option
@stacks_dir_option
@json_option
def promote(
    slug: str,
    dry_run: bool,
    detailed_exitcode: bool,
    rollback: bool,
    override_gate: bool,
    reason: str | None,
    yes: bool,
    break_lock: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Launch a client's production with preview's vetted content and configuration.

    Copies preview's current content release and its configuration tables (never
    transactional data) to production, switches production payment to live and
    opens the portal. Resumable: after a failure, run it again and it finishes
    without repeating a finished step.

    \b
    Examples:
      tenantctl promote demo --dry-run
      tenantctl promote demo --dry-run --json --detailed-exitcode   # exit 6: changes
      tenantctl promote demo --yes --json
      tenantctl promote demo --rollback --yes
      tenantctl promote demo --yes --override-gate --reason "training moved after launch"

    A new promotion needs the client's rollout to have completed phase 4
    (testing and training) when a control database is configured; right after
    go-live it verifies production read-only and records the run (exit 9, naming
    the rollback command, when a check fails).
    """
    from infra.ops.lifecycle import promote as ops
    from infra.ops.lifecycle.promote_plan import dry_run as plan_dry_run
    from infra.ops.rollout.gate import RolloutGate

    if dry_run and rollback:
        raise click.UsageError("--dry-run and --rollback cannot be combined")
    if detailed_exitcode and not dry_run:
        raise click.UsageError("--detailed-exitcode needs --dry-run")
    if override_gate and not (reason or "").strip():
        raise click.UsageError("--override-gate needs --reason TEXT (it is recorded)")
    if dry_run:
        plan = plan_dry_run(stacks_dir, slug)
        echo_json(plan.to_json()) if as_json else _print_plan(plan)
        changes = dry_run_changes(plan.to_json())
        if detailed_exitcode and changes:
            raise ChangesDetected(f"launch would change {slug}: {'; '.join(changes)}")
        return
    if not yes:
        what = "roll back" if rollback else "launch"
        click.confirm(
            f"This will {what} {slug}-{naming.PRODUCTION}. Continue?", abort=True, err=True
        )
    if rollback:
        outcome = ops.rollback(stacks_dir, slug, err, break_lock=break_lock)
    else:
        gate = RolloutGate(stacks_dir)
        outcome = ops.promote(
            stacks_dir, slug, gate, err, reason if override_gate else None, break_lock=break_lock
        )
    if as_json:
        echo_json(outcome.to_json())
    elif outcome.unchanged:
        click.echo(
            f"{slug}-{naming.PRODUCTION} is already live with promotion {outcome.id}; "
            "preview has not changed since, nothing was done"
        )
    elif rollback:
        click.echo(f"{slug}-{naming.PRODUCTION} rolled back (promotion {outcome.id})")
    else:
        click.echo(f"{slug}-{naming.PRODUCTION} is live (promotion {outcome.id})")
    if not rollback and not outcome.unchanged and outcome.production is not None:
        from infra.ops.rollout.golive import verify_live

        verify_live(outcome.production, err)  # a failure: exit 9 with the rollback command


COMMANDS = [promote]
