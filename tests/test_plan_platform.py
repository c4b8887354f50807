"""`tenantctl plan` reads the platform outputs a user actually has; user errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from infra.cli import main
from infra.core.errors import ExitCode
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS, PLATFORM_OUTPUTS_FILE
from tests.helpers import STACKS

OTHER_ZONE = "parking.example.net"
OTHER_PLATFORM = "beta/platform/prod"
OTHER_OPERATIONS = "beta-platform-operations-210987654321"


def other_tenant(folder: Path, platform_zone: str = OTHER_ZONE, with_file: bool = True) -> None:
    for stage in ("preview", "production"):
        text = (STACKS / f"Pulumi.demo-{stage}.yaml").read_text()
        text = text.replace("tenants.example.com", OTHER_ZONE).replace(
            "acme/platform/prod", OTHER_PLATFORM
        )
        (folder / f"Pulumi.demo-{stage}.yaml").write_text(text)
    if with_file:
        outputs = {
            **EXAMPLE_PLATFORM_OUTPUTS,
            "zoneName": platform_zone,
            "operationsBucketName": OTHER_OPERATIONS,
        }
        (folder / PLATFORM_OUTPUTS_FILE).write_text(
            f"{OTHER_PLATFORM}:\n"
            + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in outputs.items())
        )


def plan(folder: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["plan", "demo", "--stacks-dir", str(folder), *args])


@pytest.fixture(autouse=True)
def no_pulumi_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")


def test_plan_of_a_tenant_on_another_platform_reads_its_outputs_from_the_file(
    tmp_path: Path,
) -> None:
    other_tenant(tmp_path)

    result = plan(tmp_path, "--stage", "production", "--json")

    assert result.exit_code == 0, result.output
    stack = json.loads(result.stdout)["stacks"][0]
    assert stack["outputs"]["operationsBucket"] == OTHER_OPERATIONS


def test_plan_without_known_platform_outputs_is_one_line_and_exit_2(tmp_path: Path) -> None:
    other_tenant(tmp_path, with_file=False)

    result = plan(tmp_path)

    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.count("\n") == 1
    assert OTHER_PLATFORM in result.stderr and PLATFORM_OUTPUTS_FILE in result.stderr


def test_plan_on_a_platform_serving_another_zone_is_one_line_and_exit_2(tmp_path: Path) -> None:
    other_tenant(tmp_path, platform_zone="elsewhere.example.org")

    result = plan(tmp_path)

    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.count("\n") == 1
    assert "elsewhere.example.org" in result.stderr


def test_the_committed_platform_file_describes_the_reference_platform() -> None:
    result = plan(STACKS, "--json")

    assert result.exit_code == 0, result.output
