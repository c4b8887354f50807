"""`tenantctl capacity`: quota use counted from the plans of the stacks in stacks/."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.core.limits import QUOTAS
from infra.ops.planning.capacity import consumption
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
    # RDS keeps the master password in a secret of its own, beside the payment secret.
    assert used["secrets"] == types["aws:secretsmanager/secret:Secret"] + 1


def test_the_first_binding_quota_is_named_with_the_increase_needed(report: dict) -> None:  # type: ignore[type-arg]
    by_key = {q["quota"]: q for q in report["quotas"]}
    first = by_key[report["bindsFirst"]]

    assert first["binds"] and first["adjustable"]
    assert report["bindsFirstAtClients"] == first["maxClientsAtDefault"] + 1
    assert all(
        q["maxClientsAtDefault"] is None or q["maxClientsAtDefault"] >= first["maxClientsAtDefault"]
        for q in report["quotas"]
    )
    assert first["increaseTo"] == first["perClient"] * report["clients"]


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
    assert set(shapes) == {"platform-domain", "own-domain"} and report["reference"] == "demo"
    assert shapes["own-domain"]["acm-certificates"] > shapes["platform-domain"]["acm-certificates"]
    for quota in report["quotas"]:
        assert quota["perClient"] == max(s[quota["quota"]] for s in shapes.values())
    # SES is counted too (it was missed): a configuration set per stack, and an identity
    # only for a client's own domain (the platform's covers every address in its zone).
    assert shapes["platform-domain"]["ses-configuration-sets"] == 2
    assert shapes["platform-domain"]["ses-identities"] == 0
    assert shapes["own-domain"]["ses-identities"] == 1
