"""One client's stack for one stage: the platform it runs on and the five parts of it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi

from infra.core import email_settings, naming, rendering, stack_settings
from infra.core.integrations.ingest import INGEST_ENDPOINT_OUTPUT
from infra.core.platform import (
    POOL_OUTPUTS,
    SCHEDULER_ROLE_OUTPUTS,
    check_zone_name,
    require_output,
)
from infra.core.spec import TenantSpec
from infra.program.access import MFA_BY_STAGE, Access, AccessArgs, EmailSending
from infra.program.database import Database, DatabaseArgs, PooledDatabase, PooledDatabaseArgs
from infra.program.domains import Domains, DomainsArgs
from infra.program.email import Email, EmailArgs
from infra.program.integrations import Integrations, IntegrationsArgs
from infra.program.payments import SECRET_RECOVERY_DAYS, Payments, PaymentsArgs
from infra.program.portal import Portal, PortalArgs
from infra.program.settings import Settings, SettingsArgs


@dataclass(frozen=True)
class TenantArgs:
    spec: TenantSpec


@dataclass(frozen=True)
class PlatformValues:
    """The platform stack's outputs (``infra.core.platform.PLATFORM_OUTPUTS``) as Pulumi outputs."""

    database_subnet_group_name: pulumi.Output[str]
    database_parameter_group_name: pulumi.Output[str]
    database_security_group_ids: pulumi.Output[list[str]]
    multitenant_distribution_id: pulumi.Output[str]
    connection_group_id: pulumi.Output[str]
    connection_group_routing_endpoint: pulumi.Output[str]
    operations_bucket_name: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    wildcard_certificate_arn: pulumi.Output[str]
    email_identity_arn: pulumi.Output[str]
    access_log_bucket_name: pulumi.Output[str]
    database_pools: pulumi.Output[list[dict[str, Any]]] | None
    """The pool servers of the stack's stage (``POOL_OUTPUTS``); read only by a pooled
    stack, so a platform without production pools serves every dedicated production."""
    scheduler_role_arn: pulumi.Output[str] | None = None
    """The stage's scheduler role (``SCHEDULER_ROLE_OUTPUTS``); read only by a stack with a
    pulled integration."""
    ingest_endpoint: pulumi.Output[str] | None = None
    """The platform's ingest endpoint (``INGEST_ENDPOINT_OUTPUT``); read only by a stack
    with a pushed integration."""


def read_platform(
    name: str,
    platform_stack: str,
    base_domain: str,
    parent: pulumi.Resource,
    pool_output: str | None = None,
    scheduler_role_output: str | None = None,
    reads_ingest_endpoint: bool = False,
) -> PlatformValues:
    """Read the platform stack, failing with a ``PlatformError`` when its zone is not
    *base_domain* or an output is missing.

    Every value waits for the zone check, so nothing that uses the platform
    (database, records, listener rule, encryption) is created on a mismatched
    one, and the update fails with the check's message. Values are read one by
    one (not through ``outputs``) so that a secret elsewhere in the platform
    stack does not make them all secret.
    """
    ref = pulumi.StackReference(
        f"{name}-platform", stack_name=platform_stack, opts=pulumi.ResourceOptions(parent=parent)
    )
    zone_ok = ref.get_output("zoneName").apply(
        lambda zone: check_zone_name(platform_stack, zone, base_domain)
    )

    def value(key: str) -> pulumi.Output[Any]:
        return pulumi.Output.all(zone_ok, ref.get_output(key)).apply(
            lambda pair: require_output(platform_stack, {key: pair[1]}, key)
        )

    return PlatformValues(
        database_subnet_group_name=value("databaseSubnetGroupName"),
        database_parameter_group_name=value("databaseParameterGroupName"),
        database_security_group_ids=value("databaseSecurityGroupIds"),
        multitenant_distribution_id=value("multitenantDistributionId"),
        connection_group_id=value("connectionGroupId"),
        connection_group_routing_endpoint=value("connectionGroupRoutingEndpoint"),
        operations_bucket_name=value("operationsBucketName"),
        kms_key_arn=value("kmsKeyArn"),
        wildcard_certificate_arn=value("wildcardCertificateArn"),
        email_identity_arn=value("emailIdentityArn"),
        access_log_bucket_name=value("accessLogBucketName"),
        database_pools=value(pool_output) if pool_output else None,
        scheduler_role_arn=value(scheduler_role_output) if scheduler_role_output else None,
        ingest_endpoint=value(INGEST_ENDPOINT_OUTPUT) if reads_ingest_endpoint else None,
    )


