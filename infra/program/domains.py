"""Admin and portal host names, their TLS certificates and the load-balancer rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.core import naming
from infra.core.listener import COMING_SOON_CONTENT_TYPE, COMING_SOON_STATUS


@dataclass(frozen=True)
class DomainsArgs:
    admin_host: str
    portal_host: str
    portal_domain: str | None
    """The client's own portal domain (production only)."""
    live: bool
    """Production is live: the client's domain is validated, attached and served."""
    serve_application: bool
    """Forward to the application (preview always, production once live); otherwise the
    coming-soon page."""
    coming_soon_page: str
    rule_priority: int
    zone_id: pulumi.Input[str]
    """The platform's public hosted zone (its name is the tenant's base domain)."""
    https_listener_arn: pulumi.Input[str]
    load_balancer_dns_name: pulumi.Input[str]
    load_balancer_zone_id: pulumi.Input[str]
    app_target_group_arn: pulumi.Input[str]
    wildcard_certificate_arn: pulumi.Output[str]
    """The platform's certificate of ``*.<base>`` and ``*.admin.<base>`` on the listener."""
    tags: Mapping[str, str]


class Domains(pulumi.ComponentResource):
    """TLS and routing for a tenant's hosts on the shared load balancer.

    Platform hosts (``<slug>[-preview].admin.<base>``, ``<slug>[-preview].<base>``)
    are served at once with the platform's wildcard certificate (``*.<base>``,
    ``*.admin.<base>``): a certificate per stack would exhaust the load balancer's
    certificate quota at the ninth client (``tenantctl capacity``). A production
    client's own portal domain gets a certificate of its own: its validation
    records live in the client's DNS, so they are exported for account staff to
    send, and the certificate is only waited for and attached at go-live.
    """

    admin_host: str
    portal_host: str
    certificate_arn: pulumi.Output[str]
    """The platform's wildcard certificate, which serves the platform hosts."""
    custom_domain_certificate_arn: pulumi.Output[str | None]
    """The client's own portal domain's certificate (production only), else ``None``."""
    custom_domain_validation_records: pulumi.Output[list[dict[str, str]]]
    """``[{name, type, value}]`` the client must publish in its own DNS; empty when none."""
    listener_rule_arn: pulumi.Output[str]
    listener_rule: pulumi.Resource
    """The rule that serves the hosts: whatever goes live with the portal waits for it."""
    listener_rule_priority: int

    def __init__(
        self, name: str, args: DomainsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenants:index:Domains", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        platform_hosts = {"admin": args.admin_host, "portal": args.portal_host}

        for label, host in platform_hosts.items():
            aws.route53.Record(
                f"{name}-{label}-alias",
                zone_id=args.zone_id,
                name=host,
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=args.load_balancer_dns_name,
                        zone_id=args.load_balancer_zone_id,
                        evaluate_target_health=True,
                    )
                ],
                opts=child,
            )

        # Go-live order: the rule opens the portal only once the client's domain is
        # served with its issued certificate, so the public never meets a TLS error or
        # a half-open site; a validation that fails leaves the coming-soon page up.
        open_after: list[pulumi.Resource] = []
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
                open_after.append(
                    aws.lb.ListenerCertificate(
                        f"{name}-custom-listener-certificate",
                        listener_arn=args.https_listener_arn,
                        certificate_arn=custom_validation.certificate_arn,
                        opts=child,
                    )
                )

        hosts = [args.admin_host, args.portal_host]
        if args.portal_domain is not None:
            hosts.append(args.portal_domain)
        priority = args.rule_priority
        rule = aws.lb.ListenerRule(
            f"{name}-rule",
            listener_arn=args.https_listener_arn,
            priority=priority,
            conditions=[
                aws.lb.ListenerRuleConditionArgs(
                    host_header=aws.lb.ListenerRuleConditionHostHeaderArgs(values=hosts)
                )
            ],
            actions=[_action(args)],
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=open_after),
        )

        self.admin_host = args.admin_host
        self.portal_host = args.portal_host
        self.certificate_arn = args.wildcard_certificate_arn
        self.custom_domain_certificate_arn = custom_arn
        self.custom_domain_validation_records = custom_records
        self.listener_rule_arn = rule.arn
        self.listener_rule = rule
        self.listener_rule_priority = priority
        self.register_outputs(
            {
                "admin_host": self.admin_host,
                "portal_host": self.portal_host,
                "certificate_arn": self.certificate_arn,
                "custom_domain_certificate_arn": self.custom_domain_certificate_arn,
                "custom_domain_validation_records": self.custom_domain_validation_records,
                "listener_rule_arn": self.listener_rule_arn,
                "listener_rule_priority": self.listener_rule_priority,
            }
        )


def serves_application(stage: naming.Stage, live: bool) -> bool:
    """Whether the hosts reach the application: preview at once (it is for practice
    from day one), production only once it is live."""
    return stage == naming.PREVIEW or live


def _action(args: DomainsArgs) -> aws.lb.ListenerRuleActionArgs:
    if args.serve_application:
        return aws.lb.ListenerRuleActionArgs(
            type="forward", target_group_arn=args.app_target_group_arn
        )
    return aws.lb.ListenerRuleActionArgs(
        type="fixed-response",
        fixed_response=aws.lb.ListenerRuleActionFixedResponseArgs(
            content_type=COMING_SOON_CONTENT_TYPE,
            status_code=COMING_SOON_STATUS,
            message_body=args.coming_soon_page,
        ),
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
