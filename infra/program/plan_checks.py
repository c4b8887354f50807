"""What AWS would refuse at ``pulumi up`` that a plan can already show: ordering.

The mock runtime creates everything at once and in any order; AWS does not.
Some resources need another one to be *verified* or *issued*, not merely
created, and an update that creates both in one go fails half-way:

- a Cognito user pool whose ``emailConfiguration.sourceArn`` is an SES identity
  the same update creates (CreateUserPool: "Email address is not verified"; a
  new identity verifies only once its DKIM records are published, which this
  update's outputs are the first to deliver). Only a live production on the
  client's own domain sends through its own identity, and promote has checked it
  verified (``email_settings.pool_sends_from_own_identity``);
- a CloudFront distribution tenant that uses an ACM certificate this stack
  requests without waiting for its ``CertificateValidation`` (CloudFront refuses
  a certificate that is not ISSUED).

``ordering_problems`` returns one line per violation; ``tenantctl plan`` and
``tenantctl deploy`` refuse a plan that has any.
"""

from __future__ import annotations

from infra.core import email_settings
from infra.core.spec import TenantSpec
from infra.program.plan import StackPlan

USER_POOL = "aws:cognito/userPool:UserPool"
EMAIL_IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
CERTIFICATE = "aws:acm/certificate:Certificate"
CERTIFICATE_VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
DISTRIBUTION_TENANT = "aws:cloudfront/distributionTenant:DistributionTenant"


def _identity_arn_suffix(domain: str) -> str:
    return f":identity/{domain}"


def unverified_pool_senders(plan: StackPlan, spec: TenantSpec) -> list[str]:
    """User pools that would send through an identity this update creates."""
    own = {r.name: str(r.inputs.get("emailIdentity", "")) for r in plan.of_type(EMAIL_IDENTITY)}
    if email_settings.pool_sends_from_own_identity(spec):
        return []
    problems = []
    for pool in plan.of_type(USER_POOL):
        source = str((pool.inputs.get("emailConfiguration") or {}).get("sourceArn", ""))
        for name, domain in own.items():
            if name in pool.dependencies or source.endswith(_identity_arn_suffix(domain)):
                problems.append(
                    f"{pool.name}: sends through SES identity {domain}, which this update "
                    "creates and which is not verified until its DKIM records are published; "
                    "Cognito refuses it (send through the platform's emailIdentityArn)"
                )
    return problems


def unissued_tenant_certificates(plan: StackPlan) -> list[str]:
    """Distribution tenants that use a certificate of this stack before it is issued."""
    validations = {r.name for r in plan.of_type(CERTIFICATE_VALIDATION)}
    requested = {r.name for r in plan.of_type(CERTIFICATE)}
    problems = []
    for attachment in plan.of_type(DISTRIBUTION_TENANT):
        deps = set(attachment.dependencies)
        if deps & requested and not deps & validations:
            problems.append(
                f"{attachment.name}: uses a certificate this stack requests without "
                "waiting for its CertificateValidation; CloudFront refuses a certificate "
                "that is not ISSUED"
            )
    return problems


def ordering_problems(plan: StackPlan, spec: TenantSpec) -> list[str]:
    """Every resource that needs another to be verified or issued, and does not wait."""
    return unverified_pool_senders(plan, spec) + unissued_tenant_certificates(plan)
