"""A stack's sending identity and configuration set.

A stack on the platform's host names sends from the platform's verified domain
identity (``infra.core.email_settings``): it creates no identity and no DNS record
(so a client costs the platform zone nothing). A production on the client's own
domain gets an SES domain identity with a MAIL FROM domain; the client publishes
its DKIM and MAIL FROM records, which are exported (``dns_records``) so account
staff can send them on or check them.
Bounces and complaints go to an SNS topic through the configuration set, and
the account-level suppression list keeps those addresses from being mailed
again. Preview's allow-list of extra recipients is a key of the stack's settings
parameter (``infra.program.settings``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.core import email_settings, naming

BOUNCE_EVENTS = ["BOUNCE", "COMPLAINT"]


@dataclass(frozen=True)
class EmailArgs:
    identity: email_settings.SendingIdentity
    platform_identity_arn: pulumi.Input[str]
    """The platform's verified identity (``emailIdentityArn``): what a stack on the
    platform's host names sends through."""
    tags: Mapping[str, str]
    region: str = naming.DEFAULT_REGION


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
        identity_arn: pulumi.Output[str] = pulumi.Output.from_input(args.platform_identity_arn)
        records: pulumi.Output[list[dict[str, str]]] = pulumi.Output.from_input([])
        if not identity_settings.uses_platform_domain:
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
            identity_arn = identity.arn

        self.sending_domain = domain
        self.from_address = identity_settings.from_address
        self.configuration_set_name = identity_settings.configuration_set_name
        self.configuration_set = config_set.configuration_set_name
        self.identity_arn = identity_arn
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
