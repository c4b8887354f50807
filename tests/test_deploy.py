"""The Automation API wrapper: the only code allowed to skip when the Pulumi CLI is absent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.core import naming
from infra.core.errors import EnvironmentProblem, LockHeld, PreconditionFailed
from infra.ops.adapters import pulumi_cli as deploy

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
        deploy.deploy("acme/tenants/acme-preview", tmp_path, print)

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("Pulumi CLI not found: cannot deploy acme/tenants/acme-preview")
    assert "pulumi up -s acme/tenants/acme-preview" in message


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

    outputs = deploy.deploy(
        "organization/deploytest/acme-preview", tmp_path, lines.append, create=True
    )

    assert outputs == {"greeting": "hello", "token": deploy.REDACTED}
    assert lines
    assert not any("s3cr3t-value" in line for line in lines)


def test_deploying_refuses_stack_files_outside_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `pulumi up` reads the project's own stacks/; deploying a copy elsewhere would deploy
    # the wrong file, so it is refused before anything runs.
    from infra.ops.stacks.deployers import PulumiDeployer, current_deployer
    from tests.helpers import demo_spec

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(deploy, "pulumi_cli_path", lambda: "/usr/bin/pulumi")
    deployer = current_deployer()
    assert isinstance(deployer, PulumiDeployer)
    with pytest.raises(EnvironmentProblem, match="not the stacks/ folder of a Pulumi project"):
        deployer.up(demo_spec("production"), tmp_path / "stacks", None, print)


@pytest.mark.pulumi_cli
@needs_cli
def test_deploy_of_a_missing_stack_refuses_instead_of_creating_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: deploytest\nruntime: yaml\n")
    monkeypatch.setenv("PULUMI_BACKEND_URL", (tmp_path / "state").as_uri())
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    (tmp_path / "state").mkdir()

    with pytest.raises(PreconditionFailed, match="does not exist"):
        deploy.deploy("organization/deploytest/acme-preview", tmp_path, print)

    assert not list((tmp_path / "state").rglob("acme-preview*"))


@pytest.mark.pulumi_cli
@needs_cli
def test_the_replacement_preview_of_a_stack_not_created_yet_has_no_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """create's first deploy asks what it would replace before the stack exists."""
    (tmp_path / "Pulumi.yaml").write_text("name: deploytest\nruntime: yaml\n")
    monkeypatch.setenv("PULUMI_BACKEND_URL", (tmp_path / "state").as_uri())
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    (tmp_path / "state").mkdir()

    assert deploy.preview_steps("organization/deploytest/acme-preview", tmp_path, print) == []


def _command_result(stderr: str):  # type: ignore[no-untyped-def]
    from pulumi.automation._cmd import CommandResult

    return CommandResult(stdout="", stderr=stderr, code=255)


def test_a_concurrent_update_is_one_line_and_lock_held() -> None:
    from pulumi.automation import errors

    exc = errors.ConcurrentUpdateError(
        _command_result("error: [409] Conflict: Another update is currently in progress.\n")
    )

    error = deploy.deploy_error(exc, "acme/tenants/acme-production")

    assert isinstance(error, LockHeld)
    assert "\n" not in str(error)
    assert "another update of acme/tenants/acme-production is running" in str(error)


def test_a_missing_stack_says_which_backend_to_check() -> None:
    from pulumi.automation import errors

    exc = errors.StackNotFoundError(_command_result("error: no stack named 'acme-preview' found"))

    error = deploy.deploy_error(exc, "acme/tenants/acme-preview")

    assert isinstance(error, PreconditionFailed)
    assert "PULUMI_BACKEND_URL" in str(error)


def test_tenant_stacks_are_named_in_their_platform_organisation() -> None:
    assert (
        naming.qualified_stack_name("acme/platform/prod", "demo", "production")
        == "acme/tenants/demo-production"
    )
