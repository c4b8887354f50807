"""Phase 4's training sessions: the time rules and the calendar (pure), and
``tenantctl rollout training add|list|done`` through the CLI on the local target, with the
rollout's training task observed from them and the sessions on the rollout report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from icalendar import Calendar

from infra.cli import main
from infra.core.errors import ExitCode
from infra.core.training import (
    TrainingError,
    TrainingSession,
    calendar,
    parse_when,
    training_observation,
)
from tests.helpers import SLUG, cli, create_demo, ok, validate

NEW_YORK = ZoneInfo("America/New_York")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def session(sid: int = 1, held: bool = False, **kw: object) -> TrainingSession:
    values: dict[str, object] = {
        "id": sid,
        "starts_at": datetime(2026, 12, 9, 15, 0, tzinfo=UTC),
        "timezone": "America/New_York",
        "duration_minutes": 90,
        "topic": "Permit desk",
        "attendees": ("clerk@example.edu", "lead@example.edu"),
        "scheduled_by": "pat",
        "done_at": datetime(2026, 12, 9, 17, 0, tzinfo=UTC) if held else None,
        "done_by": "pat" if held else None,
    }
    values.update(kw)
    return TrainingSession(**values)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the rules


def test_a_time_without_offset_is_the_clients_local_time():
    when = parse_when("2026-12-09T10:00", NEW_YORK)
    assert when.utcoffset() == timedelta(hours=-5)
    assert when.astimezone(UTC) == datetime(2026, 12, 9, 15, 0, tzinfo=UTC)
    summer = parse_when("2026-07-09T10:00", NEW_YORK)
    assert summer.astimezone(UTC).hour == 14  # EDT: the same 10:00 for the client


def test_a_time_with_an_offset_is_kept():
    when = parse_when("2026-12-09T15:00+00:00", NEW_YORK)
    assert when == datetime(2026, 12, 9, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-03-08T02:30", "does not exist in America/New_York"),
        ("2026-11-01T01:30", "happens twice in America/New_York"),
        ("next tuesday", "is not an ISO 8601 date and time"),
    ],
)
def test_a_time_the_zone_skips_or_repeats_or_garbage_is_refused(text: str, says: str):
    with pytest.raises(TrainingError, match=says):
        parse_when(text, NEW_YORK)


def test_training_is_done_once_one_session_was_held():
    assert training_observation(SLUG, []).state == "not-done"
    assert "training add demo" in training_observation(SLUG, []).detail
    waiting = training_observation(SLUG, [session(1), session(2)])
    assert waiting.state == "not-done" and "training done demo 1" in waiting.detail
    held = training_observation(SLUG, [session(1, held=True), session(2)])
    assert held.state == "done" and held.detail.startswith("1 of 2 training session(s) held")


def test_the_calendar_has_each_session_in_the_clients_zone_with_its_attendees():
    stamp = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    body = calendar(
        SLUG, [session(2, starts_at=datetime(2026, 12, 10, 15, tzinfo=UTC)), session(1)], stamp
    )
    parsed = Calendar.from_ical(body)
    events = parsed.walk("VEVENT")
    zones = [z["TZID"] for z in parsed.walk("VTIMEZONE")]

    assert zones == ["America/New_York"]
    assert [str(e["UID"]) for e in events] == [
        "demo-1@training.tenantctl",
        "demo-2@training.tenantctl",
    ]
    first = events[0]
    start = first.decoded("DTSTART")
    assert start.tzinfo is not None and start.utcoffset() == timedelta(hours=-5)
    assert (start.hour, start.minute) == (10, 0)
    assert b"DTSTART;TZID=America/New_York:20261209T100000" in body
    assert first.decoded("DURATION") == timedelta(minutes=90)
    assert [str(a) for a in first["ATTENDEE"]] == [
        "mailto:clerk@example.edu",
        "mailto:lead@example.edu",
    ]
    assert str(first["SUMMARY"]) == "demo training: Permit desk"
    # exporting again gives the same file: calendars update the events, never duplicate
    assert (
        calendar(
            SLUG, [session(1), session(2, starts_at=datetime(2026, 12, 10, 15, tzinfo=UTC))], stamp
        )
        == body
    )


# ------------------------------------------------------------------ through the CLI


@pytest.fixture
def demo(tmp_path: Path, control_env: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo client on the local target; its rollout started by create."""
    return create_demo(tmp_path, monkeypatch, "--contract", "C-1")


