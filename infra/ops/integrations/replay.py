"""Re-drive an integration's dead-letter queue into its stage's database.

A message on an integration's queue is one delivery as the vendor sent it (the raw
payload: a push body, a pulled page, a dropped file); after ``MAX_RECEIVE_COUNT``
failed receives SQS moves it to the dead-letter queue. A replay drains that queue
through the integration's adapter and the ingestion: a message whose sessions are
stored is deleted; one that still cannot be read stays, with its reason, for a person.
Replaying is idempotent by (integration, source id, version): a session already
stored is counted ``ignored``, never stored twice, so a replay may run again at any
time (after a crash, or while the first one's output was lost).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.core.errors import DependencyUnreachable
from infra.core.integrations.adapters.base import Adapter, AdapterContext
from infra.core.integrations.zones import UnmatchedPolicy
from infra.ops.integrations.store import Connection, ingest

BATCH = 10
"""SQS's most messages per receive."""
HOLD_SECONDS = 60
"""How long a received message stays hidden while the replay works on it."""


@dataclass(frozen=True)
class Unreplayable:
    message_id: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"messageId": self.message_id, "reason": self.reason}


@dataclass
class ReplayCounts:
    messages: int = 0
    replayed: int = 0
    stored: int = 0
    already: int = 0
    quarantined: int = 0
    rows_rejected: int = 0
    left: list[Unreplayable] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "replayed": self.replayed,
            "stored": self.stored,
            "alreadyStored": self.already,
            "quarantined": self.quarantined,
            "rowsRejected": self.rows_rejected,
            "left": [u.to_json() for u in self.left],
        }


def _sqs_error(queue: str, exc: Exception) -> DependencyUnreachable:
    detail = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    return DependencyUnreachable(
        f"SQS refused or did not answer for {queue} ({detail or exc}); nothing more was "
        "replayed, run the replay again"
    )


def replay_dead_letters(
    sqs: Any,
    queue_url: str,
    conn: Connection,
    adapter: Adapter,
    context: AdapterContext,
    *,
    zone_map: Mapping[str, str],
    lots: Iterable[str],
    policy: UnmatchedPolicy = "quarantine",
) -> ReplayCounts:
    """Drain *queue_url* (a dead-letter queue) into *conn*: each message's sessions in one
    transaction, then the message deleted; an unreadable one is left on the queue."""
    counts = ReplayCounts()
    lots = list(lots)
    held: list[str] = []  # receipt handles of the messages left, released at the end
    try:
        while True:
            batch = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=BATCH,
                VisibilityTimeout=HOLD_SECONDS,
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                counts.messages += 1
                result = adapter.parse(message["Body"].encode(), context)
                if result.rejections and result.rejections[0].item == "payload":
                    counts.left.append(
                        Unreplayable(message["MessageId"], result.rejections[0].reason)
                    )
                    held.append(message["ReceiptHandle"])
                    continue
                stored = ingest(conn, result.records, zone_map=zone_map, lots=lots, policy=policy)
                conn.commit()  # stored before the message goes: a crash between replays it
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                counts.replayed += 1
                counts.stored += stored.inserted + stored.superseded
                counts.already += stored.ignored
                counts.quarantined += stored.quarantined
                counts.rows_rejected += len(result.rejections)
        for handle in held:  # visible again at once, for the next replay or a person
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0
            )
    except (ClientError, BotoCoreError) as exc:
        raise _sqs_error(queue_url, exc) from None
    return counts
