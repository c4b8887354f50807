"""Rollout transitions: every change to a rollout, one transaction each.

Every change takes the rollout's row lock (``SELECT ... FOR UPDATE``), checks the
recorded state under it, writes the new state, appends to the history and, when the
change earns a billing milestone, records the milestone and its outbox row too. Two
people acting at once: the second waits for the first, then finds the state changed
and gets one line (``PreconditionFailed``); nothing is recorded twice. Callers also
hold the client lock (``infra.ops.stacks.locking``). Gates are the one pure rule
``infra.core.rollout.phase_gate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from infra.core import naming
from infra.core.errors import PreconditionFailed, UserInputError
from infra.core.rollout import (
    GO_LIVE_MILESTONE,
    START_MILESTONE,
    Observation,
    Schedule,
    phase_gate,
)
from infra.core.text_rules import first_of
from infra.ops.rollout.store import (
    Observer,
    append_history,
    earn,
    find,
    lock_row,
    records_of,
    row_of,
    store_observations,
    today,
)


@dataclass(frozen=True)
class Change:
    """What a rollout command recorded."""

    client: str
    contract: str
    action: str
    subject: str
    changed: bool
    message: str
    milestones: tuple[str, ...] = ()
    billing: str = ""
    """What publishing pending billing milestones did after the change, in one line
    ("" when nothing was pending or the change does not publish)."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "client": self.client,
            "contract": self.contract,
            "action": self.action,
            "subject": self.subject,
            "changed": self.changed,
            "message": self.message,
            "milestones": list(self.milestones),
        }
        if self.billing:
            data["billing"] = self.billing
        return data


def start(
    conn: psycopg.Connection,
    client: str,
    contract: str,
    signed_off: date,
    by: str,
) -> Change:
    """Start a rollout at sign-off (earns the sign-off milestone); idempotent."""
    problem = naming.slug_problem(client)
    if problem:
        raise UserInputError(f"client {client!r}: {problem}")
    if not contract.strip() or len(contract) > 100:
        raise UserInputError("--contract must be a non-empty reference of at most 100 chars")
    with conn.transaction():
        created = conn.execute(
            "INSERT INTO rollouts (client, contract, signed_off, created_by) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (client, contract) DO NOTHING "
            "RETURNING id, client, contract, signed_off",
            (client, contract, signed_off, by),
        ).fetchone()
        if created is None:
            existing = find(conn, client, contract)
            return Change(
                client,
                contract,
                "start",
                "",
                False,
                f"rollout of {client} contract {contract} already started "
                f"(signed off {existing.signed_off.isoformat()})",
            )
        row = row_of(created)
        append_history(conn, row.id, by, "start", "", {"signedOff": signed_off.isoformat()})
        earned = earn(conn, row, START_MILESTONE, by)
    return Change(
        client,
        contract,
        "start",
        "",
        True,
        f"rollout of {client} contract {contract} started, signed off {signed_off.isoformat()}",
        (START_MILESTONE,) if earned else (),
    )


def has_rollout(conn: psycopg.Connection, client: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM rollouts WHERE client = %s", (client,)).fetchone() is not None
    )


def phase_observations(
    schedule: Schedule, phase: int, observe: Observer | None, client: str
) -> Mapping[str, Observation]:
    needed = {t.observe for t in schedule.phase(phase).tasks if t.observe}
    if not needed or observe is None:
        return {}
    return observe(client, needed)


def mark_done(
    conn: psycopg.Connection,
    schedule: Schedule,
    client: str,
    task_key: str,
    by: str,
    note: str | None,
    observe: Observer | None,
    contract: str | None = None,
) -> Change:
    """A person marks a task done (an observed task only when the tool cannot see it,
    or when the schedule lets a person accept it)."""
    found = schedule.find_task(task_key)
    if found is None:
        known = ", ".join(t.key for p in schedule.phases for t in p.tasks)
        raise UserInputError(f"no task {task_key!r} in the schedule; tasks: {known}")
    phase, task = found
    observations = observe(client, {task.observe}) if (task.observe and observe) else {}
    with conn.transaction():
        row = lock_row(conn, client, contract)
        existing = conn.execute(
            "SELECT marked_by, marked_at FROM task_marks WHERE rollout_id = %s AND task = %s",
            (row.id, task_key),
        ).fetchone()
        if existing is not None:
            raise PreconditionFailed(
                f"{task_key} of {client} was already marked done by {existing[0]} at "
                f"{existing[1]:%Y-%m-%d %H:%M}Z; nothing recorded"
            )
        if task.observe:
            obs = observations.get(task.observe)
            if obs is not None and obs.state == "done":
                raise PreconditionFailed(
                    f"{task_key} is checked by the tool and is already done ({obs.detail}); "
                    "nothing recorded"
                )
            if obs is not None and obs.state == "not-done" and not task.accept:
                raise PreconditionFailed(
                    f"{task_key} is checked against the systems and is not done: {obs.detail}"
                )
        conn.execute(
            "INSERT INTO task_marks (rollout_id, task, marked_by, note) VALUES (%s, %s, %s, %s)",
            (row.id, task_key, by, note),
        )
        append_history(conn, row.id, by, "done", task_key, {"phase": phase.number, "note": note})
    return Change(client, row.contract, "done", task_key, True, f"{task_key} marked done by {by}")


