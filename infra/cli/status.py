"""``tenantctl status`` and ``tenantctl list``: what exists, read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from infra.cli.common import echo_json, json_option, stacks_dir_option
from infra.core import naming
from infra.core.errors import UserInputError


@click.command()
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
    from infra.ops.status import broken_files, tenant_status

    rows = tenant_status(stacks_dir, slug)
    if as_json:
        echo_json({"tenants": rows})
    else:
        _status_table(rows)
    _fail_if_broken(broken_files(rows))


def _fail_if_broken(count: int) -> None:
    """After every tenant was shown: a broken stack file is still a failure (exit 2)."""
    if count:
        raise UserInputError(
            f"{count} stack file(s) could not be read; each is reported above as its tenant's error"
        )


def _status_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console  # only for people: --json does not pay for rich
    from rich.table import Table

    table = Table("stack", "live", "current release", "last reset", "last promotion", "note")
    for row in rows:
        for info in row["stages"].values():
            last = info.get("lastPromotion") or {}
            table.add_row(
                info["stack"],
                "?" if info["live"] is None else ("yes" if info["live"] else "no"),
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
    Console(highlight=False, emoji=False, markup=False, soft_wrap=True).print(table)


@click.command("list")
@stacks_dir_option
@json_option
def list_(stacks_dir: Path, as_json: bool) -> None:
    """List the tenants defined in the stacks folder (reads files only).

    \b
    Examples:
      tenantctl list
      tenantctl list --json
    """
    from infra.ops.status import broken_files, list_tenants

    rows = list_tenants(stacks_dir)
    if as_json:
        echo_json({"tenants": rows})
    else:
        _list_table(rows)
    _fail_if_broken(broken_files(rows))


def _list_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("slug", "stages", "portal", "live", "note")
    for row in rows:
        stages = row["stages"]
        prod = stages.get(naming.PRODUCTION, {})
        table.add_row(
            row["slug"],
            ", ".join(stages),
            prod.get("portalUrl", "-"),
            "yes" if prod.get("live") else "no",
            "; ".join(
                f"{info['stack']}: {info['error']}" for info in stages.values() if "error" in info
            ),
        )
    Console(highlight=False, emoji=False, markup=False, soft_wrap=True).print(table)


COMMANDS = [status, list_]
