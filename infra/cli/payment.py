"""``tenantctl payment set-credentials``: payment credentials, never through argv or Pulumi."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from infra.cli.common import (
    break_lock_option,
    echo_json,
    err,
    from_env_option,
    json_option,
    stacks_dir_option,
)
from infra.core import naming
from infra.core.errors import UserInputError
from infra.ops.stacks import stackfiles


@click.group()
def payment() -> None:
    """Payment credentials of a client's stacks."""


@payment.command("set-credentials")
@click.argument("slug")
@click.option(
    "--stage",
    type=click.Choice(naming.STAGES),
    required=True,
    help="Which stack's credentials to set.",
)
@from_env_option
@break_lock_option
@stacks_dir_option
@json_option
def set_credentials(
    slug: str,
    stage: naming.Stage,
    env_var: str | None,
    break_lock: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Store the payment provider credentials of one stack.

    Credentials come from stdin (or --from-env VAR), never from an argument, as a
    JSON object {"secretKey": ..., "webhookSecret": ...}, as KEY=value lines, or as
    the secret key alone. A preview takes sandbox keys only; a live production
    takes live keys only. The stack must be deployed (its secret exists).

    \b
    Examples:
      tenantctl payment set-credentials demo --stage preview < demo-sandbox.json
      printf 'secretKey=%s\\n' "$KEY" | tenantctl payment set-credentials demo --stage production
      tenantctl payment set-credentials demo --stage production --from-env DEMO_STRIPE --json
    """
    from infra.ops.adapters.payment_store import parse_credentials
    from infra.ops.lifecycle.payment import store_credentials

    spec = stackfiles.read_spec(stacks_dir, slug, stage)
    if env_var:
        text = os.environ.get(env_var)
        if text is None:
            raise UserInputError(
                f"environment variable {env_var} is not set; export it or pipe to stdin"
            )
    else:
        if sys.stdin.isatty():
            err("Paste the credentials (JSON or KEY=value lines), then Ctrl-D:")
        text = sys.stdin.read()
    credentials = parse_credentials(text)
    stored = store_credentials(stacks_dir, spec, credentials, break_lock=break_lock, progress=err)
    if as_json:
        echo_json(stored.to_json())
    else:
        click.echo(f"{stored.stack}: {stored.mode} credentials stored in {stored.secret}")


COMMANDS = [payment]
