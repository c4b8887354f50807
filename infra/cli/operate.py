"""``tenantctl reset-preview``, ``promote``, ``status`` and ``list``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from infra.cli import echo_json, err, json_option, main, stacks_dir_option, yes_option
from infra.core import naming


@main.command("reset-preview")
@click.argument("slug")
@click.option("--undo", is_flag=True, help="Return to the state before the last reset (once).")
@yes_option
@stacks_dir_option
@json_option
def reset_preview(slug: str, undo: bool, yes: bool, stacks_dir: Path, as_json: bool) -> None:
    """Reset a client's preview to defaults: content, database and payment settings.

    Keeps domains, certificates and the database server, and keeps the state
    before the reset for one --undo. Only ever acts on <slug>-preview: there is
    no option that points it at production.

    \b
    Examples:
      tenantctl reset-preview demo            # asks for confirmation
      tenantctl reset-preview demo --yes --json
      tenantctl reset-preview demo --undo --yes
    """
    from infra.ops.reset import reset_preview as run_reset
    from infra.ops.reset import undo_reset
    from infra.ops.stack import open_preview

    stack = open_preview(stacks_dir, slug, "reset-preview")
    what = "undo the last reset of" if undo else "reset to defaults"
    if not yes:
        click.confirm(
            f"This will {what} {stack.stack_name} (content, database, payment settings). Continue?",
            abort=True,
            err=True,
        )
    err(f"{'Undoing reset of' if undo else 'Resetting'} {stack.stack_name}")
    result = (undo_reset if undo else run_reset)(stack, err)
    if as_json:
        echo_json(result)
    else:
        click.echo(
            f"{stack.stack_name} {'restored' if undo else 'reset'} in {result['seconds']:.2f}s"
        )


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


@main.command()
@click.argument("slug")
@click.option("--dry-run", is_flag=True, help="Show exactly what would change; change nothing.")
@click.option(
    "--rollback", is_flag=True, help="Return production to the previous release and configuration."
)
@yes_option
@stacks_dir_option
@json_option
def promote(
    slug: str, dry_run: bool, rollback: bool, yes: bool, stacks_dir: Path, as_json: bool
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
    record = run(stacks_dir, slug, err)
    if as_json:
        echo_json(record)
    elif rollback:
        click.echo(f"{slug}-{naming.PRODUCTION} rolled back (promotion {record['id']})")
    else:
        click.echo(f"{slug}-{naming.PRODUCTION} is live (promotion {record['id']})")


@main.command()
@click.argument("slug", required=False)
@stacks_dir_option
@json_option
def status(slug: str | None, stacks_dir: Path, as_json: bool) -> None:
    """Show every tenant (or one) per stage: live, current release, last reset and promotion.

    \b
    Examples:
      tenantctl status
      tenantctl status demo --json
    """
    from infra.ops.status import tenant_status

    rows = tenant_status(stacks_dir, slug)
    if as_json:
        echo_json({"tenants": rows})
        return
    table = Table("stack", "live", "current release", "last reset", "last promotion", "note")
    for row in rows:
        for info in row["stages"].values():
            last = info.get("lastPromotion") or {}
            table.add_row(
                info["stack"],
                "-" if info["live"] is None else ("yes" if info["live"] else "no"),
                info["currentRelease"] or "-",
                info["lastReset"] or "-",
                last.get("completedAt", "-") if last else "-",
                info.get("error", "")
                or (
                    f"promotion {info['promotionInProgress']} unfinished"
                    if info.get("promotionInProgress")
                    else ""
                ),
            )
    Console(highlight=False, emoji=False, soft_wrap=True).print(table)


@main.command("list")
@stacks_dir_option
@json_option
def list_(stacks_dir: Path, as_json: bool) -> None:
    """List the tenants defined in the stacks folder (reads files only).

    \b
    Examples:
      tenantctl list
      tenantctl list --json
    """
    from infra.ops.status import list_tenants

    rows = list_tenants(stacks_dir)
    if as_json:
        echo_json({"tenants": rows})
        return
    table = Table("slug", "stages", "portal", "live")
    for row in rows:
        stages = row["stages"]
        prod = stages.get(naming.PRODUCTION, {})
        table.add_row(
            row["slug"],
            ", ".join(stages),
            prod.get("portalUrl", "-"),
            "yes" if prod.get("live") else "no",
        )
    Console(highlight=False, emoji=False, soft_wrap=True).print(table)
