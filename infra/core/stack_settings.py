"""A stack's one SSM parameter: its non-secret settings as one JSON document.

``/<slug>/<stage>/settings`` (``naming.settings_parameter``), a ``String`` in the
**Standard** tier (named on every write: ``TIER``), holds::

    {"allowedRecipients": ["pat@example.edu"],
     "payment": {"cancel-url": "...", "currency": "USD", "merchant-id": "...",
                 "mode": "sandbox", "provider": "stripe", "return-url": "...",
                 "webhook-url": "..."}}

``payment`` is in both stages (``payment_settings.payment_parameters``);
``allowedRecipients``, the extra addresses a preview may email, only in preview. One
parameter per stack keeps 1,000 clients at 2,000 standard parameters of the 10,000 a
region holds (a quota AWS does not raise), so no stack needs the advanced tier, which
is paid per parameter and month.

Two writers share the value, and Pulumi cannot ignore part of one: the program
creates the parameter with its first value (payment defaults, the administrators as
``allowedRecipients``) and then ignores changes to the value. tenantctl writes it
after that, always as a read-modify-write of its own key under the client's lock:
the payment settings after every deploy (``deploy_stack``), reset and undo; the
allow-list through ``tenantctl email allow-list``. So a deploy never overwrites what
staff added, and an allow-list change never touches the payment settings.

A document is checked before anything is written (``render``): at most
``MAX_CHARS`` characters, the standard tier's limit; JSON is written ASCII-only, so
characters are bytes.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from infra.core import limits, naming
from infra.core.email_settings import admin_addresses
from infra.core.errors import UserInputError
from infra.core.payment_settings import payment_parameters
from infra.core.spec import TenantSpec

TIER: Final = "Standard"
"""The tier every write names (the program's and every ``put_parameter``): never the
account's default tier, which may be Advanced or Intelligent-Tiering."""
TYPE: Final = "String"
MAX_CHARS = limits.SSM_STANDARD_VALUE_MAX_CHARS
PAYMENT = "payment"
ALLOWED_RECIPIENTS = "allowedRecipients"


class SettingsTooLarge(UserInputError):
    """A settings document over the standard tier's limit (exit 2; nothing is written)."""


def parameter_name(spec: TenantSpec) -> str:
    return naming.settings_parameter(spec.slug, spec.stage)


def initial_settings(spec: TenantSpec) -> dict[str, Any]:
    """The value the program creates the parameter with."""
    document: dict[str, Any] = {PAYMENT: payment_parameters(spec)}
    if spec.stage == naming.PREVIEW:
        document[ALLOWED_RECIPIENTS] = list(admin_addresses(spec))
    return document


def render(document: Mapping[str, Any], what: str = "the settings") -> str:
    """*document* as the parameter's value; ``SettingsTooLarge`` when it would not fit."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    if len(text) > MAX_CHARS:
        raise SettingsTooLarge(
            f"{what} would be {len(text):,} characters; one standard-tier SSM parameter holds "
            f"at most {MAX_CHARS:,} (nothing was changed)"
        )
    return text


def parse(text: str) -> dict[str, Any]:
    """The document of a stored value; an unreadable one reads as empty (rewritten whole)."""
    try:
        document = json.loads(text)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def payment_of(document: Mapping[str, Any]) -> dict[str, str]:
    payment = document.get(PAYMENT)
    if not isinstance(payment, dict):
        return {}
    return {str(k): str(v) for k, v in payment.items()}


def recipients_of(document: Mapping[str, Any]) -> set[str]:
    """The allow-list, lower-cased (``email_settings.normalized_email``)."""
    listed = document.get(ALLOWED_RECIPIENTS)
    if not isinstance(listed, list):
        return set()
    return {str(a).strip().lower() for a in listed if str(a).strip()}


def with_payment(document: Mapping[str, Any], payment: Mapping[str, str]) -> dict[str, Any]:
    return {**document, PAYMENT: dict(sorted(payment.items()))}


def with_recipients(document: Mapping[str, Any], addresses: Iterable[str]) -> dict[str, Any]:
    return {**document, ALLOWED_RECIPIENTS: sorted(set(addresses))}
