"""``tenantctl create`` plans and writes its stack files under the client's lock, as every
command that changes a client: two creates of one slug (or a create and a reset) never
interleave, on the local target (the lock is an S3 object on the emulator)."""

from __future__ import annotations

from pathlib import Path

import pytest
from moto import settings as moto_settings

from infra.core import naming
from infra.core.errors import ExitCode
from tests.helpers import EXAMPLE, SLUG, cli, lock_held_elsewhere, ok, with_platform
from tests.robustness_support import Run

OTHER_NAME = "Someone Else's Parking"


def _other_tenant_file(tmp_path: Path) -> Path:
    """The example tenant file with another display name: a second, different create."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "displayName: Demo State University Parking" in text
    other = tmp_path / "other.yaml"
    other.write_text(
        text.replace("displayName: Demo State University Parking", f'displayName: "{OTHER_NAME}"'),
        encoding="utf-8",
    )
    return other


def _stack_files(folder: Path) -> list[Path]:
    return [naming.stack_file(folder, SLUG, stage) for stage in naming.STAGES]


def test_create_while_the_client_is_locked_exits_4_and_writes_no_file(
    tmp_path: Path, aws_env: str
) -> None:
    folder = with_platform(tmp_path / "stacks")

    with lock_held_elsewhere(SLUG, "reset-preview"):
        result = cli(folder, "create", SLUG, "--from", str(EXAMPLE))

    assert result.exit_code == ExitCode.LOCKED, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "reset-preview" in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert [p for p in _stack_files(folder) if p.exists()] == []


def test_two_concurrent_creates_of_one_slug_leave_one_consistent_result(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first holds the lock before it reads a file; the second, with another
    description and --force, is refused (exit 4) and writes nothing; the first then
    writes and deploys its own description, whole."""
    monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", 0)
    folder = with_platform(tmp_path / "stacks")
    first = Run(["create", SLUG, "--from", str(EXAMPLE)], folder, pause_at="lock-acquired")
    try:
        assert first.wait_for_checkpoint("lock-acquired"), first.finish()
        assert [p for p in _stack_files(folder) if p.exists()] == []  # locked, then planned

        second = cli(folder, "create", SLUG, "--from", str(_other_tenant_file(tmp_path)), "--force")

        assert second.exit_code == ExitCode.LOCKED, second.output
        assert "create" in second.stderr and "Traceback" not in second.output
        assert [p for p in _stack_files(folder) if p.exists()] == []
    finally:
        first.resume()
    code, _, err = first.finish(timeout=300)

    assert code == 0, err
    texts = [p.read_text(encoding="utf-8") for p in _stack_files(folder)]
    assert all("Demo State University Parking" in t and OTHER_NAME not in t for t in texts)
    again = ok(cli(folder, "create", SLUG, "--from", str(EXAMPLE), "--no-deploy"))
    assert "stack files unchanged" in again.stdout  # exactly the first create's description
