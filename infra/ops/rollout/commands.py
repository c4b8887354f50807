"""Rollout commands: one operation per ``tenantctl rollout`` command, and ``create``'s sign-off.

Each opens the control database itself and, when it changes a client, holds the
client's lock (``infra.ops.stacks.locking``) around the whole change. Steps that may
earn a milestone then publish whatever is pending (this step's, or an earlier run's
that crashed before publishing); a publishing failure leaves it pending, not lost, and
is reported in ``Change.billing``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import date
from pathlib import Path

import psycopg

from infra.core.steps import Progress, quiet
from infra.ops.adapters import control
from infra.ops.rollout import billing
from infra.ops.rollout.observe import observer
from infra.ops.rollout.store import (
    actor,
    load_schedule,
    today,
)
from infra.ops.rollout.transitions import (
    Change,
    complete_phase,
    mark_done,
    pause,
    replan,
    resume,
    start,
    undo,
)
from infra.ops.stacks.locking import client_lock, lock_place


def _publish_after(conn: psycopg.Connection, change: Change, progress: Progress) -> Change:
    return replace(change, billing=billing.publish_quietly(conn, progress))


def _locked(stacks_dir: Path, client: str, operation: str) -> AbstractContextManager[object]:
    """The client's lock, where every operation on the client looks for it (``lock_place``)."""
    return client_lock(client, operation, lock_place(stacks_dir, client))


def start_rollout(
    stacks_dir: Path,
    client: str,
    contract: str,
    signed_off: date | None,
    by: str | None,
    progress: Progress = quiet,
) -> Change:
    """``rollout start``: start the client's rollout at sign-off, then publish billing."""
    day = signed_off or today()
    with _locked(stacks_dir, client, "rollout start"), control.connect() as conn:
        change = start(conn, client, contract, day, actor(by))
        return _publish_after(conn, change, progress)


def complete_task(
    stacks_dir: Path,
    client: str,
    task: str,
    by: str | None,
    note: str | None,
    contract: str | None = None,
    progress: Progress = quiet,
) -> Change:
    """``rollout done SLUG TASK``: a person marks a task done (checked against the systems
    first when the tool observes it), then pending billing is published."""
    schedule = load_schedule()
    observe = observer(stacks_dir)
    with _locked(stacks_dir, client, "rollout done"), control.connect() as conn:
        change = mark_done(conn, schedule, client, task, actor(by), note, observe, contract)
        return _publish_after(conn, change, progress)


def close_phase(
    stacks_dir: Path,
    client: str,
    phase: int,
    by: str | None,
    override_reason: str | None = None,
    contract: str | None = None,
    progress: Progress = quiet,
) -> Change:
    """``rollout done SLUG --phase N``: complete a phase through its gate (or override it
    with a reason), recording its milestones, then publish them."""
    schedule = load_schedule()
    observe = observer(stacks_dir)
    with _locked(stacks_dir, client, "rollout done"), control.connect() as conn:
        change = complete_phase(
            conn, schedule, client, phase, actor(by), observe, override_reason, contract
        )
        return _publish_after(conn, change, progress)


def undo_step(
    stacks_dir: Path,
    client: str,
    by: str | None,
    reason: str,
    task: str | None = None,
    phase: int | None = None,
    contract: str | None = None,
) -> Change:
    """``rollout undo``: take back a task's mark or reopen the last completed phase."""
    schedule = load_schedule()
    with _locked(stacks_dir, client, "rollout undo"), control.connect() as conn:
        return undo(conn, schedule, client, actor(by), reason, task, phase, contract)


def replan_phase(
    stacks_dir: Path,
    client: str,
    phase: int,
    low: int,
    high: int,
    reason: str,
    by: str | None,
    contract: str | None = None,
) -> Change:
    """``rollout replan``: a new estimate for one phase of this client's rollout."""
    schedule = load_schedule()
    with _locked(stacks_dir, client, "rollout replan"), control.connect() as conn:
        return replan(conn, schedule, client, phase, low, high, reason, actor(by), contract)


def pause_rollout(
    stacks_dir: Path, client: str, reason: str, by: str | None, contract: str | None = None
) -> Change:
    """``rollout pause``."""
    with _locked(stacks_dir, client, "rollout pause"), control.connect() as conn:
        return pause(conn, client, reason, actor(by), contract)


def resume_rollout(
    stacks_dir: Path, client: str, by: str | None, contract: str | None = None
) -> Change:
    """``rollout resume``."""
    with _locked(stacks_dir, client, "rollout resume"), control.connect() as conn:
        return resume(conn, client, actor(by), contract)
