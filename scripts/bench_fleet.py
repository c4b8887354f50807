"""Benchmark a fleet run on the embedded Temporal server, against the GitHub-matrix plan.

Usage: .venv/bin/python scripts/bench_fleet.py [--sizes 200,2000] [--concurrency 50]
         [--failure-rate 0.02] [--seconds 1-3] [--wave-size 500] [--canary 0]
       .venv/bin/python scripts/bench_fleet.py --smoke     (20 stacks of 0.1-0.3 s)

For each size N: N stacks (N/2 clients, both stages) in one fleet `deploy` run, exactly as
`tenantctl fleet run` runs it with no cluster configured: the embedded dev server (state
in a temporary folder) and a worker inside this process. Each stack's operation is a
stand-in process (bash: sleep a random 1-3 s, chosen per stack; fail with exit 8 at the
failure rate, per attempt, so the retry policy retries it) - one process per attempt, as
the real activity runs `tenantctl`. Retries start after 1 s (the product's default is
10 s), capped at 4 s.

Prints per size: wall time (submission to done) against the ideal (total work, failed
attempts included, / concurrency); engine overhead per activity, (wall x concurrency -
total work) / attempts, i.e. the slot time an attempt costs beyond its own work (process
start, scheduling, the gates between waves); the process overhead alone (each stack's
measured time minus its sleep); the peak RSS of this process (the worker) and of the
server. Then the plan `tenantctl changed` makes of the same stacks today: jobs, waves,
matrices (at most 256 jobs each) and deploy-workflow runs. Asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from infra.core import affected
from infra.core.affected import StackRef
from infra.ops.fleet import embedded, runs

STANDIN = (
    'sleep "$1"; '
    'if [ "$3" -gt 0 ] && [ $((RANDOM % $3)) -eq 0 ]; then '
    'echo "$0 failed" >> "$2"; echo "Error: simulated failure of $0" >&2; exit 8; fi; '
    'echo "$0 ok" >> "$2"'
)
"""$0 the stack, $1 its seconds, $2 the attempt log, $3 one in how many attempts fails."""


class Peak(threading.Thread):
    """The peak RSS of some processes, sampled every 0.2 s."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = dict.fromkeys(pids, 0)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for name, process in self.processes.items():
                with contextlib.suppress(psutil.Error):
                    self.peak[name] = max(self.peak[name], process.memory_info().rss)
            time.sleep(0.2)


def names(n: int) -> list[str]:
    clients = math.ceil(n / 2)
    stacks = [f"c{i:05d}-{stage}" for i in range(clients) for stage in ("preview", "production")]
    return stacks[:n]


def one_run(n: int, args: argparse.Namespace, folder: Path, server: embedded.Server) -> dict:
    rng = random.Random(args.seed + n)
    stacks = names(n)
    seconds = {s: round(rng.uniform(args.low, args.high), 3) for s in stacks}
    log = folder / f"attempts-{n}.log"
    one_in = round(1 / args.failure_rate) if args.failure_rate > 0 else 0

    def command(operation: str, stack: str) -> list[str]:
        return ["bash", "-c", STANDIN, stack, str(seconds[stack]), str(log), str(one_in)]

    settings = runs.Settings(
        server.address, task_queue=f"bench-{n}-{time.time_ns()}", embedded=folder
    )
    spec = runs.new_run(
        "deploy",
        stacks,
        canary=args.canary,
        wave_size=args.wave_size,
        concurrency=args.concurrency,
        failure_budget="10%",
        first_retry_seconds=1.0,
        max_retry_seconds=4.0,
    )
    peak = Peak({"worker": psutil.Process().pid, "server": server.pid})
    peak.start()
    started = time.monotonic()
    submitted = runs.submit(settings, spec)
    final = runs.follow(settings, submitted.run, runs.Following(command))
    wall = time.monotonic() - started
    peak.done.set()
    peak.join()

    attempts = [line.split() for line in log.read_text().splitlines()]
    work = sum(seconds[stack] for stack, _ in attempts)
    measured = [
        s["seconds"] - seconds[s["stack"]]
        for w in final["waves"]
        for s in w["stacks"]
        if s["state"] == "succeeded"
    ]
    ideal = work / args.concurrency
    return {
        "stacks": n,
        "waves": len(submitted.waves),
        "state": final["state"],
        "succeeded": final["counts"]["succeeded"],
        "failed": final["counts"]["failed"],
        "attempts": len(attempts),
        "failedAttempts": sum(1 for _, result in attempts if result == "failed"),
        "wall": wall,
        "ideal": ideal,
        "overhead": (wall * args.concurrency - work) / len(attempts),
        "process": statistics.mean(measured) if measured else float("nan"),
        "workerRss": peak.peak["worker"],
        "serverRss": peak.peak["server"],
    }


