"""``tenantctl domain``: a production client's own portal domain on the platform's CloudFront.

Three steps, each recorded in the production stack file (``tenants:customDomain``) and
made by one production deploy, under the client's lock:

1. ``request_certificate`` (phase 2, when the client's DNS team is ready): a new
   certificate generation, so an ACM certificate of the portal domain in us-east-1; the
   result carries the validation record to hand to the client. ACM gives up after 72
   hours (``VALIDATION_TIMED_OUT``) or may fail (``FAILED``): such a certificate is
   replaced by the next request; an ``ISSUED`` or ``PENDING_VALIDATION`` one only with
   *replace*.
2. ``attach`` (once ACM has issued it): the domain becomes a disabled distribution
   tenant of the platform's multi-tenant distribution.
3. ``promote`` enables it (``live``), after checking ``domain_preconditions``: issued,
   attached, and CloudFront's ``VerifyDnsConfiguration`` finding the client's CNAME to the
   routing endpoint.

``read_status`` reads all of it, changing nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra.core import limits, naming
from infra.core.errors import PreconditionFailed, UserInputError
from infra.core.steps import Progress, quiet
from infra.ops.adapters import aws
from infra.ops.stacks.deployers import deploy_stack
from infra.ops.stacks.handle import StackHandle, refuse_stack_names
from infra.ops.stacks.locking import client_lock, lock_place
from infra.ops.stacks.opening import open_file, open_from_files
from infra.ops.stacks.stackfiles import read_stack, set_custom_domain

REPLACED_AUTOMATICALLY = frozenset({"VALIDATION_TIMED_OUT", "FAILED"})
"""Certificate statuses ACM never leaves: the next request replaces the certificate."""
KEPT_UNLESS_REPLACE = frozenset({"ISSUED", "PENDING_VALIDATION"})
"""Statuses a request keeps unless told to replace (an issued one, or one still waiting)."""
VALID_DNS = "valid-configuration"


@dataclass(frozen=True)
class DomainStatus:
    """Where a production's own portal domain stands; ``to_json`` is ``domain ... --json``."""

    stack: str
    domain: str
    certificate_generation: int | None
    certificate_arn: str | None
    certificate_status: str | None
    """ACM's status (us-east-1); ``None`` when no certificate was requested."""
    validation_records: list[dict[str, str]]
    cname_target: str | None
    attached: bool
    distribution_tenant_id: str | None
    dns_status: str | None = None
    """``VerifyDnsConfiguration``'s status for the domain once attached, else ``None``."""
    dns_reason: str | None = None
    changed: bool = False
    """Whether this command deployed production."""
    live: bool = False
    """Production is live (its distribution tenant enabled)."""

    @property
    def next_step(self) -> str:
        slug = naming.parse_stack_name(self.stack)[0]
        if self.certificate_status is None:
            return (
                "when the client's DNS team is ready: "
                f"`tenantctl domain request-certificate {slug}`"
            )
        if self.certificate_status in REPLACED_AUTOMATICALLY:
            return (
                f"the certificate is {self.certificate_status}: "
                f"`tenantctl domain request-certificate {slug}` replaces it"
            )
        if self.certificate_status == "PENDING_VALIDATION":
            records = _records_text(self.validation_records)
            return f"the client publishes {records}; ACM then issues it"
        if self.certificate_status != "ISSUED":
            return (
                f"the certificate is {self.certificate_status}: "
                f"`tenantctl domain request-certificate {slug} --replace`"
            )
        if not self.attached or not self.distribution_tenant_id:
            return f"`tenantctl domain attach {slug}`"
        if self.dns_status != VALID_DNS:
            return f"at go-live the client points {self.domain} (CNAME) at {self.cname_target}"
        if self.live:
            return f"live: CloudFront serves the portal on {self.domain}"
        return f"ready: `tenantctl promote {slug}` serves the portal on {self.domain}"

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "domain": self.domain,
            "certificate": {
                "generation": self.certificate_generation,
                "arn": self.certificate_arn,
                "status": self.certificate_status,
                "region": limits.CLOUDFRONT_CERTIFICATE_REGION,
                "validationRecords": self.validation_records,
            },
            "cnameTarget": self.cname_target,
            "attached": self.attached,
            "distributionTenantId": self.distribution_tenant_id,
            "dns": {"status": self.dns_status, "reason": self.dns_reason},
            "changed": self.changed,
            "next": self.next_step,
        }


