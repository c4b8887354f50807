"""``tenantctl preflight``: is the account and the platform ready for a deploy?"""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli.common import TEXT, echo_json, json_option, stacks_dir_option
from infra.core.errors import PreconditionFailed

_MARK = {"pass": "PASS", "fail": "FAIL", "cannot-check": "CANNOT-CHECK"}


@click.command()
@click.option(
    "--clients",
    type=click.IntRange(min=1),
    help="How many clients the platform must hold (default: the clients in the stacks "
    "folder, at least one).",
)
@click.option(
    "--platform-stack",
    type=TEXT,
    metavar="ORG/PROJECT/STACK",
    help="The platform to check (default: the one the stack files name).",
)
@click.option(
    "--role",
    "roles",
    type=TEXT,
    multiple=True,
    metavar="ARN",
    help="Also check that this IAM role may use the platform's KMS key (IAM policy "
    "simulation with the key policy); repeatable.",
)
@stacks_dir_option
@json_option
def preflight(
    clients: int | None,
    platform_stack: str | None,
    roles: tuple[str, ...],
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Check, read-only, every prerequisite of a deploy: account, quotas, platform, tools.

    SES production access and sending quota, the SSM default parameter tier, every
    quota the capacity model counts against what N clients need, the hosted zone's
    records, the platform outputs and the KMS key, SES identity, log bucket and
    CloudFront connection group (exists, enabled, routing at the endpoint clients are
    given) they name, the Pulumi backend and the policy pack. Each check is pass, fail or
    cannot-check, with its evidence and what to do. Exits 0 when every check passes,
    3 otherwise.

    \b
    Examples:
      tenantctl preflight
      tenantctl preflight --clients 1000 --json | jq '.checks[] | select(.verdict != "pass")'
      tenantctl preflight --role arn:aws:iam::123456789012:role/tenants-deploy
    """
    from infra.ops.preflight.run import preflight as run

    report = run(stacks_dir, clients, platform_stack, roles)
    if as_json:
        echo_json(report.to_json())
    else:
        click.echo(
            f"preflight of {report.platform_stack} in {report.region} (account "
            f"{report.account}, as {report.caller}) for {report.clients} client(s)"
        )
        width = max(len(c.name) for c in report.checks)
        for check in report.checks:
            click.echo(f"{_MARK[check.verdict]:<13}{check.name:<{width + 2}}{check.summary}")
            if check.fix:
                click.echo(f"{'':<13}{'':<{width + 2}}-> {check.fix}")
    failed = report.not_passed
    if failed:
        raise PreconditionFailed(
            f"{len(failed)} of {len(report.checks)} preflight checks did not pass "
            f"({', '.join(c.name for c in failed)}); do what each says and re-run"
        )


COMMANDS = [preflight]