def matrix_plan(n: int) -> str:
    refs = [StackRef(*s.rsplit("-", 1)) for s in names(n)]  # type: ignore[arg-type]
    try:
        waves = affected.plan_waves(refs)
        runs_needed = 1
    except affected.UserInputError:
        waves = affected.plan_waves(refs, max_chunks=10**6)
        runs_needed = max(math.ceil(len(w.chunks) / affected.DEFAULT_MAX_CHUNKS) for w in waves)
    chunks = sum(len(w.chunks) for w in waves)
    return (
        f"{n} jobs in {len(waves)} waves, {chunks} matrices of at most "
        f"{affected.MATRIX_LIMIT} jobs, {runs_needed} deploy-workflow run(s) "
        f"({affected.DEFAULT_MAX_CHUNKS} matrix slots per wave); a dead runner's job is re-run "
        "by hand, no failure budget, no pause"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,2000")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--failure-rate", type=float, default=0.02)
    parser.add_argument("--seconds", default="1-3", help="each stack's operation: LOW-HIGH")
    parser.add_argument("--wave-size", type=int, default=500)
    parser.add_argument("--canary", type=int, default=0)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--smoke", action="store_true", help="20 stacks of 0.1-0.3 s")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.seconds, args.concurrency = "20", "0.1-0.3", 5
    args.low, args.high = (float(x) for x in args.seconds.split("-"))
    sizes = [int(x) for x in args.sizes.split(",")]

    print(
        f"concurrency {args.concurrency}, {args.seconds} s per stack, failure rate "
        f"{args.failure_rate:.0%} per attempt, waves of {args.wave_size} after a canary of "
        f"{args.canary}; {psutil.cpu_count()} CPUs, load {psutil.getloadavg()[0]:.1f}",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        folder = Path(tmp)
        server = embedded.ensure(folder)
        try:
            for n in sizes:
                r = one_run(n, args, folder, server)
                results.append(r)
                print(
                    f"{r['stacks']:>5} stacks, {r['waves']} waves: {r['state']}, "
                    f"{r['succeeded']} succeeded, {r['failed']} failed, {r['attempts']} attempts "
                    f"({r['failedAttempts']} failed); wall {r['wall']:.1f} s vs ideal "
                    f"{r['ideal']:.1f} s ({r['wall'] / r['ideal']:.2f}x); engine overhead "
                    f"{r['overhead']:.2f} s per activity (process start "
                    f"{r['process'] * 1000:.0f} ms); peak RSS worker "
                    f"{r['workerRss'] / 2**20:.0f} MiB, server {r['serverRss'] / 2**20:.0f} MiB",
                    flush=True,
                )
                print(f"      GitHub matrices for the same stacks: {matrix_plan(r['stacks'])}")
        finally:
            embedded.stop(folder)
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(
            f"{first['stacks']} -> {last['stacks']} stacks "
            f"({last['stacks'] / first['stacks']:.0f}x): wall {first['wall']:.1f} s -> "
            f"{last['wall']:.1f} s ({last['wall'] / first['wall']:.1f}x), ideal "
            f"{last['ideal'] / first['ideal']:.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
