"""One lock per client, kept in AWS, so operations serialize across machines and people.

The lock is an SSM parameter (``naming.lock_parameter``) created with
``Overwrite=False``: AWS lets exactly one caller create it, whichever machine
it runs on. Its value says who holds it (operation, user, host, process),
since when, and until when its lease runs (``expires``). While the operation
runs, a background thread renews the lease every third of its length, so a
long promote keeps its lock and a killed one loses it within one lease.

A second caller gets ``LockHeld`` (exit 4) naming the operation, since when and
from where, while the holder may be alive. A lock whose holder is provably gone
is *stale* and is taken over at once, with no flag: its lease expired without
renewal, or its holder ran on this host and that process no longer exists (the
process's start time is kept beside its pid, so a reused pid is not mistaken for
the holder). A re-run after a crash, a kill or a lost endpoint therefore just
resumes. The takeover names the dead holder through ``progress`` (stderr), in the
new holder's value (``broke``) and in ``--json`` (``lockTakeovers``, from
``infra.core.steps.NOTICES``). A lock that looks alive is broken only with a
reason (``break_reason``, the CLI's ``--break-lock REASON``), which is recorded the
same way.

Within one thread the lock is re-entrant: an operation that holds a client's
lock may call another that takes it again.

A holder whose lock was taken over stops at its next step boundary
(``checkpoints.checkpoint``) with ``LockHeld``; every operation resumes from a step
boundary. The token is the fence: every step boundary reads the lock (one SSM
GetParameter), so a holder that was paused (suspended, stopped) or whose lock was
broken by hand cannot begin another step after a takeover. Renewal is a
read then an overwrite (SSM has no compare-and-set), so a break landing between
the two can still be overwritten; it needs a whole lease of failed renewals first.

Reads (status, list, plan, dry runs) never take the lock.
"""

from __future__ import annotations

import getpass
import json
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from botocore.exceptions import ClientError

from infra.core import naming
from infra.core.errors import LockHeld, TenantctlError
from infra.core.steps import NOTICES, Progress, quiet
from infra.ops.adapters import aws, checkpoints
from infra.ops.adapters.checkpoints import checkpoint
from infra.ops.stacks.stackfiles import stack_region

LEASE_ENV = "TENANTCTL_LOCK_LEASE_SECONDS"
"""How long a lock lives without renewal (default ``DEFAULT_LEASE_SECONDS``)."""

DEFAULT_LEASE_SECONDS = 120


def lock_region(stacks_dir: Path, slug: str) -> str:
    """Where *slug*'s lock lives: its preview stack file's region, else the default region.

    Every caller must agree on it, so it never depends on the caller's AWS_REGION.
    """
    try:
        return preview_lock_region(stack_region(stacks_dir, slug, naming.PREVIEW))
    except TenantctlError:  # no stack file yet (UnknownTenant), or an unreadable or malformed
        # one (UnreadableFile, MalformedFile): the operation reports that itself
        return naming.DEFAULT_REGION


def preview_lock_region(preview_region: str | None) -> str:
    """``lock_region`` for a caller that holds the preview stack's region (``region`` of
    its stack file, ``None`` when the file names none)."""
    return preview_region or naming.DEFAULT_REGION


def _take_over(
    ssm: Any,
    region: str | None,
    slug: str,
    operation: str,
    holder: LockHolder,
    break_reason: str | None,
    progress: Progress,
) -> LockHolder:
    """Take *slug*'s lock from *holder*: at once when it is provably gone, with
    *break_reason* when it looks alive; otherwise ``LockHeld``."""
    stale = holder.stale_reason()
    if stale is None and not (break_reason or "").strip():
        raise LockHeld(
            f"{slug} is locked by {holder.describe()}, lease until {holder.expires}; wait for "
            "it to finish and re-run, or, if you know it is dead, re-run with "
            "--break-lock REASON (nothing was changed)"
        )
    why = stale or f"broken by hand: {break_reason}"
    # Delete only if it is still that holder's, then race for it like anyone.
    name = naming.lock_parameter(slug)
    again = current_holder(slug, region)
    if again is not None and again.token == holder.token:
        ssm.delete_parameter(Name=name)
    me = _me(operation, broke=f"{holder.describe()} ({why})")
    if not _create(ssm, name, me, slug):
        raise LockHeld(f"{slug}: another caller took the lock first; re-run (nothing was changed)")
    # SSM has no compare-and-set: two callers taking over at once can each delete the
    # other's new lock. Look again after a short, random pause; the one whose token is
    # not there stops here, before it has changed anything.
    time.sleep(random.uniform(0.2, 0.4))
    if (current_holder(slug, region) or holder).token != me.token:
        raise LockHeld(f"{slug}: another caller took the lock first; re-run (nothing was changed)")
    verb = "took over the stale lock" if stale else "broke the lock"
    progress(f"{verb} of {slug}: {holder.describe()} ({why})")
    NOTICES.append({"lockTakeover": {"client": slug, "holder": holder.describe(), "reason": why}})
    return me


