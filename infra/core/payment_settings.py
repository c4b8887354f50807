"""The non-secret payment settings of a stack, derived from its spec.

One function serves every writer of the ``payment`` key of the stack's settings
parameter (``infra.core.stack_settings``): the program's first value, the write after
every deploy, and ``reset-preview`` (the sandbox defaults).

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

from infra.core.spec import TenantSpec

PAYMENT_PATHS = {
    "return-url": "/payments/return",
    "cancel-url": "/payments/cancel",
    "webhook-url": "/payments/webhook",
}


def payment_parameters(spec: TenantSpec) -> dict[str, str]:
    """``{name: value}`` of every payment setting (the settings parameter's ``payment``)."""
    base = f"https://{spec.public_portal_host}"
    return {
        "provider": spec.payment.provider,
        "merchant-id": spec.payment.merchant_id,
        "currency": spec.payment.currency,
        "mode": spec.payment_mode,
        **{name: base + path for name, path in PAYMENT_PATHS.items()},
    }
