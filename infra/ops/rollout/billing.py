"""Billing milestones to the billing system's EventBridge bus, through the outbox.

A milestone and its outbox row are written in the transaction of the step that
earns it (``infra.ops.rollout.commands``). ``publish`` sends each unpublished row and
marks it published, one row per transaction, holding the row's lock while it
sends, so two publishers never send the same row at once:

- killed before ``put_events``: nothing was sent; the next run sends it;
- killed after ``put_events`` and before the commit: the next run sends the
  *same* event again (byte-identical detail and time, same idempotency key);
  the billing consumer deduplicates on ``detail.idempotencyKey`` (the README
  documents this; a FIFO queue with content-based deduplication does it);
- killed after the commit: nothing is sent again.

No code path can build a second, different event for a milestone: the event
is stored in the outbox when the milestone is recorded and sent as stored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from infra.core.errors import DependencyUnreachable, EnvironmentProblem
from infra.core.steps import Progress, quiet
from infra.ops.adapters import aws, control

BILLING_BUS_ENV = "TENANTCTL_BILLING_BUS"
"""Name or ARN of the billing EventBridge bus (the platform's ``billingEventBusName``)."""


def bus_name() -> str:
    name = os.environ.get(BILLING_BUS_ENV)
    if not name:
        raise EnvironmentProblem(
            f"no billing bus: set {BILLING_BUS_ENV} to the platform's billingEventBusName "
            "(the local target's env file sets it)"
        )
    return name


@dataclass(frozen=True)
class Pending:
    idempotency_key: str
    client: str
    contract: str
    milestone: str
    occurred_at: datetime
    attempts: int

    def to_json(self) -> dict[str, Any]:
        return {
            "idempotencyKey": self.idempotency_key,
            "client": self.client,
            "contract": self.contract,
            "milestone": self.milestone,
            "occurredAt": self.occurred_at.isoformat(),
            "attempts": self.attempts,
        }


def pending(conn: psycopg.Connection) -> list[Pending]:
    """Milestones recorded but not confirmed published, oldest first."""
    return [
        Pending(str(k), c, ct, m, at, n)
        for k, c, ct, m, at, n in conn.execute(
            "SELECT m.id, m.client, m.contract, m.milestone, m.occurred_at, o.attempts "
            "FROM outbox o JOIN milestones m ON m.id = o.milestone_id "
            "WHERE o.published_at IS NULL ORDER BY o.created_at, m.id"
        )
    ]


def publish(conn: psycopg.Connection, progress: Progress = quiet) -> list[dict[str, Any]]:
    """Send every unpublished milestone event; return what was published."""
    bus = bus_name()
    events = aws.client("events")
    published: list[dict[str, Any]] = []
    while True:
        with conn.transaction():
            row = conn.execute(
                "SELECT milestone_id, event FROM outbox WHERE published_at IS NULL "
                "ORDER BY created_at, milestone_id LIMIT 1 FOR UPDATE SKIP LOCKED"
            ).fetchone()
            if row is None:
                return published
            key, event = str(row[0]), row[1]
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1 WHERE milestone_id = %s", (key,)
            )
            detail = event["detail"]
            answer = events.put_events(
                Entries=[
                    {
                        "Source": event["source"],
                        "DetailType": event["detailType"],
                        "Detail": json.dumps(detail, sort_keys=True, separators=(",", ":")),
                        "Time": datetime.fromisoformat(detail["occurredAt"]),
                        "EventBusName": bus,
                        "Resources": [],
                    }
                ]
            )
            entry = (answer.get("Entries") or [{}])[0]
            if answer.get("FailedEntryCount") or "EventId" not in entry:
                raise DependencyUnreachable(
                    f"the billing bus refused milestone {detail['milestone']} of "
                    f"{detail['client']} ({entry.get('ErrorCode', 'no event id')}); "
                    "re-run `tenantctl billing publish`"
                )
            conn.execute(
                "UPDATE outbox SET published_at = now(), event_id = %s WHERE milestone_id = %s",
                (entry["EventId"], key),
            )
        progress(f"  published {detail['milestone']} of {detail['client']} ({key})")
        published.append({**detail, "eventId": entry["EventId"]})


def publish_quietly(conn: psycopg.Connection, progress: Progress = quiet) -> str:
    """Publish after a step that may earn a milestone; a failure leaves it pending, not lost.

    Returns what happened in one line, or "" when nothing was pending."""
    try:
        sent = publish(conn, progress)
    except Exception as exc:
        text = (str(exc).splitlines() or [type(exc).__name__])[0]
        return f"billing not published yet ({text}); `tenantctl billing publish` retries"
    return f"{len(sent)} milestone(s) published" if sent else ""


# ------------------------------------------------- one operation per CLI command


@dataclass(frozen=True)
class PendingMilestones:
    """``billing pending``: milestones recorded but not confirmed published, oldest first."""

    rows: list[Pending]

    def to_json(self) -> dict[str, Any]:
        return {"pending": [r.to_json() for r in self.rows]}


def list_pending() -> PendingMilestones:
    with control.connect() as conn:
        return PendingMilestones(pending(conn))


@dataclass(frozen=True)
class Published:
    """``billing publish``: the events sent, each with the bus's event id."""

    events: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"published": self.events}


def publish_pending(progress: Progress = quiet) -> Published:
    """Publish every pending milestone; safe to run at any time and to kill (see above)."""
    with control.connect() as conn:
        return Published(publish(conn, progress))