def complete_phase(
    conn: psycopg.Connection,
    schedule: Schedule,
    client: str,
    number: int,
    by: str,
    observe: Observer | None,
    override_reason: str | None = None,
    contract: str | None = None,
) -> Change:
    """Complete phase *number* through its gate; earns the phase's milestones in the same
    transaction."""
    try:
        phase = schedule.phase(number)
    except KeyError:
        raise UserInputError(f"no phase {number}; phases are 1-{schedule.last}") from None
    observations = phase_observations(schedule, number, observe, client)
    with conn.transaction():
        row = lock_row(conn, client, contract)
        record = records_of(conn, [row])[row.id]
        done = record.completions.get(number)
        if done is not None:
            raise PreconditionFailed(
                f"phase {number} of {client} was already completed by {done.by} at "
                f"{done.at:%Y-%m-%d %H:%M}Z; nothing recorded"
            )
        missing = [n for n in range(1, number) if n not in record.completions]
        if missing:
            raise PreconditionFailed(
                f"phase {number} of {client} cannot complete before phase {missing[0]}"
            )
        if observe is not None:
            store_observations(conn, row.id, observations)
        problems = phase_gate(phase, record, observations)
        if problems and not override_reason:
            raise PreconditionFailed(
                f"phase {number} of {client} cannot complete: {first_of(problems)}; finish it, "
                "or pass --override-gate --reason TEXT"
            )
        conn.execute(
            "INSERT INTO phase_completions (rollout_id, phase, completed_by, override_reason) "
            "VALUES (%s, %s, %s, %s)",
            (row.id, number, by, override_reason if problems else None),
        )
        detail: dict[str, Any] = {}
        if problems:
            detail = {"overrideReason": override_reason, "unmet": problems}
        append_history(conn, row.id, by, "complete-phase", str(number), detail)
        earned = tuple(m for m in phase.milestones if earn(conn, row, m, by))
    how = f" (gate overridden: {override_reason})" if problems else ""
    return Change(
        client,
        row.contract,
        "complete-phase",
        str(number),
        True,
        f"phase {number} {phase.title} of {client} completed by {by}{how}",
        earned,
    )


def record_go_live(
    conn: psycopg.Connection,
    schedule: Schedule,
    client: str,
    by: str,
    evidence: Mapping[str, str] | None = None,
) -> Change:
    """Promote's last step: the final phase complete and its milestones, idempotently; the
    milestones name *evidence* (the client's accepted verify run) when there is one."""
    number = schedule.last
    with conn.transaction():
        row = lock_row(conn, client, None)
        record = records_of(conn, [row])[row.id]
        changed = False
        if number not in record.completions:
            conn.execute(
                "INSERT INTO phase_completions (rollout_id, phase, completed_by) "
                "VALUES (%s, %s, %s)",
                (row.id, number, by),
            )
            append_history(conn, row.id, by, "complete-phase", str(number), {"by": "promote"})
            changed = True
        earned = tuple(
            m
            for m in schedule.phase(number).milestones
            if earn(conn, row, m, by, evidence if m == GO_LIVE_MILESTONE else None)
        )
    return Change(
        client,
        row.contract,
        "go-live",
        str(number),
        changed or bool(earned),
        f"go-live of {client} recorded",
        earned,
    )


