"""Rollout reads: one client's status (observed tasks checked now), the portfolio, history.

The portfolio view reads the last observations, kept in the ``observations`` table,
so it answers from a fixed number of queries whatever the number of clients.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg

from infra.core.rollout import Schedule
from infra.core.rollout_summary import RolloutSummary, attention_order, summarize
from infra.ops.rollout.store import (
    Observer,
    find,
    records_of,
    row_of,
    store_observations,
    stored_observations,
    today,
)


def status_one(
    conn: psycopg.Connection,
    schedule: Schedule,
    client: str,
    observe: Observer | None,
    on: date | None = None,
    contract: str | None = None,
) -> RolloutSummary:
    """One client's rollout, its observed tasks checked against the systems now."""
    row = find(conn, client, contract)
    observations = observe(client, None) if observe is not None else {}
    with conn.transaction():
        if observe is not None:
            store_observations(conn, row.id, observations)
        record = records_of(conn, [row])[row.id]
    if observe is None:
        observations = stored_observations(conn, [row.id])[row.id]
    return summarize(schedule, record, observations, on or today())


def status_all(
    conn: psycopg.Connection, schedule: Schedule, on: date | None = None
) -> list[RolloutSummary]:
    """Every client's latest rollout from recorded facts and the last observations,
    attention first. A fixed number of queries, whatever the number of clients."""
    rows = [
        row_of(r)
        for r in conn.execute(
            "SELECT DISTINCT ON (client) id, client, contract, signed_off FROM rollouts "
            "ORDER BY client, signed_off DESC, id DESC"
        )
    ]
    records = records_of(conn, rows)
    observations = stored_observations(conn, [r.id for r in rows])
    when = on or today()
    return attention_order(
        summarize(schedule, records[r.id], observations[r.id], when, detail=False) for r in rows
    )


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a rollout's append-only history."""

    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "detail": self.detail,
        }


def history(
    conn: psycopg.Connection, client: str, contract: str | None = None
) -> list[HistoryEntry]:
    """The rollout's history, oldest first."""
    row = find(conn, client, contract)
    return [
        HistoryEntry(at, a, act, s, d)
        for at, a, act, s, d in conn.execute(
            "SELECT at, actor, action, subject, detail FROM history WHERE rollout_id = %s "
            "ORDER BY id",
            (row.id,),
        )
    ]


def clients_with_rollouts(conn: psycopg.Connection) -> Iterable[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT client FROM rollouts ORDER BY client")]
