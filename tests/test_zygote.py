"""The robustness families' forked CLI processes (tests/zygote.py) behave as processes, and
so does the tenantctl a CI script under test runs (the shim)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.ops.adapters import aws
from tests.helpers import LIVE, ROOT
from tests.zygote import SOCKET_ENV, Zygote


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


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def test_the_shim_is_tenantctl_for_a_program_under_test(zygote: Zygote, tmp_path: Path):
    shim = zygote.shim_dir() / "tenantctl"
    real = Path(sys.executable).with_name("tenantctl")
    env = {**os.environ, SOCKET_ENV: str(zygote.path), "TENANTCTL_STACKS_DIR": str(tmp_path)}

    def run(command: Path, environ: dict[str, str]) -> tuple[int, str, str]:
        done = subprocess.run(
            [str(command), "reset-preview", "demo-production"],
            env=environ, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return done.returncode, done.stdout, done.stderr

    forked = run(shim, env)
    unreachable = run(shim, {k: v for k, v in env.items() if k != SOCKET_ENV})
    plain = run(real, env)
    usage = subprocess.run([str(shim), "no-such-command"], env=env, capture_output=True, text=True)

    assert forked == unreachable == plain  # exit 2, the same one line
    assert forked[0] == 2 and "never touches production" in forked[2]
    assert usage.returncode == 2 and "Usage: tenantctl " in usage.stderr  # named as installed


def test_the_shim_runs_in_the_zygote_and_passes_on_sigterm(
    zygote: Zygote, stack_files: Path, aws_env: str
):
    before = _children(zygote.proc.pid)
    proc = subprocess.Popen(  # waits for the secret on a stdin that never ends
        [str(zygote.shim_dir() / "tenantctl"), "payment", "set-credentials", "demo",
         "--stage", "production"],
        env={**os.environ, SOCKET_ENV: str(zygote.path), "TENANTCTL_STACKS_DIR": str(stack_files)},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (_children(zygote.proc.pid) - before) and time.monotonic() < deadline:
            time.sleep(0.05)
        (child,) = _children(zygote.proc.pid) - before
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == -signal.SIGTERM
        deadline = time.monotonic() + 30
        while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{child}").exists()
    finally:
        proc.kill()
        proc.communicate()
