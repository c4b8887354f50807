"""Benchmark session ingestion and the enforcement lookup against the naive ways, in one run.

Usage: .venv/bin/python scripts/bench_integrations.py [--sessions 1000000] [--batch 5000]
           [--row-by-row 20000] [--lookups 2000] [--naive-lookups 20] [--database-url URL]

Starts a throwaway PostgreSQL cluster (fsync on, like a real server; or uses
--database-url, an admin URL), builds the demo client's preview database from the real
schema and seed, then:

1. ingestion, batch path (``infra.ops.integrations.store.ingest``: COPY into a temporary
   table and one set-based merge per --batch records, one commit each, as the queue
   consumer does) of --sessions synthetic sessions over the demo lots;
2. ingestion, row by row (``ingest_row_by_row``: one INSERT ... ON CONFLICT and one
   commit per session, as a naive consumer does) of --row-by-row more;
3. the lookup (``infra.ops.integrations.lookup.lookup``: permit, then session, through
   their indexes) for --lookups random (plate, lot, time) questions, half of them
   about a stored session; p50 and p99;
4. the same session question with index scans disabled (a sequential scan) for
   --naive-lookups questions; p50 and p99.

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg

from infra import PROJECT_DIR
from infra.core import naming, rendering
from infra.core.integrations.record import EventKind, SessionRecord
from infra.devtools import localtarget
from infra.ops.adapters.database import StackDatabases
from infra.ops.integrations import lookup, store
from infra.ops.stacks.stackfiles import read_spec

EPOCH = datetime(2026, 5, 1, 11, 0, tzinfo=UTC)
DAYS = 30
GRACE = 5


def sessions(
    count: int, integration: str, zones: list[str], plates: int, seed: int
) -> list[SessionRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        start = EPOCH + timedelta(minutes=rng.randrange(DAYS * 24 * 60))
        out.append(
            SessionRecord(
                integration,
                f"{integration}-{i}",
                1,
                EventKind.NEW,
                f"B{rng.randrange(plates):07d}",
                start,
                start + timedelta(minutes=rng.choice((30, 60, 120, 240))),
                rng.choice(zones),
                amount_minor=rng.randrange(100, 2000),
                currency="USD",
                payload_sha256="0" * 64,
            )
        )
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed_ms(fn: object, questions: list[tuple[str, str, datetime]]) -> list[float]:
    out = []
    for plate, lot, at in questions:
        started = time.perf_counter()
        fn(plate, lot, at)  # type: ignore[operator]
        out.append((time.perf_counter() - started) * 1000)
    return out


def run(admin_url: str, args: argparse.Namespace) -> None:
    databases = StackDatabases(admin_url, "benchinteg", naming.PREVIEW)
    spec = read_spec(PROJECT_DIR / "stacks", "demo", "preview")
    databases.seed_defaults(rendering.render_db_schema(), rendering.render_db_seed(spec))
    databases.create_working()
    with psycopg.connect(databases.url(databases.working), autocommit=True) as conn:
        conn.execute("TRUNCATE activity.sessions, activity.session_quarantine")
        lots, zone_map = store.lots_and_zones(conn)
        zones = sorted(zone_map)
        plates = max(1, args.sessions // 5)

        made = time.perf_counter()
        batch_records = sessions(args.sessions, "bench-batch", zones, plates, 1)
        naive_records = sessions(args.row_by_row, "bench-naive", zones, plates, 2)
        made = time.perf_counter() - made
        print(f"generated {args.sessions + args.row_by_row:,} session records in {made:.1f}s")

        started = time.perf_counter()
        for i in range(0, len(batch_records), args.batch):
            store.ingest(conn, batch_records[i : i + args.batch], zone_map=zone_map, lots=lots)
        batch_s = time.perf_counter() - started
        rate = args.sessions / batch_s
        print(
            f"ingest, batch path (COPY + one merge per {args.batch:,}, one commit each): "
            f"{args.sessions:,} sessions in {batch_s:.2f}s = {rate:,.0f} sessions/s"
        )

        started = time.perf_counter()
        store.ingest_row_by_row(conn, naive_records, zone_map=zone_map, lots=lots)
        naive_s = time.perf_counter() - started
        naive_rate = args.row_by_row / naive_s if naive_s else float("nan")
        print(
            f"ingest, row by row (one INSERT and one commit per session): {args.row_by_row:,} "
            f"sessions in {naive_s:.2f}s = {naive_rate:,.0f} sessions/s "
            f"(batch path {rate / naive_rate:.1f}x)"
        )
        again = time.perf_counter()
        redelivered = store.ingest(conn, batch_records[: args.batch], zone_map=zone_map, lots=lots)
        print(
            f"redelivery of one batch: {redelivered.ignored:,} of {redelivered.received:,} "
            f"ignored, {redelivered.inserted} inserted, in {time.perf_counter() - again:.2f}s"
        )

        conn.execute("VACUUM ANALYZE activity.sessions")
        total = conn.execute("SELECT count(*) FROM activity.sessions").fetchone()[0]  # type: ignore[index]
        rng = random.Random(3)
        code_of = {z: zone_map[z] for z in zones}
        questions = []
        for n in range(args.lookups):
            if n % 2 == 0:
                r = rng.choice(batch_records)
                questions.append((r.plate, code_of[r.vendor_zone], r.start + timedelta(minutes=10)))
            else:
                at = EPOCH + timedelta(minutes=rng.randrange(DAYS * 24 * 60))
                questions.append((f"B{rng.randrange(plates):07d}", rng.choice(sorted(lots)), at))
        # A lookup service does not hold a million records: freed here, so that Python's
        # collector walking them does not show up as the lookup's tail latency.
        del batch_records, naive_records
        gc.collect()
        warm = questions[:20]  # plans prepared and caches warm before timing, for both sides
        timed_ms(lambda p, lot, at: lookup.lookup(conn, p, lot, at, grace_minutes=GRACE), warm)
        indexed = timed_ms(
            lambda p, lot, at: lookup.lookup(conn, p, lot, at, grace_minutes=GRACE), questions
        )
        allowed = sum(
            lookup.lookup(conn, p, lot, at, grace_minutes=GRACE).allowed for p, lot, at in questions
        )
        print(
            f"lookup (permit + session, indexes) at {total:,} sessions, {len(questions):,} "
            f"questions ({allowed:,} allowed): p50 {percentile(indexed, 0.5):.2f} ms, "
            f"p99 {percentile(indexed, 0.99):.2f} ms"
        )
        sample = questions[: args.naive_lookups]
        naive = timed_ms(
            lambda p, lot, at: lookup.naive_session_lookup(conn, p, lot, at, GRACE), sample
        )
        print(
            f"lookup, naive (session half, sequential scan) at {total:,} sessions, "
            f"{len(sample)} questions: p50 {percentile(naive, 0.5):.2f} ms, "
            f"p99 {percentile(naive, 0.99):.2f} ms "
            f"(indexed p99 is {percentile(naive, 0.99) / percentile(indexed, 0.99):,.0f}x faster)"
        )
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('activity.sessions')), "
            "pg_size_pretty(pg_relation_size('activity.sessions_lookup_idx'))"
        ).fetchone()
        print(f"sessions table with indexes: {size[0]}; lookup index: {size[1]}")  # type: ignore[index]
        print(f"median of the indexed lookups: {statistics.median(indexed):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--row-by-row", type=int, default=20_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--naive-lookups", type=int, default=20)
    parser.add_argument(
        "--database-url", help="an admin URL of an existing server (else a throwaway one)"
    )
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()} on {os.cpu_count()} CPUs")
    if args.database_url:
        run(args.database_url, args)
        return
    cluster = localtarget.PostgresCluster.create(durable=True)
    cluster.start()
    try:
        run(cluster.admin_url, args)
    finally:
        cluster.remove()


if __name__ == "__main__":
    main()