def lease_seconds() -> float:
    try:
        value = float(os.environ.get(LEASE_ENV) or DEFAULT_LEASE_SECONDS)
    except ValueError:
        value = DEFAULT_LEASE_SECONDS
    return max(value, 3.0)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True)
class LockHolder:
    """Who holds a client's lock; stored as the parameter's JSON value."""

    operation: str
    since: str
    user: str
    host: str
    pid: int
    token: str
    expires: str = ""
    broke: str = ""
    """The holder this one took the lock from, and why (dead, or ``--break-lock REASON``)."""
    started: float = 0.0
    """When the holder's process started (``_start_time``): with *pid*, the process
    itself, not whatever process reuses the pid later."""

    def describe(self) -> str:
        return f"{self.operation} by {self.user}@{self.host} (pid {self.pid}) since {self.since}"

    def stale_reason(self, now: datetime | None = None) -> str | None:
        """Why this lock is stale (its lease expired, its process is gone), or ``None``."""
        now = now or datetime.now(UTC)
        try:
            expires = datetime.fromisoformat(self.expires) if self.expires else None
        except ValueError:
            expires = None
        if expires is not None and expires < now:
            return f"its lease expired at {self.expires}"
        if self.host == socket.gethostname() and self.pid > 0:
            gone = _process_gone(self.pid, self.started)
            if gone:
                return gone
        if self.token == "":
            return "its value is unreadable"
        return None

    def with_lease(self, seconds: float) -> LockHolder:
        expires = datetime.now(UTC) + timedelta(seconds=seconds)
        return LockHolder(**{**asdict(self), "expires": _iso(expires)})


def _start_time(pid: int) -> float | None:
    """When process *pid* started, or ``None`` when there is no such process.

    On Linux: its start in clock ticks since boot (``/proc/<pid>/stat``, field 22),
    which no change of the wall clock moves (an NTP step, a resume). Elsewhere
    psutil's start time, which follows the wall clock: an unlucky clock step there
    can make a live holder look gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None  # Linux, and no such process
    except OSError:
        return 0.0
    else:
        return float(stat.rpartition(")")[2].split()[19])
    try:
        return round(psutil.Process(pid).create_time(), 2)
    except psutil.NoSuchProcess:
        return None
    except psutil.Error:  # exists, but not ours to inspect: treat it as the holder
        return 0.0


def _process_gone(pid: int, started: float) -> str | None:
    """Why the holder process *pid* (started at *started*) is provably gone, or ``None``."""
    now_started = _start_time(pid)
    if now_started is None:
        return f"process {pid} on this host is gone"
    # A lock written before start times were kept (started 0) is judged by the pid alone.
    if started and now_started and now_started != started:
        return f"process {pid} on this host is gone (the pid now belongs to another process)"
    return None


def _me(operation: str, broke: str = "") -> LockHolder:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return LockHolder(
        operation=operation,
        since=_iso(datetime.now(UTC)),
        user=user,
        host=socket.gethostname(),
        pid=os.getpid(),
        token=uuid.uuid4().hex,
        broke=broke,
        started=_start_time(os.getpid()) or 0.0,
    ).with_lease(lease_seconds())


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
        known = {k: v for k, v in data.items() if k in LockHolder.__dataclass_fields__}
        return LockHolder(**known)
    except (ValueError, TypeError):
        return LockHolder("unknown operation", "?", "?", "?", 0, "")


_held = threading.local()


def _held_here() -> dict[str, _Renewer]:
    """The locks this thread holds, by slug: each one's renewer (which knows its holder)."""
    if not hasattr(_held, "locks"):
        _held.locks = {}
    locks: dict[str, _Renewer] = _held.locks
    return locks


