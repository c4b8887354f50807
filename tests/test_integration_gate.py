"""The rollout's "integrations verified" task and the go-live gate (issue 19 B): a client
whose integration has an unmapped vendor zone cannot complete testing or go live, and is
told which zone; once every zone is mapped or ignored and the integration has a passing
``integration test`` round trip it can (without the round trip it is named too). Local target with a
control database."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.core.errors import ExitCode
from tests.helpers import LIVE, SANDBOX, SLUG, cli, create_demo, ok, ready_for_go_live
from tests.test_rollout import (
    complete_manual_tasks,
    status,
    subscribe_queue,
    task,
    verify_and_accept,
)

ADD = (
    "integration", "add", SLUG, "meters", "--vendor", "generic-push", "--mode", "push",
    "--timezone", "America/New_York",
)  # fmt: skip


@pytest.fixture
def stacks(tmp_path: Path, control_env: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    subscribe_queue()
    return create_demo(tmp_path, monkeypatch, "--contract", "C-1")


def test_no_integrations_is_not_applicable(stacks: Path) -> None:
    verified = task(status(stacks), "integrations-verified")
    assert verified["state"] == "done" and "not applicable" in verified["how"]


def test_an_unmapped_zone_blocks_testing_and_go_live_and_is_named(
    stacks: Path, tmp_path: Path
) -> None:
    ok(cli(stacks, *ADD))
    zones = tmp_path / "zones.csv"
    zones.write_text("id,name\nM-N1,North Garage\nM-99,Pop-up Event Lot\n")
    map_zones = ("integration", "map-zones", SLUG, "meters", "--zones", str(zones), "--write")
    ok(cli(stacks, *map_zones))

    blocked = task(status(stacks), "integrations-verified")
    assert blocked["state"] == "open"
    assert "meters: 1 unmapped zone(s): M-99 (Pop-up Event Lot)" in blocked["how"]

    ready_for_go_live(stacks)
    ok(cli(stacks, "payment", "set-credentials", SLUG, "--stage", "preview", input=SANDBOX))
    ok(cli(stacks, "payment", "set-credentials", SLUG, "--stage", "production", input=LIVE))
    for phase in (1, 2, 3, 4):
        if phase == 4:
            verify_and_accept(stacks)
        complete_manual_tasks(stacks, phase)
        for key in ("admin-accounts", "configuration", "portal-design", "data-imports"):
            cli(stacks, "rollout", "done", SLUG, key, "--by", "pat")
        gate = cli(stacks, "rollout", "done", SLUG, "--phase", str(phase))
        if phase < 4:
            ok(gate)
    assert gate.exit_code == ExitCode.PRECONDITION
    assert "M-99 (Pop-up Event Lot)" in gate.output
    refused = cli(stacks, "promote", SLUG, "--yes")
    assert refused.exit_code == ExitCode.PRECONDITION and "phase 4" in refused.output

    ok(cli(stacks, *map_zones, "--ignore", "M-99"))
    untested = cli(stacks, "rollout", "done", SLUG, "--phase", "4")
    assert untested.exit_code == ExitCode.PRECONDITION
    assert "meters: no passing `tenantctl integration test demo meters`" in untested.output

    ok(cli(stacks, "deploy", "demo-preview", "--yes"))  # the integration's secret
    creds = ("integration", "set-credentials", SLUG, "meters", "--stage", "preview")
    ok(cli(stacks, *creds, input='{"hmacSecret": "meters-sandbox"}'))
    ok(cli(stacks, "integration", "test", SLUG, "meters"))
    assert task(status(stacks), "integrations-verified")["state"] == "done"
    ok(cli(stacks, "rollout", "done", SLUG, "--phase", "4"))
    ok(cli(stacks, "promote", SLUG, "--yes"))
