"""``tenantctl import``: configuration and old-system data from CSV files, into preview."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from infra.cli.common import echo_json, err, json_option, stacks_dir_option
from infra.core.errors import ExitCode, UserInputError
from infra.core.import_kinds import KINDS


@click.command("import")
@click.argument("slug", required=False)
@click.argument("kind", required=False, type=click.Choice(list(KINDS)))
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--template",
    "template_kind",
    type=click.Choice(list(KINDS)),
    help="Print an empty file of KIND: its header and one example row.",
)
@click.option("--dry-run", is_flag=True, help="Check the whole file; write nothing.")
@click.option(
    "--problems",
    "problems_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the problems CSV (line,column,value,reason) here instead of stdout.",
)
@stacks_dir_option
@json_option
@click.pass_context
def import_(
    ctx: click.Context,
    slug: str | None,
    kind: str | None,
    file: Path | None,
    template_kind: str | None,
    dry_run: bool,
    problems_path: Path | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Import a CSV file of KIND into the client's preview, whole or not at all.

    Kinds: configuration (lots, zones, permit-types, violation-types, settings,
    messages; promoted at go-live) and old-system data (accounts, vehicles,
    permits, violations; replayed into production by promote). The file is
    UTF-8 (with or without BOM), comma, semicolon or tab separated, with the
    kind's documented header. Every problem is listed as CSV
    (line,column,value,reason) and nothing is written (exit 2); the same file
    imported twice changes nothing.

    \b
    Examples:
      tenantctl import --template permits > permits.csv
      tenantctl import demo lots lots.csv --dry-run
      tenantctl import demo permits permits.csv --problems problems.csv
      tenantctl import demo accounts accounts.csv --json
    """
    if template_kind:
        click.echo(KINDS[template_kind].template(), nl=False)
        return
    if not (slug and kind and file):
        raise UserInputError("give SLUG KIND FILE, or --template KIND; see --help")
    from infra.ops.content.imports import import_file
    from infra.ops.stacks.opening import open_preview

    stack = open_preview(stacks_dir, slug, "import")
    try:
        out = problems_path.open("w", encoding="utf-8", newline="") if problems_path else None
    except OSError as exc:
        raise UserInputError(f"cannot write {problems_path}: {exc.strerror}") from None
    try:
        sink = out if out is not None else (None if as_json else sys.stdout)
        result = import_file(stack, kind, file, dry_run, sink, err)
    finally:
        if out is not None:
            out.close()
    if as_json:
        echo_json(result.to_json())
    err(result.summary)
    if result.status == "rejected":
        ctx.exit(ExitCode.BAD_INPUT)
    if problems_path and not result.problems:
        problems_path.unlink(missing_ok=True)


COMMANDS = [import_]
