"""Where a stack's email comes from, and who preview may send it to.

Every stack on the platform's host names sends from the platform's own SES domain
identity (``emailIdentityArn``, the zone's domain, verified once before any client:
one identity covers every address in it), so such a stack creates no identity and
no DNS record. A production on the client's own domain has an identity of its own;
its DKIM and MAIL FROM records are computed here and exported as stack outputs for
account staff to send to the client, like the certificate validation records, and
its mail moves to it once it is verified (``pool_sends_from_own_identity``).

Preview never emails the public: it sends only to its administrators and to
the addresses the vendor's staff add to its allow-list (``allowedRecipients`` of the
stack's settings parameter, ``infra.core.stack_settings``).

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from infra.core import naming
from infra.core.spec import TenantSpec

MAIL_FROM_LABEL = "bounce"
"""MAIL FROM subdomain of the sending domain: bounces go there, not to the client's MX."""
NO_REPLY = "no-reply"


def sending_domain(spec: TenantSpec) -> str:
    """The domain a stack's email is sent from: the client's own in production when it has
    one, the platform's (the zone's, ``tenants:baseDomain``) otherwise."""
    if spec.stage == naming.PRODUCTION and spec.portal_domain:
        return spec.portal_domain
    return spec.base_domain


def uses_platform_domain(spec: TenantSpec) -> bool:
    """Whether the stack sends through the platform's identity (no identity of its own)."""
    return sending_domain(spec) == spec.base_domain


def _display_name(spec: TenantSpec) -> str:
    name = spec.branding.organization_name.replace('"', "'")
    return f'"{name} Parking"'


def from_address(spec: TenantSpec) -> str:
    return f"{_display_name(spec)} <{NO_REPLY}@{sending_domain(spec)}>"


def normalized_email(address: str) -> str:
    """The one form an address is sent to AWS and compared in (sign-in names, email
    attributes, allow-lists): lower case. Domains are case-insensitive, and every
    mail system this product meets treats local parts so too."""
    return address.lower()


def pool_sends_from_own_identity(spec: TenantSpec) -> bool:
    """Whether the admin user pool sends through the stack's own SES identity.

    Only a live production on the client's own domain does: promote refuses to open
    it until that identity is verified (``promote_plan``). Every other pool sends
    through the platform's identity (``emailIdentityArn``), verified before any
    client deploys: Cognito refuses an identity that is not verified yet, and a
    stack's own identity verifies only after the DKIM records its first update
    exports are published.
    """
    return spec.stage == naming.PRODUCTION and spec.live and spec.portal_domain is not None


def pool_from_address(spec: TenantSpec) -> str:
    """The From address of the user pool's invitations and password resets: in the
    domain of the identity it sends through (``pool_sends_from_own_identity``)."""
    if pool_sends_from_own_identity(spec):
        return from_address(spec)
    return f"{_display_name(spec)} <{NO_REPLY}@{spec.base_domain}>"


def mail_from_domain(spec: TenantSpec) -> str:
    return f"{MAIL_FROM_LABEL}.{sending_domain(spec)}"


def configuration_set_name(spec: TenantSpec) -> str:
    return f"{naming.resource_prefix(spec.slug, spec.stage)}-email"


def admin_addresses(spec: TenantSpec) -> tuple[str, ...]:
    """The administrators' addresses, lower-cased and sorted: always allowed in preview."""
    return tuple(sorted({normalized_email(a.email) for a in spec.admins}))


@dataclass(frozen=True)
class SendingIdentity:
    """What the Email component needs to know of a stack's sending identity."""

    sending_domain: str
    mail_from_domain: str
    from_address: str
    configuration_set_name: str
    uses_platform_domain: bool
    """Sends through the platform's identity: no identity, MAIL FROM or records of its own."""


def sending_identity(spec: TenantSpec) -> SendingIdentity:
    return SendingIdentity(
        sending_domain=sending_domain(spec),
        mail_from_domain=mail_from_domain(spec),
        from_address=from_address(spec),
        configuration_set_name=configuration_set_name(spec),
        uses_platform_domain=uses_platform_domain(spec),
    )


def dns_records(
    identity: SendingIdentity, dkim_tokens: Iterable[str], region: str
) -> list[dict[str, str]]:
    """The DNS records SES needs for the sending domain: DKIM CNAMEs, MAIL FROM MX and SPF."""
    domain = identity.sending_domain
    records = [
        {
            "name": f"{token}._domainkey.{domain}",
            "type": "CNAME",
            "value": f"{token}.dkim.amazonses.com",
        }
        for token in dkim_tokens
    ]
    records.append(
        {
            "name": identity.mail_from_domain,
            "type": "MX",
            "value": f"10 feedback-smtp.{region}.amazonses.com",
        }
    )
    records.append(
        {
            "name": identity.mail_from_domain,
            "type": "TXT",
            "value": '"v=spf1 include:amazonses.com ~all"',
        }
    )
    return records


def recipient_allowed(spec: TenantSpec, address: str, allow_list: Iterable[str]) -> bool:
    """Production may send to anyone; preview only to its admins and the allow-list."""
    if spec.stage == naming.PRODUCTION:
        return True
    wanted = address.strip().lower()
    allowed = set(admin_addresses(spec)) | {a.strip().lower() for a in allow_list}
    return wanted in allowed
