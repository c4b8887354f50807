"""reset-preview: bring a preview back to defaults, keeping one undo.

What is reset: the working database (a new one built from the defaults
template, swapped in by renames in one transaction; the old one becomes the
undo copy), content (a new release from ``defaults/``, switched in with one
PUT of ``current.json``), and the payment settings (back to the sandbox
defaults the program defines). What is kept: domains, certificates, the
database server, the bucket.

Crash safety: before changing anything, a reset writes what it will replace
(current release, payment settings) to the ``reset-pending`` record. Killed at
any moment, the next ``reset-preview`` finishes that same reset, and
``reset-preview --undo`` returns to the state before it: the database swap is
recognised by the mark it leaves on the working database, so nothing is done
twice. The ``last-reset`` record (what ``--undo`` restores) is replaced only
when a reset is complete.

Safe to run twice: a reset of a preview still exactly as the last reset left
it (content, payment settings and every database row equal to the defaults)
changes nothing and keeps that reset's undo, so a retry after lost output
never throws away the state before the first reset.

Training data (``--with-training-data``): the set in
``infra.ops.content.training_data`` is loaded into the new working database
before the swap, and the reset's record says so (``trainingData``: the set's
version). The next plain reset rebuilds from defaults and so removes it.

Every function here takes a ``PreviewStack``, which cannot be built for a
production spec, and holds the client's lock (``infra.ops.stacks.locking``) while it
changes anything.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

from infra.core import naming
from infra.core.content_model import iso8601, new_release_id, utc_now
from infra.core.errors import PreconditionFailed
from infra.core.payment_settings import payment_parameters
from infra.core.steps import Progress, Step, StepLog, quiet
from infra.ops.adapters.checkpoints import checkpoint
from infra.ops.adapters.database import digest as database_digest
from infra.ops.adapters.payment_store import read_parameters, write_parameters
from infra.ops.content import training_data
from infra.ops.stacks.handle import PreviewStack
from infra.ops.stacks.locking import client_lock, preview_place

RESET_RECORD = "last-reset"
PENDING_RECORD = "reset-pending"
"""A reset that started and has not finished: its id and what it replaces."""


def _now() -> str:
    return iso8601(utc_now())


@dataclass(frozen=True)
class ResetOutcome:
    """What a reset (or its undo) did; ``to_json`` is its ``--json`` document.

    A reset's document is also its ``last-reset`` record: ``undo`` is what
    ``--undo`` restores (the release, payment settings and database kept).
    """

    stack: str
    action: Literal["reset", "undo"]
    at: str
    seconds: float
    steps: list[Step]
    id: str | None = None
    undo: dict[str, Any] | None = None
    unchanged: bool = False
    """Nothing was done: the preview was still as the reset ``id`` left it."""
    training_data: str | None = None
    """The training set's version loaded by this reset, if any."""
    training_digest: str | None = None
    """The working database's digest right after the training set was loaded."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"stack": self.stack, "action": self.action}
        if self.id is not None:
            data["id"] = self.id
        data |= {"at": self.at, "seconds": self.seconds, "steps": [s.to_json() for s in self.steps]}
        if self.undo is not None:
            data["undo"] = self.undo
        if self.unchanged:
            data["unchanged"] = True
        if self.action == "reset":
            data["trainingData"] = self.training_data
            if self.training_digest is not None:
                data["trainingDigest"] = self.training_digest
        return data


def _pending(stack: PreviewStack) -> dict[str, Any] | None:
    record = stack.content.get_record(PENDING_RECORD)
    return record if record and record.get("id") else None


def _clear_pending(stack: PreviewStack) -> None:
    stack.content.put_record(PENDING_RECORD, {"id": None, "clearedAt": _now()})


def _untouched_since_last_reset(stack: PreviewStack, seeded: str | None) -> dict[str, Any] | None:
    """The last reset's record when the preview is still as it left it, else None; a reset
    *seeded* with a training set counts only a last reset seeded with the same one.

    Cheap checks first (the record, the database's reset mark, payment
    settings, content); the database is compared with the defaults template
    (``StackDatabases.working_equals_defaults``), or for a seeded reset with the
    digest recorded right after the training set was loaded, only when all of
    those pass.
    """
    last = stack.content.get_record(RESET_RECORD)
    if not last or last.get("action") != "reset" or not last.get("undo", {}).get("available"):
        return None
    if last.get("trainingData") != seeded:
        return None
    if not stack.database.reset_done(str(last["id"])):
        return None
    if read_parameters(stack.ssm, stack.spec) != payment_parameters(stack.spec):
        return None
    current = stack.content.current()
    release = stack.content.release(current.release) if current else None
    if release is None or dict(release.files) != dict(stack.content.defaults_manifest()):
        return None
    if seeded is None:
        return last if stack.database.working_equals_defaults() else None
    recorded = last.get("trainingDigest")
    return last if recorded and stack.database.working_digest() == recorded else None


def reset_preview(
    stack: PreviewStack,
    progress: Progress = quiet,
    *,
    break_lock: str | None = None,
    with_training_data: bool = False,
) -> ResetOutcome:
    """Reset database, content and payment settings to defaults; keep the previous state.

    *with_training_data*: also load the training set into the new database.
    """
    with _locked(stack, "reset-preview", break_lock, progress):
        progress(f"Resetting {stack.stack_name}")
        return _reset(stack, progress, with_training_data)


def _locked(
    stack: PreviewStack, operation: str, break_lock: str | None, progress: Progress
) -> AbstractContextManager[object]:
    return client_lock(
        stack.spec.slug,
        operation,
        preview_place(stack),
        break_reason=break_lock,
        progress=progress,
    )


def _reset(stack: PreviewStack, progress: Progress, with_training_data: bool) -> ResetOutcome:
    spec, log = stack.spec, StepLog()
    started = time.perf_counter()

    # Both systems are reached (and leftovers repaired) before either is changed.
    for line in stack.database.recover():
        progress(f"  repaired: {line}")
    defaults_db = naming.defaults_database_name(spec.slug, spec.stage)
    if not stack.database.exists(defaults_db):
        raise PreconditionFailed(
            f"{stack.stack_name} has no defaults database yet; run `tenantctl create "
            f"{spec.slug}` (or its post-provision step) first"
        )
    pending = _pending(stack)
    if pending is None and with_training_data:
        # Refused here, before anything is written, when the configuration lacks what it needs.
        training_data.check_training_data(stack.database.url(defaults_db), _currency(stack))
    if pending is not None:
        progress(f"  resuming the interrupted reset {pending['id']}")
    elif (
        last := _untouched_since_last_reset(
            stack, training_data.VERSION if with_training_data else None
        )
    ) is not None:
        progress(
            f"  nothing to reset: {stack.stack_name} is as reset {last['id']} left it; "
            "--undo still returns to the state before that reset"
        )
        return ResetOutcome(
            stack=spec.stack_name,
            action="reset",
            id=str(last["id"]),
            at=_now(),
            seconds=round(time.perf_counter() - started, 3),
            steps=[],
            undo=last["undo"],
            unchanged=True,
            training_data=last.get("trainingData"),
        )
    else:
        current = stack.content.current()
        pending = {
            "id": new_release_id(),
            "startedAt": _now(),
            "trainingData": training_data.VERSION if with_training_data else None,
            "undo": {
                "release": current.release if current else None,
                "payment": read_parameters(stack.ssm, spec),
                "database": naming.undo_database_name(spec.slug, spec.stage),
            },
        }
        stack.content.put_record(PENDING_RECORD, pending)
    undo: dict[str, Any] = pending["undo"]
    # A resumed reset finishes what it started: the pending record says whether it seeds.
    seeded: str | None = pending.get("trainingData")
    loaded: list[int] = []

    def fill(url: str) -> None:
        loaded.append(training_data.load_training_data(url, _currency(stack)))
        # What a second seeded reset compares with (it is not the defaults): kept in the
        # pending record, so a resumed reset still has it.
        pending["trainingDigest"] = database_digest(url)
        stack.content.put_record(PENDING_RECORD, pending)

    def database() -> str:
        timings = stack.database.reset_working(pending["id"], fill if seeded else None)
        if "already" in timings:
            return f"{stack.working_database} was already recreated by this reset"
        detail = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
        extra = f"; training data {seeded} ({sum(loaded)} rows) loaded" if seeded else ""
        return f"{stack.working_database} recreated from the defaults template ({detail}){extra}"

    def content() -> str:
        release = stack.content.publish_from_defaults(
            source="reset", release_id=f"reset-{pending['id']}"
        )
        current = stack.content.current()
        if current is None or current.release != release.id:
            stack.content.switch(release.id, previous=undo["release"])
        checkpoint("reset-content")
        return f"release {release.id} from defaults/ ({len(release.files)} files) now current"

    def payment() -> str:
        defaults = payment_parameters(spec)
        write_parameters(stack.ssm, spec, defaults)
        return f"{len(defaults)} payment settings back to defaults (mode {defaults['mode']})"

    log.run("database", database, progress)
    log.run("content", content, progress)
    log.run("payment", payment, progress)

    result = ResetOutcome(
        stack=spec.stack_name,
        action="reset",
        id=str(pending["id"]),
        at=_now(),
        seconds=round(time.perf_counter() - started, 3),
        steps=log.steps,
        undo={**undo, "available": True},
        training_data=seeded,
        training_digest=pending.get("trainingDigest"),
    )
    stack.content.put_record(RESET_RECORD, result.to_json())
    _clear_pending(stack)
    checkpoint("reset-finished")  # killed here: complete, but the lock is left behind
    return result


def _currency(stack: PreviewStack) -> str:
    return stack.spec.payment.currency


def undo_reset(
    stack: PreviewStack, progress: Progress = quiet, *, break_lock: str | None = None
) -> ResetOutcome:
    """Return the preview to the state it had before the last reset (once).

    After an interrupted reset, that is the state before the interrupted one.
    The database goes first: when PostgreSQL cannot be reached nothing else
    has been switched.
    """
    with _locked(stack, "reset-preview --undo", break_lock, progress):
        progress(f"Undoing reset of {stack.stack_name}")
        return _undo(stack, progress)


def _undo(stack: PreviewStack, progress: Progress) -> ResetOutcome:
    spec, log = stack.spec, StepLog()
    for line in stack.database.recover():
        progress(f"  repaired: {line}")
    pending = _pending(stack)
    record = stack.content.get_record(RESET_RECORD)
    if pending is not None:
        reset_id = str(pending["id"])
        undo = pending["undo"]
        progress(f"  undoing the interrupted reset {reset_id}")
    elif record and record.get("undo", {}).get("available"):
        reset_id = str(record.get("id") or "")
        undo = record["undo"]
    else:
        raise PreconditionFailed(
            f"nothing to undo for {spec.stack_name}: no reset since the last undo "
            "(reset-preview keeps exactly one previous state)"
        )
    started = time.perf_counter()

    def database() -> str:
        if pending is not None and not stack.database.reset_done(reset_id):
            return f"{stack.working_database} was not reset yet; kept as it is"
        if not stack.database.undo_reset(reset_id):
            return f"{stack.working_database} was already restored"
        return f"{stack.working_database} restored from the copy kept at reset"

    def content() -> str:
        if not undo.get("release"):
            return "no release before the reset; content left as defaults"
        current = stack.content.current()
        if current is not None and current.release == undo["release"]:
            return f"release {undo['release']} is current"
        stack.content.switch(undo["release"], previous=current.release if current else None)
        return f"release {undo['release']} current again"

    def payment() -> str:
        write_parameters(stack.ssm, spec, undo.get("payment") or payment_parameters(spec))
        return "payment settings restored"

    log.run("database", database, progress)
    log.run("content", content, progress)
    log.run("payment", payment, progress)
    if record:
        record["undo"] = {**record.get("undo", {}), "available": False, "undoneAt": _now()}
        stack.content.put_record(RESET_RECORD, record)
    if pending is not None:
        _clear_pending(stack)
    return ResetOutcome(
        stack=spec.stack_name,
        action="undo",
        at=_now(),
        seconds=round(time.perf_counter() - started, 3),
        steps=log.steps,
    )
