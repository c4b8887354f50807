"""The client lock on the AWS emulator: a holder whose lock is taken over stops."""

from __future__ import annotations

import json
import time

import pytest

from infra.core import naming
from infra.core.errors import ExitCode, LockHeld
from infra.ops.adapters import aws
from infra.ops.adapters.checkpoints import checkpoint
from infra.ops.stacks.locking import LEASE_ENV, client_lock, current_holder

SLUG = "lock-test"


def take_over(slug: str) -> str:
    """What a second caller's --break-lock does to a stale lock: delete it, create its own."""
    ssm = aws.client("ssm")
    name = naming.lock_parameter(slug)
    ssm.delete_parameter(Name=name)
    value = {
        "operation": "reset-preview",
        "since": "2026-11-25T00:00:00+00:00",
        "user": "other",
        "host": "elsewhere",
        "pid": 1,
        "token": "theirs",
        "expires": "2999-01-01T00:00:00+00:00",
    }
    ssm.put_parameter(Name=name, Value=json.dumps(value), Type="String")
    return value["token"]


def test_a_holder_whose_lock_was_taken_over_stops_at_the_next_step(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(LEASE_ENV, "3")  # renewals every second
    with pytest.raises(LockHeld) as stopped, client_lock(SLUG, "promote"):
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
    with client_lock(SLUG, "promote") as me:
        for _ in range(12):  # more than three renewals
            checkpoint("promote-copy-config")
            time.sleep(0.2)
        holder = current_holder(SLUG)
        assert holder is not None and holder.token == me.token and holder.expires > me.expires
    assert current_holder(SLUG) is None
