"""The portfolio report (``tenantctl rollout report --html``) in real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.ops.adapters import control
from infra.ops.rollout import reads as rollout_reads
from infra.ops.rollout import store as rollout_store
from infra.ops.rollout import transitions as rollout_transitions

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Chromium (Debian package chromium) is not installed"
)


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--disable-gpu",
            "--no-sandbox",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def portfolio(control_env: str) -> list[str]:
    """Rollouts at different points: just signed, late in phase 1, and well advanced."""
    schedule = rollout_store.load_schedule()
    today = rollout_store.today()
    clients = {
        "fresh-college": today - timedelta(days=2),
        "late-university": today - timedelta(days=40),
        "advanced-city": today - timedelta(days=60),
    }
    with control.connect() as conn:
        for client, signed in clients.items():
            rollout_transitions.start(conn, client, "C-1", signed, "pat")
        for phase in (1, 2, 3):
            rollout_transitions.complete_phase(
                conn, schedule, "advanced-city", phase, "pat", None, override_reason="test data"
            )
    return list(clients)


@needs_chromium
def test_report_renders_every_client_without_console_errors(portfolio: list[str], tmp_path: Path):
    page = tmp_path / "rollouts.html"
    result = CliRunner().invoke(main, ["rollout", "report", "--html", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "external load"

    dom = chromium("--dump-dom", page.as_uri())

    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = re.findall(r'<tr class="rollout[^"]*" data-client="([^"]+)"', dom.stdout)
    assert sorted(rendered) == sorted(portfolio)
    assert rendered[0] == "late-university"  # attention first
    assert 'class="today"' in dom.stdout
    assert "bar planned" in dom.stdout and "late" in dom.stdout
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == []

    shot = tmp_path / "rollouts.png"
    chromium(f"--screenshot={shot}", "--window-size=1400,700", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000


def test_report_of_an_empty_portfolio_is_still_a_page(control_env: str, tmp_path: Path):
    page = tmp_path / "empty.html"
    result = CliRunner().invoke(main, ["rollout", "report", "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert "0 rollout(s)" in page.read_text()


def test_report_marks_a_late_phase(portfolio: list[str]):
    from infra.ops.rollout.report import render_report

    with control.connect() as conn:
        summaries = rollout_reads.status_all(conn, rollout_store.load_schedule(), date.today())
    html = render_report(summaries, date.today())
    late_row = html.split('data-client="late-university"')[1].split("</tr>")[0]
    fresh_row = html.split('data-client="fresh-college"')[1].split("</tr>")[0]
    assert "bar current late" in late_row and "late by" in late_row
    assert " late" not in fresh_row.replace("late-", "")
