"""The tenant stack program: spec from stack config, the Tenant, and the stack outputs.

``infra/__main__.py`` runs it under the Pulumi engine; ``infra.plan`` runs the
same ``define_stack`` under Pulumi's mock runtime for the offline plan.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from infra.core import naming
from infra.core.spec import TenantSpec, spec_from_config
from infra.program.tenant import Tenant, TenantArgs, tenant_name

STACK_OUTPUTS: dict[str, str] = {
    "slug": "The client's slug.",
    "stage": "preview or production.",
    "live": "Whether the production portal is open to the public (always false in preview).",
    "adminUrl": "https:// URL of the admin site.",
    "portalUrl": "https:// URL of the public portal (the client's own domain when it has one).",
    "databaseEndpoint": "host:port of the PostgreSQL server.",
    "databaseAddress": "Host name of the PostgreSQL server.",
    "databasePort": "Port of the PostgreSQL server.",
    "databaseName": "The working database the application uses.",
    "databaseDefaultsName": "The template database reset-preview recreates the working one from.",
    "databaseSecretArn": "Secrets Manager secret (managed by RDS) with the master credentials.",
    "contentBucket": "The portal content bucket.",
    "paymentSecretArn": "Secrets Manager secret for the payment provider's credentials.",
    "paymentParameterPath": "SSM path of the non-secret payment settings.",
    "paymentMode": "sandbox or live.",
    "userPoolId": "Cognito user pool of the admin site.",
    "certificateArn": "ACM certificate of the admin and portal hosts.",
    "customDomainValidationRecords": "DNS records [{name, type, value}] the client must publish "
    "for its own portal domain; empty when it has none.",
    "listenerRulePriority": "Priority of the stack's rule on the platform HTTPS listener.",
    "emailSendingDomain": "Domain the stack's email is sent from (SES identity).",
    "emailFromAddress": "From address of the stack's email.",
    "emailDnsRecords": "DNS records [{name, type, value}] of the sending domain: DKIM CNAMEs, "
    "MAIL FROM MX and SPF; the client publishes them when the domain is its own.",
}
"""Stack output name -> description: what ``tenantctl`` and CI read from a stack."""


def define_stack(spec: TenantSpec) -> dict[str, pulumi.Output[Any] | Any]:
    """Build the Tenant for *spec* and return the stack outputs (``STACK_OUTPUTS``)."""
    tenant = Tenant(tenant_name(spec), TenantArgs(spec=spec))
    outputs: dict[str, pulumi.Output[Any] | Any] = {
        "slug": tenant.slug,
        "stage": tenant.stage,
        "live": tenant.live,
        "adminUrl": tenant.admin_url,
        "portalUrl": tenant.portal_url,
        "databaseEndpoint": tenant.database_endpoint,
        "databaseAddress": tenant.database_address,
        "databasePort": tenant.database_port,
        "databaseName": naming.database_name(spec.slug, spec.stage),
        "databaseDefaultsName": naming.defaults_database_name(spec.slug, spec.stage),
        "databaseSecretArn": tenant.database_secret_arn,
        "contentBucket": tenant.content_bucket,
        "paymentSecretArn": tenant.payment_secret_arn,
        "paymentParameterPath": tenant.payment_parameter_path,
        "paymentMode": tenant.payment_mode,
        "userPoolId": tenant.user_pool_id,
        "certificateArn": tenant.certificate_arn,
        "customDomainValidationRecords": tenant.custom_domain_validation_records,
        "listenerRulePriority": tenant.listener_rule_priority,
        "emailSendingDomain": tenant.email_sending_domain,
        "emailFromAddress": tenant.email_from_address,
        "emailDnsRecords": tenant.email_dns_records,
    }
    assert outputs.keys() == STACK_OUTPUTS.keys(), "STACK_OUTPUTS must describe every output"
    return outputs


def _config_value(value: Any) -> Any:
    """Structured config (objects, lists) reaches the program as JSON text."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def pulumi_config() -> dict[str, Any]:
    """Every ``tenants:`` key of the running program's stack config, JSON values parsed."""
    # The CLI hands config over in PULUMI_CONFIG; the Automation API sets it in
    # the runtime. Neither offers a public way to list keys, only to get one.
    raw: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = naming.CONFIG_NAMESPACE
    config: dict[str, Any] = {}
    for key, value in raw.items():
        if not key.startswith(prefix):
            continue
        # Old CLIs spell keys "<namespace>:config:<name>".
        name = key[len(prefix) :].removeprefix("config:")
        config[prefix + name] = _config_value(value)
    return config


def spec_from_pulumi_config() -> TenantSpec:
    """The tenant spec of the running stack; slug and stage must match its name."""
    return spec_from_config(
        pulumi_config(),
        expected_stack=pulumi.get_stack(),
        source=f"stack {pulumi.get_stack()} config",
    )