def _still_held() -> None:
    """At a step boundary: stop an operation whose lock another caller took over.

    That happens when the lease lapsed (renewals failed for a whole lease, or the
    process was suspended) and the next caller took the lock over as stale, or when
    someone broke it by hand (``--break-lock REASON``). Every operation is resumable
    from a step boundary, so stopping here leaves state the next run finishes.
    """
    for slug, renewer in _held_here().items():
        if not renewer.lost_event.is_set():
            # The renewer notices a takeover only at its next renewal; a step may begin
            # before that (after a pause, a suspended laptop, a break by hand). One read
            # of the lock per step boundary makes the token a fence for every step.
            renewer.verify()
        if renewer.lost_event.is_set():
            taker = renewer.lost.describe() if renewer.lost else "nobody (it was deleted)"
            raise LockHeld(
                f"{slug}: the lock of this operation was taken over while it ran (now held "
                f"by {taker}); it stopped at a step boundary: re-run it once that one is done"
            )


checkpoints.GUARDS.append(_still_held)


def _create(ssm: Any, name: str, holder: LockHolder, slug: str) -> bool:
    try:
        ssm.put_parameter(
            Name=name,
            Value=json.dumps(asdict(holder)),
            Type="String",
            Overwrite=False,
            Description=f"{naming.TOOL} operation lock of client {slug}",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ParameterAlreadyExists":
            raise
        return False
    return True


class _Renewer(threading.Thread):
    """Extends the lease every third of its length while the operation runs."""

    def __init__(self, slug: str, region: str | None, holder: LockHolder) -> None:
        super().__init__(name=f"lock-lease-{slug}", daemon=True)
        self.slug, self.region, self.holder = slug, region, holder
        self.stop = threading.Event()
        self.lost: LockHolder | None = None
        self.lost_event = threading.Event()
        """Set when a renewal found the lock no longer ours (``lost``: who has it now)."""

    def verify(self) -> None:
        """Check now that the lock is still ours; on a fault, assume nothing changed."""
        try:
            holder = current_holder(self.slug, self.region)
        except Exception:
            return
        if holder is None or holder.token != self.holder.token:
            self.lost = holder
            self.lost_event.set()

    def run(self) -> None:
        interval = lease_seconds() / 3
        ssm = aws.client("ssm", self.region)
        name = naming.lock_parameter(self.slug)
        while not self.stop.wait(interval):
            try:
                holder = current_holder(self.slug, self.region)
                if holder is None or holder.token != self.holder.token:
                    self.lost = holder
                    self.lost_event.set()
                    return
                self.holder = self.holder.with_lease(lease_seconds())
                ssm.put_parameter(
                    Name=name, Value=json.dumps(asdict(self.holder)), Type="String", Overwrite=True
                )
            except Exception:
                continue  # a transient fault: the next renewal tries again within the lease


@contextmanager
def client_lock(
    slug: str,
    operation: str,
    region: str | None = None,
    *,
    break_reason: str | None = None,
    progress: Progress = quiet,
) -> Iterator[LockHolder]:
    """Hold *slug*'s lock for the block; ``LockHeld`` (exit 4) when someone alive has it.

    A stale lock (its holder provably gone) is taken over; a live one only with
    *break_reason* (recorded). Either takeover is reported (``progress`` and
    ``NOTICES``)."""
    held = _held_here()
    if slug in held:  # re-entrant within one thread
        yield held[slug].holder
        return
    ssm = aws.client("ssm", region)
    name = naming.lock_parameter(slug)
    me = _me(operation)
    if not _create(ssm, name, me, slug):
        holder = current_holder(slug, region)
        if holder is None:  # released between our two calls: try once more
            if not _create(ssm, name, me, slug):
                raise LockHeld(
                    f"{slug} is locked by an operation that just started; re-run "
                    "(nothing was changed)"
                )
        else:
            me = _take_over(ssm, region, slug, operation, holder, break_reason, progress)
    renewer = _Renewer(slug, region, me)
    renewer.start()
    held[slug] = renewer
    try:
        checkpoint("lock-acquired")
        yield me
    finally:
        held.pop(slug, None)
        renewer.stop.set()
        renewer.join()
        holder = current_holder(slug, region)
        if holder is not None and holder.token == me.token:
            ssm.delete_parameter(Name=name)
