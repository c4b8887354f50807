"""The client lock on the AWS emulator (an S3 object written conditionally): a holder whose
lock is taken over stops; of callers racing for it, exactly one wins."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from infra.core import naming
from infra.core.errors import ExitCode, LockHeld, PreconditionFailed
from infra.core.steps import NOTICES
from infra.ops.adapters import aws
from infra.ops.adapters.checkpoints import checkpoint
from infra.ops.stacks import locking
from infra.ops.stacks.locking import LEASE_ENV, LockHolder, client_lock
from tests.helpers import lock_place

SLUG = "lock-test"
PLACE = lock_place()


def current_holder(slug: str) -> LockHolder | None:
    return locking.current_holder(slug, PLACE)


def write_lock(slug: str, value: dict[str, object]) -> None:
    """*value* as the lock object, written unconditionally, as no caller of tenantctl does."""
    aws.client("s3").put_object(
        Bucket=PLACE.bucket, Key=naming.lock_key(slug), Body=json.dumps(value).encode()
    )


def take_over(slug: str) -> str:
    """What a second caller's --break-lock does to the lock: replace it with its own."""
    value = {
        "operation": "reset-preview",
        "since": "2026-11-25T00:00:00+00:00",
        "user": "other",
        "host": "elsewhere",
        "pid": 1,
        "token": "theirs",
        "expires": "2999-01-01T00:00:00+00:00",
    }
    write_lock(slug, value)
    return str(value["token"])


