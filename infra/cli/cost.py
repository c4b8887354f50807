"""``tenantctl cost``: the vendor's monthly cost per client and for the fleet."""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli.common import echo_json, json_option, stacks_dir_option


@click.command()
@click.argument("slug", required=False)
@click.option(
    "--clients",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Fleet size: account-wide charges (Cognito MAU, SSM parameters) depend on it.",
)
@stacks_dir_option
@json_option
def cost(slug: str | None, clients: int, stacks_dir: Path, as_json: bool) -> None:
    """Monthly cost of a client's stacks, priced from their plans.

    Without SLUG: each shape of client (on the platform's host names, on its own
    domain) at the stage defaults a new client gets, and the fleet of --clients of
    the dearest shape. With SLUG: that client's stacks as their files say. Prices
    (us-east-1, on demand) and their sources are in infra/core/prices.py; an
    unconfirmed price is flagged. Usage (requests, data transfer, email) and the
    platform's shared resources are not included.

    \b
    Examples:
      tenantctl cost
      tenantctl cost --clients 250 --json | jq '.fleetUsdPerMonth'
      tenantctl cost demo
    """
    from infra.ops.planning.cost import cost as measure  # the Pulumi SDK loads only here

    report = measure(stacks_dir, clients, slug)
    if as_json:
        echo_json(report.to_json())
        return
    click.echo(f"monthly cost per client ({report.sizing}, from {report.reference}), USD")
    click.echo(f"{'shape':<18}{'preview':>9}{'production':>12}{'shared':>8}{'client':>9}")
    for shape in report.shapes:
        shared = sum(line.usd for line in shape.shared)
        click.echo(
            f"{shape.shape:<18}{shape.stage_total('preview'):>9.2f}"
            f"{shape.stage_total('production'):>12.2f}{shared:>8.2f}{shape.per_client:>9.2f}"
        )
    document = report.to_json()
    click.echo(
        f"fleet of {clients} ({document['fleetShape']}): "
        f"${document['fleetUsdPerMonth']:,.2f} a month"
    )
    unconfirmed = sorted({i for s in document["shapes"] for i in s["unconfirmedPrices"]})
    if unconfirmed:
        click.echo(f"unconfirmed prices (check infra/core/prices.py): {', '.join(unconfirmed)}")


COMMANDS = [cost]
