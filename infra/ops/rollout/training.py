"""``tenantctl rollout training add|list|done``: phase 4's training sessions.

Stored in the control database beside the rollout (``training_sessions``), each change
also a row of the rollout's append-only history. A session is scheduled in the client's
time zone, the ``locale.timezone`` setting of its preview (read-only, once per ``add``).
The rollout's ``training`` task is observed from them (``observe_training``: done once a
session was held); ``list --ics FILE`` writes them as one iCalendar file
(``infra.core.training.calendar``). Rules and formats are ``infra.core.training``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from infra.core import naming
from infra.core.errors import LocalIOError, PreconditionFailed, UserInputError
from infra.core.rollout import Observation
from infra.core.training import (
    TrainingError,
    TrainingSession,
    attendee_problems,
    calendar,
    client_zone,
    duration_problem,
    parse_when,
    topic_problem,
    training_observation,
)
from infra.ops.adapters import control
from infra.ops.rollout.store import actor, append_history, find, lock_row
from infra.ops.rollout.transitions import Change
from infra.ops.stacks.opening import open_from_files

TIMEZONE_SETTING = "locale.timezone"
ADD_ACTION = "training-add"
DONE_ACTION = "training-done"

_COLUMNS = (
    "id, starts_at, timezone, duration_minutes, topic, attendees, scheduled_by, "
    "done_at, done_by, note"
)


def _session(row: tuple[Any, ...]) -> TrainingSession:
    sid, starts, zone, minutes, topic, attendees, by, done_at, done_by, note = row
    return TrainingSession(
        int(sid), starts, zone, int(minutes), topic, tuple(attendees), by, done_at, done_by, note
    )


def sessions_of(conn: psycopg.Connection, rollout_id: int) -> list[TrainingSession]:
    """The rollout's sessions, earliest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM training_sessions WHERE rollout_id = %s ORDER BY starts_at, id",
        (rollout_id,),
    ).fetchall()
    return [_session(r) for r in rows]


def client_timezone(stacks_dir: Path, client: str) -> str:
    """The client's ``locale.timezone``, from its preview's working database."""
    preview = open_from_files(stacks_dir, client, naming.PREVIEW)
    try:
        with psycopg.connect(preview.working_url) as conn:
            row = conn.execute(
                "SELECT value FROM config.settings WHERE key = %s", (TIMEZONE_SETTING,)
            ).fetchone()
    except psycopg.Error as exc:
        raise PreconditionFailed(
            f"cannot read {client}'s {TIMEZONE_SETTING} from {preview.stack_name}: "
            f"{(str(exc).splitlines() or [type(exc).__name__])[0]}"
        ) from None
    if row is None or not str(row[0]).strip():
        raise PreconditionFailed(
            f"{preview.stack_name} has no {TIMEZONE_SETTING} setting; set it (an IANA zone "
            "such as America/New_York) and schedule again"
        )
    return str(row[0]).strip()


def add_session(
    stacks_dir: Path,
    client: str,
    when: str,
    duration: int,
    topic: str,
    attendees: Sequence[str],
    by: str | None,
) -> Change:
    """Schedule a session at *when* (the client's time unless it has an offset)."""
    problems = [
        p for p in (duration_problem(duration), topic_problem(topic)) if p
    ] + attendee_problems(attendees)
    if problems:
        raise UserInputError("; ".join(problems))
    zone_name = client_timezone(stacks_dir, client)
    try:
        starts = parse_when(when, client_zone(zone_name))
    except TrainingError as exc:
        raise UserInputError(str(exc)) from None
    who = actor(by)
    with control.connect() as conn, conn.transaction():
        row = lock_row(conn, client, None)
        sid = conn.execute(
            "INSERT INTO training_sessions (rollout_id, starts_at, timezone, duration_minutes, "
            "topic, attendees, scheduled_by) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (row.id, starts, zone_name, duration, topic.strip(), list(attendees), who),
        ).fetchone()
        assert sid is not None
        session = TrainingSession(
            int(sid[0]), starts, zone_name, duration, topic.strip(), tuple(attendees), who
        )
        append_history(conn, row.id, who, ADD_ACTION, str(session.id), session.to_json())
    return Change(
        client,
        row.contract,
        ADD_ACTION,
        str(session.id),
        True,
        f"training session #{session.id} of {client} scheduled: {session.when()}: {session.topic}",
    )


def mark_held(
    stacks_dir: Path, client: str, session_id: int, by: str | None, note: str | None
) -> Change:
    """Record that session *session_id* was held (once; a second time changes nothing)."""
    who = actor(by)
    with control.connect() as conn, conn.transaction():
        row = lock_row(conn, client, None)
        found = conn.execute(
            f"SELECT {_COLUMNS} FROM training_sessions WHERE rollout_id = %s AND id = %s",
            (row.id, session_id),
        ).fetchone()
        if found is None:
            raise UserInputError(
                f"{client} has no training session #{session_id}; "
                f"`tenantctl rollout training list {client}` lists them"
            )
        session = _session(found)
        if session.held:
            return Change(
                client,
                row.contract,
                DONE_ACTION,
                str(session_id),
                False,
                f"training session #{session_id} of {client} was already recorded as held "
                f"by {session.done_by} on {session.done_at:%Y-%m-%d}",
            )
        now = datetime.now(UTC)
        if session.starts_at > now:
            raise PreconditionFailed(
                f"training session #{session_id} of {client} starts {session.when()}; "
                "record it as held after it took place"
            )
        conn.execute(
            "UPDATE training_sessions SET done_at = %s, done_by = %s, note = %s WHERE id = %s",
            (now, who, note, session_id),
        )
        append_history(
            conn, row.id, who, DONE_ACTION, str(session_id), {"topic": session.topic, "note": note}
        )
    return Change(
        client,
        row.contract,
        DONE_ACTION,
        str(session_id),
        True,
        f"training session #{session_id} of {client} held: {session.topic}",
    )


@dataclass(frozen=True)
class TrainingList:
    """``rollout training list``: the sessions, and where the calendar was written."""

    client: str
    contract: str
    sessions: tuple[TrainingSession, ...]
    ics: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "contract": self.contract,
            "sessions": [s.to_json() for s in self.sessions],
            "ics": str(self.ics) if self.ics else None,
        }


def list_sessions(client: str, ics: Path | None = None) -> TrainingList:
    """The client's sessions; with *ics*, also written there as an iCalendar file."""
    with control.connect() as conn:
        row = find(conn, client)
        sessions = sessions_of(conn, row.id)
    if ics is not None:
        body = calendar(client, sessions, datetime.now(UTC).replace(microsecond=0))
        tmp = ics.with_name(f".{ics.name}.tmp")
        try:
            tmp.write_bytes(body)
            tmp.replace(ics)
        except OSError as exc:
            raise LocalIOError(f"cannot write {ics}: {exc.strerror or exc}") from None
    return TrainingList(client, row.contract, tuple(sessions), ics)


def observe_training(client: str) -> Observation:
    """``training-held``: done once at least one session of the client was held."""
    with control.connect() as conn:
        sessions = sessions_of(conn, find(conn, client).id)
    return training_observation(client, sessions)


def training_notes(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Per client, one line per training session, for the portfolio report (one query)."""
    notes: dict[str, list[str]] = {}
    for client, *row in conn.execute(
        f"SELECT r.client, {', '.join('t.' + c for c in _COLUMNS.split(', '))} "
        "FROM training_sessions t JOIN rollouts r ON r.id = t.rollout_id "
        "ORDER BY t.starts_at, t.id"
    ):
        notes.setdefault(client, []).append("training " + _session(tuple(row)).line())
    return notes