def undo(
    conn: psycopg.Connection,
    schedule: Schedule,
    client: str,
    by: str,
    reason: str,
    task_key: str | None = None,
    phase: int | None = None,
    contract: str | None = None,
) -> Change:
    """Take back a person's mark or the last phase completion (recorded in the history).

    Milestones already earned stay earned: billing happens once per contract.
    """
    with conn.transaction():
        row = lock_row(conn, client, contract)
        if task_key is not None:
            gone = conn.execute(
                "DELETE FROM task_marks WHERE rollout_id = %s AND task = %s RETURNING marked_by",
                (row.id, task_key),
            ).fetchone()
            if gone is None:
                raise PreconditionFailed(
                    f"{task_key} of {client} is not marked done; nothing to undo"
                )
            append_history(conn, row.id, by, "undo", task_key, {"reason": reason})
            return Change(client, row.contract, "undo", task_key, True, f"{task_key} reopened")
        assert phase is not None
        latest = conn.execute(
            "SELECT max(phase) FROM phase_completions WHERE rollout_id = %s", (row.id,)
        ).fetchone()
        if latest is None or latest[0] != phase:
            raise PreconditionFailed(
                f"only the last completed phase can be reopened "
                f"(last completed of {client}: {latest[0] if latest else 'none'})"
            )
        conn.execute(
            "DELETE FROM phase_completions WHERE rollout_id = %s AND phase = %s", (row.id, phase)
        )
        append_history(conn, row.id, by, "reopen-phase", str(phase), {"reason": reason})
    return Change(
        client,
        row.contract,
        "undo",
        f"phase {phase}",
        True,
        f"phase {phase} reopened (milestones already earned stay earned)",
    )


def replan(
    conn: psycopg.Connection,
    schedule: Schedule,
    client: str,
    phase: int,
    min_days: int,
    max_days: int,
    reason: str,
    by: str,
    contract: str | None = None,
) -> Change:
    if phase not in [p.number for p in schedule.phases]:
        raise UserInputError(f"no phase {phase}; phases are 1-{schedule.last}")
    if not 1 <= min_days <= max_days <= 365:
        raise UserInputError("estimate must be 1 <= MIN <= MAX <= 365 days")
    with conn.transaction():
        row = lock_row(conn, client, contract)
        conn.execute(
            "INSERT INTO replans (rollout_id, phase, min_days, max_days, reason, replanned_by) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (row.id, phase, min_days, max_days, reason, by),
        )
        append_history(
            conn, row.id, by, "replan", str(phase),
            {"minDays": min_days, "maxDays": max_days, "reason": reason},
        )  # fmt: skip
    return Change(
        client, row.contract, "replan", str(phase), True,
        f"phase {phase} of {client} replanned to {min_days}-{max_days} days",
    )  # fmt: skip


def pause(
    conn: psycopg.Connection, client: str, reason: str, by: str, contract: str | None = None
) -> Change:
    with conn.transaction():
        row = lock_row(conn, client, contract)
        open_ = conn.execute(
            "SELECT started, paused_by FROM pauses WHERE rollout_id = %s AND ended IS NULL",
            (row.id,),
        ).fetchone()
        if open_ is not None:
            raise PreconditionFailed(
                f"{client} is already paused (since {open_[0]}, by {open_[1]}); nothing recorded"
            )
        conn.execute(
            "INSERT INTO pauses (rollout_id, started, reason, paused_by) VALUES (%s, %s, %s, %s)",
            (row.id, today(), reason, by),
        )
        append_history(conn, row.id, by, "pause", "", {"reason": reason})
    return Change(client, row.contract, "pause", "", True, f"{client} paused")


def resume(conn: psycopg.Connection, client: str, by: str, contract: str | None = None) -> Change:
    with conn.transaction():
        row = lock_row(conn, client, contract)
        closed = conn.execute(
            "UPDATE pauses SET ended = %s WHERE rollout_id = %s AND ended IS NULL "
            "RETURNING started",
            (today(), row.id),
        ).fetchone()
        if closed is None:
            raise PreconditionFailed(f"{client} is not paused; nothing recorded")
        append_history(conn, row.id, by, "resume", "", {"pausedSince": closed[0].isoformat()})
    return Change(client, row.contract, "resume", "", True, f"{client} resumed")


def override_gate(
    conn: psycopg.Connection, client: str, phase: int, reason: str, by: str, unmet: list[str]
) -> None:
    """Record that a gate was passed without its phase being complete (e.g. promote)."""
    with conn.transaction():
        row = lock_row(conn, client, None)
        append_history(
            conn, row.id, by, "override-gate", str(phase), {"reason": reason, "unmet": unmet}
        )
