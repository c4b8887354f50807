"""The engine's project-config rules (Pulumi.yaml `config:`) hold for every stack file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.ops.stacks.projectconfig import check_stacks_dir, config_problems
from tests.helpers import ACME_REQUIRED_OPTIONS, ROOT, STACKS, with_platform

PROJECT_FILE = ROOT / "Pulumi.yaml"


def test_every_stack_file_in_stacks_meets_the_project_config_rules() -> None:
    assert check_stacks_dir(PROJECT_FILE, STACKS) == []


@pytest.mark.parametrize("extra", [[], ["--portal-domain", "parking.acme.example.edu"]])
def test_files_create_writes_meet_the_project_config_rules(
    tmp_path: Path, extra: list[str]
) -> None:
    result = CliRunner().invoke(
        main,
        [
            "create",
            "acme",
            *ACME_REQUIRED_OPTIONS,
            *extra,
            "--stacks-dir",
            str(with_platform(tmp_path)),
            "--no-deploy",
        ],
    )

    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("Pulumi.*.yaml"))) == 2
    assert check_stacks_dir(PROJECT_FILE, tmp_path) == []


def test_a_declared_key_without_default_is_required_on_the_stack() -> None:
    declared = {"tenants:portalDomain": {"type": "string"}}

    problems = config_problems(declared, {"tenants:slug": "demo"})

    assert len(problems) == 1 and "tenants:portalDomain" in problems[0]
    assert "without a default" in problems[0]


def test_a_value_of_the_wrong_type_is_reported() -> None:
    declared = {"tenants:live": {"type": "boolean", "default": False}}

    problems = config_problems(declared, {"tenants:live": "yes"})

    assert problems == ["tenants:live = 'yes' is not of the declared type boolean"]


def test_a_default_of_the_wrong_type_is_reported() -> None:
    declared = {"tenants:live": {"type": "boolean", "default": "false"}}

    assert config_problems(declared, {}) == ["tenants:live: default 'false' is not of type boolean"]
