"""Rollouts in the control database: start, mark, complete, replan, pause, and status.

Every change is one transaction that takes the rollout's row lock
(``SELECT ... FOR UPDATE``), checks the recorded state under it, writes the new
state, appends to the history and, when the change earns a billing milestone,
records the milestone and its outbox row too. Two people acting at once: the
second waits for the first, then finds the state changed and gets one line
(``PreconditionFailed``); nothing is recorded twice. Callers also hold the
client lock (``infra.ops.stacks.locking``).

Observed tasks are checked against the real systems (``infra.ops.rollout.observe``)
for one client's status and for every gate; the portfolio view reads the last
observations, kept in the ``observations`` table, so that it answers from one
round of queries.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from infra import PROJECT_DIR
from infra.core import naming
from infra.core.errors import PreconditionFailed, UnknownTenant, UserInputError
from infra.core.rollout import (
    START_MILESTONE,
    Mark,
    MilestoneRecord,
    Observation,
    Pause,
    PhaseCompletion,
    Replan,
    RolloutRecord,
    RolloutSummary,
    Schedule,
    ScheduleError,
    attention_order,
    billing_event,
    gate_problems,
    milestone_key,
    parse_schedule,
    summarize,
    task_status,
)
from infra.core.steps import Progress, quiet
from infra.ops.adapters import control

SCHEDULE_ENV = "TENANTCTL_ROLLOUT_SCHEDULE"
DEFAULT_SCHEDULE = PROJECT_DIR / "templates" / "rollout" / "schedule.yaml"
DEFAULT_CONTRACT = "initial"
"""The contract reference ``create`` uses when none is given."""

Observer = Callable[[str, "set[str] | None"], Mapping[str, Observation]]
"""Checks one client's systems (every check, or the named ones): ``{check: observation}``."""


