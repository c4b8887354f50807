"""Benchmark and cross-check the capacity model: plan a whole mixed fleet offline.

Usage: .venv/bin/python scripts/bench_capacity.py [--clients 1000] [--own-domain 0.5] [--workers N]

Plans N synthetic clients (both stages each: 2N stacks), a share of them on their own
portal domain, with a process pool, and counts every quota over the whole fleet the
naive way (every plan). Side by side: ``tenantctl capacity``'s model (one plan per
shape and stage, the largest shape times N). Prints both counts per quota and both
times; the model must never count less than the fleet. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

from infra import PROJECT_DIR
from infra.core import naming
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS
from infra.ops.planning.capacity import COUNTERS, capacity, consumption
from infra.ops.stacks.stackfiles import read_spec
from infra.program.plan import plan_stack

STACKS = PROJECT_DIR / "stacks"


def _client_use(args: tuple[int, bool]) -> dict[str, int]:
    index, own_domain = args
    used = dict.fromkeys(COUNTERS, 0)
    for stage in naming.STAGES:
        base = read_spec(STACKS, "demo", stage)
        update: dict[str, object] = {"slug": f"client{index:04d}"}
        if stage == naming.PRODUCTION:
            update["live"] = True
            update["portal_domain"] = f"parking.client{index}.example.edu" if own_domain else None
        plan = plan_stack(base.model_copy(update=update), platform_outputs=EXAMPLE_PLATFORM_OUTPUTS)
        for key, value in consumption([plan]).items():
            used[key] += value
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--own-domain", type=float, default=0.5, help="share on their own domain")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")

    started = time.perf_counter()
    model = capacity(STACKS, args.clients)
    model_s = time.perf_counter() - started

    own = int(args.clients * args.own_domain)
    jobs = [(i, i < own) for i in range(args.clients)]
    started = time.perf_counter()
    fleet = dict.fromkeys(COUNTERS, 0)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for used in pool.map(_client_use, jobs, chunksize=16):
            for key, value in used.items():
                fleet[key] += value
    fleet_s = time.perf_counter() - started

    print(f"{'quota':<24}{'fleet (every plan)':>20}{'model (shapes x N)':>20}")
    short = []
    for use in model.uses:
        key = use.quota.key
        print(f"{key:<24}{fleet[key]:>20,}{use.total:>20,}")
        if use.total < fleet[key]:
            short.append(key)
    stacks = 2 * args.clients
    print(
        f"fleet: {stacks} stacks planned in {fleet_s:.1f} s ({stacks / fleet_s:.1f} stacks/s, "
        f"{args.workers} processes); model: {model_s:.1f} s ({fleet_s / model_s:.0f}x faster)"
    )
    print("model counts at least the fleet for every quota" if not short else f"UNDER: {short}")


if __name__ == "__main__":
    main()
