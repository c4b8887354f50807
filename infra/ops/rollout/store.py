"""The rollout store: rollouts, their recorded facts and the schedule, in the control database.

Reading a rollout (``find``; ``lock_row`` takes its row lock for a change), all its
recorded facts in one query per table (``records_of``), the observations last seen,
the append-only history and billing milestones with their outbox rows (``earn``, in
the caller's transaction). The vendor's schedule is read here too.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from infra import PROJECT_DIR
from infra.core import naming
from infra.core.errors import UnknownTenant, UserInputError
from infra.core.rollout import (
    Mark,
    MilestoneRecord,
    Observation,
    Pause,
    PhaseCompletion,
    Replan,
    RolloutRecord,
    Schedule,
    ScheduleError,
    billing_event,
    milestone_key,
    parse_schedule,
)
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


@dataclass(frozen=True)
class RolloutRow:
    id: int
    client: str
    contract: str
    signed_off: date


def row_of(values: tuple[Any, ...]) -> RolloutRow:
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
    return row_of(row)


def lock_row(conn: psycopg.Connection, client: str, contract: str | None) -> RolloutRow:
    found = find(conn, client, contract)
    conn.execute("SELECT 1 FROM rollouts WHERE id = %s FOR UPDATE", (found.id,))
    return found


def records_of(conn: psycopg.Connection, rows: list[RolloutRow]) -> dict[int, RolloutRecord]:
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


def stored_observations(
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


def store_observations(
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
            append_history(
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


def append_history(
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


def record_fact(
    slug: str, by: str | None, action: str, subject: str, detail: Mapping[str, Any]
) -> str:
    """Append one observed fact (a verify run, an integration round trip) to *slug*'s
    rollout history, as *by* (else the operator); without a control database nothing is
    recorded. Says which, for the command's output."""
    if not control.configured():
        return f"not recorded in the rollout history ({control.CONTROL_DATABASE_URL_ENV} not set)"
    with control.connect() as conn:
        row = find(conn, slug)
        append_history(conn, row.id, actor(by), action, subject=subject, detail=detail)
    return f"recorded in the rollout history of {slug} (rollout {row.id})"


def earn(
    conn: psycopg.Connection,
    row: RolloutRow,
    milestone: str,
    by: str,
    evidence: Mapping[str, str] | None = None,
) -> bool:
    """Record *milestone* and its outbox row (in the caller's transaction); False if it exists.
    *evidence* (go-live: the accepted verify run) goes into the event and the history."""
    key = milestone_key(row.client, row.contract, milestone)
    occurred = datetime.now(UTC).replace(microsecond=0)
    inserted = conn.execute(
        "INSERT INTO milestones (id, rollout_id, client, contract, milestone, occurred_at) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
        (key, row.id, row.client, row.contract, milestone, occurred),
    ).fetchone()
    if inserted is None:
        return False
    event = billing_event(row.client, row.contract, milestone, occurred, evidence)
    conn.execute("INSERT INTO outbox (milestone_id, event) VALUES (%s, %s)", (key, Jsonb(event)))
    detail: dict[str, Any] = {"idempotencyKey": key}
    if evidence:
        detail["evidence"] = dict(evidence)
    append_history(conn, row.id, by, "milestone", milestone, detail)
    return True
