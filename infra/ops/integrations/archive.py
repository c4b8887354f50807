"""Writing a payload to the raw archive (``infra.core.integrations.archive``): once.

The write is conditional (``If-None-Match: *``), so a redelivered payload, whose key
is the same sha256, writes nothing, not even a new version of the versioned bucket; and
two consumers racing on one payload agree without a lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.core.errors import DependencyUnreachable
from infra.core.integrations.archive import raw_key
from infra.core.integrations.record import payload_sha256


@dataclass(frozen=True)
class Archived:
    key: str
    written: bool
    """False: it was archived already (a redelivery)."""

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "written": self.written}


def archive_raw(s3: Any, bucket: str, integration_id: str, payload: bytes) -> Archived:
    """Keep *payload* under its sha256 in *bucket*; ``DependencyUnreachable`` (nothing is
    then stored at all, the sender retries) when S3 refuses or cannot be reached."""
    key = raw_key(integration_id, payload_sha256(payload))
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=payload,
            IfNoneMatch="*",
            ContentType="application/octet-stream",
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            return Archived(key, written=False)
        raise DependencyUnreachable(
            f"could not archive the payload in {bucket} ({code}); nothing was stored, "
            "it is safe to redeliver"
        ) from None
    except BotoCoreError as exc:
        raise DependencyUnreachable(
            f"could not reach S3 to archive the payload ({exc}); nothing was stored"
        ) from None
    return Archived(key, written=True)
