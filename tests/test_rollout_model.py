"""The rollout model (infra.core.rollout): schedule validation, planned dates, gates, summary.

Pure logic, no mocks. The vendor's schedule file is parsed with YAML here and
validated by the model, exactly as the operations do.
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from infra.core.rollout import (
    MILESTONES,
    Mark,
    Observation,
    Pause,
    PhaseCompletion,
    Replan,
    RolloutRecord,
    ScheduleError,
    billing_event,
    gate_problems,
    milestone_key,
    parse_schedule,
    plan_dates,
    task_status,
)
from infra.core.rollout_summary import attention_order, summarize
from tests.helpers import ROOT

SCHEDULE_DATA: dict[str, Any] = YAML(typ="safe").load(
    (ROOT / "templates/rollout/schedule.yaml").read_text()
)
SCHEDULE = parse_schedule(SCHEDULE_DATA)
SIGNED = date(2026, 3, 2)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def record(**kwargs: Any) -> RolloutRecord:
    return RolloutRecord(client="acme", contract="C-1", signed_off=SIGNED, **kwargs)


# ---------------------------------------------------------------- the schedule


def test_vendor_schedule_has_five_phases_with_the_vendor_estimates():
    assert [(p.number, p.estimate.min_days, p.estimate.max_days) for p in SCHEDULE.phases] == [
        (1, 14, 14),
        (2, 14, 14),
        (3, 21, 28),
        (4, 14, 21),
        (5, 1, 1),
    ]
    assert SCHEDULE.phase(1).milestones == ("preview-go-live",)
    assert SCHEDULE.phase(5).milestones == ("go-live", "recurring-start")


def test_schedule_refuses_unknown_owner_and_names_where():
    data = copy.deepcopy(SCHEDULE_DATA)
    data["phases"][1]["tasks"][0]["owner"] = "partner"
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(data)
    assert caught.value.problems[0][0] == "phases.1.tasks.0.owner"


def test_schedule_refuses_unknown_check():
    data = copy.deepcopy(SCHEDULE_DATA)
    data["phases"][0]["tasks"][0]["observe"] = "moon-phase"
    with pytest.raises(ScheduleError, match="unknown check 'moon-phase'"):
        parse_schedule(data)


def test_schedule_refuses_repeated_task_keys():
    data = copy.deepcopy(SCHEDULE_DATA)
    data["phases"][2]["tasks"][0]["key"] = "discovery-call"
    with pytest.raises(ScheduleError, match="repeated: \\['discovery-call'\\]"):
        parse_schedule(data)


def test_schedule_refuses_estimate_ranges_backwards():
    data = copy.deepcopy(SCHEDULE_DATA)
    data["phases"][2]["estimate"] = {"min_days": 28, "max_days": 21}
    with pytest.raises(ScheduleError, match="max_days must be at least min_days"):
        parse_schedule(data)


def test_schedule_refuses_phases_out_of_order():
    data = copy.deepcopy(SCHEDULE_DATA)
    data["phases"][0]["number"], data["phases"][1]["number"] = 2, 1
    with pytest.raises(ScheduleError, match="numbered 1, 2, 3"):
        parse_schedule(data)


def test_schedule_refuses_accept_on_a_task_nobody_observes():
    data = copy.deepcopy(SCHEDULE_DATA)
    data["phases"][0]["tasks"][0]["accept"] = True
    with pytest.raises(ScheduleError, match="accept applies to observed tasks only"):
        parse_schedule(data)


# ----------------------------------------------------------- planned dates


def test_planned_dates_follow_the_upper_estimates_from_sign_off():
    rows = plan_dates(SCHEDULE, record(), SIGNED)
    assert [(r.planned_start, r.planned_end) for r in rows] == [
        (date(2026, 3, 2), date(2026, 3, 16)),
        (date(2026, 3, 16), date(2026, 3, 30)),
        (date(2026, 3, 30), date(2026, 4, 27)),
        (date(2026, 4, 27), date(2026, 5, 18)),
        (date(2026, 5, 18), date(2026, 5, 19)),
    ]


def test_planned_dates_stay_on_the_plan_when_a_phase_finishes_late():
    done = {1: PhaseCompletion(at(date(2026, 3, 20)), "pat")}
    rows = plan_dates(SCHEDULE, record(completions=done), date(2026, 3, 21))
    assert rows[0].actual_end == date(2026, 3, 20)
    assert rows[1].actual_start == date(2026, 3, 20)
    assert (rows[1].planned_start, rows[1].planned_end) == (date(2026, 3, 16), date(2026, 3, 30))


def test_replan_replaces_the_estimate_and_the_latest_replan_wins():
    replans = [
        Replan(3, 28, 35, at(date(2026, 3, 5)), "pat", "two old systems"),
        Replan(3, 30, 40, at(date(2026, 3, 9)), "pat", "three old systems"),
    ]
    rows = plan_dates(SCHEDULE, record(replans=replans), SIGNED)
    assert rows[2].planned_end - rows[2].planned_start == timedelta(days=40)
    assert rows[2].estimate.label() == "30-40d"


def test_a_pause_pushes_every_later_planned_date_out_by_its_length():
    pause = Pause(date(2026, 3, 10), date(2026, 3, 17), "pat", "budget")
    paused = plan_dates(SCHEDULE, record(pauses=[pause]), date(2026, 4, 1))
    plain = plan_dates(SCHEDULE, record(), date(2026, 4, 1))
    assert [p.planned_end - q.planned_end for p, q in zip(paused, plain, strict=True)] == [
        timedelta(days=7)
    ] * 5


def test_an_open_pause_runs_until_today():
    pause = Pause(date(2026, 3, 10), None, "pat", "budget")
    rows = plan_dates(SCHEDULE, record(pauses=[pause]), date(2026, 3, 13))
    assert rows[0].planned_end == date(2026, 3, 19)


@given(
    st.lists(
        st.tuples(st.integers(0, 120), st.integers(0, 30)),
        max_size=4,
    )
)
def test_planned_phases_are_contiguous_and_never_shorter_than_the_estimate(pauses):
    recorded = record(
        pauses=[
            Pause(SIGNED + timedelta(days=s), SIGNED + timedelta(days=s + n), "p", "r")
            for s, n in pauses
        ]
    )
    rows = plan_dates(SCHEDULE, recorded, SIGNED + timedelta(days=200))
    assert rows[0].planned_start == SIGNED
    for before, after in itertools.pairwise(rows):
        assert after.planned_start == before.planned_end
    for r in rows:
        assert (r.planned_end - r.planned_start).days >= r.estimate.max_days
    total_pause = sum(n for s, n in pauses if s < (rows[-1].planned_end - SIGNED).days)
    assert (rows[-1].planned_end - SIGNED).days == 14 + 14 + 28 + 21 + 1 + total_pause


# --------------------------------------------------------------- task states


def test_observed_task_follows_the_systems_not_the_mark():
    task = SCHEDULE.phase(4).task("live-credentials")
    assert task is not None
    mark = Mark("pat", at(SIGNED))
    gone = Observation("not-done", "production has no payment credentials")
    status = task_status(task, mark, gone, phase_complete=True)
    assert (status.state, status.regressed) == ("open", True)
    assert "no payment credentials" in status.how


def test_a_person_may_vouch_for_an_observed_task_the_tool_cannot_see():
    task = SCHEDULE.phase(2).task("admin-accounts")
    assert task is not None
    unseen = Observation("unknown", "no user pool in the outputs")
    assert task_status(task, None, unseen, False).state == "unknown"
    vouched = task_status(task, Mark("pat", at(SIGNED)), unseen, False)
    assert vouched.state == "done" and vouched.how.startswith("confirmed by pat")


def test_gate_lists_each_required_task_not_done_and_ignores_optional_ones():
    phase = SCHEDULE.phase(3)
    statuses = [task_status(t, None, None, False) for t in phase.tasks]
    required = [t.key for t in phase.tasks if t.required]
    assert [p.split(" ")[0] for p in gate_problems(statuses)] == required
    assert "email-templates" not in " ".join(gate_problems(statuses))


# ------------------------------------------------------------------ summary


def test_summary_marks_a_phase_late_once_its_planned_end_has_passed():
    on_time = summarize(SCHEDULE, record(), {}, date(2026, 3, 16))
    late = summarize(SCHEDULE, record(), {}, date(2026, 3, 20))
    assert (on_time.phase, on_time.late) == (1, False)
    assert (late.late, late.late_days, late.days_in_phase) == (True, 4, 18)
    assert "phase 1 late by 4d" in late.attention


def test_summary_next_tasks_are_the_open_required_tasks_with_owners():
    marks = {"discovery-call": Mark("pat", at(SIGNED))}
    s = summarize(SCHEDULE, record(marks=marks), {}, SIGNED)
    assert [(t.key, t.owner) for t in s.next_tasks] == [
        ("teams-assembled", "client"),
        ("responsibilities-agreed", "vendor"),
        ("support-introduction", "vendor"),
        ("business-processes", "client"),
        ("systems-handed-over", "vendor"),
    ]


def test_attention_order_puts_the_latest_rollout_first_and_quiet_ones_last():
    def signed(days_ago: int, client: str) -> RolloutRecord:
        return RolloutRecord(client, "C", date(2026, 6, 1) - timedelta(days=days_ago))

    today = date(2026, 6, 1)
    summaries = [
        summarize(SCHEDULE, signed(d, c), {}, today)
        for d, c in [(1, "aaa"), (30, "bbb"), (20, "ccc"), (2, "ddd")]
    ]
    assert [s.client for s in attention_order(summaries)] == ["bbb", "ccc", "aaa", "ddd"]


def test_billed_and_pending_milestones_are_told_apart():
    from infra.core.rollout import MilestoneRecord

    recorded = record(
        milestones=[
            MilestoneRecord("contract-signoff", at(SIGNED), True),
            MilestoneRecord("preview-go-live", at(SIGNED), False),
        ]
    )
    s = summarize(SCHEDULE, recorded, {}, SIGNED)
    assert (s.billed, s.pending) == (("contract-signoff",), ("preview-go-live",))


# ---------------------------------------------------------------- milestones


@given(st.text(min_size=1), st.text(min_size=1), st.sampled_from(MILESTONES))
def test_milestone_key_is_deterministic_and_event_carries_it(client, contract, milestone):
    when = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    first = billing_event(client, contract, milestone, when)
    assert first == billing_event(client, contract, milestone, when)
    assert first["detail"]["idempotencyKey"] == milestone_key(client, contract, milestone)
    assert first["detail"]["occurredAt"] == "2026-05-01T09:30:00Z"


def test_milestone_keys_differ_per_client_contract_and_milestone():
    keys = {
        milestone_key(c, k, m)
        for c in ("acme", "acme-x")
        for k in ("C-1", "C-2")
        for m in MILESTONES
    }
    assert len(keys) == 2 * 2 * len(MILESTONES)
    # The separator keeps ("a-b", "c") and ("a", "b-c") apart.
    assert milestone_key("a-b", "c", "go-live") != milestone_key("a", "b-c", "go-live")
