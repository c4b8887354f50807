"""``tenantctl capacity``: how many clients one platform holds, quota by quota."""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli.common import echo_json, json_option, stacks_dir_option


@click.command()
@click.option(
    "--clients",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="How many clients the platform must hold.",
)
@click.option(
    "--account",
    "read_account",
    is_flag=True,
    help="Compare with the applied values the account's Service Quotas report (AWS "
    "credentials needed, read-only) instead of the documented defaults.",
)
@stacks_dir_option
@json_option
def capacity(clients: int, read_account: bool, stacks_dir: Path, as_json: bool) -> None:
    """Per-client use of every AWS quota the stacks touch, counted from their plans.

    Plans each shape of client offline (on the platform's host names, on its own
    domain; preview and live production), derived from the first client in the
    stacks folder, and compares N clients of the most demanding shape with each
    quota's default (with --account, the applied value Service Quotas reports), whether
    AWS raises it, and which binds first. The platform's preview pool servers count
    once, shared. RDS storage counts allocated storage, as AWS does; a line under the
    table says when every instance grown to its autoscaling ceiling would pass it.
    `tenantctl preflight` checks the same model against the account.

    \b
    Examples:
      tenantctl capacity
      tenantctl capacity --clients 250 --json | jq '.quotas[] | select(.binds)'
      AWS_PROFILE=platform tenantctl capacity --account
    """
    from infra.ops.planning.capacity import capacity as measure  # the Pulumi SDK loads only here

    report = measure(stacks_dir, clients, read_account=read_account)
    if as_json:
        echo_json(report.to_json())
        return
    click.echo(
        f"{clients} clients (per client: the largest of the shapes "
        f"{', '.join(report.measured_on)}, derived from {report.reference})"
    )
    limit = "applied" if read_account else "default"
    click.echo(f"{'quota':<22}{'per client':>11}{'total':>10}{limit:>9}  adjustable  binds")
    for use in report.uses:
        click.echo(
            f"{use.quota.key:<22}{use.per_client:>11}{use.total:>10}{use.limit:>9}  "
            f"{'yes' if use.quota.adjustable else 'no':<10}  "
            + (f"yes, at {(use.max_clients_at_limit or 0) + 1} clients" if use.binds else "no")
        )
    for use in report.uses:
        if use.ceiling is not None:
            click.echo(use.ceiling_note())
    unread = [u.quota.key for u in report.uses if u.applied is not None and not u.applied.readable]
    if unread:
        click.echo(
            f"could not read Service Quotas for {', '.join(unread)}: judged against the "
            "documented defaults (allow servicequotas:GetServiceQuota)",
            err=True,
        )
    binding = report.binding
    if binding:
        first = binding[0]
        click.echo(
            f"binds first: {first.quota.key} at {(first.max_clients_at_limit or 0) + 1} clients"
        )
    else:
        click.echo(f"no quota binds at {clients} clients")


COMMANDS = [capacity]
