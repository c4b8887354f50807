"""The robustness families' forked CLI processes (tests/zygote.py) behave as processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from infra.ops.adapters import aws
from tests.helpers import LIVE, ROOT
from tests.zygote import Zygote


@pytest.fixture
def zygote() -> Zygote:
    found = Zygote.get(ROOT)
    if found is None:
        pytest.skip("the zygote is off or could not start (plain processes are used)")
    return found


def test_a_forked_run_gets_its_arguments_environment_stdin_and_exit_status(
    zygote: Zygote, stack_files: Path, aws_env: str, tmp_path: Path
):
    secret = "tenantctl/demo/production/payment-credentials"
    aws.client("secretsmanager").create_secret(Name=secret)  # as a deploy leaves it
    stdin = tmp_path / "stdin"
    stdin.write_text(LIVE)
    env = {**os.environ, "TENANTCTL_STACKS_DIR": str(stack_files)}
    with stdin.open() as source:
        run = zygote.start(
            ["payment", "set-credentials", "demo", "--stage", "production", "--json"],
            env,
            ROOT,
            source,
        )
        out, err = run.communicate(timeout=60)

    assert run.returncode == 0, err
    assert json.loads(out)["stack"] == "demo-production"
    stored = aws.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
    assert json.loads(stored) == json.loads(LIVE)
    refused = zygote.start(["reset-preview", "demo-production"], env, ROOT, subprocess.DEVNULL)
    _, err = refused.communicate(timeout=60)
    assert refused.returncode == 2 and "never touches production" in err


def test_a_forked_run_is_its_own_process_and_sigkill_ends_it(zygote: Zygote, tmp_path: Path):
    read, write = os.pipe()  # stdin that never ends: the run waits for the secret
    try:
        run = zygote.start(
            ["payment", "set-credentials", "demo", "--stage", "production"],
            {**os.environ, "TENANTCTL_STACKS_DIR": str(tmp_path)},
            ROOT,
            read,
        )
        assert run.pid not in (os.getpid(), zygote.proc.pid)
        assert Path(f"/proc/{run.pid}").exists() and run.poll() is None
        run.send_signal(signal.SIGKILL)
        assert run.wait(30) == -signal.SIGKILL
        assert not Path(f"/proc/{run.pid}").exists()
    finally:
        os.close(read)
        os.close(write)
