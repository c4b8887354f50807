"""``tenantctl create`` and ``tenantctl payment set-credentials``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from infra.cli import echo_json, err, json_option, main, stacks_dir_option
from infra.core import naming
from infra.core.errors import EnvironmentProblem
from infra.core.providers import PROVIDERS
from infra.core.spec import ROLES
from infra.ops import create as create_op
from infra.ops import stackfiles


@main.command()
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
@stacks_dir_option
@json_option
def create(
    slug: str,
    from_file: Path | None,
    admins: tuple[str, ...],
    force: bool,
    no_deploy: bool,
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
        err(f"{change.status:9} {stackfiles.display_path(change.path)}")
    document["deploy"] = _deploy(result, stacks_dir, no_deploy)
    if as_json:
        echo_json(document)
    else:
        click.echo(f"{slug}: stack files {result.status}; deploy {document['deploy']['status']}")


def _deploy(result: create_op.CreateResult, stacks_dir: Path, no_deploy: bool) -> dict[str, Any]:
    slug = result.slug
    stacks = [naming.stack_name(slug, stage) for stage in naming.STAGES]
    files = "stack files written" if result.written else "stack files unchanged"
    if no_deploy:
        return {"status": "skipped", "reason": "--no-deploy"}
    from infra.ops.stack import deploy_mode

    mode = deploy_mode()
    if mode == "none":
        err(
            f"Pulumi CLI not found: {files}, deployment skipped; run "
            f"`pulumi up -s {stacks[0]}` (then `pulumi up -s {stacks[1]}`) on a machine with "
            "the CLI or use the local target (scripts/local-target up)"
        )
        return {"status": "skipped", "reason": "Pulumi CLI not found"}
    from infra.ops.provision import deploy_new_stack  # heavy imports

    if mode == "local":
        err("local target: the Pulumi CLI is not used; each stack is applied from its plan")
    deployed = {
        result.specs[stage].stack_name: deploy_new_stack(result.specs[stage], stacks_dir, err)
        for stage in naming.STAGES
    }
    return {"status": "deployed" if mode == "pulumi" else "applied-locally", "stacks": deployed}


# --------------------------------------------------------------------- payment


@main.group()
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
@click.option(
    "--from-env",
    "env_var",
    metavar="VAR",
    help="Read the credentials from this environment variable instead of stdin.",
)
@stacks_dir_option
@json_option
def set_credentials(
    slug: str, stage: naming.Stage, env_var: str | None, stacks_dir: Path, as_json: bool
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
    from infra.ops import aws
    from infra.ops import payment as payment_op

    spec = stackfiles.read_spec(stacks_dir, slug, stage)
    if env_var:
        text = os.environ.get(env_var)
        if text is None:
            raise EnvironmentProblem(f"environment variable {env_var} is not set")
    else:
        if sys.stdin.isatty():
            err("Paste the credentials (JSON or KEY=value lines), then Ctrl-D:")
        text = sys.stdin.read()
    credentials = payment_op.parse_credentials(text)
    region = stackfiles.stack_region(stacks_dir, slug, stage)
    mode = payment_op.set_credentials(aws.client("secretsmanager", region), spec, credentials)
    secret = naming.payment_secret_name(slug, stage)
    if as_json:
        echo_json({"stack": spec.stack_name, "secret": secret, "mode": mode, "stored": True})
    else:
        click.echo(f"{spec.stack_name}: {mode} credentials stored in {secret}")
