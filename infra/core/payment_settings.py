"""The non-secret payment settings of a stack, derived from its spec.

One function serves three callers: the Pulumi ``Payments`` component creates
the SSM parameters from it, ``reset-preview`` writes the same values back (the
sandbox defaults), and the local target materializes them.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

from infra.core import naming
from infra.core.spec import TenantSpec

PAYMENT_PATHS = {
    "return-url": "/payments/return",
    "cancel-url": "/payments/cancel",
    "webhook-url": "/payments/webhook",
}


def payment_parameters(spec: TenantSpec) -> dict[str, str]:
    """``{name: value}`` of every SSM parameter under ``/<slug>/<stage>/payment/``."""
    base = f"https://{spec.public_portal_host}"
    return {
        "provider": spec.payment.provider,
        "merchant-id": spec.payment.merchant_id,
        "currency": spec.payment.currency,
        "mode": spec.payment_mode,
        **{name: base + path for name, path in PAYMENT_PATHS.items()},
    }


def parameter_name(spec: TenantSpec, key: str) -> str:
    return naming.payment_parameter_path(spec.slug, spec.stage) + key
