"""Benchmark `tenantctl import permits` against row-by-row inserts, in one run.

Usage: .venv/bin/python scripts/bench_import.py [--rows 1000000] [--sample 20000]
                                                 [--memory-gb 1.0] [--accounts 100000]

Starts a throwaway PostgreSQL cluster, builds the demo client's database
(schema + seed), imports --accounts accounts and one vehicle each, then:

1. tenantctl's import (``infra.ops.content.import_engine.load``) of a --rows permit file:
   every row checked while streamed, COPY into a staging table, duplicate and
   reference checks in SQL, one INSERT ... ON CONFLICT, one commit;
2. the naive way on the same database: the same checks per row in Python, then
   one INSERT per row (looking up account and vehicle) in one transaction, for
   --sample rows, extrapolated to --rows (said so in the output);
3. peak memory (ru_maxrss of a child process) of a dry-run import of a
   generated file of --memory-gb GB (0 to skip), which is removed afterwards.

Prints numbers; asserts nothing. Files are generated under $TMPDIR.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from infra import PROJECT_DIR
from infra.core import rendering
from infra.core.import_kinds import KINDS
from infra.devtools import localtarget
from infra.ops.adapters.database import database_url
from infra.ops.content.import_engine import Problems, file_sha256, load
from infra.ops.stacks.stackfiles import read_spec

PERMIT_TYPE = "STU-COMM"


def write_accounts(path: Path, count: int) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(KINDS["accounts"].header)
        for i in range(count):
            w.writerow((f"user{i}@example.edu", f"User {i}", "student", f"S{i:07d}", ""))


def write_vehicles(path: Path, count: int) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(KINDS["vehicles"].header)
        for i in range(count):
            w.writerow((f"user{i}@example.edu", f"B{i:06d}", "CA", "Toyota", "Corolla", "Blue"))


def write_permits(
    path: Path, rows: int, accounts: int, prefix: str = "P", target_bytes: int = 0
) -> int:
    """*rows* permit rows (or rows until the file has *target_bytes*); the rows written."""
    header = KINDS["permits"].header
    written = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        f.write("\ufeff")  # a BOM, as spreadsheets write it
        w = csv.writer(f)
        w.writerow(header)
        i = 0
        while (target_bytes and f.tell() < target_bytes) or (not target_bytes and i < rows):
            a = i % accounts
            w.writerow(
                (
                    f"{prefix}-{i:09d}",
                    f"user{a}@example.edu",
                    PERMIT_TYPE,
                    f"B{a:06d}",
                    "CA",
                    "active",
                    "240.00",
                    "USD",
                    "2026-08-15T00:00:00-07:00",
                    "2027-08-14T23:59:59-07:00",
                )
            )
            i += 1
            written += 1
    return written


def import_with_tenantctl(
    url: str, kind: str, path: Path, dry_run: bool = False
) -> tuple[float, int]:
    problems = Problems()
    started = time.perf_counter()
    digest = file_sha256(path)
    with psycopg.connect(url) as conn:
        result = load(conn, KINDS[kind], path, digest, f"bench/{path.name}", problems, dry_run)
    seconds = time.perf_counter() - started
    if result.status not in ("loaded", "checked"):
        raise SystemExit(f"{kind} import failed: {result.summary} {problems.first[:3]}")
    return seconds, result.rows


def import_row_by_row(url: str, path: Path, limit: int) -> tuple[float, int]:
    """The naive way: check each row, then one INSERT per row, one transaction."""
    kind = KINDS["permits"]
    started = time.perf_counter()
    rows = 0
    with psycopg.connect(url) as conn, path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        cur = conn.cursor()
        for row in reader:
            values = {c.name: c.check(row[c.name]) for c in kind.columns}
            cur.execute(
                "INSERT INTO activity.permits (permit_number, account_id, permit_type_code, "
                "vehicle_id, status, price_cents, currency, valid_from, valid_until) "
                "SELECT %(permit_number)s, a.id, %(permit_type)s, v.id, %(status)s, "
                "%(price)s::int, %(currency)s, %(valid_from)s::timestamptz, "
                "%(valid_until)s::timestamptz FROM activity.accounts a JOIN activity.vehicles v "
                "ON v.account_id = a.id AND v.plate_state = %(plate_state)s "
                "AND v.plate = %(plate)s "
                "WHERE lower(a.email) = lower(%(account_email)s) "
                "ON CONFLICT (permit_number) DO UPDATE SET status = EXCLUDED.status",
                values,
            )
            if cur.rowcount != 1:
                raise SystemExit(f"row {rows + 2}: reference not found")
            rows += 1
            if rows >= limit:
                break
    return time.perf_counter() - started, rows


def child_peak_memory(url: str, path: Path) -> tuple[float, int, float]:
    """Dry-run import of *path* in a child process: (seconds, rows, peak RSS in MB)."""
    code = (
        "import sys; from pathlib import Path; from scripts.bench_import import "
        "import_with_tenantctl as f; s, n = f(sys.argv[1], 'permits', Path(sys.argv[2]), True); "
        "print(s, n)"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, "-c", code, url, str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
    ).stdout.split()
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kb <= before:
        print("  (peak RSS not above an earlier child's; number below is an upper bound)")
    return float(out[0]), int(out[1]), peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--memory-gb", type=float, default=1.0)
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()} on {os.cpu_count()} CPUs")
    cluster = localtarget.PostgresCluster.create()
    cluster.start()
    try:
        url = database_url(cluster.admin_url, "bench")
        with psycopg.connect(cluster.admin_url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench")
        spec = read_spec(PROJECT_DIR / "stacks", "demo", "preview")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(rendering.render_db_schema())  # type: ignore[arg-type]
            conn.execute(rendering.render_db_seed(spec))  # type: ignore[arg-type]

        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            folder = Path(tmp)
            accounts, vehicles = folder / "accounts.csv", folder / "vehicles.csv"
            write_accounts(accounts, args.accounts)
            write_vehicles(vehicles, args.accounts)
            s_acc, _ = import_with_tenantctl(url, "accounts", accounts)
            s_veh, _ = import_with_tenantctl(url, "vehicles", vehicles)
            print(f"setup: {args.accounts} accounts {s_acc:.2f}s, as many vehicles {s_veh:.2f}s")

            permits = folder / "permits.csv"
            write_permits(permits, args.rows, args.accounts)
            size_mb = permits.stat().st_size / 1e6
            seconds, rows = import_with_tenantctl(url, "permits", permits)
            print(
                f"tenantctl import permits: {rows} rows ({size_mb:.0f} MB) checked and loaded "
                f"in {seconds:.2f}s ({rows / seconds:,.0f} rows/s)"
            )

            naive_file = folder / "permits-naive.csv"
            write_permits(naive_file, args.sample, args.accounts, prefix="R")
            naive_s, naive_rows = import_row_by_row(url, naive_file, args.sample)
            projected = naive_s / naive_rows * rows
            print(
                f"row-by-row inserts: {naive_rows} rows in {naive_s:.2f}s "
                f"({naive_rows / naive_s:,.0f} rows/s); extrapolated to {rows} rows: "
                f"{projected:.1f}s (measured on a sample of {naive_rows}, not run in full)"
            )
            print(f"speed-up: {projected / seconds:.1f}x")

        if args.memory_gb > 0:
            with tempfile.TemporaryDirectory(prefix="bench-import-mem-") as tmp:
                big = Path(tmp) / "permits-big.csv"
                count = write_permits(
                    big, 0, args.accounts, prefix="M", target_bytes=int(args.memory_gb * 1e9)
                )
                gb = big.stat().st_size / 1e9
                secs, rows, peak = child_peak_memory(url, big)
                print(
                    f"peak memory: {peak:.0f} MB (ru_maxrss of the importing process) for a "
                    f"{gb:.2f} GB file of {count} rows, dry run, {secs:.1f}s; file removed"
                )
    finally:
        cluster.remove()


if __name__ == "__main__":
    main()
