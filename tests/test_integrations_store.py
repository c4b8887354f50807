"""Integrations against a real PostgreSQL 15: ingestion exactly once whatever the
redelivery or order, cancel and TEST events, the quarantine, the enforcement lookup,
file drops, and reset clearing sessions. Each test gets the demo client's preview
databases (defaults template + working database) from the real schema and seed."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.core import naming
from infra.core.errors import ExitCode, UserInputError
from infra.core.integrations.adapters import generic_push
from infra.core.integrations.adapters.base import AdapterContext
from infra.core.integrations.record import EventKind, SessionRecord, supersede_key
from infra.core.integrations.times import timezone
from infra.core.rendering import render_db_schema, render_db_seed
from infra.devtools import mockvendors
from infra.ops.adapters.database import StackDatabases
from infra.ops.integrations import filedrop, lookup, store
from tests.helpers import demo_spec

T0 = datetime(2026, 5, 1, 13, 0, tzinfo=UTC)
CONTEXT = AdapterContext("pm-main", timezone("America/Toronto"), "USD")
ZONE_N2 = "1020"  # the demo seed numbers one zone per lot from its sort order: N2 is 20


@pytest.fixture
def databases(pg_env: str) -> StackDatabases:
    server = StackDatabases(pg_env, "integ", naming.PREVIEW)
    server.seed_defaults(render_db_schema(), render_db_seed(demo_spec("preview")))
    server.create_working()
    return server


@pytest.fixture
def conn(databases: StackDatabases) -> Any:
    with psycopg.connect(databases.url(databases.working), autocommit=True) as c:
        yield c


@pytest.fixture
def where(conn: Any) -> dict[str, Any]:
    lots, zones = store.lots_and_zones(conn)
    return {"zone_map": zones, "lots": lots}


def session(
    source: str = "s1", version: int = 1, kind: EventKind = EventKind.NEW, *,
    plate: str = "ABC123", zone: str = ZONE_N2, minutes: int = 60, start: datetime = T0,
) -> SessionRecord:  # fmt: skip
    end = None if kind is EventKind.CANCEL else start + timedelta(minutes=minutes)
    return SessionRecord(
        "pm-main", source, version, kind, plate, start, end, zone,
        amount_minor=200 if end else None, currency="USD" if end else None,
        payload_sha256="0" * 64,
    )  # fmt: skip


def stored(conn: Any) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT source_id, version, kind, plate, lot_code, ends_at FROM activity.sessions "
        "ORDER BY source_id"
    ).fetchall()


# ------------------------------------------------------------------ exactly once

DELIVERIES = [
    session("s1", 1),
    session("s1", 2, EventKind.EXTEND, minutes=120),
    session("s1", 3, EventKind.UPDATE, minutes=90),
    session("s2", 1),
    session("s2", 2, EventKind.CANCEL),
    session("s3", 1, EventKind.TEST, plate="TEST1"),
]
FINAL = [
    ("s1", 3, "UPDATE", "ABC123", "N2", T0 + timedelta(minutes=90)),
    ("s2", 2, "CANCEL"),  # a cancelled row keeps what it had when the cancel came
    ("s3", 1, "TEST", "TEST1", "N2", T0 + timedelta(minutes=60)),
]


@pytest.mark.parametrize("path", [store.ingest, store.ingest_row_by_row])
def test_ingestion_is_the_same_whatever_the_redelivery_and_order(
    conn: Any, where: dict[str, Any], path: Any
) -> None:
    rng = random.Random(19)
    deliveries = DELIVERIES * 3
    finals = []
    for _ in range(6):
        rng.shuffle(deliveries)
        cut = rng.randrange(1, len(deliveries))
        path(conn, deliveries[:cut], **where)
        path(conn, deliveries[cut:], **where)
        finals.append([row[:3] if row[2] == "CANCEL" else row for row in stored(conn)])

    assert finals == [FINAL] * 6


def test_every_order_of_one_session_deliveries_ends_in_the_same_row(
    conn: Any, where: dict[str, Any]
) -> None:
    versions = [session("p", 1), session("p", 2, EventKind.EXTEND, minutes=80),
                session("p", 3, EventKind.UPDATE, minutes=70)]  # fmt: skip
    finals = set()
    for order in itertools.permutations(versions):
        conn.execute("TRUNCATE activity.sessions")
        for record in order:
            store.ingest(conn, [record], **where)
        finals.add(tuple(stored(conn)))

    assert finals == {(("p", 3, "UPDATE", "ABC123", "N2", T0 + timedelta(minutes=70)),)}


def test_counts_say_what_each_delivery_did(conn: Any, where: dict[str, Any]) -> None:
    first = store.ingest(conn, [session("a", 1), session("b", 1)], **where)
    again = store.ingest(conn, [session("a", 1), session("b", 2), session("b", 1)], **where)

    assert (first.inserted, first.superseded, first.ignored) == (2, 0, 0)
    assert (again.inserted, again.superseded, again.ignored) == (0, 1, 2)


def test_a_cancel_is_final_even_against_a_later_version(conn: Any, where: dict[str, Any]) -> None:
    store.ingest(conn, [session("c", 2, EventKind.CANCEL)], **where)
    late = store.ingest(conn, [session("c", 1), session("c", 5, EventKind.UPDATE)], **where)

    assert [row[:3] for row in stored(conn)] == [("c", 2, "CANCEL")]
    assert late.ignored == 2


def test_a_batch_the_database_refuses_stores_nothing(conn: Any, where: dict[str, Any]) -> None:
    bad = replace(session("x", 1), region="not a region")  # adapters check it; the table too

    with pytest.raises(store.SessionStoreRefused, match="nothing was stored"):
        store.ingest(conn, [session("ok", 1), bad], **where)

    assert stored(conn) == []


# ------------------------------------------------------------------ quarantine


def test_unmatched_zones_are_quarantined_with_the_reason(conn: Any, where: dict[str, Any]) -> None:
    result = store.ingest(conn, [session("q", 1, zone="9999"), session("ok", 1)], **where)
    store.ingest(conn, [session("q", 1, zone="9999")], **where)  # redelivered: kept once

    assert (result.inserted, result.quarantined) == (1, 1)
    (held,) = store.quarantined(conn, "pm-main")
    assert (held.source_id, held.version, held.vendor_zone) == ("q", 1, "9999")
    assert held.reason == "vendor zone '9999' is mapped to no lot"
    assert held.record["plate"] == "ABC123"
    assert [row[0] for row in stored(conn)] == ["ok"]


def test_the_drop_policy_counts_unmatched_zones_and_keeps_nothing(
    conn: Any, where: dict[str, Any]
) -> None:
    result = store.ingest(conn, [session("q", 1, zone="9999")], policy="drop", **where)

    assert (result.dropped, result.quarantined) == (1, 0)
    assert store.quarantined(conn) == [] and stored(conn) == []


# ------------------------------------------------------------------ lookup


def add_permit(conn: Any, plate: str, type_code: str, until: datetime) -> str:
    account = conn.execute(
        "INSERT INTO activity.accounts (email, full_name, affiliation) "
        "VALUES ('p@example.edu', 'P', 'student') RETURNING id"
    ).fetchone()[0]
    vehicle = conn.execute(
        "INSERT INTO activity.vehicles (account_id, plate, plate_state) VALUES (%s, %s, 'ON') "
        "RETURNING id",
        (account, plate),
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO activity.permits (permit_number, account_id, permit_type_code, vehicle_id, "
        "status, price_cents, currency, valid_from, valid_until) "
        "VALUES ('P-0001', %s, %s, %s, 'active', 24000, 'USD', %s, %s)",
        (account, type_code, vehicle, T0 - timedelta(days=30), until),
    )
    return "P-0001"


def test_lookup_allows_a_permit_in_its_lots_and_says_which(conn: Any) -> None:
    add_permit(conn, "PRM 42", "STU-COMM", T0 + timedelta(days=90))

    answer = lookup.lookup(conn, "prm-42", "N2", T0)
    elsewhere = lookup.lookup(conn, "PRM42", "N1", T0)

    assert (answer.allowed, answer.basis, answer.reference) == (True, "permit", "P-0001")
    assert answer.reason.startswith("permit P-0001 (STU-COMM) is valid in N2 until 2026-07-30")
    assert (elsewhere.allowed, elsewhere.basis) == (False, "none")


def test_lookup_allows_a_paid_session_within_the_grace_and_not_after(
    conn: Any, where: dict[str, Any]
) -> None:
    store.ingest(conn, [session("s1", 1, minutes=60)], **where)
    end = T0 + timedelta(minutes=60)

    during = lookup.lookup(conn, "ABC123", "N2", T0 + timedelta(minutes=30), grace_minutes=5)
    grace = lookup.lookup(conn, "ABC123", "N2", end + timedelta(minutes=4), grace_minutes=5)
    after = lookup.lookup(conn, "ABC123", "N2", end + timedelta(minutes=6), grace_minutes=5)
    before = lookup.lookup(conn, "ABC123", "N2", T0 - timedelta(minutes=1), grace_minutes=5)

    assert (during.allowed, during.basis, during.reference, during.expires) == (
        True, "session", "pm-main/s1", end,
    )  # fmt: skip
    assert grace.allowed and "within the grace period" in grace.reason
    assert not after.allowed
    assert after.reason == (
        "not allowed: session pm-main/s1 ended 2026-05-01T14:00:00+00:00, beyond the 5-minute grace"
    )
    assert not before.allowed


def test_cancelled_and_test_sessions_never_authorize(conn: Any, where: dict[str, Any]) -> None:
    store.ingest(
        conn,
        [
            session("c", 1),
            session("c", 2, EventKind.CANCEL),
            session("t", 1, EventKind.TEST, plate="TEST1"),
        ],
        **where,
    )

    cancelled = lookup.lookup(conn, "ABC123", "N2", T0 + timedelta(minutes=10))
    test = lookup.lookup(conn, "TEST1", "N2", T0 + timedelta(minutes=10))

    assert not cancelled.allowed
    assert cancelled.reason == "not allowed: no active permit or paid session in N2"
    assert not test.allowed
    assert test.reason == (
        "not allowed: only a TEST session (pm-main/t); TEST sessions never authorize"
    )


def test_lookup_refuses_a_naive_time(conn: Any) -> None:
    with pytest.raises(UserInputError, match="needs a UTC offset"):
        lookup.lookup(conn, "ABC123", "N2", datetime(2026, 5, 1, 9))


def test_the_session_lookup_uses_its_index(conn: Any, where: dict[str, Any]) -> None:
    store.ingest(conn, [session(f"s{i}", 1, plate=f"P{i}") for i in range(2000)], **where)
    conn.execute("ANALYZE activity.sessions")
    params = {"plate": "P7", "lot": "N2", "at": T0, "grace": timedelta(minutes=5),
              "kinds": ["NEW", "EXTEND", "UPDATE"]}  # fmt: skip

    plan = conn.execute("EXPLAIN (FORMAT JSON) " + lookup.SESSION_SQL, params).fetchone()[0]

    assert "sessions_lookup_idx" in json.dumps(plan)


# ------------------------------------------------------------------ push and file drop


def test_pushed_deliveries_reach_the_lookup_once(conn: Any, where: dict[str, Any]) -> None:
    secret = b"whsec-test"
    event = {
        "transactionId": "px-1", "version": 1, "action": "NEW", "plate": "PUSH 1", "zone": ZONE_N2,
        "startTime": "2026-05-01T09:00:00", "endTime": "2026-05-01T11:00:00", "amount": "4.00",
    }  # fmt: skip
    extend = {**event, "version": 2, "action": "EXTEND", "endTime": "2026-05-01T12:00:00"}
    with mockvendors.PushReceiver(secret) as receiver:
        for body in (
            mockvendors.enforcement_data([extend]),
            mockvendors.enforcement_data([event]),
            mockvendors.enforcement_data([extend]),  # redelivered
        ):
            assert mockvendors.push(receiver.url, body, secret) == 202
        assert mockvendors.push(receiver.url, body, b"wrong") == 401
    for body in receiver.bodies:
        result = generic_push.parse(body, CONTEXT)
        store.ingest(conn, result.records, **where)

    answer = lookup.lookup(conn, "PUSH1", "N2", datetime(2026, 5, 1, 15, 30, tzinfo=UTC))

    assert receiver.refused == 1 and len(receiver.bodies) == 3
    assert answer.allowed and answer.expires == datetime(2026, 5, 1, 16, 0, tzinfo=UTC)
    assert [row[:3] for row in stored(conn)] == [("px-1", 2, "EXTEND")]


def test_a_dropped_file_is_ingested_and_its_failed_rows_written_back(
    conn: Any, where: dict[str, Any], tmp_path: Path
) -> None:
    rows = [
        {"session_id": "f1", "version": "1", "kind": "NEW", "plate": "FD1", "zone": ZONE_N2,
         "start": "2026-05-01 09:00", "end": "2026-05-01 10:00"},
        {"session_id": "f2", "version": "1", "kind": "NEW", "plate": "FD2", "zone": ZONE_N2,
         "start": "2026-03-08 02:30", "end": "2026-03-08 04:00"},
        {"session_id": "f3", "version": "1", "kind": "NEW", "plate": "FD3", "zone": "nowhere",
         "start": "2026-05-01 09:00", "end": "2026-05-01 10:00"},
    ]  # fmt: skip
    path = mockvendors.drop_file(tmp_path / "drop", "sessions-0900.csv", rows, delimiter=";")

    result = filedrop.process_file(conn, path, CONTEXT, **where)

    assert (result.ingest.inserted, result.ingest.quarantined) == (1, 1)
    assert result.error_file == filedrop.error_file_of(path)
    errors = result.error_file.read_text().splitlines()
    assert errors[0].startswith("line,reason,session_id")
    assert errors[1].startswith("3,2026-03-08T02:30:00 does not exist in America/Toronto")
    assert len(errors) == 2


def test_an_unreadable_drop_is_refused_whole(
    conn: Any, where: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfe not utf-8")

    with pytest.raises(
        UserInputError, match=r"bad\.csv: file is not UTF-8 text; nothing was stored"
    ):
        filedrop.process_file(conn, path, CONTEXT, **where)


# ------------------------------------------------------------------ reset


def test_reset_preview_clears_sessions_and_quarantine(
    databases: StackDatabases, conn: Any, where: dict[str, Any]
) -> None:
    store.ingest(conn, [session("s1", 1), session("q", 1, zone="9999")], **where)
    conn.close()

    databases.reset_working("reset-integ-1")

    with psycopg.connect(databases.url(databases.working), autocommit=True) as fresh:
        assert stored(fresh) == []
        assert store.quarantined(fresh) == []
        assert store.lots_and_zones(fresh)[1][ZONE_N2] == "N2"  # configuration kept


def test_a_database_without_the_sessions_tables_is_one_line_not_a_traceback(conn: Any) -> None:
    conn.execute("DROP TABLE activity.sessions")

    with pytest.raises(store.SessionStoreRefused) as caught:
        lookup.lookup(conn, "ABC123", "N2", T0)

    assert caught.value.exit_code is ExitCode.PRECONDITION
    assert str(caught.value) == (
        'the stage database refused answering a lookup: relation "activity.sessions" does not exist'
    )


@settings(
    deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.integers(1, 4),
            st.sampled_from([EventKind.NEW, EventKind.EXTEND, EventKind.UPDATE, EventKind.CANCEL]),
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 12),
)
def test_the_stored_version_is_the_largest_by_the_supersede_rule(
    conn: Any, where: dict[str, Any], deliveries: list[tuple[str, int, EventKind]], cut: int
) -> None:
    conn.execute("TRUNCATE activity.sessions")
    records = [session(source, version, kind) for source, version, kind in deliveries]

    store.ingest(conn, records[:cut], **where)
    store.ingest_row_by_row(conn, records[cut:], **where)

    expected = {}
    for r in records:
        best = expected.get(r.source_id)
        if best is None or supersede_key(r.kind, r.version) > supersede_key(*best):
            expected[r.source_id] = (r.kind, r.version)
    assert {row[0]: (EventKind(row[2]), row[1]) for row in stored(conn)} == expected
