"""Integration configuration (issue 19 B): the model, the zone matcher, the program's
resources per integration per stage, and what capacity and cost count. No AWS, no
database: pure logic and the program under Pulumi's mock runtime."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from infra.core import limits
from infra.core.integration_config import (
    VENDORS,
    IntegrationSpec,
    integration_names,
    is_sandbox,
    names_problem,
    zone_coverage,
)
from infra.core.integrations.zones import (
    Lot,
    VendorZone,
    ZoneListError,
    fold,
    match_zones,
    parse_zone_list,
)
from infra.core.spec import parse_spec
from infra.core.spec_errors import SpecError
from infra.ops.adapters.payment_store import InvalidCredentials, parse_credentials
from infra.program.integrations import MAX_RECEIVE_COUNT
from infra.program.plan import StackPlan, plan_stack
from policy.rules import violations
from tests import policy_engine
from tests.helpers import demo_data

PULL = {
    "id": "parkmobile",
    "vendor": "parkmobile",
    "mode": "pull",
    "scheduleMinutes": 5,
    "timezone": "America/Chicago",
    "endpoints": {
        "preview": "https://sandbox.api.parkmobile.example",
        "production": "https://api.parkmobile.example",
    },
    "zones": [
        {"vendorZoneId": "101", "vendorZoneName": "Lot A", "lot": "A"},
        {"vendorZoneId": "102", "vendorZoneName": "Staff", "ignore": True},
    ],
}
PUSH = {"id": "meters", "vendor": "generic-push", "mode": "push", "timezone": "UTC"}


def _spec(stage: str, *integrations: dict[str, Any], live: bool = False) -> Any:
    data = {**demo_data(stage), "integrations": list(integrations)}
    if live:
        data["live"] = True
    return parse_spec(data)


def _problems(stage: str, *integrations: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as caught:
        _spec(stage, *integrations)
    return str(caught.value)


# ------------------------------------------------------------------ the model


def test_a_valid_integration_round_trips_through_the_spec():
    spec = _spec("preview", PULL, PUSH)
    assert [i.id for i in spec.integrations] == ["parkmobile", "meters"]
    assert spec.integrations[0].endpoint("preview", False).startswith("https://sandbox.")
    again = parse_spec(spec.model_dump(by_alias=True, mode="json", exclude_defaults=True))
    assert again == spec


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"vendor": "easypark"}, "must be one of: apds, generic-push, parkmobile, csv-drop"),
        ({"mode": "file"}, "supports mode pull or lookup, not file"),
        ({"timezone": "Central Time"}, "IANA timezone"),
        ({"timezone": "EST5EDT-nonsense"}, "IANA timezone"),
        ({"scheduleMinutes": None}, "pull mode needs scheduleMinutes"),
        ({"scheduleMinutes": 0}, "scheduleMinutes"),
        ({"graceMinutes": -1}, "graceMinutes"),
        ({"unmatchedZones": "keep"}, "unmatchedZones"),
        ({"id": "Park_Mobile"}, "lowercase letters"),
        ({"id": "p" * 25}, "2-24"),
    ],
)
def test_bad_integration_settings_are_refused_with_their_key(change, says):
    assert says in _problems("preview", {**PULL, **change})


def test_a_preview_endpoint_must_be_the_vendors_sandbox():
    production_url = {**PULL, "endpoints": {"preview": "https://api.parkmobile.example"}}
    message = _problems("preview", production_url)
    assert "is not a vendor sandbox" in message and "tenants:integrations[0].endpoints" in message
    # ... and a production endpoint may not point at a sandbox either
    swapped = {**PULL, "endpoints": {"production": "https://sandbox.api.parkmobile.example"}}
    assert "is a sandbox or loopback endpoint" in _problems("production", swapped)


@pytest.mark.parametrize(
    ("url", "sandbox"),
    [
        ("https://sandbox.api.apds.example", True),
        ("https://api-sandbox.parkmobile.example/v2", True),
        ("http://127.0.0.1:8123/sessions", True),
        ("https://api.parkmobile.example", False),
        ("https://sandboxed.example.com", False),  # a word containing it is not the label
        ("http://sandbox.api.example", False),  # sandboxes are https
        ("https://evil.example/sandbox", False),  # the path is not the host
    ],
)
def test_what_counts_as_a_sandbox(url, sandbox):
    assert is_sandbox(url) is sandbox


def test_zone_map_entries_are_unique_and_single_target():
    twice = {**PULL, "zones": [{"vendorZoneId": "1", "lot": "A"}, {"vendorZoneId": "1"}]}
    assert "listed twice" in _problems("preview", twice)
    both = {**PULL, "zones": [{"vendorZoneId": "1", "lot": "A", "ignore": True}]}
    assert "both a lot and ignore" in _problems("preview", both)


def test_each_integration_id_once_per_stack():
    assert "listed twice" in _problems("preview", PUSH, PUSH)


def test_names_stay_within_aws_limits_for_the_longest_slug_and_id():
    names = integration_names("a" * 24, "production", "b" * 24)
    assert names_problem(names) is None
    assert len(names.dead_letter_queue) <= limits.SQS_QUEUE_NAME_MAX
    assert len(names.schedule) <= limits.SCHEDULER_NAME_MAX
    # the check itself bites: a name one over the schedule limit is named
    long = integration_names("a" * 24, "production", "b" * 24)
    too_long = type(long)(**{**long.__dict__, "schedule": "s" * (limits.SCHEDULER_NAME_MAX + 1)})
    assert "EventBridge Scheduler schedule name" in (names_problem(too_long) or "")


def test_zone_coverage_names_unmapped_zones_and_unknown_lots():
    spec = IntegrationSpec.model_validate(
        {**PULL, "zones": [*PULL["zones"], {"vendorZoneId": "103", "vendorZoneName": "Lot C"}]}
    )
    coverage = zone_coverage(spec, {"A"})
    assert (coverage.mapped, coverage.ignored, coverage.complete) == (1, 1, False)
    assert "1 unmapped zone(s): 103 (Lot C)" in (coverage.problem() or "")
    mapped = IntegrationSpec.model_validate(PULL)
    assert zone_coverage(mapped, {"A"}).complete
    assert "lot(s) the client does not have: A" in (zone_coverage(mapped, {"B"}).problem() or "")
    empty = IntegrationSpec.model_validate({**PULL, "zones": []})
    assert "no vendor zones recorded" in (zone_coverage(empty, set()).problem() or "")


def test_integration_credentials_use_the_vendors_keys_and_never_echo_values():
    fields = VENDORS["parkmobile"].credential_fields
    parsed = parse_credentials('{"clientId": "pm-1", "clientSecret": "s3cr3t-value"}', fields)
    assert parsed == {"clientId": "pm-1", "clientSecret": "s3cr3t-value"}
    assert parse_credentials("CLIENT_ID=pm-1\nCLIENT_SECRET=x", fields)["clientSecret"] == "x"
    with pytest.raises(InvalidCredentials) as caught:
        parse_credentials('{"apiKey": "s3cr3t-value"}', fields)
    assert "s3cr3t-value" not in str(caught.value)
    with pytest.raises(InvalidCredentials, match="clientId is missing"):
        parse_credentials('{"clientSecret": "x"}', fields)


# ------------------------------------------------------------- zone matching

LOTS = [Lot("A", "Lot A"), Lot("B", "North Garage"), Lot("C1", "Stadium East"),
        Lot("C2", "Stadium-East")]  # fmt: skip


def test_exact_near_miss_ambiguous_and_unmatched():
    zones = [
        VendorZone("101", "Lot A"),  # exact name
        VendorZone("B", ""),  # exact code
        VendorZone("103", "north  garage."),  # near miss: case, whitespace, punctuation
        VendorZone("104", "STADIUM EAST"),  # two lots normalise alike
        VendorZone("105", "Visitor"),  # nothing
    ]
    got = {p.zone.id: (p.match, p.lot) for p in match_zones(zones, LOTS).proposals}
    assert got == {
        "101": ("exact", "A"),
        "B": ("exact", "B"),
        "103": ("near-miss", "B"),
        "104": ("ambiguous", None),
        "105": ("unmatched", None),
    }


def test_the_map_map_zones_writes_is_the_map_ingestion_places_sessions_with():
    from datetime import UTC, datetime, timedelta

    from infra.core.integrations.record import EventKind, SessionRecord
    from infra.core.integrations.zones import assign_lots

    zones = [VendorZone("101", "Lot A"), VendorZone("103", "north  garage."),
             VendorZone("105", "Visitor")]  # fmt: skip
    proposals = match_zones(zones, LOTS).proposals
    spec = IntegrationSpec.model_validate(
        {
            **PUSH,
            "zones": [
                {"vendorZoneId": p.zone.id, "vendorZoneName": p.zone.name, "lot": p.lot}
                for p in proposals
            ],
        }
    )
    at = datetime(2026, 5, 1, 13, tzinfo=UTC)
    records = [
        SessionRecord(spec.id, z.id, 1, EventKind.NEW, "ABC", at, at + timedelta(hours=1), z.id)
        for z in zones
    ]
    placed, held = assign_lots(records, spec.zone_map(), [lot.code for lot in LOTS])
    assert [(r.vendor_zone, r.lot) for r in placed] == [("101", "A"), ("103", "B")]
    assert [r.vendor_zone for r, _ in held] == ["105"]


def test_existing_map_is_kept_so_a_rerun_changes_nothing():
    zones = [VendorZone("104", "STADIUM EAST"), VendorZone("105", "Visitor")]
    existing = {"104": ("C2", False), "105": (None, True)}
    got = [(p.match, p.lot, p.ignore) for p in match_zones(zones, LOTS, existing).proposals]
    assert got == [("kept", "C2", False), ("kept", None, True)]
    # a kept lot that no longer exists is matched again, not kept blindly
    assert match_zones(zones[:1], LOTS, {"104": ("GONE", False)}).proposals[0].match == "ambiguous"


def test_fold_ignores_case_space_punctuation_and_width():
    assert (
        fold(" Lot-A. ") == fold("lot a") == fold("\uff2c\uff2f\uff34 \uff21")
    )  # fullwidth == "lota"


def test_zone_lists_from_csv_and_json():
    csv_zones = parse_zone_list(b"\xef\xbb\xbfzone_id,name\n101,Lot A\n\n102,Staff\n", "z.csv")
    assert csv_zones == [VendorZone("101", "Lot A"), VendorZone("102", "Staff")]
    doc = json.dumps({"zones": [{"id": 7, "name": "Lot A"}]}).encode()
    assert parse_zone_list(doc, "z.json") == [VendorZone("7", "Lot A")]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"name\nLot A\n", "needs an id column"),
        (b"id,name\n1,a\n1,b\n", "listed twice"),
        (b'[{"name": "x"}]', "has no id"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"id,name\n", "lists no zones"),
        (b"id\n" + b"1\n" * 600_000, "over 1024 KiB"),
    ],
)
def test_bad_zone_lists_are_one_line_user_errors(data, says):
    with pytest.raises(ZoneListError, match=says):
        parse_zone_list(data, "zones.csv")


# ------------------------------------------------------- the program's resources


@cache
def _plan(stage: str, live: bool = False) -> StackPlan:
    return plan_stack(_spec(stage, PULL, PUSH, live=live))


def _named(plan: StackPlan, type_: str) -> dict[str, dict[str, Any]]:
    return {str(r.inputs.get("name")): dict(r.inputs) for r in plan.of_type(type_)}


def test_each_integration_gets_a_queue_with_a_dead_letter_queue():
    queues = _named(_plan("preview"), "aws:sqs/queue:Queue")
    assert set(queues) == {
        "demo-preview-int-parkmobile",
        "demo-preview-int-parkmobile-dlq",
        "demo-preview-int-meters",
        "demo-preview-int-meters-dlq",
    }
    redrive = json.loads(queues["demo-preview-int-meters"]["redrivePolicy"])
    assert redrive["maxReceiveCount"] == MAX_RECEIVE_COUNT
    assert redrive["deadLetterTargetArn"].endswith(":demo-preview-int-meters-dlq")
    assert all(q["sqsManagedSseEnabled"] is True for q in queues.values())
    assert queues["demo-preview-int-meters-dlq"]["messageRetentionSeconds"] == 1_209_600


def test_only_pull_integrations_get_a_schedule_enabled_in_preview_and_when_live():
    for stage, live, state in [
        ("preview", False, "ENABLED"),
        ("production", False, "DISABLED"),
        ("production", True, "ENABLED"),
    ]:
        schedules = _named(_plan(stage, live), "aws:scheduler/schedule:Schedule")
        assert list(schedules) == [f"demo-{stage}-int-parkmobile"], (stage, live)
        schedule = schedules[f"demo-{stage}-int-parkmobile"]
        assert schedule["state"] == state, (stage, live)
        assert schedule["scheduleExpression"] == "rate(5 minutes)"
        assert schedule["scheduleExpressionTimezone"] == "America/Chicago"
        assert schedule["target"]["arn"].endswith(f":demo-{stage}-int-parkmobile")


def test_secrets_are_references_only_and_alarms_watch_the_queues():
    plan = _plan("production", True)
    secrets = _named(plan, "aws:secretsmanager/secret:Secret")
    assert "demo/production/integrations/parkmobile" in secrets
    assert not plan.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    alarms = _named(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")
    dlq = alarms["demo-production-int-meters-dlq-not-empty"]
    assert dlq["dimensions"] == {"QueueName": "demo-production-int-meters-dlq"}
    assert (dlq["comparisonOperator"], dlq["threshold"]) == ("GreaterThanThreshold", 0)
    silent = alarms["demo-production-int-meters-silent"]
    assert silent["period"] == 60 * 60 and silent["treatMissingData"] == "breaching"
    assert silent["actionsEnabled"] is True
    preview_alarms = _named(_plan("preview"), "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert preview_alarms["demo-preview-int-meters-silent"]["actionsEnabled"] is False


def test_schedules_use_the_platform_scheduler_role_of_their_stage_and_no_stack_role():
    from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS, SCHEDULER_ROLE_OUTPUTS

    for stage in ("preview", "production"):
        plan = _plan(stage)
        schedule = _named(plan, "aws:scheduler/schedule:Schedule")[f"demo-{stage}-int-parkmobile"]
        role = EXAMPLE_PLATFORM_OUTPUTS[SCHEDULER_ROLE_OUTPUTS[stage]]
        assert schedule["target"]["roleArn"] == role, stage
        assert stage in role
        assert not plan.of_type("aws:iam/role:Role"), stage
        assert not plan.of_type("aws:iam/rolePolicy:RolePolicy"), stage


def test_a_pulled_integration_on_a_platform_without_the_scheduler_role_fails_naming_it():
    from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS, PlatformError

    outputs = {k: v for k, v in EXAMPLE_PLATFORM_OUTPUTS.items() if k != "previewSchedulerRoleArn"}
    with pytest.raises(PlatformError, match="has no output previewSchedulerRoleArn"):
        plan_stack(_spec("preview", PULL, PUSH), platform_outputs=outputs)
    # Every stack without a pulled integration is served without it: the output is optional.
    assert plan_stack(_spec("preview", PUSH), platform_outputs=outputs).of_type(
        "aws:sqs/queue:Queue"
    )


def test_the_scheduler_role_policy_covers_exactly_the_stage_integration_queues():
    from fnmatch import fnmatchcase

    from infra.core.integration_config import integration_names, scheduler_role_policies

    for stage, other in (("preview", "production"), ("production", "preview")):
        policies = scheduler_role_policies(stage, "123456789012")
        grant = policies["permissions"]["Statement"][0]
        assert grant["Action"] == "sqs:SendMessage"
        names = integration_names("demo", stage, "parkmobile")
        for queue in (names.queue, names.dead_letter_queue):
            assert fnmatchcase(f"arn:aws:sqs:us-east-1:123456789012:{queue}", grant["Resource"])
        theirs = integration_names("demo", other, "parkmobile").queue
        assert not fnmatchcase(f"arn:aws:sqs:us-east-1:123456789012:{theirs}", grant["Resource"])
        (trust,) = policies["trust"]["Statement"]
        assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_no_integrations_means_no_integration_resources():
    plan = plan_stack(_spec("preview"))
    for type_ in ("aws:sqs/queue:Queue", "aws:scheduler/schedule:Schedule"):
        assert not plan.of_type(type_)


def test_the_policy_pack_passes_integration_resources():
    for stage, live in [("preview", False), ("production", False), ("production", True)]:
        # what the policy pack sees under `pulumi preview --policy-pack policy`
        assert violations(policy_engine.sdk_resources(_plan(stage, live))) == [], (stage, live)


def test_the_policy_pack_refuses_an_unencrypted_queue():
    from policy.rules import encryption

    assert encryption("aws:sqs/queue:Queue", {"name": "q"}, {}) != []
    assert encryption("aws:sqs/queue:Queue", {"sqsManagedSseEnabled": True}, {}) == []


def test_promotion_diff_of_integrations_names_ids_and_counts_as_a_change():
    from infra.core.integration_config import diff_integrations
    from infra.core.promotion import dry_run_changes

    preview = [IntegrationSpec.model_validate(PULL), IntegrationSpec.model_validate(PUSH)]
    production = [IntegrationSpec.model_validate({**PULL, "graceMinutes": 30})]
    diff = diff_integrations(preview, production)
    assert diff == {"added": ["meters"], "changed": ["parkmobile"], "removed": []}
    plan = {"content": {"added": [], "changed": [], "removed": []}, "config": {},
            "payment": {"from": "live", "to": "live"}, "portal": {"from": "live", "to": "live"},
            "integrations": diff}  # fmt: skip
    assert dry_run_changes(plan) == [
        "integrations added: meters",
        "integrations changed: parkmobile",
    ]
