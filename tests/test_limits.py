"""Spec validation refuses every value AWS would refuse, naming the key, the value and the limit."""

from __future__ import annotations

from typing import Any

import pytest

from infra.core import limits
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS
from infra.core.spec import parse_spec
from infra.core.spec_errors import SpecError
from infra.program.plan import plan_stack
from tests.helpers import demo_data


def problem_of(data: dict[str, Any]) -> tuple[str, Any, str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    problem = caught.value.problems[0]
    return problem.key, problem.value, problem.rule


def test_max_storage_less_than_ten_percent_above_allocated_is_refused() -> None:
    data = demo_data("production")
    data["database"] = {**data["database"], "allocatedStorageGb": 100, "maxAllocatedStorageGb": 105}

    key, value, rule = problem_of(data)

    assert key == "tenants:database.maxAllocatedStorageGb" and value == 105
    assert "at least 110" in rule and "10%" in rule


def test_max_storage_exactly_ten_percent_above_is_accepted() -> None:
    data = demo_data("production")
    data["database"] = {**data["database"], "allocatedStorageGb": 100, "maxAllocatedStorageGb": 110}

    assert parse_spec(data).database_sizing.max_allocated_storage_gb == 110


def test_longest_slug_with_a_long_base_domain_plans_no_certificate_name_over_64_octets() -> None:
    data = demo_data("production")
    data["slug"] = "a" * 24
    data["baseDomain"] = "tenants-" + "b" * 14 + ".com"  # 26 characters
    data["customDomain"] = {"certificateGeneration": 1}
    spec = parse_spec(data)

    plan = plan_stack(
        spec, platform_outputs={**EXAMPLE_PLATFORM_OUTPUTS, "zoneName": spec.base_domain}
    )

    names = [r.inputs["domainName"] for r in plan.of_type("aws:acm/certificate:Certificate")]
    assert names == [spec.portal_domain]
    assert all(len(n.encode()) <= limits.ACM_COMMON_NAME_MAX_OCTETS for n in names)


def test_base_domain_too_long_for_the_platform_wildcard_certificate_is_refused() -> None:
    data = demo_data("preview")
    data["baseDomain"] = "t" * 40 + "." + "u" * 20 + ".com"  # *.<it> is 67 octets

    key, value, rule = problem_of(data)

    assert key == "tenants:baseDomain" and value == data["baseDomain"]
    assert str(limits.ACM_COMMON_NAME_MAX_OCTETS) in rule


def test_portal_domain_longer_than_a_certificate_name_is_refused() -> None:
    data = demo_data("production")
    data["portalDomain"] = "parking." + "c" * 55 + ".edu"  # 67 characters, a valid host name

    key, value, rule = problem_of(data)

    assert key == "tenants:portalDomain" and value == data["portalDomain"]
    assert "64" in rule


@pytest.mark.parametrize("slug", ["awsome-college", "ssmith-college", "aws-uni"])
def test_slug_that_would_start_an_ssm_parameter_name_with_a_reserved_prefix_is_refused(
    slug: str,
) -> None:
    data = demo_data("preview")
    data["slug"] = slug

    key, value, rule = problem_of(data)

    assert key == "tenants:slug" and value == slug
    assert "SSM" in rule


def test_min_max_allocated_storage_rounds_up() -> None:
    assert limits.min_max_allocated_storage(20) == 22
    assert limits.min_max_allocated_storage(25) == 28


def test_account_wide_quotas_are_read_where_service_quotas_answers_for_them() -> None:
    by_key = {quota.key: quota for quota in limits.QUOTAS}
    # S3's bucket count and Route 53's records are not per region: us-east-1 answers.
    assert limits.quota_region(by_key["s3-buckets"], "eu-west-1") == "us-east-1"
    assert limits.quota_region(by_key["route53-records"], "eu-west-1") == "us-east-1"
    assert limits.quota_region(by_key["rds-instances"], "eu-west-1") == "eu-west-1"
    # Every quota with a Service Quotas code has a scope the rule knows.
    for key in limits.SERVICE_QUOTA_CODES:
        assert by_key[key].scope in limits.GLOBAL_SCOPES | {"account and region", "load balancer"}
