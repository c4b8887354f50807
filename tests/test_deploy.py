"""The Automation API wrapper: the only code allowed to skip when the Pulumi CLI is absent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.core.errors import EnvironmentProblem
from infra.ops import automation as deploy

needs_cli = pytest.mark.skipif(
    shutil.which("pulumi") is None,
    reason="Pulumi CLI not installed: `pulumi up` cannot run in this workplace",
)


def test_deploy_without_the_cli_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert deploy.pulumi_cli_path() is None

    with pytest.raises(EnvironmentProblem) as caught:
        deploy.deploy("acme-preview", tmp_path, print)

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("Pulumi CLI not found: cannot deploy acme-preview")
    assert "pulumi up -s acme-preview" in message


def test_pulumi_cli_path_finds_the_cli_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "pulumi"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))

    assert deploy.pulumi_cli_path() == str(fake)


@pytest.mark.pulumi_cli
@needs_cli
def test_deploy_returns_outputs_with_secrets_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A YAML-runtime project needs no language host or provider plugins.
    (tmp_path / "Pulumi.yaml").write_text(
        "name: deploytest\n"
        "runtime: yaml\n"
        "outputs:\n"
        "  greeting: hello\n"
        "  token:\n"
        "    fn::secret: s3cr3t-value\n"
    )
    monkeypatch.setenv("PULUMI_BACKEND_URL", (tmp_path / "state").as_uri())
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    (tmp_path / "state").mkdir()
    lines: list[str] = []

    outputs = deploy.deploy("acme-preview", tmp_path, lines.append)

    assert outputs == {"greeting": "hello", "token": deploy.REDACTED}
    assert lines
    assert not any("s3cr3t-value" in line for line in lines)


def test_deploying_refuses_stack_files_outside_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `pulumi up` reads the project's own stacks/; deploying a copy elsewhere would deploy
    # the wrong file, so it is refused before anything runs.
    from infra.ops.deployers import PulumiDeployer, current_deployer
    from tests.helpers import demo_spec

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(deploy, "pulumi_cli_path", lambda: "/usr/bin/pulumi")
    deployer = current_deployer()
    assert isinstance(deployer, PulumiDeployer)
    with pytest.raises(EnvironmentProblem, match="not the stacks/ folder of a Pulumi project"):
        deployer.up(demo_spec("production"), tmp_path / "stacks", None, print)
