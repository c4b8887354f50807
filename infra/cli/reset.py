"""``tenantctl reset-preview``: a preview back to defaults, with one undo."""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli.common import (
    break_lock_option,
    echo_json,
    err,
    json_option,
    stacks_dir_option,
    yes_option,
)
from infra.core.errors import UserInputError


@click.command("reset-preview")
@click.argument("slug")
@click.option("--undo", is_flag=True, help="Return to the state before the last reset (once).")
@click.option(
    "--with-training-data",
    is_flag=True,
    help="Also load the documented training set (sample users, permits, violations).",
)
@yes_option
@break_lock_option
@stacks_dir_option
@json_option
def reset_preview(
    slug: str,
    undo: bool,
    with_training_data: bool,
    yes: bool,
    break_lock: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Reset a client's preview to defaults: content, database and payment settings.

    Keeps domains, certificates and the database server, and keeps the state
    before the reset for one --undo. Only ever acts on <slug>-preview: there is
    no option that points it at production. Safe to run twice: a preview still
    at defaults since the last reset is left alone, and --undo still returns to
    the state before that reset.

    --with-training-data loads the training set (templates/training/, README
    "Training data") into the new database before it is swapped in; refused
    when the configuration has no lots, permit types or violation types. The
    next plain reset removes it.

    \b
    Examples:
      tenantctl reset-preview demo            # asks for confirmation
      tenantctl reset-preview demo --yes --json
      tenantctl reset-preview demo --undo --yes
      tenantctl reset-preview demo --with-training-data --yes
    """
    from infra.ops.lifecycle.reset import reset_preview as run_reset
    from infra.ops.lifecycle.reset import undo_reset
    from infra.ops.stacks.opening import open_preview

    if undo and with_training_data:  # a usage error, said before any system is reached
        raise UserInputError("--undo and --with-training-data cannot be combined; give one")
    stack = open_preview(stacks_dir, slug, "reset-preview")
    what = "undo the last reset of" if undo else "reset to defaults"
    if not yes:
        click.confirm(
            f"This will {what} {stack.stack_name} (content, database, payment settings). Continue?",
            abort=True,
            err=True,
        )
    if undo:
        result = undo_reset(stack, err, break_lock=break_lock)
    else:
        result = run_reset(stack, err, break_lock=break_lock, with_training_data=with_training_data)
    if as_json:
        echo_json(result.to_json())
    elif result.unchanged:
        click.echo(f"{stack.stack_name} was already at defaults; nothing was done")
    else:
        seeded = f" with training data {result.training_data}" if result.training_data else ""
        click.echo(
            f"{stack.stack_name} {'restored' if undo else 'reset'}{seeded} in {result.seconds:.2f}s"
        )


COMMANDS = [reset_preview]
