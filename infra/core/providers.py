"""Hosted payment providers this platform integrates with, and what their keys look like.

Pure logic: the facts the spec validator and ``tenantctl payment set-credentials``
need to tell a sandbox credential from a live one without calling the provider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PaymentMode = Literal["sandbox", "live"]


@dataclass(frozen=True)
class Provider:
    name: str
    title: str
    merchant_id_pattern: re.Pattern[str]
    merchant_id_hint: str
    sandbox_key_prefixes: tuple[str, ...] = ()
    live_key_prefixes: tuple[str, ...] = ()

    @property
    def key_format_tells_mode(self) -> bool:
        return bool(self.sandbox_key_prefixes and self.live_key_prefixes)

    def key_mode(self, secret_key: str) -> PaymentMode | None:
        """Which mode a secret key belongs to, or ``None`` when its format does not say."""
        if secret_key.startswith(self.live_key_prefixes) and self.live_key_prefixes:
            return "live"
        if secret_key.startswith(self.sandbox_key_prefixes) and self.sandbox_key_prefixes:
            return "sandbox"
        return None


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            name="stripe",
            title="Stripe",
            merchant_id_pattern=re.compile(r"^acct_[A-Za-z0-9]{8,32}\Z"),
            merchant_id_hint="a Stripe account id such as acct_1Nv0FGQ9RKHgCVdK",
            sandbox_key_prefixes=("sk_test_", "rk_test_"),
            live_key_prefixes=("sk_live_", "rk_live_"),
        ),
        Provider(
            name="square",
            title="Square",
            merchant_id_pattern=re.compile(r"^[A-Z0-9]{10,32}\Z"),
            merchant_id_hint="a Square merchant id such as MLEFBHHSJGVHD",
        ),
        Provider(
            name="authorize_net",
            title="Authorize.net",
            merchant_id_pattern=re.compile(r"^[A-Za-z0-9]{6,25}\Z"),
            merchant_id_hint="an Authorize.net API login id such as 5KP3u95bQpv",
        ),
    )
}

CREDENTIAL_FIELDS = ("secretKey", "webhookSecret")
"""Keys of the JSON document stored in a stack's payment secret."""
