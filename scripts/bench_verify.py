"""Benchmark ``tenantctl verify`` on the demo client's preview on the local target.

Usage: .venv/bin/python scripts/bench_verify.py [--runs 2] [--permit-types 50]

Starts moto (in process) and a throwaway PostgreSQL, creates the demo client from
stacks/tenant.example.yaml, then times ``tenantctl verify demo --json`` end to end
(reading the release and configuration, every page at both widths in headless
Chromium with axe-core, writing the bundle) and prints each run's wall time, the number
of checks and page loads, and the machine's load average; then adds permit types to the
preview's configuration (copies of the first, each valid in its lots) until there are
``--permit-types`` on sale and times it again. Asserts nothing.
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
from infra.core import naming
from infra.devtools import localtarget
from infra.ops.adapters.database import connect, database_url


def _time_one(runner: CliRunner, folder: Path, label: str) -> None:
    start = time.monotonic()
    result = runner.invoke(main, ["verify", "demo", "--json", "--stacks-dir", str(folder)])
    wall = time.monotonic() - start
    doc = json.loads(result.stdout)
    loads = sum(1 for c in doc["checks"] if c["id"].startswith("render:"))
    print(
        f"{label}: exit {result.exit_code}, {wall:.1f}s wall, "
        f"{len(doc['checks'])} checks, {loads} page loads, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


def _add_permit_types(url: str, total: int) -> int:
    """Copies of the first permit type on sale until *total* are on sale; returns the count."""
    with connect(url) as conn:
        on_sale = conn.execute(
            "SELECT count(*) FROM config.permit_types WHERE active AND on_sale"
        ).fetchone()
        assert on_sale is not None
        for n in range(total - int(on_sale[0])):
            code = f"BENCH-{n + 1:03d}"
            conn.execute(
                "INSERT INTO config.permit_types (code, name, description, price_cents, "
                "term_code, duration_days, eligible_groups, active, on_sale, sort_order) "
                "SELECT %s, %s, description, price_cents + %s, term_code, duration_days, "
                "eligible_groups, active, on_sale, 1000 + %s FROM config.permit_types "
                "WHERE active AND on_sale ORDER BY sort_order, code LIMIT 1",
                (code, f"Bench permit {n + 1}", 100 * (n + 1), n),
            )
            conn.execute(
                "INSERT INTO config.permit_type_lots (id, permit_type_code, lot_code) "
                "SELECT %s || '@' || lot_code, %s, lot_code FROM config.permit_type_lots "
                "WHERE permit_type_code = (SELECT code FROM config.permit_types "
                "WHERE active AND on_sale AND code NOT LIKE 'BENCH-%%' "
                "ORDER BY sort_order, code LIMIT 1)",
                (code, code),
            )
        found = conn.execute(
            "SELECT count(*) FROM config.permit_types WHERE active AND on_sale"
        ).fetchone()
    assert found is not None
    return int(found[0])


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--permit-types", type=int, default=50)
    args = parser.parse_args()
    runs = args.runs
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
            # the platform's bucket where client locks live, as the local target makes it
            localtarget.create_operations_bucket(endpoint, localtarget.LOCAL_REGION)
            runner = CliRunner()
            example = str(PROJECT_DIR / "stacks" / "tenant.example.yaml")
            created = runner.invoke(
                main, ["create", "demo", "--from", example, "--stacks-dir", str(folder)]
            )
            if created.exit_code != 0:
                raise SystemExit(f"create failed: {created.output}")
            working = database_url(cluster.admin_url, naming.database_name("demo", naming.PREVIEW))
            for label in ("demo client", f"{args.permit_types} permit types"):
                if label != "demo client":
                    print(f"{_add_permit_types(working, args.permit_types)} permit types on sale")
                for n in range(runs):
                    _time_one(runner, folder, f"{label}, run {n + 1}")
    finally:
        cluster.remove()


if __name__ == "__main__":
    main_()
