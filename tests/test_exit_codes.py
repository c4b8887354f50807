"""Each kind of failure ends with its documented exit code (infra.core.errors.EXIT_CODES)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from infra.cli import main
from infra.core.errors import EXIT_CODES, ExitCode
from tests.helpers import (
    EXAMPLE,
    STACKS,
    create_demo,
    lock_held_elsewhere,
    ready_for_go_live,
    with_platform,
)
from tests.snapshots import Steps

LIVE = '{"secretKey": "sk_live_exit0000000000000000000", "webhookSecret": "whsec_exit"}'


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def one_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_every_exit_code_is_documented():
    assert set(EXIT_CODES) == set(ExitCode)


def test_done_is_0():
    assert cli("list", "--stacks-dir", str(STACKS)).exit_code == ExitCode.OK


def test_a_bug_is_1_and_names_a_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    from infra.ops.lifecycle import listing

    def broken(stacks_dir: Path) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(listing, "list_tenants", broken)
    result = cli("list", "--stacks-dir", str(STACKS))
    assert result.exit_code == ExitCode.INTERNAL
    assert "unexpected ZeroDivisionError" in one_line(result)


def test_an_interrupt_is_130_and_says_how_to_resume(monkeypatch: pytest.MonkeyPatch):
    from infra.ops.lifecycle import listing

    def interrupted(stacks_dir: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(listing, "list_tenants", interrupted)
    result = cli("list", "--stacks-dir", str(STACKS))
    assert result.exit_code == ExitCode.INTERRUPTED
    assert "re-run the same command to resume" in result.stderr


def test_bad_input_is_2():
    result = cli("plan", "nobody", "--stacks-dir", str(STACKS))
    assert result.exit_code == ExitCode.BAD_INPUT
    one_line(result)


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's read-only /sys")
def test_a_local_file_that_cannot_be_written_is_7():
    example = str(EXAMPLE)
    unwritable = "/sys/tenantctl-exit-code-test"  # sysfs refuses new folders, even to root
    result = cli("create", "demo", "--from", example, "--no-deploy", "--stacks-dir", unwritable)
    assert result.exit_code == ExitCode.LOCAL_IO
    one_line(result)


def test_a_stacks_folder_under_a_regular_file_is_7(tmp_path: Path):
    (tmp_path / "file").write_text("not a folder\n")
    example = str(EXAMPLE)
    stacks = str(tmp_path / "file" / "stacks")
    result = cli("create", "demo", "--from", example, "--no-deploy", "--stacks-dir", stacks)
    assert result.exit_code == ExitCode.LOCAL_IO
    assert "Not a directory" in one_line(result)


@pytest.mark.parametrize("command", ["list", "status"])
def test_a_missing_stacks_folder_is_7_not_an_empty_fleet(command: str, tmp_path: Path):
    result = cli(command, "--stacks-dir", str(tmp_path / "missing"))
    assert result.exit_code == ExitCode.LOCAL_IO
    line = one_line(result)
    assert "does not exist" in line and "--stacks-dir" in line


def test_an_unreachable_aws_endpoint_is_5(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = cli(
        "payment", "set-credentials", "demo", "--stage", "production",
        "--stacks-dir", str(STACKS), input=LIVE,
    )  # fmt: skip
    assert result.exit_code == ExitCode.UNREACHABLE
    assert "could not reach AWS" in one_line(result)


def test_an_unreachable_control_database_is_5_and_names_its_setting(
    monkeypatch: pytest.MonkeyPatch,
):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(
        "TENANTCTL_CONTROL_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{port}/control"
    )
    result = cli("rollout", "status", "demo", "--stacks-dir", str(STACKS))
    assert result.exit_code == ExitCode.UNREACHABLE
    line = one_line(result)
    assert "control database" in line and "TENANTCTL_CONTROL_DATABASE_URL" in line


@pytest.fixture
def created(
    tmp_path: Path, aws_env: str, pg_env: str, steps: Steps, monkeypatch: pytest.MonkeyPatch
) -> Path:
    return create_demo(tmp_path, monkeypatch, steps=steps)


def test_precondition_is_3_and_changes_detected_is_6_until_launched(created: Path):
    where = ("--stacks-dir", str(created))
    not_ready = cli("promote", "demo", "--yes", *where)
    assert not_ready.exit_code == ExitCode.PRECONDITION
    one_line(not_ready)

    before = cli("promote", "demo", "--dry-run", "--detailed-exitcode", "--json", *where)
    assert before.exit_code == ExitCode.CHANGES
    assert "payment sandbox -> live" in one_line(before)
    without_flag = cli("promote", "demo", "--dry-run", "--json", *where)
    assert without_flag.exit_code == ExitCode.OK

    live = cli("payment", "set-credentials", "demo", "--stage", "production", *where, input=LIVE)
    assert live.exit_code == 0, live.output
    ready_for_go_live(created)
    assert cli("promote", "demo", "--yes", *where).exit_code == ExitCode.OK
    after = cli("promote", "demo", "--dry-run", "--detailed-exitcode", *where)
    assert after.exit_code == ExitCode.OK, after.output


def test_detailed_exitcode_needs_dry_run():
    result = cli("promote", "demo", "--detailed-exitcode", "--stacks-dir", str(STACKS))
    assert result.exit_code == ExitCode.BAD_INPUT


def test_a_held_client_lock_is_4_and_names_the_holder(tmp_path: Path, aws_env: str):

    example = str(EXAMPLE)
    where = ("--stacks-dir", str(with_platform(tmp_path)))
    assert cli("create", "demo", "--from", example, "--no-deploy", *where).exit_code == 0
    with lock_held_elsewhere("demo", "reset-preview"):
        result = cli("deploy", "demo-preview", *where)
    assert result.exit_code == ExitCode.LOCKED
    assert "reset-preview" in one_line(result)
