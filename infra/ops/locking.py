"""One lock per client, kept in AWS, so operations serialize across machines and people.

The lock is an SSM parameter (``naming.lock_parameter``) created with
``Overwrite=False``: AWS lets exactly one caller create it, whichever machine
it runs on. Its value says who holds it (operation, user, host, process) and
since when, so a second caller is told exactly that. Leaving the ``with``
block deletes it, but only while it is still this holder's.

Reads (status, list, plan, dry runs) never take the lock.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from infra.core import naming
from infra.core.errors import LockHeld
from infra.ops import aws


@dataclass(frozen=True)
class LockHolder:
    """Who holds a client's lock; stored as the parameter's JSON value."""

    operation: str
    since: str
    user: str
    host: str
    pid: int
    token: str

    def describe(self) -> str:
        return f"{self.operation} by {self.user}@{self.host} (pid {self.pid}) since {self.since}"


def _me(operation: str) -> LockHolder:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return LockHolder(
        operation=operation,
        since=datetime.now(UTC).isoformat(timespec="seconds"),
        user=user,
        host=socket.gethostname(),
        pid=os.getpid(),
        token=uuid.uuid4().hex,
    )


def current_holder(slug: str, region: str | None = None) -> LockHolder | None:
    """Who holds *slug*'s lock now, or ``None``."""
    ssm = aws.client("ssm", region)
    try:
        value = ssm.get_parameter(Name=naming.lock_parameter(slug))["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise
    return _parse(value)


def _parse(value: str) -> LockHolder:
    try:
        data: dict[str, Any] = json.loads(value)
        return LockHolder(**data)
    except (ValueError, TypeError):
        return LockHolder("unknown operation", "?", "?", "?", 0, "")


@contextmanager
def client_lock(slug: str, operation: str, region: str | None = None) -> Iterator[LockHolder]:
    """Hold *slug*'s lock for the block; ``LockHeld`` (exit 4) when someone else has it."""
    ssm = aws.client("ssm", region)
    me = _me(operation)
    name = naming.lock_parameter(slug)
    try:
        ssm.put_parameter(
            Name=name,
            Value=json.dumps(asdict(me)),
            Type="String",
            Overwrite=False,
            Description=f"{naming.TOOL} operation lock of client {slug}",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ParameterAlreadyExists":
            raise
        holder = current_holder(slug, region)
        who = holder.describe() if holder else "an operation that just finished"
        raise LockHeld(
            f"{slug} is locked by {who}; wait for it to finish and re-run (nothing was changed)"
        ) from None
    try:
        yield me
    finally:
        holder = current_holder(slug, region)
        if holder is not None and holder.token == me.token:
            ssm.delete_parameter(Name=name)
