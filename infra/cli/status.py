"""``tenantctl status`` and ``tenantctl list``: what exists, read-only."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from infra.cli.common import echo_json, json_option, stacks_dir_option
from infra.core import naming
from infra.core.errors import UserInputError

if TYPE_CHECKING:
    from infra.ops.lifecycle.listing import ListedStage, StageStatus, TenantRow


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
    from infra.ops.lifecycle.listing import broken_files
    from infra.ops.lifecycle.status import tenant_status

    rows = tenant_status(stacks_dir, slug)
    if as_json:
        echo_json({"tenants": [row.to_json() for row in rows]})
    else:
        _status_table(rows)
    _fail_if_broken(broken_files(rows))


def _fail_if_broken(count: int) -> None:
    """After every tenant was shown: a broken stack file is still a failure (exit 2)."""
    if count:
        raise UserInputError(
            f"{count} stack file(s) could not be read; each is reported above as its tenant's error"
        )


def _status_table(rows: list[TenantRow[StageStatus]]) -> None:
    from rich.console import Console  # only for people: --json does not pay for rich
    from rich.table import Table

    table = Table("stack", "live", "current release", "last reset", "last promotion", "note")
    for row in rows:
        for info in row.stages.values():
            live = info.listed.live
            last = info.last_promotion or {}
            table.add_row(
                info.listed.stack,
                "?" if live is None else ("yes" if live else "no"),
                info.current_release or "-",
                (info.last_reset or "-")
                + (f" (training data {info.training_data})" if info.training_data else ""),
                last.get("completedAt", "-"),
                info.note,
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
    from infra.ops.lifecycle.listing import broken_files, list_tenants

    rows = list_tenants(stacks_dir)
    if as_json:
        echo_json({"tenants": [row.to_json() for row in rows]})
    else:
        _list_table(rows)
    _fail_if_broken(broken_files(rows))


def _list_table(rows: list[TenantRow[ListedStage]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("slug", "stages", "portal", "live", "note")
    for row in rows:
        prod = row.stages.get(naming.PRODUCTION)
        table.add_row(
            row.slug,
            ", ".join(row.stages),
            (prod.portal_url if prod else "") or "-",
            "yes" if prod and prod.live else "no",
            "; ".join(f"{info.stack}: {info.error}" for info in row.stages.values() if info.error),
        )
    Console(highlight=False, emoji=False, markup=False, soft_wrap=True).print(table)


COMMANDS = [status, list_]
