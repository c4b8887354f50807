"""Sessions into ``activity.sessions``: exactly once per (integration, source id, version).

One row per (integration, source id) holds the winning delivery by
``infra.core.integrations.record.supersede_key``: a CANCEL is final, otherwise the
higher version wins; a redelivery, or an earlier version arriving late, changes
nothing (nor does a second delivery of a stored version with other content: a
version is stored once, as first received). The database applies the rule itself
(``ON CONFLICT ... DO UPDATE ... WHERE``), so concurrent consumers agree without a
lock. Records whose vendor zone maps to no lot go to ``activity.session_quarantine``
with the reason (policy ``quarantine``) or are counted and dropped (``drop``).

Two paths, the same rule: ``ingest`` (COPY into a temporary table, one set-based merge,
one transaction: the queue consumer's path) and ``ingest_row_by_row`` (one INSERT and
one commit per record: the naive consumer, kept for the benchmark's other side).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from infra.core.errors import DependencyUnreachable, ExitCode, TenantctlError
from infra.core.integrations.record import SessionRecord
from infra.core.integrations.zones import UnmatchedPolicy, assign_lots
from infra.ops.adapters.database import error_message

Connection = psycopg.Connection[tuple[Any, ...]]

COLUMNS = (
    "integration", "source_id", "version", "kind", "plate", "region", "country", "space",
    "vendor_zone", "lot_code", "starts_at", "ends_at", "amount_minor", "currency",
    "payload_sha256",
)  # fmt: skip
_KEY = ("integration", "source_id")
_ALWAYS = ("version", "kind", "payload_sha256")
"""Columns a winning CANCEL updates; it keeps what the session was (plate, lot, times)."""


@dataclass(frozen=True)
class IngestResult:
    """What one ingestion did, counted."""

    received: int
    inserted: int
    superseded: int
    """Stored sessions replaced by a later version or a cancel."""
    ignored: int
    """Deliveries that changed nothing: redeliveries and late earlier versions."""
    quarantined: int
    dropped: int

    def to_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "inserted": self.inserted,
            "superseded": self.superseded,
            "ignored": self.ignored,
            "quarantined": self.quarantined,
            "dropped": self.dropped,
        }


class SessionStoreRefused(TenantctlError):
    """The stage database refused a statement (a batch: nothing of it was stored); its
    schema predates the sessions tables, or a value broke one of its checks."""

    exit_code = ExitCode.PRECONDITION


def _row(record: SessionRecord) -> tuple[Any, ...]:
    return (
        record.integration, record.source_id, record.version, record.kind.value, record.plate,
        record.region, record.country, record.space, record.vendor_zone, record.lot,
        record.start, record.end, record.amount_minor, record.currency, record.payload_sha256,
    )  # fmt: skip


def _upsert(source: sql.Composable) -> sql.Composed:
    """``INSERT ... <source> ON CONFLICT`` applying the supersede rule; returns per row
    whether it was an insert."""
    keep_if_cancel = [c for c in COLUMNS if c not in _KEY + _ALWAYS]
    sets = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in _ALWAYS] + [
        sql.SQL("{0} = CASE WHEN EXCLUDED.kind = 'CANCEL' THEN s.{0} ELSE EXCLUDED.{0} END").format(
            sql.Identifier(c)
        )
        for c in keep_if_cancel
    ]
    return sql.SQL(
        "INSERT INTO activity.sessions AS s ({cols}) {source} "
        "ON CONFLICT (integration, source_id) DO UPDATE SET {sets}, received_at = now() "
        # the same order as supersede_key: (is it a cancel, version), largest wins
        "WHERE (EXCLUDED.kind = 'CANCEL', EXCLUDED.version) > (s.kind = 'CANCEL', s.version) "
        "RETURNING (xmax = 0)"
    ).format(
        cols=sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        source=source,
        sets=sql.SQL(", ").join(sets),
    )


_FROM_INCOMING = sql.SQL(
    "SELECT DISTINCT ON (integration, source_id) {cols} FROM incoming "
    # a batch's winner per session by the same rule; between two deliveries of the same
    # version the first delivered wins, as it would have had they come one by one
    "ORDER BY integration, source_id, (kind = 'CANCEL') DESC, version DESC, seq"
).format(cols=sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))
_VALUES = sql.SQL("VALUES ({})").format(sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS)))
_QUARANTINE = (
    "INSERT INTO activity.session_quarantine "
    "(integration, source_id, version, vendor_zone, reason, record) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)


@contextmanager
def database_errors(what: str) -> Iterator[None]:
    """psycopg errors while doing *what* as one line: unreachable (exit 5) or refused."""
    try:
        yield
    except psycopg.OperationalError as exc:
        raise DependencyUnreachable(
            f"the stage database went away while {what}; safe to retry: {error_message(exc)}"
        ) from None
    except psycopg.Error as exc:
        raise SessionStoreRefused(
            f"the stage database refused {what}: {error_message(exc)}"
        ) from None


def lots_and_zones(conn: Connection) -> tuple[set[str], dict[str, str]]:
    """The stage's lot codes and its ``config.zones`` map (zone → lot code)."""
    with database_errors("reading lots and zones"):
        return _lots_and_zones(conn)


