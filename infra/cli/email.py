"""``tenantctl email``: send a test of the tenant's emails through its SES identity."""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli.common import echo_json, json_option, stacks_dir_option
from infra.core import naming, placeholders


@click.group()
def email() -> None:
    """The tenant's emails, sent through its own sending identity.

    \b
    Examples:
      tenantctl email test demo welcome --to pat.lee@demo-state.example.edu
    """


@email.command("test")
@click.argument("slug")
@click.argument("template", type=click.Choice(list(placeholders.EMAILS)))
@click.option("--to", "to", required=True, help="Recipient (preview: an admin or allow-listed).")
@click.option(
    "--stage", type=click.Choice(naming.STAGES), default=naming.PREVIEW, show_default=True
)
@stacks_dir_option
@json_option
def test_(slug: str, template: str, to: str, stage: str, stacks_dir: Path, as_json: bool) -> None:
    """Render TEMPLATE from the served release with sample data and send it to --to.

    Preview only sends to its administrators and to the addresses on its
    allow-list (SSM parameter /<slug>/preview/email/allowed-recipients).

    \b
    Examples:
      tenantctl email test demo welcome --to pat.lee@demo-state.example.edu
      tenantctl email test demo password-reset --to qa@vendor.example --json
    """
    from infra.ops.email import send_test
    from infra.ops.stack import open_from_files, refuse_stack_names

    if stage == naming.PREVIEW:
        refuse_stack_names(slug, "email test")
    result = send_test(open_from_files(stacks_dir, slug, stage), template, to)  # type: ignore[arg-type]
    if as_json:
        echo_json(result)
    else:
        click.echo(f"sent {template!r} to {to} from {result['from']} ({result['messageId']})")


COMMANDS = [email]
