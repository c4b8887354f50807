"""The receive handler of push integrations: check the signature, read the vendor's shape,
store the sessions. The platform's ingest route (and ``integration test``) call it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from infra.core.errors import UserInputError
from infra.core.integrations.adapters.base import Adapter, AdapterContext
from infra.core.integrations.roundtrip import SIGNATURE_HEADER, signature_ok
from infra.core.integrations.zones import UnmatchedPolicy
from infra.ops.integrations.store import Connection, IngestResult, ingest


class SignatureRefused(UserInputError):
    """A push whose HMAC does not match the integration's secret: nothing is stored."""


def check_signature(body: bytes, signature: str, secret: bytes, integration: str) -> None:
    """``SignatureRefused`` unless *signature* is *body*'s HMAC under *secret*."""
    if not signature_ok(body, signature, secret):
        raise SignatureRefused(
            f"push for {integration} refused: its {SIGNATURE_HEADER} does not match "
            "the integration's secret; nothing was stored (check the vendor's shared secret)"
        )


def receive_push(
    conn: Connection,
    body: bytes,
    signature: str,
    secret: bytes,
    adapter: Adapter,
    context: AdapterContext,
    *,
    zone_map: Mapping[str, str],
    lots: Iterable[str],
    policy: UnmatchedPolicy = "quarantine",
) -> IngestResult:
    """Store the sessions of one pushed *body* if its *signature* is right; all or nothing."""
    check_signature(body, signature, secret, context.integration)
    result = adapter.parse(body, context)
    if result.rejections and result.rejections[0].item == "payload":
        raise UserInputError(
            f"push for {context.integration} refused: {result.rejections[0].reason}"
        )
    return ingest(conn, result.records, zone_map=zone_map, lots=lots, policy=policy)
