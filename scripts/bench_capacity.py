"""Benchmark and cross-check the capacity model: plan a whole mixed fleet offline.

Usage: .venv/bin/python scripts/bench_capacity.py [--clients 1000] [--mix SHAPE=W,...] [--workers N]

Plans N synthetic clients (both stages each: 2N stacks) of every shape ``tenantctl
capacity`` counts (``infra.ops.planning.shapes.SHAPES``, derived from the demo as its
stack files say; by default an equal share of each, ``--mix platform-domain=3,own-domain=1``
to weigh them), with a process pool, and counts every quota over the whole fleet the
naive way: every plan, plus the pool servers the fleet's pooled stacks fill (previews and
pooled productions: ceil(stacks / capacity) servers per stage, each what
``pool_server_use`` says). Side by side: the model (one plan per shape and stage, the
shape needing most times N, with its pool servers). Prints both counts per quota (RDS
storage also at every instance's autoscaling ceiling) and both times; the model must
never count less than the fleet. Asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from functools import cache

from infra import PROJECT_DIR
from infra.core import naming
from infra.core.platform import REFERENCE_POOL_SERVERS, database_pools, find_pool
from infra.core.spec import TenantSpec
from infra.ops.planning.capacity import (
    COUNTERS,
    GROWTH,
    capacity,
    consumption,
    growth,
    pool_server_use,
)
from infra.ops.planning.shapes import NEEDS_OUTPUT, SHAPES, reference_client
from infra.ops.stacks.platformfile import platform_outputs
from infra.ops.stacks.stackfiles import read_spec
from infra.program.plan import plan_stack

STACKS = PROJECT_DIR / "stacks"
CEILING = " at ceiling"
"""Suffix of a ``GROWTH`` quota's key for what it comes to at the autoscaling ceilings."""


@cache
def _reference() -> tuple[tuple[TenantSpec, ...], dict[str, object]]:
    slug = reference_client(STACKS)
    specs = tuple(read_spec(STACKS, slug, stage) for stage in naming.STAGES)
    return specs, dict(platform_outputs(STACKS, specs[0].platform_stack))


def _client_use(args: tuple[int, str]) -> tuple[dict[str, int], dict[str, int]]:
    """One client of *shape*: what its plans use of each quota (and of the ceilings), and
    stage -> the capacity of the pool server each pooled stack of it is on."""
    index, shape = args
    specs, outputs = _reference()
    make = SHAPES[shape][1]
    used = Counter[str]()
    pooled: dict[str, int] = {}
    for base in specs:
        renamed = base.model_copy(update={"slug": f"client{index:04d}", "portal_domain": None})
        spec = make(renamed, outputs)
        plan = plan_stack(spec, platform_outputs=outputs)
        used.update(consumption([plan]))
        used.update({key + CEILING: value for key, value in growth([plan]).items()})
        if spec.database_pool is not None:
            pools = database_pools(spec.platform_stack, outputs, spec.stage)
            pooled[spec.stage] = find_pool(spec.platform_stack, pools, spec.database_pool).capacity
    return dict(used), pooled


def _mix(text: str | None) -> dict[str, int]:
    _, outputs = _reference()
    offered = [n for n in SHAPES if n not in NEEDS_OUTPUT or outputs.get(NEEDS_OUTPUT[n])]
    if not text:
        return dict.fromkeys(offered, 1)
    weights = {name: int(weight) for name, weight in (p.split("=") for p in text.split(","))}
    unknown = set(weights) - set(offered)
    if unknown:
        raise SystemExit(f"--mix: no shape {sorted(unknown)}; the shapes are {offered}")
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--mix", help="shape=weight,... (default: an equal share of each)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")

    started = time.perf_counter()
    model = capacity(STACKS, args.clients)
    model_s = time.perf_counter() - started

    weights = _mix(args.mix)
    cycle = [name for name, weight in weights.items() for _ in range(weight)]
    jobs = [(i, cycle[i % len(cycle)]) for i in range(args.clients)]
    started = time.perf_counter()
    fleet = Counter[str]()
    pooled: dict[str, Counter[int]] = {stage: Counter() for stage in naming.STAGES}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for used, on_pools in pool.map(_client_use, jobs, chunksize=16):
            fleet.update(used)
            for stage, pool_capacity in on_pools.items():
                pooled[stage][pool_capacity] += 1
    servers = Counter[str]()
    for stage, by_capacity in pooled.items():
        count = sum(math.ceil(n / c) for c, n in by_capacity.items())
        use = pool_server_use(REFERENCE_POOL_SERVERS[stage])
        servers.update({key: value * count for key, value in use.items()})
        servers.update({key + CEILING: use.get(key, 0) * count for key in GROWTH})
        print(f"{stage}: {sum(by_capacity.values())} pooled stacks on {count} pool servers")
    fleet.update(servers)
    fleet_s = time.perf_counter() - started

    print(f"mix: {', '.join(f'{name} {cycle.count(name)}/{len(cycle)}' for name in weights)}")
    print(f"{'quota':<30}{'fleet (every plan)':>20}{'of it pool servers':>20}{'model':>12}")
    rows = [(use.quota.key, use.total) for use in model.uses]
    rows += [(u.quota.key + CEILING, u.ceiling.total) for u in model.uses if u.ceiling]
    short = []
    for key, modelled in rows:
        print(f"{key:<30}{fleet[key]:>20,}{servers[key]:>20,}{modelled:>12,}")
        if modelled < fleet[key]:
            short.append(key)
    assert set(COUNTERS) == {key for key, _ in rows if not key.endswith(CEILING)}
    stacks = 2 * args.clients
    print(
        f"fleet: {stacks} stacks planned in {fleet_s:.1f} s ({stacks / fleet_s:.1f} stacks/s, "
        f"{args.workers} processes); model: {model_s:.1f} s ({fleet_s / model_s:.0f}x faster)"
    )
    print("model counts at least the fleet for every quota" if not short else f"UNDER: {short}")


if __name__ == "__main__":
    main()
