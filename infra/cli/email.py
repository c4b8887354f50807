"""``tenantctl email``: send a test of the tenant's emails through its SES identity."""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli.common import TEXT, echo_json, err, json_option, stacks_dir_option, stage_option
from infra.core import naming, placeholders


@click.group()
def email() -> None:
    """The tenant's emails, sent through its own sending identity.

    \b
    Examples:
      tenantctl email test demo welcome --to pat.lee@demo-state.example.edu
      tenantctl email allow-list demo --add tester@demo-state.example.edu
    """


@email.command("test")
@click.argument("slug")
@click.argument("template", type=click.Choice(list(placeholders.EMAILS)))
@click.option(
    "--to", "to", type=TEXT, required=True, help="Recipient (preview: an admin or allow-listed)."
)
@stage_option("Which stack sends the test email.")
@stacks_dir_option
@json_option
def test_(
    slug: str, template: str, to: str, stage: naming.Stage, stacks_dir: Path, as_json: bool
) -> None:
    """Render TEMPLATE from the served release with sample data and send it to --to.

    Preview only sends to its administrators and to the addresses on its
    allow-list (allowedRecipients of the SSM parameter /<slug>/preview/settings).

    \b
    Examples:
      tenantctl email test demo welcome --to pat.lee@demo-state.example.edu
      tenantctl email test demo password-reset --to qa@vendor.example --json
    """
    from infra.ops.content.email import send_test
    from infra.ops.stacks.handle import refuse_stack_names
    from infra.ops.stacks.opening import open_from_files

    if stage == naming.PREVIEW:
        refuse_stack_names(slug, "email test")
    result = send_test(open_from_files(stacks_dir, slug, stage), template, to)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(f"sent {template!r} to {to} from {result.sender} ({result.message_id})")


@email.command("allow-list")
@click.argument("slug")
@click.option(
    "--add", "add", type=TEXT, multiple=True, metavar="ADDRESS", help="Allow this address."
)
@click.option(
    "--remove", "remove", type=TEXT, multiple=True, metavar="ADDRESS", help="Stop allowing it."
)
@stacks_dir_option
@json_option
def allow_list(
    slug: str, add: tuple[str, ...], remove: tuple[str, ...], stacks_dir: Path, as_json: bool
) -> None:
    """Show or change who a client's preview may email besides its administrators.

    Preview never emails the public: only its administrators (the stack's
    admins, always) and the addresses on this list, e.g. the client's testers
    in phase 4. Without --add/--remove it shows the list. Production emails
    anyone and has no list.

    \b
    Examples:
      tenantctl email allow-list demo
      tenantctl email allow-list demo --add tester@demo-state.example.edu --add qa@vendor.example
      tenantctl email allow-list demo --remove tester@demo-state.example.edu --json
    """
    from infra.ops.content.email import change_allow_list
    from infra.ops.stacks.opening import open_preview

    result = change_allow_list(open_preview(stacks_dir, slug, "email allow-list"), add, remove, err)
    if as_json:
        echo_json(result.to_json())
        return
    click.echo(f"{result.stack} may email, besides its administrators ({result.parameter}):")
    for address in result.addresses:
        mark = " (added)" if address in result.added else ""
        click.echo(f"  {address}{mark}")
    if not result.addresses:
        click.echo("  nobody else")
    for address in result.removed:
        click.echo(f"  removed: {address}")


COMMANDS = [email]
