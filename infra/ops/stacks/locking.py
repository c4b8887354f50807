"""One lock per client, kept in AWS, so operations serialize across machines and people.

The lock is an S3 object, ``locks/<slug>.json`` (``naming.lock_key``), in the
platform's operations bucket (platform output ``operationsBucketName``), reached in
the client's preview stack's region (``lock_place``). Every change to it is a
conditional write, so it uses no SSM parameter (a quota of 10,000 per region that
cannot be raised) and S3 itself decides every race:

- taking it is a PutObject with ``If-None-Match: *``: exactly one caller creates it;
- renewing it, and taking over a stale or broken one, is a PutObject with
  ``If-Match: <the ETag read>``: of two callers replacing the same version, exactly
  one succeeds (412 Precondition Failed, or 409 ConditionalRequestConflict, for the
  other), so a takeover never needs a second look and a renewal never overwrites a
  takeover;
- releasing it is a DeleteObject with ``If-Match: <our ETag>``: only our own version
  is deleted (S3 supports conditional deletes on general purpose buckets; in the
  versioned bucket the delete leaves a delete marker, and the next ``If-None-Match``
  create succeeds).

Its value says who holds it (operation, user, host, process), since when, and until
when its lease runs (``expires``). While the operation runs, a background thread
renews the lease every third of its length, so a long promote keeps its lock and a
killed one loses it within one lease.

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
boundary. The token is the fence: every step boundary reads the lock (one S3
GetObject), so a holder that was paused (suspended, stopped) or whose lock was
broken by hand cannot begin another step after a takeover.

Reads (status, list, plan, dry runs) never take the lock.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from botocore.exceptions import ClientError

from infra.core import naming
from infra.core.errors import LockHeld, PreconditionFailed, TenantctlError
from infra.core.steps import NOTICES, Progress, quiet
from infra.ops.adapters import aws, checkpoints
from infra.ops.adapters.checkpoints import checkpoint
from infra.ops.stacks.handle import PreviewStack
from infra.ops.stacks.platformfile import platform_outputs, read_platform_file
from infra.ops.stacks.stackfiles import read_stack

LEASE_ENV = "TENANTCTL_LOCK_LEASE_SECONDS"
"""How long a lock lives without renewal (default ``DEFAULT_LEASE_SECONDS``)."""

DEFAULT_LEASE_SECONDS = 120

OPERATIONS_BUCKET = "operationsBucketName"
"""The platform output naming the bucket the locks are kept in."""

_LOST_RACE = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"})
"""What S3 answers a conditional write that another caller's write got ahead of: 412
(the version is not the one named, or the object exists), 409 (a concurrent
conditional write to the same key), 404 (the object named by ``If-Match`` is gone)."""


@dataclass(frozen=True)
class LockPlace:
    """Where a client's lock lives: a bucket, reached through a region's endpoint.

    Every caller must agree on it, so it never depends on the caller's AWS_REGION."""

    bucket: str
    region: str = naming.DEFAULT_REGION


def place_of(platform: Mapping[str, Any], preview_region: str | None) -> LockPlace:
    """The lock place of a client whose platform has outputs *platform* and whose preview
    stack file names *preview_region* (``None`` when it names none)."""
    return LockPlace(str(platform[OPERATIONS_BUCKET]), preview_region or naming.DEFAULT_REGION)


def lock_place(stacks_dir: Path, slug: str) -> LockPlace:
    """Where *slug*'s lock lives: its platform's operations bucket, in its preview's region.

    A client with no readable preview stack file yet (a rollout started before
    ``create``) has no platform of its own: its lock is in the bucket of the one
    platform the platform outputs file names, and when that is not one, nothing is
    done (``PreconditionFailed``)."""
    try:
        preview = read_stack(stacks_dir, slug, naming.PREVIEW)
    except TenantctlError:  # no stack file yet (UnknownTenant), or an unreadable or malformed
        # one (UnreadableFile, MalformedFile): the operation reports that itself
        known = read_platform_file(stacks_dir)
        if len(known) != 1:
            raise PreconditionFailed(
                f"cannot tell where the lock of {slug} is kept: it has no readable preview "
                f"stack file, and the platform outputs file beside the stacks names "
                f"{len(known)} platforms, not one; create the client first (nothing was changed)"
            ) from None
        platform_stack = next(iter(known))
        return place_of(platform_outputs(stacks_dir, platform_stack), None)
    return place_of(platform_outputs(stacks_dir, preview.spec.platform_stack), preview.region)


