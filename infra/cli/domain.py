"""``tenantctl domain``: a production client's own portal domain (CloudFront SaaS Manager)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from infra.cli.common import break_lock_option, echo_json, err, json_option, stacks_dir_option

if TYPE_CHECKING:
    from infra.ops.lifecycle.domain import DomainStatus


@click.group()
def domain() -> None:
    """The client's own portal domain: certificate, CloudFront attachment, DNS.

    \b
    Go-live on a client's domain, in order:
      tenantctl domain request-certificate demo   # phase 2: hand the record over
      tenantctl domain status demo                # until ACM has issued it
      tenantctl domain attach demo                # a disabled CloudFront tenant
      tenantctl promote demo                      # once the client's CNAME is found
    """


@domain.command("request-certificate")
@click.argument("slug")
@click.option(
    "--replace",
    is_flag=True,
    help="Request a new certificate even though the current one is ISSUED or still "
    "PENDING_VALIDATION (a timed-out or failed one is replaced without it).",
)
@break_lock_option
@stacks_dir_option
@json_option
def request_certificate(
    slug: str, replace: bool, break_lock: str | None, stacks_dir: Path, as_json: bool
) -> None:
    """Request the ACM certificate (us-east-1) of the production's portal domain.

    Run it when the client's DNS team is ready to publish the validation record it
    prints: ACM gives up after 72 hours, and a timed-out certificate is replaced by
    running this again. Deploys production.

    \b
    Examples:
      tenantctl domain request-certificate demo
      tenantctl domain request-certificate demo --replace --json
    """
    from infra.ops.lifecycle.domain import request_certificate as request

    found = request(stacks_dir, slug, replace=replace, break_lock=break_lock, progress=err)
    _render(found, as_json)


@domain.command()
@click.argument("slug")
@break_lock_option
@stacks_dir_option
@json_option
def attach(slug: str, break_lock: str | None, stacks_dir: Path, as_json: bool) -> None:
    """Make the portal domain a (disabled) tenant of the platform's CloudFront distribution.

    Needs the certificate ISSUED. The tenant serves the domain from go-live
    (`tenantctl promote`). Deploys production; attaching twice changes nothing.

    \b
    Examples:
      tenantctl domain attach demo
      tenantctl domain attach demo --json
    """
    from infra.ops.lifecycle.domain import attach as attach_domain

    _render(attach_domain(stacks_dir, slug, break_lock=break_lock, progress=err), as_json)


@domain.command()
@click.argument("slug")
@stacks_dir_option
@json_option
def status(slug: str, stacks_dir: Path, as_json: bool) -> None:
    """Show the portal domain's certificate, its records, the CNAME target and DNS.

    Read-only. Once attached, the DNS line is CloudFront's VerifyDnsConfiguration.

    \b
    Examples:
      tenantctl domain status demo
      tenantctl domain status demo --json
    """
    from infra.ops.lifecycle.domain import read_status

    _render(read_status(stacks_dir, slug), as_json)


def _render(found: DomainStatus, as_json: bool) -> None:
    if as_json:
        echo_json(found.to_json())
        return
    click.echo(f"{found.stack}: {found.domain}")
    certificate = found.certificate_status or "not requested"
    generation = found.certificate_generation
    click.echo(
        f"  certificate: {certificate}"
        + (f" (generation {generation}, us-east-1)" if generation else "")
    )
    for record in found.validation_records:
        click.echo(f"  validation record: {record['name']} {record['type']} {record['value']}")
    click.echo(f"  CNAME target: {found.cname_target}")
    tenant = found.distribution_tenant_id
    click.echo(f"  attached: {'yes, distribution tenant ' + tenant if tenant else 'no'}")
    if found.dns_status:
        reason = f" ({found.dns_reason})" if found.dns_reason else ""
        click.echo(f"  DNS: {found.dns_status}{reason}")
    click.echo(f"  next: {found.next_step}")


COMMANDS = [domain]
