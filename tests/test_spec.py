"""The tenant spec: every field validated, every problem named by key, value and rule."""

from __future__ import annotations

import copy
from typing import Any, get_args

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from infra.core import naming
from infra.core.providers import PROVIDERS
from infra.core.spec import (
    ROLES,
    PaymentSpec,
    Role,
    SpecError,
    TenantSpec,
    parse_spec,
    spec_from_config,
)
from tests.helpers import demo_data, demo_spec, stack_config


def with_change(stage: str, path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(demo_data(stage))
    target = data
    for part in path[:-1]:
        # The pooled preview has no database section: a case adds one.
        target = target.setdefault(part, {}) if isinstance(target, dict) else target[part]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


DELETE = object()


def problem_for(data: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    return str(info.value)


def test_reference_tenant_validates_for_both_stages():
    preview, production = demo_spec("preview"), demo_spec("production")
    assert (preview.stack_name, production.stack_name) == ("demo-preview", "demo-production")
    assert production.portal_domain == "parking.demo-state.example.edu"


BAD_INPUT = [
    # (stage, path, value, key named, words of the rule)
    ("preview", ("slug",), "Demo", "tenants:slug", "lowercase"),
    ("preview", ("slug",), "ab", "tenants:slug", "3 to 24"),
    ("preview", ("slug",), "a" * 25, "tenants:slug", "3 to 24"),
    ("preview", ("slug",), "demo--x", "tenants:slug", "two hyphens"),
    ("preview", ("slug",), "admin", "tenants:slug", "reserved"),
    ("preview", ("slug",), "demo-", "tenants:slug", "end with a letter or digit"),
    ("preview", ("slug",), "1demo", "tenants:slug", "start with a lowercase letter"),
    ("preview", ("slug",), "acme-production", "tenants:slug", "stack name"),
    ("preview", ("stage",), "staging", "tenants:stage", "'preview' or 'production'"),
    ("preview", ("displayName",), "", "tenants:displayName", "at least 2"),
    ("preview", ("displayName",), DELETE, "tenants:displayName", "required"),
    ("preview", ("baseDomain",), "Tenants.Example.com", "tenants:baseDomain", "lowercase labels"),
    ("preview", ("platformStack",), "platform", "tenants:platformStack", "org/project/stack"),
    (
        "preview",
        ("database", "instanceClass"),
        "m5.large",
        "tenants:database.instanceClass",
        "db.t4g.micro",
    ),
    (
        "preview",
        ("database", "allocatedStorageGb"),
        5,
        "tenants:database.allocatedStorageGb",
        "greater than or equal to 20",
    ),
    (
        "production",
        ("database", "maxAllocatedStorageGb"),
        20,
        "tenants:database.maxAllocatedStorageGb",
        "10% above allocatedStorageGb",
    ),
    (
        "preview",
        ("database", "backupRetentionDays"),
        90,
        "tenants:database.backupRetentionDays",
        "less than or equal to 35",
    ),
    (
        "production",
        ("database", "backupRetentionDays"),
        7,
        "tenants:database.backupRetentionDays",
        "at least 14 days in production",
    ),
    ("preview", ("database", "iops"), 3000, "tenants:database.iops", "not a known key"),
    ("preview", ("payment", "provider"), "paypal", "tenants:payment.provider", "'stripe'"),
    (
        "preview",
        ("payment", "merchantId"),
        "12345",
        "tenants:payment.merchantId",
        "Stripe account id",
    ),
    ("preview", ("payment", "currency"), "usd", "tenants:payment.currency", "ISO 4217"),
    ("preview", ("branding", "primaryColor"), "blue", "tenants:branding.primaryColor", "#RRGGBB"),
    (
        "preview",
        ("branding", "logoUrl"),
        "http://x.example/logo.png",
        "tenants:branding.logoUrl",
        "https://",
    ),
    (
        "preview",
        ("branding", "supportEmail"),
        "parking at example",
        "tenants:branding.supportEmail",
        "email address",
    ),
    (
        "preview",
        ("branding", "supportPhone"),
        "call us",
        "tenants:branding.supportPhone",
        "phone number",
    ),
    ("preview", ("admins",), [], "tenants:admins", "at least 1"),
    ("preview", ("admins", 0, "role"), "root", "tenants:admins[0].role", "'administrator'"),
    ("preview", ("admins", 1, "email"), "not-an-email", "tenants:admins[1].email", "email address"),
    (
        "preview",
        ("portalDomain",),
        "parking.example.edu",
        "tenants:portalDomain",
        "production only",
    ),
    ("preview", ("live",), True, "tenants:live", "production only"),
    (
        "production",
        ("portalDomain",),
        "x.tenants.example.com",
        "tenants:portalDomain",
        "client's own domain",
    ),
    ("preview", ("unknownKey",), "x", "tenants:unknownKey", "not a known key"),
]


@pytest.mark.parametrize(("stage", "path", "value", "key", "rule"), BAD_INPUT)
def test_bad_input_names_key_value_and_rule(stage, path, value, key, rule):
    message = problem_for(with_change(stage, path, value))
    assert message.startswith(key), message
    assert rule in message, message
    if value is not DELETE:
        assert repr(value) in message or str(value) in message


def test_duplicate_admin_is_named():
    data = demo_data("preview")
    data["admins"] = [*data["admins"], dict(data["admins"][0])]
    message = problem_for(data)
    assert "listed twice" in message and "tenants:admins[5].email" in message


def test_admins_without_an_administrator_are_refused():
    data = demo_data("preview")
    data["admins"] = [a for a in data["admins"] if a["role"] != "administrator"]
    assert "at least one admin with role administrator" in problem_for(data)


def test_every_problem_is_listed_not_just_the_first():
    data = with_change("preview", ("slug",), "X")
    data["payment"]["currency"] = "euro"
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    keys = [p.key for p in info.value.problems]
    assert keys == ["tenants:slug", "tenants:payment.currency"]
    lines = str(info.value).splitlines()
    assert lines[0] == "2 problems:"
    assert lines[1].startswith("  tenants:slug = 'X'")
    assert lines[2].startswith("  tenants:payment.currency = 'euro'")


def test_stack_name_must_match_config():
    config = stack_config("preview")
    with pytest.raises(SpecError, match="must match the stack name 'demo-production'"):
        spec_from_config(config, expected_stack="demo-production")


def test_other_namespaces_are_ignored():
    config = {**stack_config("preview"), "aws:region": "eu-west-1", "aws:profile": "x"}
    assert spec_from_config(config).slug == "demo"


def test_stage_defaults_apply_under_overrides():
    data = demo_data("production")
    del data["database"]
    sizing = parse_spec(data).database_sizing
    assert sizing.multi_az and not sizing.apply_immediately
    assert sizing.backup_retention_days >= 14
    data["database"] = {"instanceClass": "db.r7g.large"}
    assert parse_spec(data).database_sizing.instance_class == "db.r7g.large"


def test_payment_mode_is_live_only_for_live_production():
    assert demo_spec("preview").payment_mode == "sandbox"
    production = demo_spec("production")
    assert production.payment_mode == "sandbox"
    assert production.model_copy(update={"live": True}).payment_mode == "live"


def test_to_config_round_trips():
    for stage in naming.STAGES:
        spec = demo_spec(stage)
        assert spec_from_config(spec.to_config()) == spec


def test_roles_and_providers_are_declared_once():
    # Literal types exist for the type checker; they must name exactly the documented sets.
    assert set(get_args(Role)) == set(ROLES)
    provider_literal = PaymentSpec.model_fields["provider"].annotation
    assert set(get_args(provider_literal)) == set(PROVIDERS)


# Slug-shaped strings: the pattern and length hold by construction, so most examples are
# valid slugs and reach the assertions (assume() discards the few with "--" or a reserved
# word; hypothesis fails the test if it has to discard too many).
slugs = st.from_regex(naming.SLUG_PATTERN, fullmatch=True).filter(
    lambda s: naming.SLUG_MIN_LENGTH <= len(s) <= naming.SLUG_MAX_LENGTH
)


@given(slugs)
def test_valid_slugs_round_trip_through_stack_names(slug):
    assume(naming.slug_problem(slug) is None)
    for stage in naming.STAGES:
        assert naming.parse_stack_name(naming.stack_name(slug, stage)) == (slug, stage)


@given(slugs)
def test_slug_rule_never_accepts_what_hosts_cannot_carry(slug):
    assume(naming.slug_problem(slug) is None)
    for stage in naming.STAGES:
        host = naming.portal_host(slug, stage, naming.DEFAULT_BASE_DOMAIN)
        assert naming.hostname_problem(host) is None
        assert naming.database_name(slug, stage).isidentifier()


@given(slugs)
def test_no_stage_scheduler_pattern_matches_another_stages_queue(slug):
    """Each stage's platform scheduler role sends to its own stage's queues only."""
    import fnmatch

    from infra.core.integration_config import integration_names, scheduler_queue_pattern

    assume(naming.slug_problem(slug) is None)
    for stage in naming.STAGES:
        queue = integration_names(slug, stage, "meters").queue
        for other in naming.STAGES:
            matches = fnmatch.fnmatchcase(queue, scheduler_queue_pattern(other))
            assert matches == (other == stage), (queue, other)


def test_a_slug_that_would_name_a_queue_of_another_stage_is_refused():
    assert "must not contain -preview-int" in str(naming.slug_problem("acme-preview-int"))
    assert "must not contain -preview-int" in str(naming.slug_problem("acme-preview-int-lab"))
    assert naming.slug_problem("acme-preview-intl") is None


def test_spec_is_frozen():
    spec = demo_spec("preview")
    with pytest.raises(ValidationError, match="frozen"):
        spec.slug = "other"  # type: ignore[misc]
    assert isinstance(spec, TenantSpec)