def preview_place(stack: PreviewStack) -> LockPlace:
    """``lock_place`` for an operation that opened the client's preview (``stack``): the
    same place, without reading its stack file again."""
    if stack.stacks_dir is None:
        raise PreconditionFailed(
            f"cannot tell where the lock of {stack.spec.slug} is kept: {stack.stack_name} was "
            "not opened from a stacks folder (nothing was changed)"
        )
    return place_of(platform_outputs(stack.stacks_dir, stack.spec.platform_stack), stack.region)


def _take_over(
    store: _LockObject,
    slug: str,
    operation: str,
    holder: LockHolder,
    etag: str,
    break_reason: str | None,
    progress: Progress,
) -> tuple[LockHolder, str]:
    """Take *slug*'s lock from *holder* (its object's version *etag*): at once when it is
    provably gone, with *break_reason* when it looks alive; otherwise ``LockHeld``."""
    stale = holder.stale_reason()
    if stale is None and not (break_reason or "").strip():
        raise LockHeld(
            f"{slug} is locked by {holder.describe()}, lease until {holder.expires}; wait for "
            "it to finish and re-run, or, if you know it is dead, re-run with "
            "--break-lock REASON (nothing was changed)"
        )
    why = stale or f"broken by hand: {break_reason}"
    me = _me(operation, broke=f"{holder.describe()} ({why})")
    # Replace exactly the version judged: of two callers taking over at once, S3 lets one
    # through and refuses the other, before either has changed anything.
    mine = store.replace(me, etag)
    if mine is None:
        raise LockHeld(f"{slug}: another caller took the lock first; re-run (nothing was changed)")
    verb = "took over the stale lock" if stale else "broke the lock"
    progress(f"{verb} of {slug}: {holder.describe()} ({why})")
    NOTICES.append({"lockTakeover": {"client": slug, "holder": holder.describe(), "reason": why}})
    return me, mine


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
    """Who holds a client's lock; stored as the lock object's JSON value."""

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


