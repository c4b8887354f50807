"""Admin and portal host names and the client's own domain's certificate.

The platform routes every platform host by wildcard (``infra.core.routing``): a
stack adds no listener rule, listener certificate or DNS record for them, needs no
rule priority, and the application finds the tenant in the routing table
tenantctl publishes. What is left per stack is a client's own portal domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class DomainsArgs:
    admin_host: str
    portal_host: str
    portal_domain: str | None
    """The client's own portal domain (production only)."""
    live: bool
    """Production is live: the client's domain is validated, attached and served."""
    https_listener_arn: pulumi.Input[str]
    wildcard_certificate_arn: pulumi.Output[str]
    """The platform's certificate of ``*.<base>`` and ``*.admin.<base>`` on the listener."""
    tags: Mapping[str, str]


class Domains(pulumi.ComponentResource):
    """TLS for a tenant's hosts.

    Platform hosts (``<slug>[-preview].admin.<base>``, ``<slug>[-preview].<base>``)
    are served at once by the platform's wildcard rule and certificate (``*.<base>``,
    ``*.admin.<base>``). A production client's own portal domain gets a certificate
    of its own: its validation records live in the client's DNS, so they are
    exported for account staff to send, and the certificate is only waited for and
    attached at go-live.
    """

    admin_host: str
    portal_host: str
    certificate_arn: pulumi.Output[str]
    """The platform's wildcard certificate, which serves the platform hosts."""
    custom_domain_certificate_arn: pulumi.Output[str | None]
    """The client's own portal domain's certificate (production only), else ``None``."""
    custom_domain_validation_records: pulumi.Output[list[dict[str, str]]]
    """``[{name, type, value}]`` the client must publish in its own DNS; empty when none."""
    go_live: list[pulumi.Resource]
    """What must be in place before the portal opens (the client domain's certificate on
    the listener); whatever goes live with the portal waits for it."""

    def __init__(
        self, name: str, args: DomainsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenants:index:Domains", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Go-live order: the portal opens (tenantctl publishes its route after this
        # update) only once the client's domain is served with its issued certificate,
        # so the public never meets a TLS error; a failed validation leaves it closed.
        go_live: list[pulumi.Resource] = []
        custom_arn: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        custom_records: pulumi.Output[list[dict[str, str]]] = pulumi.Output.from_input([])
        if args.portal_domain is not None:
            custom = aws.acm.Certificate(
                f"{name}-custom-certificate",
                domain_name=args.portal_domain,
                validation_method="DNS",
                tags=dict(args.tags),
                opts=child,
            )
            custom_arn = custom.arn
            custom_records = custom.domain_validation_options.apply(_records)
            if args.live:
                # Going live requires the client's records: this waits until ACM
                # has issued the certificate, then serves the domain with it.
                custom_validation = aws.acm.CertificateValidation(
                    f"{name}-custom-certificate-validation",
                    certificate_arn=custom.arn,
                    opts=child,
                )
                go_live.append(
                    aws.lb.ListenerCertificate(
                        f"{name}-custom-listener-certificate",
                        listener_arn=args.https_listener_arn,
                        certificate_arn=custom_validation.certificate_arn,
                        opts=child,
                    )
                )

        self.admin_host = args.admin_host
        self.portal_host = args.portal_host
        self.certificate_arn = args.wildcard_certificate_arn
        self.custom_domain_certificate_arn = custom_arn
        self.custom_domain_validation_records = custom_records
        self.go_live = go_live
        self.register_outputs(
            {
                "admin_host": self.admin_host,
                "portal_host": self.portal_host,
                "certificate_arn": self.certificate_arn,
                "custom_domain_certificate_arn": self.custom_domain_certificate_arn,
                "custom_domain_validation_records": self.custom_domain_validation_records,
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
