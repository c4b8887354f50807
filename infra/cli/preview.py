"""``tenantctl preview move``: a preview's databases to another pool server."""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli.common import break_lock_option, echo_json, err, json_option, stacks_dir_option


@click.group()
def preview() -> None:
    """Operations on a client's preview stack (where its databases live)."""


@preview.command("move")
@click.argument("slug")
@click.option(
    "--to",
    "pool",
    required=True,
    metavar="POOL",
    help="The pool server to move to: a name in the platform's previewDatabasePools.",
)
@break_lock_option
@stacks_dir_option
@json_option
def move(slug: str, pool: str, break_lock: str | None, stacks_dir: Path, as_json: bool) -> None:
    """Move a preview's databases (defaults, working, undo) to another pool server.

    Under the client's lock: the preview's databases are closed, copied to POOL,
    the new placement (tenants:databasePool) is recorded, the old copies are
    dropped and the stack is deployed so it uses POOL. Resumable: after a
    failure or a kill, run the same command again. A preview on its own instance
    (created before pools) moves the same way; deleting that instance then needs
    `tenantctl deploy SLUG-preview --allow-replace ... --reason ...` (printed).

    \b
    Examples:
      tenantctl preview move demo --to previews-2
      tenantctl preview move demo --to previews-2 --json
    """
    from infra.ops.lifecycle.move import move_preview

    result = move_preview(stacks_dir, slug, pool, err, break_lock=break_lock)
    if as_json:
        echo_json(result.to_json())
    elif result.unchanged:
        click.echo(f"{result.stack} is already on {pool}; nothing was done")
    else:
        click.echo(f"{result.stack} moved to {pool}")
        if result.next:
            click.echo(f"to finish, run: {result.next}")


COMMANDS = [preview]