def _records_text(records: list[dict[str, str]]) -> str:
    return (
        "; ".join(f"{r['name']} {r['type']} {r['value']}" for r in records)
        or "the customDomainValidationRecords stack output"
    )


def _domain_of(production: StackHandle) -> str:
    domain = production.spec.portal_domain
    if domain is None:
        raise UserInputError(
            f"{production.stack_name} has no tenants:portalDomain: the client serves its "
            "portal on the platform host; set portalDomain in the production stack file first"
        )
    return domain


def acm_east() -> Any:
    return aws.client("acm", limits.CLOUDFRONT_CERTIFICATE_REGION)


def certificate_status(production: StackHandle) -> tuple[str | None, list[dict[str, str]]]:
    """ACM's status of the production's portal-domain certificate and its validation
    records, read in us-east-1; ``(None, [])`` when it has none yet."""
    arn = (production.outputs or {}).get("customDomainCertificateArn")
    if not arn or production.spec.custom_domain.certificate_generation is None:
        return None, []
    try:
        cert = acm_east().describe_certificate(CertificateArn=arn)["Certificate"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return "MISSING", []
    records = [
        {
            "name": o["ResourceRecord"]["Name"],
            "type": o["ResourceRecord"]["Type"],
            "value": o["ResourceRecord"]["Value"],
        }
        for o in cert.get("DomainValidationOptions", [])
        if "ResourceRecord" in o
    ]
    return str(cert.get("Status")), records


def dns_configuration(production: StackHandle) -> tuple[str | None, str | None]:
    """CloudFront's ``VerifyDnsConfiguration`` of the portal domain once attached:
    ``(status, reason)``, ``(None, None)`` before."""
    tenant = (production.outputs or {}).get("distributionTenantId")
    if not tenant or not production.spec.custom_domain.attached:
        return None, None
    domain = _domain_of(production)
    found = aws.client("cloudfront").verify_dns_configuration(Identifier=tenant, Domain=domain)
    for item in found.get("DnsConfigurationList", []):
        if item.get("Domain") == domain:
            return str(item.get("Status")), item.get("Reason")
    return "unknown-configuration", "CloudFront did not report the domain"


def describe(production: StackHandle, changed: bool = False) -> DomainStatus:
    """Everything about *production*'s own portal domain, read (nothing changes)."""
    domain = _domain_of(production)
    outputs = production.outputs or {}
    status, records = certificate_status(production)
    dns, reason = dns_configuration(production)
    custom = production.spec.custom_domain
    return DomainStatus(
        stack=production.stack_name,
        domain=domain,
        certificate_generation=custom.certificate_generation,
        certificate_arn=outputs.get("customDomainCertificateArn") if status else None,
        certificate_status=status,
        validation_records=records,
        cname_target=outputs.get("customDomainCnameTarget"),
        attached=custom.attached,
        distribution_tenant_id=outputs.get("distributionTenantId") if custom.attached else None,
        dns_status=dns,
        dns_reason=reason,
        changed=changed,
        live=production.spec.live,
    )


def read_status(stacks_dir: Path, slug: str) -> DomainStatus:
    """``tenantctl domain status``."""
    refuse_stack_names(slug, "domain status")
    return describe(open_from_files(stacks_dir, slug, naming.PRODUCTION))


def _deployed(
    stacks_dir: Path, slug: str, production: StackHandle, progress: Progress, **changes: Any
) -> DomainStatus:
    spec = set_custom_domain(stacks_dir, slug, **changes)
    progress(f"deploying {spec.stack_name} ...")
    bound, how = deploy_stack(spec, stacks_dir, production, progress)
    progress(f"  {how}")
    return describe(bound, changed=True)


@contextmanager
def _locked_production(
    stacks_dir: Path, slug: str, command: str, break_lock: str | None, progress: Progress
) -> Iterator[tuple[StackHandle, DomainStatus]]:
    """The client's production and its domain's status, read under the client's lock."""
    refuse_stack_names(slug, command)
    stack_file = read_stack(stacks_dir, slug, naming.PRODUCTION)
    with client_lock(
        slug, command, lock_place(stacks_dir, slug), break_reason=break_lock, progress=progress
    ):
        production = open_file(stack_file)
        yield production, describe(production)


def request_certificate(
    stacks_dir: Path,
    slug: str,
    *,
    replace: bool = False,
    break_lock: str | None = None,
    progress: Progress = quiet,
) -> DomainStatus:
    """``tenantctl domain request-certificate``: a (new) certificate for the portal domain."""
    with _locked_production(
        stacks_dir, slug, "domain request-certificate", break_lock, progress
    ) as (production, current):
        generation = current.certificate_generation
        if generation is not None and current.certificate_status is None:
            # The stack file names a generation the last deploy did not create: resume it.
            return _deployed(stacks_dir, slug, production, progress)
        status = current.certificate_status
        if status in KEPT_UNLESS_REPLACE or (status is not None and current.attached):
            if current.attached:
                raise PreconditionFailed(
                    f"{current.domain} is attached to CloudFront with its {status} certificate, "
                    "which ACM renews itself; nothing was changed"
                )
            if not replace:
                hint = (
                    f"the client publishes {_records_text(current.validation_records)}"
                    if status == "PENDING_VALIDATION"
                    else f"next: `tenantctl domain attach {slug}`"
                )
                raise PreconditionFailed(
                    f"the certificate of {current.domain} is {status} (nothing was changed); "
                    f"{hint}; to request a new one anyway, add --replace"
                )
        if status in REPLACED_AUTOMATICALLY:
            progress(f"the certificate of {current.domain} is {status}: replacing it")
        return _deployed(
            stacks_dir,
            slug,
            production,
            progress,
            certificate_generation=(generation or 0) + 1,
        )


def attach(
    stacks_dir: Path,
    slug: str,
    *,
    break_lock: str | None = None,
    progress: Progress = quiet,
) -> DomainStatus:
    """``tenantctl domain attach``: the issued certificate's domain becomes a (disabled)
    distribution tenant. Idempotent: an attached domain is left as it is."""
    with _locked_production(stacks_dir, slug, "domain attach", break_lock, progress) as (
        production,
        current,
    ):
        if current.certificate_status != "ISSUED":
            raise PreconditionFailed(
                f"cannot attach {current.domain}: {_certificate_problem(current, slug)} "
                "(nothing was changed)"
            )
        if current.attached and current.distribution_tenant_id:
            return current
        return _deployed(stacks_dir, slug, production, progress, attached=True)


def _certificate_problem(current: DomainStatus, slug: str) -> str:
    status = current.certificate_status
    if status is None:
        return (
            "no certificate requested yet; when the client's DNS team is ready, run "
            f"`tenantctl domain request-certificate {slug}`"
        )
    if status == "PENDING_VALIDATION":
        return (
            f"its certificate is PENDING_VALIDATION; the client must publish "
            f"{_records_text(current.validation_records)} (ACM gives up after "
            f"{limits.ACM_VALIDATION_TIMEOUT_HOURS} hours)"
        )
    return (
        f"its certificate is {status}; run `tenantctl domain request-certificate {slug}` "
        "for a new one and hand the client its record"
    )


def domain_preconditions(production: StackHandle) -> list[tuple[str, bool, str]]:
    """What going live on the client's own domain needs, each ``(check, ok, message)``:
    the certificate issued, the domain attached, and the client's CNAME found."""
    slug = production.spec.slug
    current = describe(production)
    issued = current.certificate_status == "ISSUED"
    checks = [
        (
            "custom-domain-certificate",
            issued,
            f"certificate of {current.domain} issued (us-east-1)"
            if issued
            else f"{current.domain}: {_certificate_problem(current, slug)}",
        )
    ]
    attached = current.attached and current.distribution_tenant_id is not None
    checks.append(
        (
            "custom-domain-attached",
            attached,
            f"{current.domain} is distribution tenant {current.distribution_tenant_id}"
            if attached
            else f"{current.domain} is not attached to CloudFront; once its certificate is "
            f"issued, run `tenantctl domain attach {slug}`",
        )
    )
    valid = current.dns_status == VALID_DNS
    checks.append(
        (
            "custom-domain-dns",
            valid,
            f"{current.domain} points at {current.cname_target}"
            if valid
            else f"ask the client to point {current.domain} (CNAME) at {current.cname_target}"
            + (
                f"; CloudFront says {current.dns_status}"
                + (f" ({current.dns_reason})" if current.dns_reason else "")
                if current.dns_status
                else " once the domain is attached"
            ),
        )
    )
    return checks
