"""Enforcement lookup: is plate P allowed in lot L at time T, and why.

Allowed when either
- a **permit** is ``active`` for a vehicle with that plate (spaces and dashes ignored),
  its type is valid in L (``config.permit_type_lots``) and ``valid_from <= T <
  valid_until``; or
- a **paid session** of an authorizing kind (NEW, EXTEND, UPDATE: never CANCEL, never
  TEST) in L has ``starts_at <= T <= ends_at + grace``.

A permit is reported before a session (it is the stronger right); among sessions the one
paid longest. When nothing allows the plate, the answer says what came closest: a
session that ended beyond the grace, or a TEST session (which never authorizes).

Index design: ``sessions_lookup_idx (plate, lot_code, ends_at)`` turns the session
questions into one index range scan each (equality on plate and lot, then ``ends_at >=
T - grace``), reading only that plate's sessions in that lot; the permit question goes
through ``vehicles_plate_key_idx`` and ``permits_vehicle_idx``. All three are asked in
one statement, one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg

from infra.core.errors import UserInputError
from infra.core.integrations.record import AUTHORIZING_KINDS, normalize_plate
from infra.ops.integrations.store import database_errors

Connection = psycopg.Connection[tuple[Any, ...]]
Basis = Literal["permit", "session", "none"]

_KINDS = [k.value for k in AUTHORIZING_KINDS]

PERMIT_SQL = """
SELECT p.permit_number, p.permit_type_code, p.valid_until
FROM activity.vehicles v
JOIN activity.permits p ON p.vehicle_id = v.id
JOIN config.permit_type_lots l ON l.permit_type_code = p.permit_type_code AND l.lot_code = %(lot)s
WHERE replace(replace(v.plate, ' ', ''), '-', '') = %(plate)s
  AND p.status = 'active' AND p.valid_from <= %(at)s AND %(at)s < p.valid_until
ORDER BY p.valid_until DESC LIMIT 1
"""

SESSION_SQL = """
SELECT integration, source_id, version, kind, ends_at, amount_minor, currency
FROM activity.sessions
WHERE plate = %(plate)s AND lot_code = %(lot)s AND kind = ANY(%(kinds)s)
  AND ends_at >= %(at)s - %(grace)s AND starts_at <= %(at)s
ORDER BY ends_at DESC LIMIT 1
"""

NEAREST_SQL = """
SELECT integration, source_id, version, kind, ends_at, NULL::bigint, NULL::text
FROM activity.sessions
WHERE plate = %(plate)s AND lot_code = %(lot)s AND starts_at <= %(at)s AND kind <> 'CANCEL'
ORDER BY (kind = 'TEST'), ends_at DESC, received_at DESC LIMIT 1
"""
"""What came closest when nothing allows the plate: an ended session, else a TEST one; of
two ending together (two integrations' round trips in one lot), the last received."""

ANSWER_SQL = f"""
WITH permit AS ({PERMIT_SQL}), paid AS ({SESSION_SQL}), nearest AS ({NEAREST_SQL})
SELECT 'permit', permit_number, permit_type_code, NULL::bigint, NULL::text, valid_until,
       NULL::bigint, NULL::text FROM permit
UNION ALL SELECT 'session', * FROM paid
UNION ALL SELECT 'nearest', * FROM nearest
"""
"""The three questions in one round trip: each is an index range scan over one plate's
rows (``vehicles_plate_key_idx`` then ``permits_vehicle_idx``; ``sessions_lookup_idx``)."""


@dataclass(frozen=True)
class LookupAnswer:
    """The answer an officer or a camera gets, with the reason in words."""

    plate: str
    lot: str
    at: datetime
    allowed: bool
    basis: Basis
    reason: str
    reference: str | None = None
    """The permit number, or ``<integration>/<source id>`` of the session."""
    expires: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "plate": self.plate,
            "lot": self.lot,
            "at": self.at.isoformat(),
            "allowed": self.allowed,
            "basis": self.basis,
            "reason": self.reason,
            "reference": self.reference,
            "expires": self.expires.isoformat() if self.expires else None,
        }


def lookup(
    conn: Connection, plate: str, lot: str, at: datetime, *, grace_minutes: int = 0
) -> LookupAnswer:
    """Whether *plate* may park in *lot* at *at* (aware), and why."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise UserInputError("the lookup time needs a UTC offset (e.g. 2026-05-01T09:30-04:00)")
    if not 0 <= grace_minutes <= 240:
        raise UserInputError("grace minutes must be between 0 and 240")
    key = normalize_plate(plate)
    grace = timedelta(minutes=grace_minutes)
    params = {"plate": key, "lot": lot, "at": at, "grace": grace, "kinds": _KINDS}
    with database_errors("answering a lookup"):
        found = {row[0]: row[1:] for row in conn.execute(ANSWER_SQL, params).fetchall()}
    permit, session, nearest = found.get("permit"), found.get("session"), found.get("nearest")
    if permit:
        number, type_code, _, _, until, _, _ = permit
        return LookupAnswer(
            key,
            lot,
            at,
            True,
            "permit",
            f"permit {number} ({type_code}) is valid in {lot} until {until.isoformat()}",
            number,
            until,
        )
    if session:
        integration, source_id, version, kind, ends, amount, currency = session
        paid = f", {amount} {currency} minor units" if amount is not None else ""
        within = " (within the grace period)" if ends < at else ""
        return LookupAnswer(
            key,
            lot,
            at,
            True,
            "session",
            f"session {integration}/{source_id} v{version} ({kind}{paid}) is paid in {lot} "
            f"until {ends.isoformat()}{within}",
            f"{integration}/{source_id}",
            ends,
        )
    if nearest:
        integration, source_id, _, kind, ends, _, _ = nearest
        why = (
            f"only a TEST session ({integration}/{source_id}); TEST sessions never authorize"
            if kind == "TEST"
            else f"session {integration}/{source_id} ended {ends.isoformat()}, "
            f"beyond the {grace_minutes}-minute grace"
        )
        return LookupAnswer(key, lot, at, False, "none", f"not allowed: {why}", None, ends)
    return LookupAnswer(
        key, lot, at, False, "none", f"not allowed: no active permit or paid session in {lot}"
    )


NAIVE_SESSION_SQL = """
SELECT integration, source_id FROM activity.sessions
WHERE plate = %(plate)s AND lot_code = %(lot)s AND kind = ANY(%(kinds)s)
  AND ends_at >= %(at)s - %(grace)s AND starts_at <= %(at)s
ORDER BY ends_at DESC LIMIT 1
"""


def naive_session_lookup(conn: Connection, plate: str, lot: str, at: datetime, grace: int) -> bool:
    """The session half without its index (a sequential scan): the benchmark's baseline."""
    params = {
        "plate": normalize_plate(plate),
        "lot": lot,
        "at": at,
        "grace": timedelta(minutes=grace),
        "kinds": _KINDS,
    }
    with database_errors("answering a lookup"), conn.transaction():
        conn.execute("SET LOCAL enable_indexscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        conn.execute("SET LOCAL enable_indexonlyscan = off")
        return conn.execute(NAIVE_SESSION_SQL, params).fetchone() is not None
