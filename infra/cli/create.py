"""``tenantctl create``: both stack files of a new client, then their deployment."""

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
)
from infra.core import naming
from infra.core.providers import PROVIDERS
from infra.core.spec import ROLES
from infra.ops import create as create_op
from infra.ops.yamlfiles import display_path


@click.command()
@click.argument("slug")
@click.option(
    "--from",
    "from_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Tenant file: common fields at the top, overrides under preview:/production:.",
)
@click.option("--display-name", help="Client name shown in consoles and emails.")
@click.option("--platform-stack", help="Shared platform stack, org/project/stack.")
@click.option("--payment-provider", help=f"Hosted payment provider: {', '.join(PROVIDERS)}.")
@click.option("--merchant-id", help="The client's merchant/account id at the provider.")
@click.option("--currency", help="ISO 4217 currency of all charges.")
@click.option("--organization", help="Client organization shown to the public.")
@click.option("--support-email", help="Where the public writes for help.")
@click.option("--support-phone", help="Public help line.")
@click.option("--primary-color", help="Main brand colour, #RRGGBB.")
@click.option("--logo-url", help="https:// URL of the client's logo.")
@click.option(
    "--admin",
    "admins",
    multiple=True,
    metavar="EMAIL:NAME:ROLE",
    help=f"Administrator account (repeatable); ROLE is one of {', '.join(ROLES)}.",
)
@click.option("--portal-domain", help="Production only: the client's own portal domain.")
@click.option("--force", is_flag=True, help="Overwrite existing stack files that differ.")
@click.option("--no-deploy", is_flag=True, help="Write the stack files only; do not run pulumi up.")
@break_lock_option
@stacks_dir_option
@json_option
def create(
    slug: str,
    from_file: Path | None,
    admins: tuple[str, ...],
    force: bool,
    no_deploy: bool,
    break_lock: bool,
    stacks_dir: Path,
    as_json: bool,
    **fields: str | None,
) -> None:
    """Create a client's preview and production stacks.

    Writes stacks/Pulumi.SLUG-preview.yaml and stacks/Pulumi.SLUG-production.yaml
    (both validated first), then deploys preview and production. Running it again
    with the same description changes nothing; a different one is refused with a
    diff unless --force.

    \b
    Examples:
      tenantctl create demo --from stacks/tenant.example.yaml
      tenantctl create acme --display-name "Acme College Parking" \\
          --platform-stack acme/platform/prod --payment-provider stripe \\
          --merchant-id acct_1AcmeCollege01 --organization "Acme College" \\
          --support-email parking@acme.example.edu \\
          --admin "pat@acme.example.edu:Pat Lee:administrator" \\
          --portal-domain parking.acme.example.edu --no-deploy
      tenantctl create acme --from acme.yaml --force --json
    """
    options = create_op.CreateOptions(admins=admins, **fields)
    if from_file is not None:
        given = options.given()
        if given:
            raise click.UsageError(
                f"--from and {', '.join(given)} cannot be combined; put every field in "
                f"{from_file} or pass only options"
            )
        specs = create_op.specs_from_file(slug, from_file)
    else:
        specs = create_op.specs_from_options(slug, options)

    try:
        result = create_op.create_tenant(stacks_dir, specs, force=force)
    except create_op.StackFilesDiffer as conflict:
        for line in conflict.diff:
            err(line)
        if as_json:
            echo_json({**conflict.result.to_json(), "status": "conflict", "written": False})
        raise

    document: dict[str, Any] = result.to_json()
    for change in result.files:
        err(f"{change.status:9} {display_path(change.path)}")
    document["deploy"] = _deploy(result, stacks_dir, no_deploy, break_lock)
    if as_json:
        echo_json(document)
    else:
        click.echo(f"{slug}: stack files {result.status}; deploy {document['deploy']['status']}")


def _deploy(
    result: create_op.CreateResult, stacks_dir: Path, no_deploy: bool, break_lock: bool
) -> dict[str, Any]:
    slug = result.slug
    stacks = [naming.stack_name(slug, stage) for stage in naming.STAGES]
    files = "stack files written" if result.written else "stack files unchanged"
    if no_deploy:
        return {"status": "skipped", "reason": "--no-deploy"}
    from infra.ops.deployers import current_deployer, deploy_new_stack  # heavy imports

    deployer = current_deployer()
    if deployer is None:
        err(
            f"Pulumi CLI not found: {files}, deployment skipped; run "
            f"`pulumi up -s {stacks[0]}` (then `pulumi up -s {stacks[1]}`) on a machine with "
            "the CLI or use the local target (scripts/local-target up)"
        )
        return {"status": "skipped", "reason": "Pulumi CLI not found"}
    if deployer.name == "local":
        err("local target: the Pulumi CLI is not used; each stack is applied from its plan")
    with locked(slug, "create", break_lock, stacks_dir):  # deploy + post-provision
        deployed = {
            result.specs[stage].stack_name: deploy_new_stack(result.specs[stage], stacks_dir, err)
            for stage in naming.STAGES
        }
    return {
        "status": "deployed" if deployer.name == "pulumi" else "applied-locally",
        "stacks": deployed,
    }


COMMANDS = [create]
