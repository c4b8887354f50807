"""Benchmark ``tenantctl verify`` on the demo client's preview on the local target.

Usage: .venv/bin/python scripts/bench_verify.py [--runs 2]

Starts moto (in process) and a throwaway PostgreSQL, creates the demo client from
stacks/tenant.example.yaml, then times ``tenantctl verify demo --json`` end to end
(reading the release and configuration, every page at both widths in headless
Chromium with axe-core, writing the bundle) and prints each run's wall time, the number
of checks and page loads, and the machine's load average. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner
from moto import settings as moto_settings

from infra import PROJECT_DIR
from infra.cli import main
from infra.devtools import localtarget


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    runs = parser.parse_args().runs
    moto_settings.ACM_VALIDATION_WAIT = 0
    folder = Path(tempfile.mkdtemp(prefix="bench-verify-")) / "stacks"
    folder.mkdir()
    shutil.copy(PROJECT_DIR / "stacks" / "platform-outputs.yaml", folder)
    cluster = localtarget.PostgresCluster.create()
    cluster.start()
    try:
        with localtarget.in_process() as endpoint:
            os.environ.update(localtarget.aws_environment(endpoint))
            os.environ[localtarget.DATABASE_URL_ENV] = cluster.admin_url
            os.environ.pop(localtarget.CONTROL_DATABASE_URL_ENV, None)
            runner = CliRunner()
            example = str(PROJECT_DIR / "stacks" / "tenant.example.yaml")
            created = runner.invoke(
                main, ["create", "demo", "--from", example, "--stacks-dir", str(folder)]
            )
            if created.exit_code != 0:
                raise SystemExit(f"create failed: {created.output}")
            for n in range(runs):
                start = time.monotonic()
                result = runner.invoke(
                    main, ["verify", "demo", "--json", "--stacks-dir", str(folder)]
                )
                wall = time.monotonic() - start
                doc = json.loads(result.stdout)
                loads = sum(1 for c in doc["checks"] if c["id"].startswith("render:"))
                print(
                    f"run {n + 1}: exit {result.exit_code}, {wall:.1f}s wall, "
                    f"{len(doc['checks'])} checks, {loads} page loads, "
                    f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
                )
    finally:
        cluster.remove()


if __name__ == "__main__":
    main_()
