"""Benchmark `tenantctl changed` on a fleet-sized repository, against the naive way.

Usage: .venv/bin/python scripts/bench_changed.py [--clients 1000] [--runs 5]

Builds a throwaway git repository with N clients (two stack files each, as in
stacks/) and times, for three changes (one stack file, one tenant file, a
template), the affected-stack computation (`infra.ops.planning.changes.affected`: one
`git diff --name-status`, one `git ls-tree`, `git show` only for changed tenant
files) against the naive way (one `git diff --quiet` per stack over the stack's
file and every path that affects all stacks; it cannot see tenant files). Prints numbers;
asserts nothing else.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from infra import PROJECT_DIR
from infra.core import affected as rules
from infra.ops.planning.changes import affected

STACKS = PROJECT_DIR / "stacks"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def build(root: Path, clients: int) -> tuple[str, dict[str, str]]:
    (root / "stacks").mkdir(parents=True)
    (root / "templates").mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "config", "user.name", "bench")
    texts = {s: (STACKS / f"Pulumi.demo-{s}.yaml").read_text() for s in ("preview", "production")}
    for i in range(clients):
        slug = f"client-{i:04d}"
        for stage, text in texts.items():
            (root / "stacks" / f"Pulumi.{slug}-{stage}.yaml").write_text(text.replace("demo", slug))
    tenant = (STACKS / "tenant.example.yaml").read_text().replace("slug: demo", "slug: client-0007")
    (root / "stacks" / "client-0007.yaml").write_text(tenant)
    (root / "templates" / "home.html").write_text("<h1>home</h1>\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fleet")
    base = git(root, "rev-parse", "HEAD")
    heads = {}
    for name, path, text in (
        ("one stack file", "stacks/Pulumi.client-0003-production.yaml", "# edited\n"),
        ("one tenant file", "stacks/client-0007.yaml", "# edited\n"),
        ("a template", "templates/home.html", "<h1>new</h1>\n"),
    ):
        git(root, "checkout", "-q", "-B", name.replace(" ", "-"), base)
        with open(root / path, "a") as f:
            f.write(text)
        git(root, "commit", "-q", "-am", name)
        heads[name] = git(root, "rev-parse", "HEAD")
    return base, heads


def naive(repo: Path, base: str, head: str) -> list[str]:
    """One `git diff --quiet` per stack: its own file plus every path that affects all."""
    every = [p.rstrip("/") for p in rules.EVERY_STACK_PATHS]
    found = []
    for ref in rules.head_stacks(git(repo, "ls-tree", "-r", "--name-only", head, "stacks").split()):
        own = f"stacks/Pulumi.{ref.stack}.yaml"
        done = subprocess.run(
            ["git", "-C", str(repo), "diff", "--quiet", f"{base}...{head}", "--", own, *every],
            check=False,
        )
        if done.returncode == 1:
            found.append(ref.stack)
    return found


T = TypeVar("T")


def timed(fn: Callable[[], T], runs: int) -> tuple[float, T]:
    samples: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        base, heads = build(repo, args.clients)
        print(f"{args.clients} clients, {2 * args.clients} stacks; median of {args.runs} runs")
        for name, head in heads.items():
            fast, result = timed(partial(affected, repo, base, head), args.runs)
            slow, slow_found = timed(partial(naive, repo, base, head), 1)
            ours = sorted(r.stack for r in result[2].stacks)
            missed = sorted(set(ours) - set(slow_found))
            note = "agree" if ours == sorted(slow_found) else f"naive misses {len(missed)}"
            print(
                f"  {name:16} {len(ours):5} stacks  changed: {fast * 1000:7.1f} ms   "
                f"naive per-stack git diff: {slow * 1000:8.1f} ms   ({note})"
            )


if __name__ == "__main__":
    main()
