"""``tenantctl create``: both stack files of a new client, then their deployment."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from infra.cli.common import (
    F,
    break_lock_option,
    contract_option,
    echo_json,
    err,
    json_option,
    signed_off_option,
    stacks_dir_option,
)
from infra.core import naming
from infra.core.spec import ROLES
from infra.core.spec_docs import config_reference
from infra.ops.lifecycle import create as create_op


def create_options(f: F) -> F:
    """One click option per ``CREATE_FIELDS`` entry, helped by the spec's own descriptions."""
    descriptions = {
        key.removeprefix(naming.CONFIG_NAMESPACE): text for key, _, _, text in config_reference()
    }
    f = click.option(
        create_op.ADMIN_OPTION,
        "admins",
        multiple=True,
        metavar=create_op.ADMIN_FORMAT,
        help=f"Administrator account (repeatable); ROLE is one of {', '.join(ROLES)}.",
    )(f)
    for spec_field in reversed(create_op.CREATE_FIELDS):
        f = click.option(spec_field.option, help=descriptions[spec_field.key])(f)
    return f


@click.command()
@click.argument("slug")
@click.option(
    "--from",
    "from_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Tenant file: common fields at the top, overrides under preview:/production:.",
)
@create_options
@click.option("--force", is_flag=True, help="Overwrite existing stack files that differ.")
@click.option("--no-deploy", is_flag=True, help="Write the stack files only; do not run pulumi up.")
@contract_option("Contract reference of the rollout started at sign-off (default: initial).")
@signed_off_option
@break_lock_option
@stacks_dir_option
@json_option
def create(
    slug: str,
    from_file: Path | None,
    admins: tuple[str, ...],
    force: bool,
    no_deploy: bool,
    contract: str | None,
    signed_off: date | None,
    break_lock: str | None,
    stacks_dir: Path,
    as_json: bool,
    **fields: str | None,
) -> None:
    """Create a client's preview and production stacks.

    Writes stacks/Pulumi.SLUG-preview.yaml and stacks/Pulumi.SLUG-production.yaml
    (both validated first), then deploys preview and production. Running it again
    with the same description changes nothing; a different one is refused with a
    diff unless --force. With a control database configured, it also starts the
    client's rollout at sign-off (once; see `tenantctl rollout`).

    Writing and deploying happen under the client's lock, as every command that
    changes a client: while another create, reset or promote of SLUG holds it, create
    exits 4 and writes nothing. --no-deploy changes only local files and takes no lock.

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
    options = create_op.CreateOptions.from_params(fields, admins)
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

    from infra.ops.rollout.signoff import create_client  # deploys: heavy imports

    try:
        created = create_client(
            stacks_dir,
            specs,
            force=force,
            deploy=not no_deploy,
            break_lock=break_lock,
            contract=contract,
            signed_off=signed_off,
            progress=err,
        )
    except create_op.StackFilesDiffer as conflict:
        for line in conflict.diff:
            err(line)
        if as_json:
            echo_json({**conflict.result.to_json(), "status": "conflict", "written": False})
        raise
    if as_json:
        echo_json(created.to_json())
    else:
        click.echo(
            f"{slug}: stack files {created.files.status}; deploy {created.deployment.status}"
        )


COMMANDS = [create]
