"""A stack's sending identity: SES domain identity, MAIL FROM, configuration set.

The domain is the client's own in production once it has one, a platform
subdomain otherwise (``infra.core.email_settings``). For a platform subdomain
the DKIM and MAIL FROM records go straight into the platform zone; for the
client's domain the client publishes them. Either way they are exported
(``dns_records``) so account staff can send them on or check them.
Bounces and complaints go to an SNS topic through the configuration set, and
the account-level suppression list keeps those addresses from being mailed
again. Preview's allow-list of extra recipients is a key of the stack's settings
parameter (``infra.program.settings``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.core import email_settings, naming

BOUNCE_EVENTS = ["BOUNCE", "COMPLAINT"]


@dataclass(frozen=True)
class EmailArgs:
    identity: email_settings.SendingIdentity
    zone_id: pulumi.Input[str]
    """The platform zone: records for a platform subdomain are created there."""
    tags: Mapping[str, str]
    region: str = naming.DEFAULT_REGION


def _field(index: int, key: str) -> Callable[[list[dict[str, str]]], str]:
    return lambda records: records[index][key]


class Email(pulumi.ComponentResource):
    """The SES identity, configuration set and bounce topic of one stack."""

    sending_domain: str
    from_address: str
    configuration_set_name: str
    configuration_set: pulumi.Output[str]
    """The configuration set's name once it exists (what a user of it waits for)."""
    identity_arn: pulumi.Output[str]
    bounce_topic_arn: pulumi.Output[str]
    dns_records: pulumi.Output[list[dict[str, str]]]

    def __init__(
        self, name: str, args: EmailArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenants:index:Email", name, None, opts)
        identity_settings = args.identity
        child = pulumi.ResourceOptions(parent=self)
        domain = identity_settings.sending_domain
        tags = dict(args.tags)

        config_set = aws.sesv2.ConfigurationSet(
            f"{name}-configuration-set",
            configuration_set_name=identity_settings.configuration_set_name,
            reputation_options=aws.sesv2.ConfigurationSetReputationOptionsArgs(
                reputation_metrics_enabled=True
            ),
            suppression_options=aws.sesv2.ConfigurationSetSuppressionOptionsArgs(
                suppressed_reasons=BOUNCE_EVENTS
            ),
            delivery_options=aws.sesv2.ConfigurationSetDeliveryOptionsArgs(tls_policy="REQUIRE"),
            tags=tags,
            opts=child,
        )
        topic = aws.sns.Topic(f"{name}-bounces", tags=tags, opts=child)
        aws.sesv2.ConfigurationSetEventDestination(
            f"{name}-bounce-destination",
            configuration_set_name=config_set.configuration_set_name,
            event_destination_name="bounces-and-complaints",
            event_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationArgs(
                matching_event_types=BOUNCE_EVENTS,
                enabled=True,
                sns_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationSnsDestinationArgs(
                    topic_arn=topic.arn
                ),
            ),
            opts=child,
        )
        identity = aws.sesv2.EmailIdentity(
            f"{name}-identity",
            email_identity=domain,
            configuration_set_name=config_set.configuration_set_name,
            dkim_signing_attributes=aws.sesv2.EmailIdentityDkimSigningAttributesArgs(
                next_signing_key_length="RSA_2048_BIT"
            ),
            tags=tags,
            opts=child,
        )
        aws.sesv2.EmailIdentityMailFromAttributes(
            f"{name}-mail-from",
            email_identity=identity.email_identity,
            mail_from_domain=identity_settings.mail_from_domain,
            behavior_on_mx_failure="USE_DEFAULT_VALUE",
            opts=child,
        )

        tokens = identity.dkim_signing_attributes.apply(
            lambda attrs: list((attrs.tokens if attrs else None) or [])
        )
        records = tokens.apply(
            lambda t: email_settings.dns_records(identity_settings, t, args.region)
        )
        if identity_settings.uses_platform_domain:
            # Three DKIM tokens, always: SES Easy DKIM issues exactly three.
            for index in range(3):
                aws.route53.Record(
                    f"{name}-dkim-{index}",
                    zone_id=args.zone_id,
                    name=records.apply(_field(index, "name")),
                    type="CNAME",
                    records=[records.apply(_field(index, "value"))],
                    ttl=email_settings.DKIM_RECORD_TTL,
                    opts=child,
                )
            mail_from = identity_settings.mail_from_domain
            for record_type, value in (
                ("MX", f"10 feedback-smtp.{args.region}.amazonses.com"),
                ("TXT", "v=spf1 include:amazonses.com ~all"),
            ):
                aws.route53.Record(
                    f"{name}-mail-from-{record_type.lower()}",
                    zone_id=args.zone_id,
                    name=mail_from,
                    type=record_type,
                    records=[value],
                    ttl=email_settings.DKIM_RECORD_TTL,
                    opts=child,
                )

        self.sending_domain = domain
        self.from_address = identity_settings.from_address
        self.configuration_set_name = identity_settings.configuration_set_name
        self.configuration_set = config_set.configuration_set_name
        self.identity_arn = identity.arn
        self.bounce_topic_arn = topic.arn
        self.dns_records = records
        outputs: dict[str, Any] = {
            "sending_domain": self.sending_domain,
            "from_address": self.from_address,
            "configuration_set_name": self.configuration_set_name,
            "identity_arn": self.identity_arn,
            "bounce_topic_arn": self.bounce_topic_arn,
            "dns_records": self.dns_records,
        }
        self.register_outputs(outputs)
