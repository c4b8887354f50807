"""``tenantctl deploy``: one existing stack brought up to date (what CI runs on merge)."""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli.common import echo_json, err, json_option, stacks_dir_option, yes_option
from infra.core import naming


@click.command()
@click.argument("stack")
@yes_option
@stacks_dir_option
@json_option
def deploy(stack: str, yes: bool, stacks_dir: Path, as_json: bool) -> None:
    """Deploy one stack (SLUG-preview or SLUG-production) and post-provision it.

    Runs `pulumi up` for the stack (on the local target, its stand-in), then the
    post-provision step, which only creates what is missing (defaults database,
    working database, first content release). Holds the client's lock; running
    it again changes nothing. A production stack asks for confirmation unless --yes.

    \b
    Examples:
      tenantctl deploy demo-preview
      tenantctl deploy demo-production --yes --json
    """
    from infra.ops.lifecycle import deploy as ops

    _, stage = ops.parse_stack(stack)
    if stage == naming.PRODUCTION and not yes:
        click.confirm(f"This will deploy {stack}. Continue?", abort=True, err=True)
    result = ops.deploy(stacks_dir, stack, err)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(f"{stack}: {result.how} in {result.seconds:.1f}s")


COMMANDS = [deploy]
