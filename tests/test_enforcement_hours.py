"""Enforcement hours (issue 19): the silence alarm of an integration acts only while its
lots are enforced, in the integration's timezone, across DST. Pure logic, and the program
under Pulumi's mock runtime."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

import pytest

from infra.core import naming
from infra.core.integration_config import (
    EnforcementHours,
    integration_names,
    names_problem,
    scheduler_role_policies,
    switch_crons,
    window_utc,
)
from infra.core.spec import parse_spec
from infra.core.spec_errors import SpecError
from infra.ops.planning.capacity import consumption
from infra.program.plan import StackPlan, plan_stack
from tests.helpers import demo_data

HOURS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat"], "start": "07:00", "end": "19:00"}
METERS = {
    "id": "meters",
    "vendor": "generic-push",
    "mode": "push",
    "timezone": "America/Chicago",
    "enforcementHours": HOURS,
}
ALWAYS = {"id": "app", "vendor": "generic-push", "mode": "push", "timezone": "UTC"}
SCHEDULE = "aws:scheduler/schedule:Schedule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _spec(stage: str, *integrations: dict[str, Any], live: bool = False) -> Any:
    data = {**demo_data(stage), "integrations": list(integrations)}
    if live:
        data["live"] = True
    return parse_spec(data)


def _problems(hours: dict[str, Any], timezone: str = "America/Chicago") -> str:
    with pytest.raises(SpecError) as caught:
        _spec("preview", {**METERS, "timezone": timezone, "enforcementHours": hours})
    return str(caught.value)


# ------------------------------------------------------------------ the model


@pytest.mark.parametrize(
    ("hours", "says"),
    [
        ({"start": "19:00", "end": "07:00"}, "end 07:00 is not after start 19:00; overnight"),
        ({"start": "07:00", "end": "07:00"}, "not after start"),
        ({"days": ["mon", "moon"], "start": "07:00", "end": "19:00"}, "unknown day 'moon'"),
        ({"days": ["mon", "mon"], "start": "07:00", "end": "19:00"}, "lists a day twice"),
        ({"days": [], "start": "07:00", "end": "19:00"}, "days"),
        ({"start": "7am", "end": "19:00"}, "'7am' is not a 24-hour local time HH:MM"),
        ({"start": "07:00", "end": "24:00"}, "'24:00' is not a 24-hour local time"),
        ({"start": "07:00"}, "end"),
        # 02:30 does not exist in Chicago on 2026-03-08: Scheduler would skip the switch.
        ({"start": "02:30", "end": "19:00"}, "start 02:30 does not exist in America/Chicago"),
        # 01:59 exists, but its re-arm a minute later (02:00) does not on that day
        ({"start": "01:59", "end": "19:00"}, "(the re-arm) 02:00 does not exist"),
    ],
)
def test_impossible_enforcement_hours_are_refused_with_a_reason(hours, says):
    problems = _problems(hours)
    assert says in problems
    assert "enforcementHours" in problems or "integrations" in problems
    assert len(problems.strip().splitlines()) == 1, problems  # one line, one problem


def test_a_time_that_exists_on_every_day_of_its_own_zone_is_accepted():
    # 02:30 is fine where clocks change at another hour (Europe/London: 01:00 -> 02:00).
    spec = _spec("preview", {**METERS, "timezone": "Europe/Berlin",
                             "enforcementHours": {"start": "04:00", "end": "22:00"}})  # fmt: skip
    hours = spec.integrations[0].enforcement_hours
    assert hours is not None and hours.days == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert "02:30" in _problems({"start": "02:30", "end": "22:00"}, "Europe/Berlin")


def test_default_is_always_and_round_trips_through_the_spec():
    spec = _spec("preview", ALWAYS, METERS)
    assert spec.integrations[0].enforcement_hours is None
    again = parse_spec(spec.model_dump(by_alias=True, mode="json", exclude_defaults=True))
    assert again == spec
    dumped = spec.model_dump(by_alias=True, mode="json", exclude_defaults=True)
    assert dumped["integrations"][1]["enforcementHours"]["start"] == "07:00"


def test_a_dst_change_day_moves_the_utc_instants_by_the_offset():
    hours = EnforcementHours.model_validate(HOURS)
    zone = "America/Chicago"
    # Saturday before the change (CST, UTC-6); 2026-03-08 is a Sunday: not enforced.
    assert window_utc(hours, zone, date(2026, 3, 7)) == (
        datetime(2026, 3, 7, 13, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 1, 0, tzinfo=UTC),
    )
    assert window_utc(hours, zone, date(2026, 3, 8)) is None
    # Monday after (CDT, UTC-5): the same local 07:00 is an hour earlier in UTC.
    assert window_utc(hours, zone, date(2026, 3, 9)) == (
        datetime(2026, 3, 9, 12, 0, tzinfo=UTC),
        datetime(2026, 3, 10, 0, 0, tzinfo=UTC),
    )
    # Back to CST on 2026-11-01 (Sunday); Monday 2026-11-02 opens at 13:00 UTC again.
    every_day = EnforcementHours.model_validate({"start": "07:00", "end": "19:00"})
    assert window_utc(every_day, zone, date(2026, 11, 1)) == (
        datetime(2026, 11, 1, 13, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 1, 0, tzinfo=UTC),
    )
    assert window_utc(every_day, zone, date(2026, 10, 31))[0] == datetime(
        2026, 10, 31, 12, 0, tzinfo=UTC
    )
    # What the schedules say is the local time, not a UTC one: right on both sides.
    assert switch_crons(hours) == (
        "cron(0 7 ? * MON,TUE,WED,THU,FRI,SAT *)",
        "cron(0 19 ? * MON,TUE,WED,THU,FRI,SAT *)",
    )


def test_switch_schedule_names_fit_for_the_longest_slug_and_id():
    names = integration_names("a" * 24, "production", "b" * 24)
    assert names_problem(names) is None
    assert len(names.silence_off_schedule) == 64
    assert names.silence_on_schedule != integration_names("a" * 24, "production", "b" * 24).schedule


def test_a_slug_that_could_collide_with_switch_schedules_is_refused():
    assert "-preview-on" in (naming.slug_problem("x-preview-on-y") or "")
    assert "-production-off" in (naming.slug_problem("x-production-off-y") or "")
    assert "-preview-arm" in (naming.slug_problem("x-preview-arm-y") or "")


# ------------------------------------------------------------ the scheduler role


def test_the_scheduler_role_may_switch_exactly_the_stages_silence_alarms():
    for stage, other in (("preview", "production"), ("production", "preview")):
        statements = scheduler_role_policies(stage, "123456789012")["permissions"]["Statement"]
        (switch,) = [s for s in statements if s["Action"] != "sqs:SendMessage"]
        assert switch["Action"] == [
            "cloudwatch:EnableAlarmActions",
            "cloudwatch:DisableAlarmActions",
            "cloudwatch:SetAlarmState",
        ]
        arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{}"
        ours = integration_names("demo", stage, "meters")
        assert fnmatchcase(arn.format(ours.silence_alarm), switch["Resource"])
        assert not fnmatchcase(arn.format(ours.dlq_alarm), switch["Resource"])
        theirs = integration_names("demo", other, "meters").silence_alarm
        assert not fnmatchcase(arn.format(theirs), switch["Resource"])


# ------------------------------------------------------- the program's resources


@cache
def _plan(stage: str, live: bool = False) -> StackPlan:
    return plan_stack(_spec(stage, METERS, ALWAYS, live=live))


def _named(plan: StackPlan, type_: str) -> dict[str, dict[str, Any]]:
    return {str(r.inputs.get("name")): dict(r.inputs) for r in plan.of_type(type_)}


def test_enforcement_hours_get_switch_and_rearm_schedules_in_the_integrations_timezone():
    from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS, SCHEDULER_ROLE_OUTPUTS

    for stage, live, state in [
        ("preview", False, "DISABLED"),
        ("production", False, "DISABLED"),
        ("production", True, "ENABLED"),
    ]:
        schedules = _named(_plan(stage, live), SCHEDULE)
        on, off = f"demo-{stage}-on-meters", f"demo-{stage}-off-meters"
        rearm = f"demo-{stage}-arm-meters"
        assert set(schedules) == {on, rearm, off}, (stage, live)  # none for the always-on one
        role = EXAMPLE_PLATFORM_OUTPUTS[SCHEDULER_ROLE_OUTPUTS[stage]]
        for name, cron, action in [
            (on, "cron(0 7 ? * MON,TUE,WED,THU,FRI,SAT *)", "enableAlarmActions"),
            (off, "cron(0 19 ? * MON,TUE,WED,THU,FRI,SAT *)", "disableAlarmActions"),
        ]:
            schedule = schedules[name]
            assert schedule["state"] == state, (stage, live, name)
            assert schedule["scheduleExpression"] == cron
            assert schedule["scheduleExpressionTimezone"] == "America/Chicago"
            target = schedule["target"]
            assert target["arn"] == f"arn:aws:scheduler:::aws-sdk:cloudwatch:{action}"
            assert target["roleArn"] == role
            assert target["input"] == f'{{"AlarmNames": ["demo-{stage}-int-meters-silent"]}}'
        # a minute after the start, the alarm is set back to OK so a feed silent since
        # the night pages (an alarm notifies only on a transition into ALARM)
        armed = schedules[rearm]
        assert armed["state"] == state
        assert armed["scheduleExpression"] == "cron(1 7 ? * MON,TUE,WED,THU,FRI,SAT *)"
        assert armed["scheduleExpressionTimezone"] == "America/Chicago"
        assert armed["target"]["arn"] == "arn:aws:scheduler:::aws-sdk:cloudwatch:setAlarmState"
        assert armed["target"]["roleArn"] == role
        sent = json.loads(armed["target"]["input"])
        assert sent["AlarmName"] == f"demo-{stage}-int-meters-silent"
        assert sent["StateValue"] == "OK" and sent["StateReason"]


def test_the_silence_alarm_with_hours_is_created_without_actions_and_left_to_the_schedules():
    live = _named(_plan("production", True), ALARM)
    assert live["demo-production-int-meters-silent"]["actionsEnabled"] is False
    # without enforcement hours a live production's silence alarm acts at once, as before
    assert live["demo-production-int-app-silent"]["actionsEnabled"] is True
    ignored = {
        (stage, live, str(r.inputs["name"])): r.ignore_changes
        for stage, live in (("production", True), ("production", False), ("preview", False))
        for r in _plan(stage, live).of_type(ALARM)
    }
    # Only where the schedules own it: a deploy at night never re-enables paging, and
    # before go-live (or after a rollback) Pulumi keeps the actions disabled.
    assert ignored["production", True, "demo-production-int-meters-silent"] == ("actionsEnabled",)
    assert ignored["production", True, "demo-production-int-app-silent"] == ()
    assert ignored["production", False, "demo-production-int-meters-silent"] == ()
    assert ignored["preview", False, "demo-preview-int-meters-silent"] == ()
    before = _named(_plan("production"), ALARM)["demo-production-int-meters-silent"]
    assert before["actionsEnabled"] is False


def test_capacity_counts_the_switch_schedules():
    assert consumption([_plan("preview")])["scheduler-schedules"] == 3
    without = plan_stack(_spec("preview", ALWAYS))
    assert consumption([without])["scheduler-schedules"] == 0


def test_cost_counts_every_schedule_and_prices_its_invocations():
    from infra.core import prices
    from infra.core.cost import monthly_invocations, stack_cost

    assert monthly_invocations("rate(5 minutes)") == pytest.approx(8766)
    assert monthly_invocations("cron(0 7 ? * MON,TUE,WED,THU,FRI,SAT *)") == pytest.approx(
        26.09, abs=0.01
    )
    (line,) = [
        line for line in stack_cost(_plan("production", True).resources) if "Scheduler" in line.item
    ]
    assert line.item == "EventBridge Scheduler invocations (3 schedules)"
    assert line.quantity == 78  # two switches and a re-arm on six days a week
    assert line.usd == pytest.approx(78.27 * prices.SCHEDULER_INVOCATION.usd, rel=1e-3)
    without = plan_stack(_spec("production", ALWAYS, live=True))
    assert not [line for line in stack_cost(without.resources) if "Scheduler" in line.item]


def test_the_policy_pack_passes_the_switch_schedules():
    from policy.rules import violations
    from tests import policy_engine

    for stage, live in [("preview", False), ("production", False), ("production", True)]:
        assert violations(policy_engine.sdk_resources(_plan(stage, live))) == [], (stage, live)
