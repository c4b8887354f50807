"""Phase 4's training sessions: when, how long, on what, with whom; the rule the rollout's
``training`` task is observed by; and the client's calendar of them (iCalendar, RFC 5545).

Times are timezone-aware: a session is stored as an instant (UTC) with the IANA zone it
was scheduled in (the client's ``locale.timezone``), and shown and exported in that zone,
so 10:00 stays 10:00 for the client across a daylight-saving change. A time given without
an offset is read in the client's zone; one that zone skips (a spring-forward gap) or
repeats (the fall-back hour) is refused rather than guessed.

Pure logic: no Pulumi, boto3, database or YAML imports (``icalendar`` writes the .ics).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from infra.core.rollout import Observation
from infra.core.text_rules import email_problem

MAX_DURATION_MINUTES = 8 * 60
"""The longest session: a working day."""
MAX_TOPIC_LENGTH = 200
MAX_ATTENDEES = 100
CALENDAR_PRODUCT = "-//tenantctl//rollout training//EN"
"""The .ics ``PRODID``."""
UID_DOMAIN = "training.tenantctl"
"""Each event's ``UID`` is ``<client>-<session id>@`` this: stable across exports, so a
calendar that imports the file again updates the event instead of adding a copy."""


class TrainingError(ValueError):
    """A session the caller described wrongly (the message says what to give instead)."""


def client_zone(name: str) -> ZoneInfo:
    """The IANA zone *name* (``locale.timezone``), or ``TrainingError`` naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TrainingError(
            f"the client's locale.timezone {name!r} is not an IANA time zone "
            "(such as America/New_York); fix the setting in preview"
        ) from None


def parse_when(text: str, zone: ZoneInfo) -> datetime:
    """``--when``: an ISO 8601 date and time; without an offset it is in *zone*."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TrainingError(
            f"--when {text!r} is not an ISO 8601 date and time, such as 2026-12-09T10:00 "
            "(the client's time) or 2026-12-09T15:00+00:00"
        ) from None
    if when.tzinfo is not None:
        return when
    early, late = when.replace(tzinfo=zone, fold=0), when.replace(tzinfo=zone, fold=1)
    if early.utcoffset() != late.utcoffset():
        problem = (
            "does not exist"
            if early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != when
            else "happens twice"
        )
        raise TrainingError(
            f"--when {text!r} {problem} in {zone.key} (a daylight-saving change); "
            "give the offset, such as 2026-11-01T01:30-05:00"
        )
    return early


def duration_problem(minutes: int) -> str | None:
    if not 1 <= minutes <= MAX_DURATION_MINUTES:
        return f"--duration {minutes} must be 1 to {MAX_DURATION_MINUTES} minutes"
    return None


def topic_problem(topic: str) -> str | None:
    if not topic.strip() or len(topic) > MAX_TOPIC_LENGTH or "\n" in topic:
        return f"--topic must be one line of 1 to {MAX_TOPIC_LENGTH} characters"
    return None


def attendee_problems(emails: Sequence[str]) -> list[str]:
    problems = [f"--attendee {e!r} {p}" for e in emails if (p := email_problem(e))]
    if len(emails) > MAX_ATTENDEES:
        problems.append(f"at most {MAX_ATTENDEES} attendees per session")
    return problems


@dataclass(frozen=True)
class TrainingSession:
    """One scheduled session (``done_at`` set once it was held)."""

    id: int
    starts_at: datetime
    """Aware; in UTC as stored."""
    timezone: str
    duration_minutes: int
    topic: str
    attendees: tuple[str, ...]
    scheduled_by: str
    done_at: datetime | None = None
    done_by: str | None = None
    note: str | None = None

    @property
    def local_start(self) -> datetime:
        """The start in the zone it was scheduled in (the client's)."""
        return self.starts_at.astimezone(ZoneInfo(self.timezone))

    @property
    def local_end(self) -> datetime:
        return self.local_start + timedelta(minutes=self.duration_minutes)

    @property
    def held(self) -> bool:
        return self.done_at is not None

    def when(self) -> str:
        """``2026-12-09 10:00 EST (America/New_York), 90 min``."""
        start = self.local_start
        return (
            f"{start:%Y-%m-%d %H:%M} {start.tzname()} ({self.timezone}), "
            f"{self.duration_minutes} min"
        )

    def line(self) -> str:
        """One line for people: id, when, topic, attendees, held or not."""
        held = f"held ({self.done_by} {self.done_at:%Y-%m-%d})" if self.done_at else "scheduled"
        who = f"; {len(self.attendees)} attendee(s)" if self.attendees else ""
        return f"#{self.id} {self.when()}: {self.topic} [{held}]{who}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "startsAt": self.local_start.isoformat(),
            "startsAtUtc": self.starts_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "timezone": self.timezone,
            "durationMinutes": self.duration_minutes,
            "topic": self.topic,
            "attendees": list(self.attendees),
            "scheduledBy": self.scheduled_by,
            "held": self.held,
            "doneAt": self.done_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if self.done_at
            else None,
            "doneBy": self.done_by,
            "note": self.note,
        }


def training_observation(client: str, sessions: Sequence[TrainingSession]) -> Observation:
    """``training-held``: done once at least one session was held."""
    held = [s for s in sessions if s.held]
    if held:
        last = max(held, key=lambda s: s.starts_at)
        return Observation(
            "done",
            f"{len(held)} of {len(sessions)} training session(s) held; last #{last.id} "
            f"{last.local_start:%Y-%m-%d} {last.topic}",
        )
    if sessions:
        nxt = min(sessions, key=lambda s: s.starts_at)
        return Observation(
            "not-done",
            f"{len(sessions)} session(s) scheduled, none held yet (next #{nxt.id} "
            f"{nxt.local_start:%Y-%m-%d %H:%M}); after it: "
            f"`tenantctl rollout training done {client} {nxt.id}`",
        )
    return Observation(
        "not-done",
        f"no training session scheduled: `tenantctl rollout training add {client} "
        "--when ISO --duration MIN --topic TEXT`",
    )


def calendar(client: str, sessions: Sequence[TrainingSession], stamp: datetime) -> bytes:
    """The client's training sessions as one iCalendar file (each event in the zone it was
    scheduled in, with that zone's VTIMEZONE; attendees as required participants)."""
    from icalendar import Calendar, Event, vCalAddress  # here: only the export needs it

    cal = Calendar()
    cal.add("prodid", CALENDAR_PRODUCT)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{client} training")
    for s in sorted(sessions, key=lambda s: (s.starts_at, s.id)):
        event = Event()
        event.add("uid", f"{client}-{s.id}@{UID_DOMAIN}")
        event.add("dtstamp", stamp.astimezone(UTC))
        event.add("dtstart", s.local_start)
        event.add("duration", timedelta(minutes=s.duration_minutes))
        event.add("summary", f"{client} training: {s.topic}")
        event.add("status", "CONFIRMED")
        for email in s.attendees:
            attendee = vCalAddress(f"mailto:{email}")
            attendee.params["ROLE"] = "REQ-PARTICIPANT"
            event.add("attendee", attendee)
        cal.add_component(event)
    if sessions:
        first = min(s.local_start.date() for s in sessions)
        last = max(s.local_end.date() for s in sessions)
        cal.add_missing_timezones(date(first.year - 1, 1, 1), date(last.year + 2, 1, 1))
    return bytes(cal.to_ical())
