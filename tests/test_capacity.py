"""`tenantctl capacity`: quota use counted from the plans of the stacks in stacks/."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.core.errors import ExitCode
from infra.core.limits import QUOTAS
from infra.core.preflight import AppliedQuota
from infra.ops.planning.capacity import PoolShare, QuotaUse, consumption, growth
from infra.program.plan import plan_stack
from tests.helpers import STACKS, demo_spec, validate


@pytest.fixture(scope="module")
def report() -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, ["capacity", "--json", "--stacks-dir", str(STACKS)])
    assert result.exit_code == 0, result.output
    data: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    return data


def test_capacity_json_matches_its_schema(report: dict) -> None:  # type: ignore[type-arg]
    validate("capacity", report)


def test_every_quota_is_reported_with_its_default_and_source(report: dict) -> None:  # type: ignore[type-arg]
    assert [q["quota"] for q in report["quotas"]] == [q.key for q in QUOTAS]
    assert all(q["source"].startswith("https://docs.aws.amazon.com/") for q in report["quotas"])


def test_consumption_follows_the_resources_the_program_plans() -> None:
    plan = plan_stack(demo_spec("preview"))
    types = Counter(r.type for r in plan.resources)

    used = consumption([plan])

    assert used["alb-rules"] == types["aws:lb/listenerRule:ListenerRule"]
    assert used["ssm-parameters"] == types["aws:ssm/parameter:Parameter"]
    assert used["route53-records"] == types["aws:route53/record:Record"]
    assert used["rds-instances"] == types["aws:rds/instance:Instance"] == 0  # pooled
    # The pooled preview's role secret beside the payment secret; the pool server's own
    # master secret is the platform's (``sharedByPoolServers``).
    assert used["secrets"] == types["aws:secretsmanager/secret:Secret"] == 2
    production = consumption([plan_stack(demo_spec("production"))])
    assert production["rds-instances"] == 1
    assert production["secrets"] == 2  # payment, and RDS's managed master secret


def test_the_first_binding_quota_is_named_with_the_increase_needed(report: dict) -> None:  # type: ignore[type-arg]
    by_key = {q["quota"]: q for q in report["quotas"]}
    first = by_key[report["bindsFirst"]]

    assert first["binds"] and first["adjustable"]
    assert report["bindsFirstAtClients"] == first["maxClientsAtDefault"] + 1
    assert all(
        q["maxClientsAtDefault"] is None or q["maxClientsAtDefault"] >= first["maxClientsAtDefault"]
        for q in report["quotas"]
    )
    assert first["increaseTo"] == first["total"]
    assert first["total"] == first["perClient"] * report["clients"] + first["sharedByPoolServers"]


def test_no_quota_that_cannot_be_raised_binds_at_1000_clients(report: dict) -> None:  # type: ignore[type-arg]
    assert report["clients"] == 1000
    assert [q["quota"] for q in report["quotas"] if q["binds"] and not q["adjustable"]] == []


def test_a_handful_of_clients_fits_the_defaults() -> None:
    result = CliRunner().invoke(main, ["capacity", "--clients", "5", "--stacks-dir", str(STACKS)])

    assert result.exit_code == 0, result.output
    assert "no quota binds at 5 clients" in result.stdout


def test_each_shape_of_client_is_counted_and_the_table_takes_the_largest(report: dict) -> None:  # type: ignore[type-arg]
    """A fleet mixes clients on the platform's names with clients on their own domain."""
    shapes = report["shapes"]
    assert set(shapes) == {"platform-domain", "own-domain", "pooled-production", "integrations"}
    assert report["reference"] == "demo"
    assert (
        shapes["integrations"]["scheduler-schedules"]
        > shapes["platform-domain"]["scheduler-schedules"]
    )
    assert shapes["own-domain"]["acm-certificates"] > shapes["platform-domain"]["acm-certificates"]
    for quota in report["quotas"]:  # the shape that needs the most at 1,000 clients
        assert quota["perClient"] == shapes[quota["shape"]][quota["quota"]]
        assert quota["total"] >= max(s[quota["quota"]] for s in shapes.values()) * 1000
    by_key = {q["quota"]: q for q in report["quotas"]}
    # A pooled production has no instance: its share of a Multi-AZ server (1 per 5).
    assert shapes["pooled-production"]["rds-instances"] == 0
    assert by_key["rds-instances"]["shape"] != "pooled-production"
    # SES is counted too (it was missed): a configuration set per stack, and an identity
    # only for a client's own domain (the platform's covers every address in its zone).
    assert shapes["platform-domain"]["ses-configuration-sets"] == 2
    assert shapes["platform-domain"]["ses-identities"] == 0
    assert shapes["own-domain"]["ses-identities"] == 1


