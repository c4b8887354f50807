"""A tenant on a platform no command knows is refused by every command, the same way.

The platform a tenant runs on is resolved by one function
(``infra.ops.stacks.platformfile.platform_outputs``): create (before writing),
plan, deploy, promote and its dry run, and the local target's stand-in for
``pulumi up`` all read it, so what one accepts every other accepts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.core.errors import ExitCode
from tests.helpers import EXAMPLE, cli, copy_demo_stack_files, with_platform

UNKNOWN = "other/platform/prod"
MESSAGE = f"Error: no outputs known for platform stack {UNKNOWN}: add them to "


@pytest.fixture
def unknown_platform(tmp_path: Path) -> Path:
    """The demo client's stack files on a platform the folder's platform file lacks."""
    folder = copy_demo_stack_files(with_platform(tmp_path / "stacks"))
    for path in folder.glob("Pulumi.demo-*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "acme/platform/prod" in text
        path.write_text(text.replace("acme/platform/prod", UNKNOWN), encoding="utf-8")
    return folder


def one_error(output: str) -> str:
    [line] = [x for x in output.splitlines() if x.startswith("Error:")]
    return line


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "demo"],
        ["deploy", "demo-preview"],
        ["deploy", "demo-production", "--yes"],
        ["promote", "demo", "--dry-run"],
        ["promote", "demo", "--yes"],
    ],
    ids=lambda a: " ".join(a),
)
def test_every_command_refuses_an_unknown_platform_alike(
    unknown_platform: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
):
    monkeypatch.setenv("PATH", "/nonexistent")  # no Pulumi CLI to ask the real platform
    before = {p.name: p.read_bytes() for p in unknown_platform.iterdir()}

    result = cli(unknown_platform, *args)

    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert one_error(result.output).startswith(MESSAGE)
    assert {p.name: p.read_bytes() for p in unknown_platform.iterdir()} == before


def test_create_refuses_it_before_writing_with_the_same_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PATH", "/nonexistent")
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(EXAMPLE.read_text().replace("acme/platform/prod", UNKNOWN))
    folder = copy_demo_stack_files(with_platform(tmp_path / "stacks"))
    for path in folder.glob("Pulumi.demo-*.yaml"):
        path.unlink()

    result = cli(folder, "create", "demo", "--from", str(tenant), "--no-deploy")

    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert one_error(result.output).startswith(MESSAGE)
    assert sorted(p.name for p in folder.iterdir()) == ["platform-outputs.yaml"]


def test_a_known_platform_is_accepted_by_the_same_commands(tmp_path: Path):
    folder = copy_demo_stack_files(with_platform(tmp_path / "stacks"))
    result = cli(folder, "plan", "demo")
    assert result.exit_code == ExitCode.OK, result.output
