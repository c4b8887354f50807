"""``tenantctl deploy``: one existing stack brought up to date (what CI runs on merge)."""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli.common import TEXT, echo_json, err, json_option, stacks_dir_option, yes_option
from infra.core import naming


@click.command()
@click.argument("stack")
@click.option(
    "--allow-replace",
    "allow_replace",
    multiple=True,
    type=TEXT,
    metavar="RESOURCE",
    help="Let this deploy replace or delete the named stateful resource (its Pulumi name, "
    "as the refusal prints it); repeatable; needs --reason.",
)
@click.option("--reason", type=TEXT, help="Why, recorded in the rollout history.")
@yes_option
@stacks_dir_option
@json_option
def deploy(
    stack: str,
    allow_replace: tuple[str, ...],
    reason: str | None,
    yes: bool,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Deploy one stack (SLUG-preview or SLUG-production) and post-provision it.

    Runs `pulumi up` for the stack (on the local target, its stand-in), then the
    post-provision step, which only creates what is missing (defaults database,
    working database, first content release). Holds the client's lock; running
    it again changes nothing. A production stack asks for confirmation unless --yes.

    Refuses (exit 3, nothing changed) an update that would replace or delete a
    database, content bucket, user pool or secret, say after a new platform KMS key
    or a changed tenants:platformStack, unless each is named with --allow-replace.

    \b
    Examples:
      tenantctl deploy demo-preview
      tenantctl deploy demo-production --yes --json
      tenantctl deploy demo-preview --allow-replace demo-preview-database-instance \\
        --reason "OPS-142: new platform KMS key; client agreed to lose preview data"
    """
    from infra.ops.lifecycle import deploy as ops
    from infra.ops.rollout.gate import RolloutReplacementLog

    _, stage = ops.parse_stack(stack)
    if stage == naming.PRODUCTION and not yes:
        click.confirm(f"This will deploy {stack}. Continue?", abort=True, err=True)
    result = ops.deploy(
        stacks_dir, stack, err, allow_replace, reason, recorder=RolloutReplacementLog()
    )
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(f"{stack}: {result.how} in {result.seconds:.1f}s")


COMMANDS = [deploy]
