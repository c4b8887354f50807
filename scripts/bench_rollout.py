"""Benchmark: `tenantctl rollout status --json` over 1,000 rollouts, from a cold process.

Starts a throwaway PostgreSQL, creates a control database and fills it with 1,000
rollouts at every stage (marks, phase completions, replans, pauses, milestones and
outbox rows, observations), then times, each in a fresh process:

- ``tenantctl rollout status --json``: the real command (a fixed number of queries);
- the naive way: the same summaries read client by client (one round of queries per
  client, as a loop over ``rollout status SLUG`` would do, without its live checks).

Usage: .venv/bin/python scripts/bench_rollout.py [--clients 1000] [--runs 5]
Goal: the real command answers in at most 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.core.rollout import CHECKS, billing_event, milestone_key  # noqa: E402
from infra.devtools import localtarget  # noqa: E402
from infra.ops.adapters.control import CONTROL_DATABASE_URL_ENV  # noqa: E402
from infra.ops.rollout.store import load_schedule  # noqa: E402

NAIVE = """
import json, sys
from infra.core.rollout_summary import attention_order, summarize
from infra.ops.adapters import control
from infra.ops.rollout import store as rollout_store
schedule = rollout_store.load_schedule()
with control.connect() as conn:
    clients = [r[0] for r in conn.execute("SELECT DISTINCT client FROM rollouts")]
    out = []
    for client in clients:
        row = rollout_store.find(conn, client)
        record = rollout_store.records_of(conn, [row])[row.id]
        obs = rollout_store.stored_observations(conn, [row.id])[row.id]
        out.append(summarize(schedule, record, obs, rollout_store.today()))
    out = attention_order(out)
    print(json.dumps({"rollouts": [s.to_json(detail=False) for s in out]}))
"""


def seed(url: str, clients: int) -> None:
    schedule = load_schedule()
    rng = random.Random(10)
    today = datetime.now(UTC).date()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for i in range(clients):
            client = f"client-{i:04d}"
            signed = today - timedelta(days=rng.randint(0, 150))
            rid = cur.execute(
                "INSERT INTO rollouts (client, contract, signed_off, created_by) "
                "VALUES (%s, 'C-1', %s, 'bench') RETURNING id",
                (client, signed),
            ).fetchone()[0]  # type: ignore[index]
            done_phases = rng.randint(0, 5)
            at = datetime.combine(signed, datetime.min.time(), UTC)
            marks, history = [], []
            earned = ["contract-signoff"]
            for phase in schedule.phases:
                in_phase = phase.number <= done_phases + 1
                for task in phase.tasks:
                    if task.observe is None and in_phase and rng.random() < 0.8:
                        marks.append((rid, task.key, "pat", at, None))
                        history.append((rid, at, "pat", "done", task.key, Jsonb({})))
                if phase.number <= done_phases:
                    at += timedelta(days=phase.estimate.max_days + rng.randint(-3, 10))
                    cur.execute(
                        "INSERT INTO phase_completions (rollout_id, phase, completed_at, "
                        "completed_by) VALUES (%s, %s, %s, 'pat')",
                        (rid, phase.number, at),
                    )
                    earned += list(phase.milestones)
            cur.executemany(
                "INSERT INTO task_marks (rollout_id, task, marked_by, marked_at, note) "
                "VALUES (%s, %s, %s, %s, %s)",
                marks,
            )
            cur.executemany(
                "INSERT INTO history (rollout_id, at, actor, action, subject, detail) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                history,
            )
            if rng.random() < 0.2:
                cur.execute(
                    "INSERT INTO replans (rollout_id, phase, min_days, max_days, reason, "
                    "replanned_by) VALUES (%s, 3, 28, 35, 'bench', 'pat')",
                    (rid,),
                )
            if rng.random() < 0.05:
                cur.execute(
                    "INSERT INTO pauses (rollout_id, started, reason, paused_by) "
                    "VALUES (%s, %s, 'bench', 'pat')",
                    (rid, today - timedelta(days=rng.randint(0, 20))),
                )
            for m in earned:
                key = milestone_key(client, "C-1", m)
                cur.execute(
                    "INSERT INTO milestones (id, rollout_id, client, contract, milestone, "
                    "occurred_at) VALUES (%s, %s, %s, 'C-1', %s, %s)",
                    (key, rid, client, m, at),
                )
                cur.execute(
                    "INSERT INTO outbox (milestone_id, event, published_at) VALUES (%s, %s, %s)",
                    (
                        key,
                        Jsonb(billing_event(client, "C-1", m, at)),
                        at if rng.random() < 0.95 else None,
                    ),
                )
            cur.executemany(
                "INSERT INTO observations (rollout_id, check_name, state, detail, checked_at) "
                "VALUES (%s, %s, %s, 'bench', now())",
                [(rid, c, rng.choice(["done", "not-done", "unknown"])) for c in CHECKS],
            )
        conn.execute("ANALYZE")


def cold(command: list[str], env: dict[str, str], runs: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - started)
        size = len(json.loads(done.stdout)["rollouts"])
    return times, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    cluster = localtarget.PostgresCluster.create()
    cluster.start()
    try:
        url = localtarget.create_control(cluster.admin_url, "bench_control")
        started = time.perf_counter()
        seed(url, args.clients)
        print(f"seeded {args.clients} rollouts in {time.perf_counter() - started:.1f}s")
        env = {**os.environ, CONTROL_DATABASE_URL_ENV: url, "PYTHONPATH": str(ROOT)}
        tenantctl = str(Path(sys.executable).parent / "tenantctl")
        real, n_real = cold([tenantctl, "rollout", "status", "--json"], env, args.runs)
        naive, n_naive = cold([sys.executable, "-c", NAIVE], env, args.runs)
        baseline, _ = [], 0
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run([tenantctl, "--version"], env=env, capture_output=True, check=True)
            baseline.append(time.perf_counter() - t0)
        assert n_real == n_naive == args.clients, (n_real, n_naive)
        print(f"{'':34} {'median':>8} {'min':>8} {'max':>8}")
        for name, times in (
            ("tenantctl rollout status --json", real),
            ("naive: per-client queries", naive),
            ("tenantctl --version (startup)", baseline),
        ):
            print(
                f"{name:34} {statistics.median(times):7.3f}s {min(times):7.3f}s {max(times):7.3f}s"
            )
        goal = statistics.median(real) <= 1.0
        print(
            f"goal <= 1 s for {args.clients} rollouts from a cold process: "
            f"{'met' if goal else 'NOT met'}"
        )
        return 0 if goal else 1
    finally:
        cluster.remove()


if __name__ == "__main__":
    sys.exit(main())
