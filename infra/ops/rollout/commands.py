"""Rollout commands: one operation per ``tenantctl rollout`` command, and ``create``'s sign-off.

Each opens the control database itself and, when it changes a client, holds the
client's lock (``infra.ops.stacks.locking``) around the whole change. Steps that may
earn a milestone then publish whatever is pending (this step's, or an earlier run's
that crashed before publishing); a publishing failure leaves it pending, not lost, and
is reported in ``Change.billing``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from infra.core.rollout import (
    RolloutSummary,
    attention_order,
)
from infra.core.steps import Progress, quiet
from infra.ops.adapters import control
from infra.ops.rollout import billing
from infra.ops.rollout.observe import observer
from infra.ops.rollout.reads import HistoryEntry, history, status_all, status_one
from infra.ops.rollout.report import write_report
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
from infra.ops.stacks.locking import client_lock, lock_region


def _publish_after(conn: psycopg.Connection, change: Change, progress: Progress) -> Change:
    return replace(change, billing=billing.publish_quietly(conn, progress))


def _locked(stacks_dir: Path, client: str, operation: str) -> AbstractContextManager[object]:
    """The client's lock, where every operation on the client looks for it (``lock_region``)."""
    return client_lock(client, operation, lock_region(stacks_dir, client))


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


@dataclass(frozen=True)
class RolloutStatus:
    """``rollout status``: the portfolio (``detail=False``, one summary line per client)
    or one client in full."""

    today: date
    rollouts: list[RolloutSummary]
    detail: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "rollouts": [s.to_json(detail=self.detail) for s in self.rollouts],
        }


def rollout_status(stacks_dir: Path, client: str | None, check: bool | None) -> RolloutStatus:
    """One client's rollout with its observed tasks checked now (unless *check* is False),
    or, with no *client*, every client's from the last observations (checked now when
    *check* is True), attention first. Reads; takes no lock."""
    schedule = load_schedule()
    with control.connect() as conn:
        if client is None:
            summaries = status_all(conn, schedule)
            if check:
                observe = observer(stacks_dir)
                summaries = attention_order(
                    status_one(conn, schedule, s.client, observe) for s in summaries
                )
            return RolloutStatus(today(), summaries, detail=False)
        one = status_one(
            conn, schedule, client, observer(stacks_dir) if check is not False else None
        )
    return RolloutStatus(today(), [one], detail=True)


@dataclass(frozen=True)
class History:
    """``rollout history``: who did what and when, oldest first."""

    client: str
    rows: list[HistoryEntry]

    def to_json(self) -> dict[str, Any]:
        return {"client": self.client, "history": [r.to_json() for r in self.rows]}


def read_history(client: str, contract: str | None = None) -> History:
    with control.connect() as conn:
        return History(client, history(conn, client, contract))


@dataclass(frozen=True)
class Report:
    """``rollout report``: where the portfolio page was written, for how many rollouts."""

    path: Path
    rollouts: int


def write_portfolio_report(html_file: Path) -> Report:
    """Write the portfolio timeline (one self-contained HTML page) to *html_file*."""
    schedule = load_schedule()
    with control.connect() as conn:
        summaries = status_all(conn, schedule)
    write_report(html_file, summaries, today())
    return Report(html_file, len(summaries))