def actor(by: str | None = None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def today() -> date:
    return datetime.now(UTC).date()


# ------------------------------------------------------------------ schedule


def load_schedule(path: Path | None = None) -> Schedule:
    """The vendor's schedule file, validated (``UserInputError`` names each problem)."""
    path = path or Path(os.environ.get(SCHEDULE_ENV) or DEFAULT_SCHEDULE)
    try:
        data = YAML(typ="safe").load(path.read_text("utf-8"))
    except OSError as exc:
        raise UserInputError(f"cannot read the rollout schedule {path}: {exc.strerror}") from None
    except (YAMLError, UnicodeDecodeError) as exc:
        raise UserInputError(f"rollout schedule {path} is not valid YAML: {exc}") from None
    try:
        return parse_schedule(data)
    except ScheduleError as exc:
        raise UserInputError(f"{path}: {exc}") from None


# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class RolloutRow:
    id: int
    client: str
    contract: str
    signed_off: date


def _row(values: tuple[Any, ...]) -> RolloutRow:
    return RolloutRow(int(values[0]), values[1], values[2], values[3])


def find(conn: psycopg.Connection, client: str, contract: str | None = None) -> RolloutRow:
    """The client's rollout (the latest signed off when *contract* is not given)."""
    if contract is None:
        row = conn.execute(
            "SELECT id, client, contract, signed_off FROM rollouts WHERE client = %s "
            "ORDER BY signed_off DESC, id DESC LIMIT 1",
            (client,),
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT id, client, contract, signed_off FROM rollouts "
            "WHERE client = %s AND contract = %s",
            (client, contract),
        ).fetchone()
    if row is None:
        what = f"{client} contract {contract}" if contract else client
        raise UnknownTenant(
            f"no rollout for {what}; start one with `tenantctl rollout start {client} "
            "--contract REF`"
        )
    return _row(row)


def _lock(conn: psycopg.Connection, client: str, contract: str | None) -> RolloutRow:
    found = find(conn, client, contract)
    conn.execute("SELECT 1 FROM rollouts WHERE id = %s FOR UPDATE", (found.id,))
    return found


def _records(conn: psycopg.Connection, rows: list[RolloutRow]) -> dict[int, RolloutRecord]:
    """Every recorded fact of *rows*' rollouts, in one query per table."""
    records = {
        r.id: RolloutRecord(client=r.client, contract=r.contract, signed_off=r.signed_off)
        for r in rows
    }
    ids = list(records)
    for rid, task, by, at, note in conn.execute(
        "SELECT rollout_id, task, marked_by, marked_at, note FROM task_marks "
        "WHERE rollout_id = ANY(%s)",
        (ids,),
    ):
        records[rid].marks[task] = Mark(by, at, note)
    for rid, phase, at, by, reason in conn.execute(
        "SELECT rollout_id, phase, completed_at, completed_by, override_reason "
        "FROM phase_completions WHERE rollout_id = ANY(%s)",
        (ids,),
    ):
        records[rid].completions[phase] = PhaseCompletion(at, by, reason)
    for rid, phase, lo, hi, at, by, reason in conn.execute(
        "SELECT rollout_id, phase, min_days, max_days, replanned_at, replanned_by, reason "
        "FROM replans WHERE rollout_id = ANY(%s) ORDER BY id",
        (ids,),
    ):
        records[rid].replans.append(Replan(phase, lo, hi, at, by, reason))
    for rid, started, ended, by, reason in conn.execute(
        "SELECT rollout_id, started, ended, paused_by, reason FROM pauses "
        "WHERE rollout_id = ANY(%s) ORDER BY id",
        (ids,),
    ):
        records[rid].pauses.append(Pause(started, ended, by, reason))
    for rid, milestone, at, published in conn.execute(
        "SELECT m.rollout_id, m.milestone, m.occurred_at, o.published_at IS NOT NULL "
        "FROM milestones m JOIN outbox o ON o.milestone_id = m.id WHERE m.rollout_id = ANY(%s)",
        (ids,),
    ):
        records[rid].milestones.append(MilestoneRecord(milestone, at, published))
    return records


def _stored_observations(
    conn: psycopg.Connection, ids: list[int]
) -> dict[int, dict[str, Observation]]:
    found: dict[int, dict[str, Observation]] = {i: {} for i in ids}
    for rid, check, state, detail, at in conn.execute(
        "SELECT rollout_id, check_name, state, detail, checked_at FROM observations "
        "WHERE rollout_id = ANY(%s)",
        (ids,),
    ):
        found[rid][check] = Observation(state, detail, at)
    return found


def _store_observations(
    conn: psycopg.Connection, rollout_id: int, observations: Mapping[str, Observation]
) -> None:
    now = datetime.now(UTC)
    before = {
        check: state
        for check, state in conn.execute(
            "SELECT check_name, state FROM observations WHERE rollout_id = %s", (rollout_id,)
        )
    }
    for check, obs in observations.items():
        if before.get(check, "unknown") != obs.state and obs.state != "unknown":
            # What the systems did is history too: when a done task stopped holding.
            _history(
                conn,
                rollout_id,
                naming.TOOL,
                "observed",
                check,
                {"from": before.get(check), "to": obs.state, "detail": obs.detail},
            )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO observations (rollout_id, check_name, state, detail, checked_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (rollout_id, check_name) DO UPDATE "
            "SET state = EXCLUDED.state, detail = EXCLUDED.detail, "
            "checked_at = EXCLUDED.checked_at",
            [(rollout_id, k, o.state, o.detail, now) for k, o in observations.items()],
        )


def _history(
    conn: psycopg.Connection,
    rollout_id: int,
    by: str,
    action: str,
    subject: str = "",
    detail: Mapping[str, Any] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO history (rollout_id, actor, action, subject, detail) "
        "VALUES (%s, %s, %s, %s, %s)",
        (rollout_id, by, action, subject, Jsonb(dict(detail or {}))),
    )


def _earn(conn: psycopg.Connection, row: RolloutRow, milestone: str, by: str) -> bool:
    """Record *milestone* and its outbox row (in the caller's transaction); False if it exists."""
    key = milestone_key(row.client, row.contract, milestone)
    occurred = datetime.now(UTC).replace(microsecond=0)
    inserted = conn.execute(
        "INSERT INTO milestones (id, rollout_id, client, contract, milestone, occurred_at) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
        (key, row.id, row.client, row.contract, milestone, occurred),
    ).fetchone()
    if inserted is None:
        return False
    event = billing_event(row.client, row.contract, milestone, occurred)
    conn.execute("INSERT INTO outbox (milestone_id, event) VALUES (%s, %s)", (key, Jsonb(event)))
    _history(conn, row.id, by, "milestone", milestone, {"idempotencyKey": key})
    return True


# ------------------------------------------------------------------ results


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


# ------------------------------------------------------------------ commands


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
        row = _row(created)
        _history(conn, row.id, by, "start", "", {"signedOff": signed_off.isoformat()})
        earned = _earn(conn, row, START_MILESTONE, by)
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


def _phase_observations(
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
        row = _lock(conn, client, contract)
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
        _history(conn, row.id, by, "done", task_key, {"phase": phase.number, "note": note})
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
    observations = _phase_observations(schedule, number, observe, client)
    with conn.transaction():
        row = _lock(conn, client, contract)
        record = _records(conn, [row])[row.id]
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
            _store_observations(conn, row.id, observations)
        tasks = [
            task_status(
                t,
                record.marks.get(t.key),
                observations.get(t.observe) if t.observe else None,
                False,
            )
            for t in phase.tasks
        ]
        problems = gate_problems(tasks)
        if problems and not override_reason:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise PreconditionFailed(
                f"phase {number} of {client} cannot complete: {problems[0]}{more}; finish it, "
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
        _history(conn, row.id, by, "complete-phase", str(number), detail)
        earned = tuple(m for m in phase.milestones if _earn(conn, row, m, by))
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


def record_go_live(conn: psycopg.Connection, schedule: Schedule, client: str, by: str) -> Change:
    """Promote's last step: the final phase complete and its milestones, idempotently."""
    number = schedule.last
    with conn.transaction():
        row = _lock(conn, client, None)
        record = _records(conn, [row])[row.id]
        changed = False
        if number not in record.completions:
            conn.execute(
                "INSERT INTO phase_completions (rollout_id, phase, completed_by) "
                "VALUES (%s, %s, %s)",
                (row.id, number, by),
            )
            _history(conn, row.id, by, "complete-phase", str(number), {"by": "promote"})
            changed = True
        earned = tuple(m for m in schedule.phase(number).milestones if _earn(conn, row, m, by))
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
        row = _lock(conn, client, contract)
        if task_key is not None:
            gone = conn.execute(
                "DELETE FROM task_marks WHERE rollout_id = %s AND task = %s RETURNING marked_by",
                (row.id, task_key),
            ).fetchone()
            if gone is None:
                raise PreconditionFailed(
                    f"{task_key} of {client} is not marked done; nothing to undo"
                )
            _history(conn, row.id, by, "undo", task_key, {"reason": reason})
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
        _history(conn, row.id, by, "reopen-phase", str(phase), {"reason": reason})
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
        row = _lock(conn, client, contract)
        conn.execute(
            "INSERT INTO replans (rollout_id, phase, min_days, max_days, reason, replanned_by) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (row.id, phase, min_days, max_days, reason, by),
        )
        _history(
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
        row = _lock(conn, client, contract)
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
        _history(conn, row.id, by, "pause", "", {"reason": reason})
    return Change(client, row.contract, "pause", "", True, f"{client} paused")


def resume(conn: psycopg.Connection, client: str, by: str, contract: str | None = None) -> Change:
    with conn.transaction():
        row = _lock(conn, client, contract)
        closed = conn.execute(
            "UPDATE pauses SET ended = %s WHERE rollout_id = %s AND ended IS NULL "
            "RETURNING started",
            (today(), row.id),
        ).fetchone()
        if closed is None:
            raise PreconditionFailed(f"{client} is not paused; nothing recorded")
        _history(conn, row.id, by, "resume", "", {"pausedSince": closed[0].isoformat()})
    return Change(client, row.contract, "resume", "", True, f"{client} resumed")


def override_gate(
    conn: psycopg.Connection, client: str, phase: int, reason: str, by: str, unmet: list[str]
) -> None:
    """Record that a gate was passed without its phase being complete (e.g. promote)."""
    with conn.transaction():
        row = _lock(conn, client, None)
        _history(conn, row.id, by, "override-gate", str(phase), {"reason": reason, "unmet": unmet})


# ------------------------------------------------------------------ status


def status_one(
    conn: psycopg.Connection,
    schedule: Schedule,
    client: str,
    observe: Observer | None,
    on: date | None = None,
    contract: str | None = None,
) -> RolloutSummary:
    """One client's rollout, its observed tasks checked against the systems now."""
    row = find(conn, client, contract)
    observations = observe(client, None) if observe is not None else {}
    with conn.transaction():
        if observe is not None:
            _store_observations(conn, row.id, observations)
        record = _records(conn, [row])[row.id]
    if observe is None:
        observations = _stored_observations(conn, [row.id])[row.id]
    return summarize(schedule, record, observations, on or today())


def status_all(
    conn: psycopg.Connection, schedule: Schedule, on: date | None = None
) -> list[RolloutSummary]:
    """Every client's latest rollout from recorded facts and the last observations,
    attention first. A fixed number of queries, whatever the number of clients."""
    rows = [
        _row(r)
        for r in conn.execute(
            "SELECT DISTINCT ON (client) id, client, contract, signed_off FROM rollouts "
            "ORDER BY client, signed_off DESC, id DESC"
        )
    ]
    records = _records(conn, rows)
    observations = _stored_observations(conn, [r.id for r in rows])
    when = on or today()
    return attention_order(
        summarize(schedule, records[r.id], observations[r.id], when, detail=False) for r in rows
    )


def history(
    conn: psycopg.Connection, client: str, contract: str | None = None
) -> list[dict[str, Any]]:
    row = find(conn, client, contract)
    return [
        {"at": at.isoformat(), "actor": a, "action": act, "subject": s, "detail": d}
        for at, a, act, s, d in conn.execute(
            "SELECT at, actor, action, subject, detail FROM history WHERE rollout_id = %s "
            "ORDER BY id",
            (row.id,),
        )
    ]


def clients_with_rollouts(conn: psycopg.Connection) -> Iterable[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT client FROM rollouts ORDER BY client")]


# ------------------------------------------------------------ other commands


def start_with_create(
    client: str, contract: str | None, signed_off: date | None, by: str | None
) -> dict[str, Any]:
    """``create``'s sign-off: start the client's rollout unless it has one (or no control
    database is configured); publishes the sign-off milestone."""
    from infra.ops.rollout import billing

    if not control.configured():
        return {"status": "skipped", "reason": f"{control.CONTROL_DATABASE_URL_ENV} not set"}
    with control.connect() as conn:
        if contract is None and has_rollout(conn, client):
            return {"status": "exists", "client": client}
        change = start(conn, client, contract or DEFAULT_CONTRACT, signed_off or today(), actor(by))
        result: dict[str, Any] = {"status": "started" if change.changed else "exists"}
        result.update(change.to_json())
        result["billing"] = billing.publish_quietly(conn)
    return result


def promote_gate(
    stacks_dir: Path,
    client: str,
    override_reason: str | None,
    by: str | None,
    progress: Callable[[str], None],
) -> str | None:
    """Refuse to start a promotion while the phase before go-live is incomplete, or any of
    its required tasks no longer holds, unless overridden with a reason (recorded).

    Returns a note when the gate could not be checked (no control database)."""
    if not control.configured():
        return f"  rollout gate not checked: {control.CONTROL_DATABASE_URL_ENV} not set"
    from infra.ops.rollout.observe import observer

    schedule = load_schedule()
    gate = schedule.phase(schedule.last - 1)
    observations = _phase_observations(schedule, gate.number, observer(stacks_dir), client)
    with control.connect() as conn:
        row = find(conn, client)
        record = _records(conn, [row])[row.id]
        problems: list[str] = []
        if gate.number not in record.completions:
            problems.append(f"phase {gate.number} {gate.title} is not complete")
        problems += gate_problems(
            task_status(
                t,
                record.marks.get(t.key),
                observations.get(t.observe) if t.observe else None,
                False,
            )
            for t in gate.tasks
        )
        if not problems:
            return None
        if override_reason:
            override_gate(conn, client, gate.number, override_reason, actor(by), problems)
            progress(f"  rollout gate overridden ({override_reason}): {'; '.join(problems)}")
            return None
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    raise PreconditionFailed(
        f"cannot promote {client}: {problems[0]}{more}; finish phase {gate.number} "
        f"(`tenantctl rollout status {client}`) or pass --override-gate --reason TEXT"
    )


def go_live_recorded(client: str, by: str | None, progress: Callable[[str], None]) -> str:
    """Promote's final step: the go-live phase and its milestones, then publish them."""
    from infra.ops.rollout import billing

    if not control.configured():
        return f"rollout not recorded ({control.CONTROL_DATABASE_URL_ENV} not set)"
    schedule = load_schedule()
    with control.connect() as conn:
        change = record_go_live(conn, schedule, client, actor(by))
        published = billing.publish_quietly(conn, progress)
    earned = ", ".join(change.milestones) or "already recorded"
    return f"milestones {earned}; {published or 'nothing to publish'}"


# ------------------------------------------------- one operation per CLI command
#
# Each opens the control database itself and, when it changes a client, holds the
# client's lock (``infra.ops.stacks.locking``) around the whole change. Steps that may earn a
# milestone then publish whatever is pending (this step's, or an earlier run's that
# crashed before publishing); a publishing failure leaves it pending, not lost, and is
# reported in ``Change.billing``.


def _publish_after(conn: psycopg.Connection, change: Change, progress: Progress) -> Change:
    from infra.ops.rollout import billing

    return replace(change, billing=billing.publish_quietly(conn, progress))


def _locked(stacks_dir: Path, client: str, operation: str) -> AbstractContextManager[object]:
    """The client's lock, where every operation on the client looks for it (``lock_region``)."""
    from infra.ops.stacks.locking import client_lock, lock_region

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
    from infra.ops.rollout.observe import observer

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
    from infra.ops.rollout.observe import observer

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
                from infra.ops.rollout.observe import observer

                observe = observer(stacks_dir)
                summaries = attention_order(
                    status_one(conn, schedule, s.client, observe) for s in summaries
                )
            return RolloutStatus(today(), summaries, detail=False)
        from infra.ops.rollout.observe import observer

        one = status_one(
            conn, schedule, client, observer(stacks_dir) if check is not False else None
        )
    return RolloutStatus(today(), [one], detail=True)


@dataclass(frozen=True)
class History:
    """``rollout history``: who did what and when, oldest first."""

    client: str
    rows: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"client": self.client, "history": self.rows}


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
    from infra.ops.rollout.report import write_report

    schedule = load_schedule()
    with control.connect() as conn:
        summaries = status_all(conn, schedule)
    write_report(html_file, summaries, today())
    return Report(html_file, len(summaries))