def training_task(stacks: Path) -> dict[str, object]:
    document = json.loads(ok(cli(stacks, "rollout", "status", SLUG, "--json")).stdout)
    return next(
        t for p in document["rollouts"][0]["phases"] for t in p["tasks"] if t["key"] == "training"
    )


def test_training_scheduled_listed_exported_and_held_observes_the_task(demo: Path, tmp_path: Path):
    assert training_task(demo)["state"] == "open"
    added = cli(demo, "rollout", "training", "add", SLUG, "--when", "2026-12-01T10:00",
                "--duration", "90", "--topic", "Permit desk: issuing and refunds",
                "--attendee", "clerk@example.edu", "--attendee", "lead@example.edu",
                "--by", "pat", "--json")  # fmt: skip
    assert added.exit_code == 0, added.output
    change = validate("rollout-training-add", json.loads(added.stdout))
    sid = change["subject"]
    assert "2026-12-01 10:00 EST (America/New_York), 90 min" in change["message"]
    refused = cli(demo, "rollout", "done", SLUG, "training", "--by", "pat")
    assert refused.exit_code != 0  # observed from the sessions, not ticked
    assert "none held yet" in str(training_task(demo)["how"])

    ics = tmp_path / "training.ics"
    listed = ok(run("rollout", "training", "list", SLUG, "--ics", str(ics), "--json"))
    document = validate("rollout-training-list", json.loads(listed.stdout))
    (one,) = document["sessions"]
    assert one["startsAt"] == "2026-12-01T10:00:00-05:00"
    assert one["startsAtUtc"] == "2026-12-01T15:00:00Z"
    assert one["held"] is False and one["attendees"] == ["clerk@example.edu", "lead@example.edu"]
    (event,) = Calendar.from_ical(ics.read_bytes()).walk("VEVENT")
    assert event.decoded("DTSTART") == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)

    held = ok(cli(demo, "rollout", "training", "done", SLUG, sid, "--by", "pat", "--note",
                  "8 staff", "--json"))  # fmt: skip
    assert validate("rollout-training-done", json.loads(held.stdout))["changed"] is True
    again = ok(cli(demo, "rollout", "training", "done", SLUG, sid, "--json"))
    assert json.loads(again.stdout)["changed"] is False

    task = training_task(demo)
    assert task["state"] == "done"
    assert str(task["how"]).startswith("observed: 1 of 1 training session(s) held")
    history = json.loads(ok(run("rollout", "history", SLUG, "--json")).stdout)["history"]
    assert [h["action"] for h in history if h["action"].startswith("training")] == [
        "training-add",
        "training-done",
    ]
    report = tmp_path / "rollouts.html"
    ok(run("rollout", "report", "--html", str(report)))
    assert f"training #{sid} 2026-12-01 10:00 EST (America/New_York), 90 min" in report.read_text()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--when", "soon"], ExitCode.BAD_INPUT, "--when 'soon' is not an ISO 8601"),
        (["--duration", "0"], ExitCode.BAD_INPUT, "--duration 0 must be 1 to 480 minutes"),
        (["--attendee", "not-an-email"], ExitCode.BAD_INPUT, "--attendee 'not-an-email'"),
        (["--when", "2026-03-08T02:30"], ExitCode.BAD_INPUT, "does not exist in America/New_York"),
    ],
)
def test_a_bad_session_is_one_line(demo: Path, args: list[str], code: int, message: str):
    base = {"--when": "2026-12-01T10:00", "--duration": "60", "--topic": "Reports"}
    extra = dict(zip(args[::2], args[1::2], strict=True))
    options = [x for k, v in {**base, **extra}.items() for x in (k, v)]
    result = cli(demo, "rollout", "training", "add", SLUG, *options)

    assert result.exit_code == code, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_a_session_not_yet_held_or_unknown_is_refused(demo: Path):
    future = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M+00:00")
    added = ok(cli(demo, "rollout", "training", "add", SLUG, "--when", future, "--duration",
                   "60", "--topic", "Reports", "--json"))  # fmt: skip
    sid = json.loads(added.stdout)["subject"]

    early = cli(demo, "rollout", "training", "done", SLUG, sid)
    unknown = cli(demo, "rollout", "training", "done", SLUG, "999")

    assert early.exit_code == ExitCode.PRECONDITION and "record it as held after" in early.stderr
    assert unknown.exit_code == ExitCode.BAD_INPUT
    assert "demo has no training session #999" in unknown.stderr
    assert training_task(demo)["state"] == "open"