def _lots_and_zones(conn: Connection) -> tuple[set[str], dict[str, str]]:
    lots = {r[0] for r in conn.execute("SELECT code FROM config.lots WHERE active")}
    zones: dict[str, str] = dict(conn.execute("SELECT zone, lot_code FROM config.zones").fetchall())
    return lots, zones


def _hold(
    conn: Connection, held: Sequence[tuple[SessionRecord, str]], policy: UnmatchedPolicy
) -> None:
    if policy == "drop" or not held:
        return
    with conn.cursor() as cur:
        cur.executemany(
            _QUARANTINE,
            [
                (r.integration, r.source_id, r.version, r.vendor_zone, why, json.dumps(r.to_json()))
                for r, why in held
            ],
        )


def _result(
    received: int, flags: Iterable[bool], held: int, policy: UnmatchedPolicy
) -> IngestResult:
    stored = list(flags)
    inserted = sum(stored)
    superseded = len(stored) - inserted
    quarantined = held if policy == "quarantine" else 0
    dropped = held if policy == "drop" else 0
    return IngestResult(
        received=received,
        inserted=inserted,
        superseded=superseded,
        ignored=received - inserted - superseded - held,
        quarantined=quarantined,
        dropped=dropped,
    )


def ingest(
    conn: Connection,
    records: Sequence[SessionRecord],
    *,
    zone_map: Mapping[str, str],
    lots: Iterable[str],
    policy: UnmatchedPolicy = "quarantine",
) -> IngestResult:
    """Store *records* in one transaction: COPY, then one merge. All or nothing."""
    placed, held = assign_lots(records, zone_map, lots)
    try:
        with conn.transaction():
            conn.execute(
                "CREATE TEMP TABLE incoming (LIKE activity.sessions INCLUDING DEFAULTS, "
                "seq bigint NOT NULL) ON COMMIT DROP"
            )
            copy_sql = sql.SQL("COPY incoming ({}, seq) FROM STDIN").format(
                sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
            )
            with conn.cursor() as cur:
                with cur.copy(copy_sql) as copy:
                    for seq, record in enumerate(placed):
                        copy.write_row((*_row(record), seq))
                cur.execute(_upsert(_FROM_INCOMING))
                flags = [bool(r[0]) for r in cur.fetchall()]
            _hold(conn, held, policy)
    except psycopg.OperationalError as exc:
        raise DependencyUnreachable(
            f"the stage database went away while ingesting; nothing of the batch was stored, "
            f"re-deliver it: {error_message(exc)}"
        ) from None
    except psycopg.Error as exc:
        raise SessionStoreRefused(
            f"the database refused the batch (nothing was stored): {error_message(exc)}"
        ) from None
    return _result(len(records), flags, len(held), policy)


def ingest_row_by_row(
    conn: Connection,
    records: Sequence[SessionRecord],
    *,
    zone_map: Mapping[str, str],
    lots: Iterable[str],
    policy: UnmatchedPolicy = "quarantine",
) -> IngestResult:
    """The naive path: one INSERT and one commit per record (same rule, same result)."""
    placed, held = assign_lots(records, zone_map, lots)
    statement = _upsert(_VALUES)
    flags: list[bool] = []
    try:
        for record in placed:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(statement, _row(record))
                flags.extend(bool(r[0]) for r in cur.fetchall())
        with conn.transaction():
            _hold(conn, held, policy)
    except psycopg.Error as exc:
        raise SessionStoreRefused(f"the database refused a session: {error_message(exc)}") from None
    return _result(len(records), flags, len(held), policy)


@dataclass(frozen=True)
class Quarantined:
    integration: str
    source_id: str
    version: int
    vendor_zone: str
    reason: str
    record: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "sourceId": self.source_id,
            "version": self.version,
            "vendorZone": self.vendor_zone,
            "reason": self.reason,
            "record": self.record,
        }


def quarantined(conn: Connection, integration: str | None = None) -> list[Quarantined]:
    """What the quarantine holds (for one integration, or all), oldest first."""
    with database_errors("reading the quarantine"):
        rows = conn.execute(
            "SELECT integration, source_id, version, vendor_zone, reason, record "
            "FROM activity.session_quarantine WHERE %(i)s::text IS NULL OR integration = %(i)s "
            "ORDER BY received_at, integration, source_id, version",
            {"i": integration},
        ).fetchall()
    return [Quarantined(*row) for row in rows]
