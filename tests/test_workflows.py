"""The workflows stay thin and safe: what they run exists and is tested, inputs never reach a
shell line, actions are pinned, production sits behind its environment."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.helpers import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
SCRIPT = re.compile(r"scripts/ci/([\w-]+)")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    return YAML(typ="safe").load(path.read_text())


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow["jobs"].values() for s in job.get("steps", [])]


def test_there_is_a_workflow_for_each_pipeline():
    assert {p.name for p in WORKFLOWS} == {
        "plan.yml",
        "deploy.yml",
        "deploy-wave.yml",
        "go-live.yml",
        "reset-preview.yml",
        "drift.yml",
    }


def test_every_script_a_workflow_runs_exists_and_has_an_end_to_end_test():
    tests = (ROOT / "tests" / "test_ci_scripts.py").read_text()
    called = {m for p in WORKFLOWS for m in SCRIPT.findall(p.read_text())}
    assert called >= {"affected", "pr-plan", "pr-comment", "deploy-stack", "deploy-report"}
    for name in called:
        path = ROOT / "scripts" / "ci" / name
        assert path.is_file() and os.access(path, os.X_OK), name
        assert f'"{name}"' in tests, f"scripts/ci/{name} has no test in test_ci_scripts.py"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_expression_is_interpolated_into_a_shell_line(path: Path):
    for step in steps(load(path)):
        assert "${{" not in step.get("run", ""), f"{path.name}: pass it through env: instead"


@pytest.mark.parametrize(
    "path",
    [*WORKFLOWS, ROOT / ".github" / "actions" / "setup-tenantctl" / "action.yml"],
    ids=lambda p: p.name,
)
def test_every_action_is_local_or_pinned_to_a_commit(path: Path):
    text = path.read_text()
    for line in re.findall(r"uses:\s*(\S+)", text):
        assert line.startswith("./") or PINNED.match(line), f"{path.name}: {line}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_start_empty_and_each_job_asks_for_its_own(path: Path):
    workflow = load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} needs explicit permissions"
        assert "write-all" not in str(job["permissions"])


def test_production_runs_only_in_the_production_environment():
    go_live = load(ROOT / ".github" / "workflows" / "go-live.yml")["jobs"]
    assert go_live["promote"]["environment"] == "production"
    assert "environment" not in go_live["dry-run"]
    deploy = load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]
    for name, job in deploy.items():
        if name.startswith(("canary-productions", "productions")):
            assert job["with"]["environment"] == "production"
        elif name.startswith(("canary-previews", "previews")):
            assert job["with"]["environment"] == "preview"


def test_the_reset_workflow_has_no_input_that_could_name_production():
    workflow = load(ROOT / ".github" / "workflows" / "reset-preview.yml")
    assert set(workflow["on"]["workflow_dispatch"]["inputs"]) == {"client", "undo"}
    assert workflow["jobs"]["reset"]["environment"] == "preview"


def test_the_deploy_workflow_has_a_job_for_every_slot_tenantctl_changed_fills():
    from infra.core.affected import WAVE_NAMES, slot_names

    jobs = load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]
    assert set(slot_names()) <= set(jobs)
    assert {f"gate-{name}" for name, _ in WAVE_NAMES} <= set(jobs)
    assert set(load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]["plan"]["outputs"]) == (
        {*slot_names(), "engine"}
    )


def test_a_change_to_more_stacks_than_a_matrix_holds_goes_to_one_fleet_run():
    jobs = load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]
    assert "engine == 'fleet'" in jobs["fleet"]["if"]
    (submit,) = [s for s in jobs["fleet"]["steps"] if s.get("id") == "fleet"]
    assert submit["run"].startswith("scripts/ci/fleet run deploy")
    assert jobs["fleet"]["outputs"]["waits"] == "${{ steps.fleet.outputs.waits }}"
    approve = jobs["fleet-approve"]
    assert approve["environment"] == "fleet-approval" and approve["needs"] == ["fleet"]
    assert "needs.fleet.outputs.waits == 'true'" in approve["if"]
    assert any(s.get("run", "").startswith("scripts/ci/fleet approve") for s in approve["steps"])
