"""The raw archive: every payload an integration received, kept exactly as received.

A push body, a pulled page or a dropped file is written to the stack's content bucket
under ``raw_key(integration, sha256)`` *before* it is parsed, so nothing is lost
whatever the adapter makes of it (a refused signature, a malformed body, a rejected
row): the bytes stay for a person to look at or to replay. The key is the payload's
sha256, which the canonical record already carries (``SessionRecord.payload_sha256``),
so a session leads to its payload and a redelivery writes nothing new.

A lifecycle rule on each integration's prefix expires it after
``RAW_RETENTION_DAYS[stage]``.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

from infra.core import naming

RAW_RETENTION_DAYS: dict[naming.Stage, int] = {
    # Preview payloads are sandbox TEST traffic, cleared by every reset: two weeks covers
    # a round of testing and its replays without keeping throwaway data.
    "preview": 14,
    # Production: a parking citation can be appealed, and its session evidence asked
    # for, for up to a year after issue; 400 days keeps the raw payload behind every
    # session through that year plus a month's margin for late disputes.
    "production": 400,
}
"""Days the raw archive keeps a payload, per stage (the lifecycle rule's expiration)."""
NONCURRENT_DAYS = 1
"""The content bucket is versioned: an expired payload's old version goes a day later."""


def raw_prefix(integration_id: str) -> str:
    """Where *integration_id*'s raw payloads are, in the stack's content bucket."""
    return f"integrations/{integration_id}/raw/"


def raw_key(integration_id: str, digest: str) -> str:
    """The archive key of a payload whose sha256 (hex) is *digest*."""
    return raw_prefix(integration_id) + digest