class Tenant(pulumi.ComponentResource):
    """Database, domains, payments, portal content and admin access of one stack.

    Tags are decided here, once, and passed to every part explicitly so the plan
    shows them on each resource.
    """

    slug: str
    stage: str
    live: bool
    admin_url: str
    portal_url: str
    """The public portal: the client's own domain when it has one."""
    database_name: str
    database_defaults_name: str
    database_endpoint: pulumi.Output[str]
    database_address: pulumi.Output[str]
    database_port: pulumi.Output[int]
    database_secret_arn: pulumi.Output[str]
    database_pool: str | None
    database_role: str | None
    database_role_secret_arn: pulumi.Output[str] | None
    content_bucket: pulumi.Output[str]
    payment_secret_arn: pulumi.Output[str]
    settings_parameter: str
    payment_mode: str
    user_pool_id: pulumi.Output[str]
    certificate_arn: pulumi.Output[str]
    custom_domain_certificate_arn: pulumi.Output[str | None]
    custom_domain_validation_records: pulumi.Output[list[dict[str, str]]]
    custom_domain_cname_target: pulumi.Output[str | None]
    distribution_tenant_id: pulumi.Output[str | None]
    operations_bucket: pulumi.Output[str]
    integrations: pulumi.Output[dict[str, dict[str, str]]]

    def __init__(
        self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenants:index:Tenant", name, None, opts)
        spec = args.spec
        tags = spec.tags
        child = pulumi.ResourceOptions(parent=self)
        production = spec.stage == naming.PRODUCTION
        # Rendered first: a template that fails for this tenant stops the program
        # before any resource is registered.
        files = rendering.render_content(spec)
        pools = POOL_OUTPUTS[spec.stage] if spec.pooled else None
        schedules = any(i.uses_scheduler for i in spec.integrations)  # pulls, alarm switches
        scheduler_role = SCHEDULER_ROLE_OUTPUTS[spec.stage] if schedules else None
        pushes = any(i.mode == "push" for i in spec.integrations)
        platform = read_platform(
            name, spec.platform_stack, spec.base_domain, self, pools, scheduler_role, pushes
        )

        database = _database(name, spec, platform, child)
        domains = Domains(
            f"{name}-domains",
            DomainsArgs(
                admin_host=spec.admin_host,
                portal_host=spec.portal_host,
                portal_domain=spec.portal_domain,
                certificate_generation=spec.custom_domain.certificate_generation,
                attached=spec.custom_domain.attached,
                live=spec.live,
                tenant_name=naming.distribution_tenant_name(spec.slug),
                distribution_id=platform.multitenant_distribution_id,
                connection_group_id=platform.connection_group_id,
                routing_endpoint=platform.connection_group_routing_endpoint,
                wildcard_certificate_arn=platform.wildcard_certificate_arn,
                tags=tags,
            ),
            child,
        )
        payments = Payments(
            f"{name}-payments",
            PaymentsArgs(
                provider=spec.payment.provider,
                secret_name=naming.payment_secret_name(spec.slug, spec.stage),
                mode=spec.payment_mode,
                label=spec.stack_name,
                recovery_days=SECRET_RECOVERY_DAYS[spec.stage],
                durable=production,
                kms_key_arn=platform.kms_key_arn,
                tags=tags,
            ),
            child,
        )
        bucket_name = platform.kms_key_arn.apply(
            lambda arn: naming.content_bucket(
                spec.slug, spec.stage, naming.installation_id(arn, spec.platform_stack)
            )
        )
        settings = Settings(
            f"{name}-settings",
            SettingsArgs(
                parameter_name=stack_settings.parameter_name(spec),
                document=stack_settings.initial_settings(spec),
                label=spec.stack_name,
                tags=tags,
            ),
            child,
        )
        portal = Portal(
            f"{name}-portal",
            PortalArgs(
                files=files,
                durable=production,
                bucket_name=bucket_name,
                kms_key_arn=platform.kms_key_arn,
                access_log_bucket=platform.access_log_bucket_name,
                tags=tags,
            ),
            child,
        )
        integrations = Integrations(
            f"{name}-integrations",
            IntegrationsArgs(
                slug=spec.slug,
                stage=spec.stage,
                live=spec.live,
                integrations=tuple(spec.integrations),
                label=spec.stack_name,
                recovery_days=SECRET_RECOVERY_DAYS[spec.stage],
                durable=production,
                kms_key_arn=platform.kms_key_arn,
                tags=tags,
                scheduler_role_arn=platform.scheduler_role_arn,
                ingest_endpoint=platform.ingest_endpoint,
                content_bucket=portal.bucket_name,  # after the bucket: its lifecycle rules
            ),
            child,
        )
        email = Email(
            f"{name}-email",
            EmailArgs(
                identity=email_settings.sending_identity(spec),
                platform_identity_arn=platform.email_identity_arn,
                tags=tags,
                region=_region(),
            ),
            child,
        )
        access = Access(
            f"{name}-access",
            AccessArgs(
                pool_name=naming.user_pool_name(spec.slug, spec.stage),
                display_name=spec.display_name,
                admin_host=spec.admin_host,
                admins=spec.admins,
                mfa_configuration=MFA_BY_STAGE[spec.stage],
                durable=production,
                tags=tags,
                reset_subject=json.loads(files["email/subjects.json"])["password-reset"],
                support_email=spec.branding.support_email,
                # Never an identity that may not be verified yet: the platform's, or the
                # stack's own once promote has found it verified (a live own domain).
                email=EmailSending(
                    source_arn=(
                        email.identity_arn
                        if email_settings.pool_sends_from_own_identity(spec)
                        else platform.email_identity_arn
                    ),
                    from_address=email_settings.pool_from_address(spec),
                    configuration_set=email.configuration_set,
                ),
            ),
            child,
        )
        self.email_sending_domain = email.sending_domain
        self.email_from_address = email.from_address
        self.email_dns_records = email.dns_records

        self.slug = spec.slug
        self.stage = spec.stage
        self.live = spec.live
        self.admin_url = f"https://{spec.admin_host}"
        self.portal_url = f"https://{spec.public_portal_host}"
        self.database_name = naming.database_name(spec.slug, spec.stage)
        self.database_defaults_name = naming.defaults_database_name(spec.slug, spec.stage)
        self.database_endpoint = database.endpoint
        self.database_address = database.address
        self.database_port = database.port
        self.database_secret_arn = database.master_user_secret_arn
        self.database_pool = spec.database_pool
        self.database_role = (
            naming.database_role_name(spec.slug, spec.stage) if spec.pooled else None
        )
        self.database_role_secret_arn = (
            database.role_secret_arn if isinstance(database, PooledDatabase) else None
        )
        self.content_bucket = portal.bucket_name
        self.payment_secret_arn = payments.secret_arn
        self.settings_parameter = settings.parameter_name
        self.payment_mode = payments.mode
        self.user_pool_id = access.user_pool_id
        self.certificate_arn = domains.certificate_arn
        self.custom_domain_certificate_arn = domains.custom_domain_certificate_arn
        self.custom_domain_validation_records = domains.custom_domain_validation_records
        self.custom_domain_cname_target = domains.custom_domain_cname_target
        self.distribution_tenant_id = domains.distribution_tenant_id
        self.operations_bucket = platform.operations_bucket_name
        self.integrations = integrations.outputs
        self.register_outputs({o.name: getattr(self, o.attribute) for o in STACK_OUTPUTS})


def _database(
    name: str, spec: TenantSpec, platform: PlatformValues, child: pulumi.ResourceOptions
) -> Database | PooledDatabase:
    """A pooled stack's place on its pool server, or a dedicated instance."""
    if spec.database_pool is not None and platform.database_pools is not None:
        return PooledDatabase(
            f"{name}-database",
            PooledDatabaseArgs(
                pool_name=spec.database_pool,
                pool_output=POOL_OUTPUTS[spec.stage],
                pools=platform.database_pools,
                platform_stack=spec.platform_stack,
                role_secret_name=naming.database_role_secret_name(spec.slug, spec.stage),
                label=spec.stack_name,
                kms_key_arn=platform.kms_key_arn,
                recovery_days=SECRET_RECOVERY_DAYS[spec.stage],
                durable=spec.stage == naming.PRODUCTION,
                tags=spec.tags,
            ),
            child,
        )
    return Database(
        f"{name}-database",
        DatabaseArgs(
            identifier=naming.db_instance_identifier(spec.slug, spec.stage),
            database_name=naming.database_name(spec.slug, spec.stage),
            sizing=spec.database_sizing,
            label=spec.stack_name,
            durable=spec.stage == naming.PRODUCTION,
            subnet_group_name=platform.database_subnet_group_name,
            parameter_group_name=platform.database_parameter_group_name,
            security_group_ids=platform.database_security_group_ids,
            kms_key_arn=platform.kms_key_arn,
            tags=spec.tags,
        ),
        child,
    )


@dataclass(frozen=True)
class StackOutput:
    """One stack output: what ``tenantctl``, CI and the README know it by."""

    name: str
    description: str
    attribute: str
    """The ``Tenant`` attribute holding its value."""
    local: bool = False
    """Known without AWS, so the local target's stand-in for ``pulumi up`` reports it too."""


STACK_OUTPUTS: tuple[StackOutput, ...] = (
    StackOutput("slug", "The client's slug.", "slug", local=True),
    StackOutput("stage", "preview or production.", "stage", local=True),
    StackOutput(
        "live",
        "Whether the production portal is open to the public (always false in preview).",
        "live",
        local=True,
    ),
    StackOutput("adminUrl", "https:// URL of the admin site.", "admin_url", local=True),
    StackOutput(
        "portalUrl",
        "https:// URL of the public portal (the client's own domain when it has one).",
        "portal_url",
        local=True,
    ),
    StackOutput(
        "databaseEndpoint",
        "host:port of the PostgreSQL server: the stack's own instance, or its pool server.",
        "database_endpoint",
    ),
    StackOutput("databaseAddress", "Host name of the PostgreSQL server.", "database_address"),
    StackOutput("databasePort", "Port of the PostgreSQL server.", "database_port"),
    StackOutput(
        "databasePool",
        "The pool server a pooled preview lives on (tenants:databasePool); null for a "
        "dedicated instance.",
        "database_pool",
        local=True,
    ),
    StackOutput(
        "databaseRole",
        "A pooled stack's own PostgreSQL login role, the only one that may connect to its "
        "databases; null for a dedicated instance.",
        "database_role",
        local=True,
    ),
    StackOutput(
        "databaseRoleSecretArn",
        "Secrets Manager secret with that role's username and password (what the "
        "application connects with; set by tenantctl); null for a dedicated instance.",
        "database_role_secret_arn",
    ),
    StackOutput(
        "databaseName", "The working database the application uses.", "database_name", local=True
    ),
    StackOutput(
        "databaseDefaultsName",
        "The template database reset-preview recreates the working one from.",
        "database_defaults_name",
    ),
    StackOutput(
        "databaseSecretArn",
        "Secrets Manager secret (managed by RDS) with the master credentials of the "
        "PostgreSQL server: the stack's own instance's, or the pool server's (the "
        "platform's masterSecretArn).",
        "database_secret_arn",
    ),
    StackOutput("contentBucket", "The portal content bucket.", "content_bucket", local=True),
    StackOutput(
        "paymentSecretArn",
        "Secrets Manager secret for the payment provider's credentials.",
        "payment_secret_arn",
    ),
    StackOutput(
        "settingsParameter",
        "SSM parameter (String, standard tier) holding the stack's non-secret settings as "
        'JSON: payment and, in preview, allowedRecipients (README "Stack settings").',
        "settings_parameter",
        local=True,
    ),
    StackOutput("paymentMode", "sandbox or live.", "payment_mode"),
    StackOutput("userPoolId", "Cognito user pool of the admin site.", "user_pool_id"),
    StackOutput(
        "certificateArn",
        "The platform's wildcard ACM certificate that serves the admin and portal hosts.",
        "certificate_arn",
    ),
    StackOutput(
        "customDomainCertificateArn",
        "ACM certificate (us-east-1) of the client's own portal domain (production); null "
        "until `tenantctl domain request-certificate`. promote requires it ISSUED.",
        "custom_domain_certificate_arn",
    ),
    StackOutput(
        "customDomainValidationRecords",
        "DNS records [{name, type, value}] the client must publish so ACM validates that "
        "certificate; empty when there is none.",
        "custom_domain_validation_records",
        local=True,
    ),
    StackOutput(
        "customDomainCnameTarget",
        "The platform's CloudFront routing endpoint the client points its portal domain at "
        "(CNAME) at go-live; null without a portal domain.",
        "custom_domain_cname_target",
        local=True,
    ),
    StackOutput(
        "distributionTenantId",
        "CloudFront distribution tenant serving the client's own portal domain once "
        "attached (`tenantctl domain attach`; enabled when live); null before.",
        "distribution_tenant_id",
    ),
    StackOutput(
        "operationsBucket",
        "The platform's operations bucket, where tenantctl publishes the stack's host "
        'routes (routing/v1/<host>.json, README "Host routing").',
        "operations_bucket",
        local=True,
    ),
    StackOutput(
        "emailSendingDomain",
        "Domain the stack's email is sent from (SES identity).",
        "email_sending_domain",
    ),
    StackOutput("emailFromAddress", "From address of the stack's email.", "email_from_address"),
    StackOutput(
        "emailDnsRecords",
        "DNS records [{name, type, value}] of the sending domain: DKIM CNAMEs, MAIL FROM MX "
        "and SPF; the client publishes them when the domain is its own.",
        "email_dns_records",
    ),
    StackOutput(
        "integrations",
        "Per integration id: queueUrl, deadLetterQueueUrl, secretArn, secretName, "
        "dropPrefix (file drops, a prefix of the content bucket), rawPrefix (the raw archive "
        "of every payload received, in the content bucket) and, for a pushed "
        "integration, pushUrl (the URL its vendor pushes to: the platform's ingestEndpoint "
        "and the integration's push path); {} without integrations.",
        "integrations",
    ),
)
"""Every stack output, declared once: ``define_stack``, the Tenant's ``register_outputs``,
the README table and the local target's outputs all read this."""


def _region() -> str:
    return pulumi.Config("aws").get("region") or naming.DEFAULT_REGION


def tenant_name(spec: TenantSpec) -> str:
    """The Tenant component's logical name; children's names derive from it."""
    return naming.resource_prefix(spec.slug, spec.stage)