class _LockObject:
    """A client's lock object; every write is conditional, every answer an ETag or ``None``."""

    def __init__(self, place: LockPlace, slug: str) -> None:
        self.place = place
        self.key = naming.lock_key(slug)
        self.s3 = aws.client("s3", place.region)

    def _refuse(self, exc: ClientError) -> None:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise PreconditionFailed(
                f"the platform's operations bucket {self.place.bucket} (platform output "
                f"{OPERATIONS_BUCKET}), where client locks are kept, does not exist in "
                f"{self.place.region}; create it with the platform, or correct the platform "
                "outputs (nothing was changed)"
            ) from None

    def read(self) -> tuple[LockHolder, str] | None:
        """The holder and the version (ETag) of the object, or ``None`` when there is none."""
        try:
            found = self.s3.get_object(Bucket=self.place.bucket, Key=self.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
                return None
            self._refuse(exc)
            raise
        return _parse(found["Body"].read()), str(found["ETag"])

    def _put(self, holder: LockHolder, **condition: str) -> str | None:
        try:
            written = self.s3.put_object(
                Bucket=self.place.bucket,
                Key=self.key,
                Body=json.dumps(asdict(holder)).encode(),
                ContentType="application/json",
                **condition,  # type: ignore[arg-type]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _LOST_RACE:
                return None
            self._refuse(exc)
            raise
        return str(written["ETag"])

    def create(self, holder: LockHolder) -> str | None:
        """Write *holder* if there is no lock object; its ETag, or ``None`` when one exists."""
        return self._put(holder, IfNoneMatch="*")

    def replace(self, holder: LockHolder, etag: str) -> str | None:
        """Write *holder* over version *etag*; the new ETag, or ``None`` when the object is
        no longer that version (another caller wrote or deleted it first)."""
        return self._put(holder, IfMatch=etag)

    def delete(self, etag: str) -> None:
        """Delete version *etag*; leave the object alone when it is another one now."""
        try:
            self.s3.delete_object(Bucket=self.place.bucket, Key=self.key, IfMatch=etag)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _LOST_RACE:
                self._refuse(exc)
                raise


def current_holder(slug: str, place: LockPlace) -> LockHolder | None:
    """Who holds *slug*'s lock now, or ``None``."""
    found = _LockObject(place, slug).read()
    return found[0] if found else None


def _parse(value: bytes) -> LockHolder:
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


class _Renewer(threading.Thread):
    """Extends the lease every third of its length while the operation runs."""

    def __init__(self, slug: str, store: _LockObject, holder: LockHolder, etag: str) -> None:
        super().__init__(name=f"lock-lease-{slug}", daemon=True)
        self.slug, self.store, self.holder = slug, store, holder
        self.etag = etag
        """The version of the lock object this holder wrote last (renewals replace it)."""
        self.stop = threading.Event()
        self.lost: LockHolder | None = None
        self.lost_event = threading.Event()
        """Set when a renewal found the lock no longer ours (``lost``: who has it now)."""

    def _lose(self) -> None:
        try:
            self.lost = current_holder(self.slug, self.store.place)
        except Exception:
            self.lost = None
        self.lost_event.set()

    def verify(self) -> None:
        """Check now that the lock is still ours; on a fault, assume nothing changed."""
        try:
            found = self.store.read()
        except Exception:
            return
        if found is None or found[0].token != self.holder.token:
            self.lost = found[0] if found else None
            self.lost_event.set()

    def run(self) -> None:
        interval = lease_seconds() / 3
        while not self.stop.wait(interval):
            try:
                renewed = self.holder.with_lease(lease_seconds())
                etag = self.store.replace(renewed, self.etag)
            except Exception:
                continue  # a transient fault: the next renewal tries again within the lease
            if etag is None:  # taken over or deleted since our last write: never overwritten
                self._lose()
                return
            self.holder, self.etag = renewed, etag


@contextmanager
def client_lock(
    slug: str,
    operation: str,
    place: LockPlace,
    *,
    break_reason: str | None = None,
    progress: Progress = quiet,
) -> Iterator[LockHolder]:
    """Hold *slug*'s lock (kept at *place*, ``lock_place``) for the block; ``LockHeld``
    (exit 4) when someone alive has it.

    A stale lock (its holder provably gone) is taken over; a live one only with
    *break_reason* (recorded). Either takeover is reported (``progress`` and
    ``NOTICES``)."""
    held = _held_here()
    if slug in held:  # re-entrant within one thread
        yield held[slug].holder
        return
    store = _LockObject(place, slug)
    me = _me(operation)
    etag = store.create(me)
    if etag is None:
        found = store.read()
        if found is None:  # released between our two calls: try once more
            etag = store.create(me)
            if etag is None:
                raise LockHeld(
                    f"{slug} is locked by an operation that just started; re-run "
                    "(nothing was changed)"
                )
        else:
            me, etag = _take_over(store, slug, operation, *found, break_reason, progress)
    renewer = _Renewer(slug, store, me, etag)
    renewer.start()
    held[slug] = renewer
    try:
        checkpoint("lock-acquired")
        yield me
    finally:
        held.pop(slug, None)
        renewer.stop.set()
        renewer.join()
        if not renewer.lost_event.is_set():
            store.delete(renewer.etag)
