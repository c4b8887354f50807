"""The policy pack's rules over the mock-runtime plan of every stack and of edge cases."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from infra.core import naming
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS
from infra.core.spec import ROLES, TenantSpec, parse_spec
from infra.ops.stacks.stackfiles import read_spec, tenants
from infra.program.plan import StackPlan, plan_stack
from policy import rules
from tests.helpers import STACKS, demo_data

LONGEST_BASE = "b" * 20 + "." + "c" * 37 + ".edu"  # 62 octets: *.<base> is 64
LONGEST_PORTAL = "p" * 30 + "." + "q" * 29 + ".edu"  # 64 octets


def resources(plan: StackPlan) -> list[rules.Resource]:
    return [
        rules.Resource(
            r.type, r.name, r.inputs, {"protect": r.protect, "retainOnDelete": r.retain_on_delete}
        )
        for r in plan.resources
        if r.custom
    ]


def plan_of(spec: TenantSpec) -> StackPlan:
    return plan_stack(
        spec, platform_outputs={**EXAMPLE_PLATFORM_OUTPUTS, "zoneName": spec.base_domain}
    )


def stack_specs() -> list[TenantSpec]:
    specs = [
        read_spec(STACKS, slug, stage)
        for slug, stages in tenants(STACKS).items()
        for stage in stages
    ]
    return specs + [s.model_copy(update={"live": True}) for s in specs if s.stage == "production"]


def edge_specs() -> list[TenantSpec]:
    cases = []
    for stage in naming.STAGES:
        data: dict[str, Any] = {**demo_data(stage), "slug": "z" * naming.SLUG_MAX_LENGTH}
        data["baseDomain"] = LONGEST_BASE
        data["admins"] = [
            {"email": f"{role}@example.edu", "name": role.title(), "role": role} for role in ROLES
        ]
        if stage == naming.PRODUCTION:
            data["portalDomain"] = LONGEST_PORTAL
            cases.append(parse_spec({**data, "live": True}))
        else:
            data.pop("portalDomain", None)
        cases.append(parse_spec(data))
    return cases


@pytest.mark.parametrize(
    "spec", stack_specs() + edge_specs(), ids=lambda s: f"{s.stack_name}{'-live' if s.live else ''}"
)
def test_every_stack_and_edge_case_passes_the_policy_pack(spec: TenantSpec) -> None:
    assert rules.violations(resources(plan_of(spec))) == []


@pytest.fixture(scope="module")
def production() -> list[rules.Resource]:
    return resources(plan_of(read_spec(STACKS, "demo", "production")))


def _broken(found: list[rules.Resource], type_: str, **changes: Any) -> list[rules.Resource]:
    out = []
    for r in found:
        if r.type == type_:
            inputs = {**r.inputs, **changes.get("inputs", {})}
            for key in changes.get("drop", ()):
                inputs.pop(key, None)
            r = dataclasses.replace(
                r, inputs=inputs, options={**r.options, **changes.get("options", {})}
            )
        out.append(r)
    return out


def test_an_unprotected_production_bucket_fails_naming_resource_and_rule(
    production: list[rules.Resource],
) -> None:
    broken = _broken(production, "aws:s3/bucket:Bucket", options={"protect": False})

    assert rules.violations(broken) == [
        "demo-production-portal-bucket: production-stateful-protected: "
        "production stateful resource is not protected (protect)"
    ]


def test_a_public_bucket_fails_naming_resource_and_rule(
    production: list[rules.Resource],
) -> None:
    broken = _broken(
        production,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        inputs={"restrictPublicBuckets": False},
    )

    assert rules.violations(broken) == [
        "demo-production-portal-bucket: private-tls-only-buckets: "
        "bucket is not private: public access is not fully blocked"
    ]


def test_a_missing_tag_fails_naming_resource_and_rule(
    production: list[rules.Resource],
) -> None:
    broken = _broken(production, "aws:rds/instance:Instance", drop=("tags",))

    assert rules.violations(broken) == [
        "demo-production-database-instance: tagged: missing tags: tenant, stage, managed-by"
    ]


def test_a_plaintext_credential_in_an_input_fails(
    production: list[rules.Resource],
) -> None:
    broken = _broken(
        production,
        "aws:secretsmanager/secret:Secret",
        inputs={"description": "key sk_live_abcdef123456"},
    )

    assert [v.split(": ")[1] for v in rules.violations(broken)] == ["no-plaintext-secrets"]


def test_an_unknown_mfa_setting_fails(
    production: list[rules.Resource],
) -> None:
    broken = _broken(
        production, "aws:cognito/userPool:UserPool", inputs={"mfaConfiguration": "REQUIRED"}
    )

    assert [v.split(": ")[1] for v in rules.violations(broken)] == ["enumerated-values"]
