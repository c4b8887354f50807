"""``tenantctl preflight`` checks the platform's scheduler roles (issue 18): each stage's
role the platform outputs name exists (``iam GetRole`` on moto) and trusts EventBridge
Scheduler; a platform without the output of a stage some stack pulls in is refused in
one line naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from ruamel.yaml import YAML

from infra.core.errors import ExitCode
from infra.core.platform import SCHEDULER_ROLE_OUTPUTS
from infra.devtools import localtarget
from tests.helpers import cli, copy_demo_stack_files, validate

REGION = localtarget.LOCAL_REGION


@pytest.fixture
def folder(tmp_path: Path, aws_env: str) -> Path:
    return copy_demo_stack_files(tmp_path)


def _checks(folder: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    result = cli(folder, "preflight", "--json")
    assert result.stdout.strip(), (result.exit_code, result.stderr)
    document = validate("preflight", json.loads(result.stdout))
    found = {c["check"]: c for c in document["checks"] if c["check"].startswith("scheduler-role")}
    return result.exit_code, found


def _iam(aws_env: str) -> Any:
    return boto3.client("iam", endpoint_url=aws_env, region_name=REGION)


def test_the_platforms_scheduler_roles_pass(folder: Path, aws_env: str) -> None:
    localtarget.prepare_account(aws_env, REGION)

    code, checks = _checks(folder)

    assert code == 0
    assert set(checks) == {f"scheduler-role:{o}" for o in SCHEDULER_ROLE_OUTPUTS.values()}
    assert all(c["verdict"] == "pass" for c in checks.values())


def test_a_missing_scheduler_role_fails_naming_the_output(folder: Path, aws_env: str) -> None:
    localtarget.prepare_account(aws_env, REGION)
    iam = _iam(aws_env)
    role = "platform-scheduler-production"
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=name)
    iam.delete_role(RoleName=role)

    code, checks = _checks(folder)

    assert code != 0
    failed = checks["scheduler-role:productionSchedulerRoleArn"]
    assert failed["verdict"] == "fail"
    assert "productionSchedulerRoleArn" in failed["fix"]
    assert checks["scheduler-role:previewSchedulerRoleArn"]["verdict"] == "pass"


def test_a_platform_without_the_output_is_refused_in_one_line_when_a_stack_pulls(
    folder: Path, aws_env: str
) -> None:
    """The demo stacks have a pulled integration, so they need the role of their stage."""
    localtarget.prepare_account(aws_env, REGION)
    path = folder / "platform-outputs.yaml"
    yaml = YAML()
    data = yaml.load(path.read_text())
    del data["acme/platform/prod"]["previewSchedulerRoleArn"]
    with path.open("w") as f:
        yaml.dump(data, f)

    result = cli(folder, "preflight", "--json")

    assert result.exit_code == ExitCode.BAD_INPUT
    assert "has no output previewSchedulerRoleArn" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
