"""Admin and portal host names, and the client's own portal domain on CloudFront.

The platform routes every platform host by wildcard (``infra.core.routing``): a
stack adds no listener rule, listener certificate or DNS record for them, needs no
rule priority, and the application finds the tenant in the routing table
tenantctl publishes. A production client's own portal domain is served by the
platform's CloudFront multi-tenant distribution (SaaS Manager): the stack adds one
ACM certificate in us-east-1 (CloudFront reads tenant certificates only there) and,
once attached, one distribution tenant. The load balancer never holds a client
certificate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.core.limits import CLOUDFRONT_CERTIFICATE_REGION


@dataclass(frozen=True)
class DomainsArgs:
    admin_host: str
    portal_host: str
    portal_domain: str | None
    """The client's own portal domain (production only)."""
    certificate_generation: int | None
    """Which certificate the portal domain has; ``None``: none requested yet. A new
    generation is a new certificate (a timed-out or failed one is replaced)."""
    attached: bool
    """The portal domain is a tenant of the platform's distribution (needs a generation)."""
    live: bool
    """Production is live: the distribution tenant serves the domain."""
    tenant_name: str
    """The distribution tenant's name (``naming.distribution_tenant_name``)."""
    distribution_id: pulumi.Input[str]
    connection_group_id: pulumi.Input[str]
    routing_endpoint: pulumi.Input[str]
    """The connection group's routing endpoint: what the client CNAMEs its domain to."""
    wildcard_certificate_arn: pulumi.Output[str]
    """The platform's certificate of ``*.<base>`` and ``*.admin.<base>`` on the listener."""
    tags: Mapping[str, str]


class Domains(pulumi.ComponentResource):
    """TLS and serving for a tenant's hosts.

    Platform hosts (``<slug>[-preview].admin.<base>``, ``<slug>[-preview].<base>``)
    are served at once by the platform's wildcard rule and certificate. A production
    client's own portal domain goes in three steps, each a deploy tenantctl makes:
    a certificate (``domain request-certificate``: its validation records live in the
    client's DNS, so they are exported for account staff to send), a disabled
    distribution tenant once ACM has issued it (``domain attach``), and the tenant
    enabled at go-live (``promote``).
    """

    admin_host: str
    portal_host: str
    certificate_arn: pulumi.Output[str]
    """The platform's wildcard certificate, which serves the platform hosts."""
    custom_domain_certificate_arn: pulumi.Output[str | None]
    """The client's own portal domain's certificate (us-east-1), else ``None``."""
    custom_domain_validation_records: pulumi.Output[list[dict[str, str]]]
    """``[{name, type, value}]`` the client must publish in its own DNS; empty when none."""
    custom_domain_cname_target: pulumi.Output[str | None]
    """Where the client points its portal domain (CNAME) at go-live, else ``None``."""
    distribution_tenant_id: pulumi.Output[str | None]
    """The distribution tenant serving the portal domain once attached, else ``None``."""
    go_live: list[pulumi.Resource]
    """What must be in place before the portal opens (the client domain's distribution
    tenant); whatever goes live with the portal waits for it."""

    def __init__(
        self, name: str, args: DomainsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenants:index:Domains", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        go_live: list[pulumi.Resource] = []
        none: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        custom_arn, tenant_id, cname_target = none, none, none
        custom_records: pulumi.Output[list[dict[str, str]]] = pulumi.Output.from_input([])
        if args.portal_domain is not None:
            cname_target = pulumi.Output.from_input(args.routing_endpoint)
        if args.portal_domain is not None and args.certificate_generation is not None:
            east = aws.Provider(
                f"{name}-{CLOUDFRONT_CERTIFICATE_REGION}",
                region=CLOUDFRONT_CERTIFICATE_REGION,
                opts=child,
            )
            in_east = pulumi.ResourceOptions(parent=self, provider=east)
            # The generation is in the logical name: a new one is a new certificate, created
            # before the old is deleted, so a timed-out request is replaced, never retried.
            custom = aws.acm.Certificate(
                f"{name}-custom-certificate-{args.certificate_generation}",
                domain_name=args.portal_domain,
                validation_method="DNS",
                tags=dict(args.tags),
                opts=in_east,
            )
            custom_arn = custom.arn
            custom_records = custom.domain_validation_options.apply(_records)
            if args.attached:
                # Waits until ACM has issued it (tenantctl attaches only an issued one).
                validation = aws.acm.CertificateValidation(
                    f"{name}-custom-certificate-{args.certificate_generation}-validation",
                    certificate_arn=custom.arn,
                    opts=in_east,
                )
                # Disabled until live: CloudFront then serves the domain, so the public
                # never meets it before the portal opens.
                tenant = aws.cloudfront.DistributionTenant(
                    f"{name}-distribution-tenant",
                    name=args.tenant_name,
                    distribution_id=args.distribution_id,
                    connection_group_id=args.connection_group_id,
                    domains=[{"domain": args.portal_domain}],
                    customizations={"certificate": {"arn": validation.certificate_arn}},
                    enabled=args.live,
                    tags=dict(args.tags),
                    opts=child,
                )
                tenant_id = tenant.id
                go_live.append(tenant)

        self.admin_host = args.admin_host
        self.portal_host = args.portal_host
        self.certificate_arn = args.wildcard_certificate_arn
        self.custom_domain_certificate_arn = custom_arn
        self.custom_domain_validation_records = custom_records
        self.custom_domain_cname_target = cname_target
        self.distribution_tenant_id = tenant_id
        self.go_live = go_live
        self.register_outputs(
            {
                "admin_host": self.admin_host,
                "portal_host": self.portal_host,
                "certificate_arn": self.certificate_arn,
                "custom_domain_certificate_arn": self.custom_domain_certificate_arn,
                "custom_domain_validation_records": self.custom_domain_validation_records,
                "custom_domain_cname_target": self.custom_domain_cname_target,
                "distribution_tenant_id": self.distribution_tenant_id,
            }
        )


def _records(
    options: Sequence[aws.acm.outputs.CertificateDomainValidationOption],
) -> list[dict[str, str]]:
    return [
        {
            "name": option.resource_record_name or "",
            "type": option.resource_record_type or "",
            "value": option.resource_record_value or "",
        }
        for option in sorted(options, key=lambda o: o.domain_name or "")
    ]