def _rds(clients: int, applied: AppliedQuota | None = None) -> QuotaUse:
    quota = next(q for q in QUOTAS if q.key == "rds-instances")
    return QuotaUse(quota, 1, clients, (PoolShare(1, 40),), applied)


def test_preview_pool_servers_count_once_for_the_whole_fleet() -> None:
    assert [_rds(n).shared for n in (1, 40, 41, 1000)] == [1, 1, 2, 25]
    # 39 productions and one pool server fill the default 40; the 40th client needs 41.
    assert _rds(1000).max_clients == 39 and _rds(39).binds is False and _rds(40).binds


def test_an_applied_value_from_service_quotas_is_the_limit_it_binds_against() -> None:
    raised = _rds(1000, AppliedQuota(1100.0, "Service Quotas rds/L-7B6409FD"))
    assert (raised.limit, raised.binds, raised.max_clients_at_limit) == (1100, False, 1073)
    assert raised.max_clients == 39  # still reported against the default
    document = raised.to_json()
    assert document["limitSource"] == "Service Quotas rds/L-7B6409FD"
    unread = _rds(1000, AppliedQuota(None, "service-quotas: AccessDenied", readable=False))
    assert (unread.limit, unread.binds) == (40, True)  # unknown: the default stands


def test_capacity_reads_the_accounts_service_quotas_with_account(aws_env: str) -> None:
    result = CliRunner().invoke(
        main, ["capacity", "--account", "--json", "--stacks-dir", str(STACKS)]
    )
    assert result.exit_code == 0, result.output
    document = validate("capacity", json.loads(result.stdout))
    sources = {q["quota"]: q["limitSource"] for q in document["quotas"]}
    # Every quota was asked about (or is one Service Quotas does not hold).
    assert all(s != "documented default" for s in sources.values()), sources
    assert sources["ssm-parameters"] == "documented default, not in Service Quotas"


def test_capacity_account_with_the_endpoint_unreachable_is_one_line_exit_5(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    result = CliRunner().invoke(main, ["capacity", "--account", "--stacks-dir", str(STACKS)])
    assert result.exit_code == ExitCode.UNREACHABLE, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_rds_storage_counts_allocated_storage_and_reports_the_autoscaling_ceiling(
    report: dict,  # type: ignore[type-arg]
) -> None:
    """AWS counts the EBS volumes' allocated size against "Total storage for all DB
    instances", not maxAllocatedStorage; the ceiling is what autoscaling may grow to."""
    production = plan_stack(demo_spec("production"))
    instance = next(r for r in production.resources if r.type == "aws:rds/instance:Instance")
    allocated, ceiling = instance.inputs["allocatedStorage"], instance.inputs["maxAllocatedStorage"]
    assert ceiling > allocated
    assert consumption([production])["rds-storage-gib"] == allocated
    assert growth([production])["rds-storage-gib"] == ceiling

    storage = next(q for q in report["quotas"] if q["quota"] == "rds-storage-gib")
    grown = storage["atAutoscalingCeiling"]
    assert grown["perClient"] > storage["perClient"]
    assert grown["total"] - grown["perClient"] * 1000 == storage["sharedByPoolServers"]
    assert storage["binds"] is False and storage["maxClientsAtDefault"] > 1000
    assert grown["binds"] is True and grown["maxClientsAtLimit"] < 1000
    assert all("atAutoscalingCeiling" not in q for q in report["quotas"] if q is not storage)


def test_the_table_says_when_autoscaling_would_pass_the_storage_quota(
    report: dict,  # type: ignore[type-arg]
) -> None:
    result = CliRunner().invoke(main, ["capacity", "--stacks-dir", str(STACKS)])

    assert result.exit_code == 0, result.output
    grown = next(q for q in report["quotas"] if q["quota"] == "rds-storage-gib")[
        "atAutoscalingCeiling"
    ]
    assert (
        f"rds-storage-gib counts allocated storage, as AWS does; with every instance at its "
        f"autoscaling ceiling it would be {grown['total']:,} GiB, past the default 100,000 at "
        f"{grown['maxClientsAtLimit'] + 1:,} clients"
    ) in result.stdout


def test_a_client_with_a_pulled_integration_creates_no_iam_role(report: dict) -> None:  # type: ignore[type-arg]
    """Issue 18: schedules use the platform's scheduler role, so IAM's 1,000 roles never bind."""
    shapes = report["shapes"]
    assert shapes["integrations"]["scheduler-schedules"] > 0
    assert all(shape["iam-roles"] == 0 for shape in shapes.values())
    by_key = {q["quota"]: q for q in report["quotas"]}
    assert by_key["iam-roles"]["total"] == 0
