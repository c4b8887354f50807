"""scripts/bench_integrations.py runs end to end at a small scale (numbers printed, never
judged here: timings on a shared machine are not a test)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import ROOT


def test_bench_integrations_reports_both_sides_of_each_measurement(pg_env: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench_integrations.py"),
            "--sessions",
            "3000",
            "--batch",
            "1000",
            "--row-by-row",
            "50",
            "--lookups",
            "60",
            "--naive-lookups",
            "3",
            "--database-url",
            pg_env,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"batch path .*: 3,000 sessions in [\d.]+s = [\d,]+ sessions/s", out)
    assert re.search(r"row by row .*: 50 sessions in [\d.]+s = [\d,]+ sessions/s", out)
    assert "redelivery of one batch: 1,000 of 1,000 ignored, 0 inserted" in out
    assert re.search(r"lookup \(permit \+ session, indexes\) at 3,050 sessions, 60 questions", out)
    assert re.search(r"lookup, naive .* 3 questions: p50 [\d.]+ ms, p99 [\d.]+ ms", out)
