"""``tenantctl promote``: preview's vetted content and configuration to production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from infra.cli.common import (
    break_lock_option,
    echo_json,
    err,
    json_option,
    locked,
    stacks_dir_option,
    yes_option,
)
from infra.core import naming


def _print_plan(plan: dict[str, Any]) -> None:
    click.echo(f"Promotion plan for {plan['stack']}:")
    for check in plan["preconditions"]:
        click.echo(f"  [{'ok' if check['ok'] else 'NOT MET'}] {check['message']}")
    content = plan["content"]
    click.echo(
        f"  content: {len(content['added'])} added, {len(content['changed'])} changed, "
        f"{len(content['removed'])} removed"
    )
    for kind in ("added", "changed", "removed"):
        for key in content[kind]:
            click.echo(f"    {kind[0].upper()} {key}")
    for table, diff in plan["config"].items():
        click.echo(
            f"  {table}: {len(diff['added'])} added, {len(diff['changed'])} changed, "
            f"{len(diff['removed'])} removed"
        )
    click.echo(f"  payment mode: {plan['payment']['from']} -> {plan['payment']['to']}")
    click.echo(f"  portal: {plan['portal']['from']} -> {plan['portal']['to']}")


@click.command()
@click.argument("slug")
@click.option("--dry-run", is_flag=True, help="Show exactly what would change; change nothing.")
@click.option(
    "--rollback", is_flag=True, help="Return production to the previous release and configuration."
)
@yes_option
@break_lock_option
@stacks_dir_option
@json_option
def promote(
    slug: str,
    dry_run: bool,
    rollback: bool,
    yes: bool,
    break_lock: bool,
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
      tenantctl promote demo --yes --json
      tenantctl promote demo --rollback --yes
    """
    from infra.ops import promote as ops

    if dry_run and rollback:
        raise click.UsageError("--dry-run and --rollback cannot be combined")
    if dry_run:
        preview, production = ops.open_pair(stacks_dir, slug)
        plan = ops.plan_promotion(preview, production)
        echo_json(plan) if as_json else _print_plan(plan)
        return
    if not yes:
        what = "roll back" if rollback else "launch"
        click.confirm(
            f"This will {what} {slug}-{naming.PRODUCTION}. Continue?", abort=True, err=True
        )
    run = ops.rollback if rollback else ops.promote
    with locked(slug, "promote --rollback" if rollback else "promote", break_lock, stacks_dir):
        record = run(stacks_dir, slug, err)
    if as_json:
        echo_json(record)
    elif record.get("unchanged"):
        click.echo(
            f"{slug}-{naming.PRODUCTION} is already live with promotion {record['id']}; "
            "preview has not changed since, nothing was done"
        )
    elif rollback:
        click.echo(f"{slug}-{naming.PRODUCTION} rolled back (promotion {record['id']})")
    else:
        click.echo(f"{slug}-{naming.PRODUCTION} is live (promotion {record['id']})")


COMMANDS = [promote]