def test_a_holder_whose_lock_was_taken_over_stops_at_the_next_step(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(LEASE_ENV, "3")  # renewals every second
    with pytest.raises(LockHeld) as stopped, client_lock(SLUG, "promote", PLACE):
        checkpoint("promote-copy-content")  # still ours: goes on
        token = take_over(SLUG)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the next renewal notices
            checkpoint("promote-copy-config")
            time.sleep(0.2)
    assert stopped.value.exit_code == ExitCode.LOCKED
    message = str(stopped.value)
    assert "taken over" in message and "reset-preview by other@elsewhere" in message
    holder = current_holder(SLUG)  # the new holder's lock is left alone
    assert holder is not None and holder.token == token


def test_a_holder_that_keeps_its_lock_is_not_stopped(aws_env: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(LEASE_ENV, "3")
    with client_lock(SLUG, "promote", PLACE) as me:
        for _ in range(12):  # more than three renewals
            checkpoint("promote-copy-config")
            time.sleep(0.2)
        holder = current_holder(SLUG)
        assert holder is not None and holder.token == me.token and holder.expires > me.expires
    assert current_holder(SLUG) is None


def write_holder(slug: str, **fields: object) -> None:
    """A lock value as another caller would have written it."""
    value = {
        "operation": "reset-preview",
        "since": "2026-11-25T00:00:00+00:00",
        "user": "other",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "token": "theirs",
        "expires": "2999-01-01T00:00:00+00:00",
        **fields,
    }
    write_lock(slug, value)


def test_a_lock_of_a_process_that_is_gone_is_taken_over_without_a_flag(aws_env: str):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_holder(SLUG, pid=dead.pid, started=time.time() - 5)
    said: list[str] = []
    NOTICES.clear()

    with client_lock(SLUG, "promote", PLACE, progress=said.append) as me:
        holder = current_holder(SLUG)
        assert holder is not None and holder.token == me.token
        assert me.broke.startswith("reset-preview by other@")
        assert f"process {dead.pid} on this host is gone" in me.broke

    assert said == [f"took over the stale lock of {SLUG}: {me.broke}"]
    assert [
        {
            "lockTakeover": {
                "client": SLUG,
                "holder": me.broke.rsplit(f" (process {dead.pid} on", 1)[0],
                "reason": f"process {dead.pid} on this host is gone",
            }
        }
    ] == NOTICES
    assert current_holder(SLUG) is None
    NOTICES.clear()


def test_a_reused_pid_is_not_mistaken_for_the_holder(aws_env: str):
    # Our own pid, but the holder's process started at another time: it is gone.
    write_holder(SLUG, started=123.0)
    with client_lock(SLUG, "promote", PLACE) as me:
        assert "the pid now belongs to another process" in me.broke
    NOTICES.clear()


def test_a_lock_that_looks_alive_is_broken_only_with_a_reason(aws_env: str):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_holder(SLUG, pid=live.pid, started=locking._start_time(live.pid) or 0.0)
        with (
            pytest.raises(LockHeld, match="--break-lock REASON"),
            client_lock(SLUG, "promote", PLACE),
        ):
            pass
        assert current_holder(SLUG).token == "theirs"  # type: ignore[union-attr]

        with client_lock(SLUG, "promote", PLACE, break_reason="runner lost, job cancelled") as me:
            assert me.broke.endswith("(broken by hand: runner lost, job cancelled)")
    finally:
        live.kill()
        live.wait()
        NOTICES.clear()


def test_a_paused_holder_that_wakes_after_a_takeover_stops_before_its_next_step(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(LEASE_ENV, "3")
    with pytest.raises(LockHeld, match="taken over"), client_lock(SLUG, "promote", PLACE) as me:
        renewer = next(t for t in threading.enumerate() if t.name == f"lock-lease-{SLUG}")
        # Paused (a suspended laptop): no renewal for longer than the lease, and in the
        # meantime another caller took the lock over. Its renewer has not noticed yet.
        renewer.stop.set()  # asleep, as if suspended
        renewer.join()
        take_over(SLUG)
        assert not renewer.lost_event.is_set()
        checkpoint("promote-copy-config")  # the next step boundary asks AWS first
        pytest.fail(f"{me.operation} went on after its lock was taken over")
    holder = current_holder(SLUG)
    assert holder is not None and holder.token == "theirs"


def test_a_clock_step_does_not_make_a_live_holder_look_gone(monkeypatch: pytest.MonkeyPatch):
    # psutil's start time follows the wall clock (an NTP step, a resume moves it); the
    # holder's start must not, or a live holder would be taken for a reused pid.
    recorded = locking._start_time(os.getpid())
    assert recorded is not None and recorded > 0
    real = psutil.Process.create_time
    monkeypatch.setattr(psutil.Process, "create_time", lambda self: real(self) + 3600)

    assert locking._start_time(os.getpid()) == recorded
    assert locking._process_gone(os.getpid(), recorded) is None


def test_of_two_simultaneous_takeovers_exactly_one_wins(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_holder(SLUG, pid=dead.pid, started=time.time() - 5)
    # Both callers have read the same stale lock before either replaces it.
    both_read = threading.Barrier(2, timeout=10)
    replace = locking._LockObject.replace

    def replace_together(self: locking._LockObject, holder: LockHolder, etag: str) -> str | None:
        both_read.wait()
        return replace(self, holder, etag)

    monkeypatch.setattr(locking._LockObject, "replace", replace_together)
    won: list[str] = []
    lost: list[str] = []
    release = threading.Event()

    def caller() -> None:
        try:
            with client_lock(SLUG, "promote", PLACE) as me:
                won.append(me.token)
                release.wait(10)
        except LockHeld as exc:
            lost.append(str(exc))
            release.set()

    callers = [threading.Thread(target=caller) for _ in range(2)]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join(30)

    assert len(won) == 1 and lost == [
        f"{SLUG}: another caller took the lock first; re-run (nothing was changed)"
    ]
    assert current_holder(SLUG) is None  # the winner released it; the loser touched nothing
    NOTICES.clear()


def test_the_lock_uses_no_parameter_and_is_released_by_a_conditional_delete(aws_env: str):
    s3 = aws.client("s3")
    with client_lock(SLUG, "promote", PLACE) as me:
        assert aws.client("ssm").describe_parameters()["Parameters"] == []
        stored = json.loads(
            s3.get_object(Bucket=PLACE.bucket, Key=naming.lock_key(SLUG))["Body"].read()
        )
        assert stored["token"] == me.token
    assert current_holder(SLUG) is None
    # The versioned bucket keeps what was written; the lock's current version is a delete marker.
    versions = s3.list_object_versions(Bucket=PLACE.bucket, Prefix=naming.lock_key(SLUG))
    assert [m["IsLatest"] for m in versions["DeleteMarkers"]] == [True]
    with client_lock(SLUG, "reset-preview", PLACE):  # and it is taken again at once
        assert current_holder(SLUG).operation == "reset-preview"  # type: ignore[union-attr]


def test_a_release_after_a_takeover_leaves_the_new_holders_lock(aws_env: str):
    with client_lock(SLUG, "promote", PLACE):
        renewer = next(t for t in threading.enumerate() if t.name == f"lock-lease-{SLUG}")
        take_over(SLUG)
        renewer.lost_event.clear()  # as if it had not noticed: the release itself must check
    holder = current_holder(SLUG)
    assert holder is not None and holder.token == "theirs"


def test_a_missing_operations_bucket_is_one_line_and_changes_nothing(aws_env: str):
    missing = locking.LockPlace("no-such-operations-bucket", naming.DEFAULT_REGION)
    with pytest.raises(PreconditionFailed) as refused, client_lock(SLUG, "promote", missing):
        pytest.fail("locked without a bucket")
    assert refused.value.exit_code == ExitCode.PRECONDITION
    assert str(refused.value) == (
        "the platform's operations bucket no-such-operations-bucket (platform output "
        "operationsBucketName), where client locks are kept, does not exist in us-east-1; "
        "create it with the platform, or correct the platform outputs (nothing was changed)"
    )
