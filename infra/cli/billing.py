"""``tenantctl billing``: billing milestones recorded but not yet published, and publishing them."""

from __future__ import annotations

import click

from infra.cli.common import echo_json, err, json_option


@click.group()
def billing() -> None:
    """Billing milestones and their delivery to the billing system's EventBridge bus.

    Milestones are recorded by the rollout steps that earn them (sign-off,
    preview go-live, go-live, recurring start), once per client and contract,
    and sent through an outbox. Each event carries a deterministic
    idempotency key; a re-run never sends a different event.

    \b
    Examples:
      tenantctl billing pending
      tenantctl billing publish --json
    """


@billing.command("pending")
@json_option
def pending_cmd(as_json: bool) -> None:
    """List milestones recorded but not confirmed published.

    \b
    Examples:
      tenantctl billing pending --json
    """
    from infra.ops.rollout import billing as ops

    result = ops.list_pending()
    if as_json:
        echo_json(result.to_json())
        return
    if not result.rows:
        click.echo("nothing pending: every recorded milestone is published")
    for r in result.rows:
        click.echo(
            f"{r.client:<24} {r.contract:<16} {r.milestone:<16} {r.occurred_at:%Y-%m-%d} "
            f"attempts {r.attempts}  {r.idempotency_key}"
        )


@billing.command("publish")
@json_option
def publish_cmd(as_json: bool) -> None:
    """Publish every pending milestone to the billing bus (TENANTCTL_BILLING_BUS).

    Safe to run at any time and to kill: what was not confirmed is sent again,
    as the same event with the same idempotency key.

    \b
    Examples:
      tenantctl billing publish
    """
    from infra.ops.rollout import billing as ops

    result = ops.publish_pending(err)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(f"{len(result.events)} milestone event(s) published")


COMMANDS = [billing]
