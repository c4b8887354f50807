"""Benchmark the offline plan: one stack in a warm process, and a fleet across all cores.

Usage: .venv/bin/python scripts/bench_plan.py [--runs 30] [--tenants 200] [--workers N]

Prints numbers; asserts nothing but that a plan made again is the first one. The
fleet is N synthetic tenants (valid specs derived from the reference tenant with
new slugs, so nothing is planned twice), both stages each, planned
by a process pool (the Pulumi SDK runs one program per thread/event loop, so
processes are how a fleet uses more than one core).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from infra import PROJECT_DIR
from infra.core import naming
from infra.core.spec import TenantSpec
from infra.ops.stacks.stackfiles import read_spec
from infra.program.plan import plan_program, plan_stack
from infra.program.stack import define_stack

STACKS = PROJECT_DIR / "stacks"


def demo_spec(stage: naming.Stage) -> TenantSpec:
    return read_spec(STACKS, "demo", stage)


def synthetic(index: int, stage: naming.Stage) -> TenantSpec:
    base = demo_spec(stage)
    slug = f"client{index:04d}"
    update: dict[str, object] = {"slug": slug, "display_name": f"Client {index} Parking"}
    if stage == naming.PRODUCTION:
        update["portal_domain"] = f"parking.client{index}.example.edu"
    return base.model_copy(update=update)


def _plan_batch(indices: list[int]) -> int:
    count = 0
    for i in indices:
        for stage in naming.STAGES:
            plan_stack(synthetic(i, stage))
            count += 1
    return count


def _summary(samples: list[float]) -> str:
    samples.sort()
    return (
        f"median {statistics.median(samples):.1f} ms, "
        f"p90 {samples[int(len(samples) * 0.9) - 1]:.1f} ms, min {samples[0]:.1f} ms"
    )


def warm_single(runs: int) -> None:
    """Each stage's stack evaluated afresh (``plan_program``, what ``plan_stack`` does the
    first time), then planned again with ``plan_stack`` (the plan kept the first time)."""
    for stage in naming.STAGES:
        spec = demo_spec(stage)
        plan = plan_stack(spec)  # warm: imports, template compilation; kept from now on
        fresh, kept = [], []
        for _ in range(runs):
            started = time.perf_counter()
            plan_program(lambda: define_stack(spec), spec.stack_name)  # noqa: B023 - run now
            fresh.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            again = plan_stack(spec)
            kept.append((time.perf_counter() - started) * 1000)
            assert again == plan, "a kept plan differs from the first"
        print(
            f"plan {spec.stack_name:18} {len(plan.resources)} resources, {runs} warm runs: "
            f"evaluated {_summary(fresh)}; planned again (kept) {_summary(kept)}"
        )


def fleet(tenants: int, workers: int) -> None:
    indices = list(range(tenants))
    started = time.perf_counter()
    done = _plan_batch(indices[: max(1, tenants // 10)])
    serial_rate = done / (time.perf_counter() - started)
    print(f"fleet serial (1 process, {done} stacks): {serial_rate:.1f} stacks/s")

    chunks = [indices[i::workers] for i in range(workers)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        total = sum(pool.map(_plan_batch, chunks))
    elapsed = time.perf_counter() - started
    print(
        f"fleet parallel ({workers} processes, {tenants} tenants x 2 stages = {total} stacks): "
        f"{elapsed:.1f} s, {total / elapsed:.1f} stacks/s "
        f"({total / elapsed / serial_rate:.2f}x serial; includes process start-up)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    warm_single(args.runs)
    fleet(args.tenants, args.workers)


if __name__ == "__main__":
    main()
