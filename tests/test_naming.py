"""Names are derived, deterministic and unambiguous."""

from __future__ import annotations

import pytest

from infra.core import naming


def test_hosts_follow_the_design():
    assert naming.admin_host("demo", "production", "t.example.com") == "demo.admin.t.example.com"
    assert naming.portal_host("demo", "production", "t.example.com") == "demo.t.example.com"
    assert (
        naming.admin_host("demo", "preview", "t.example.com") == "demo-preview.admin.t.example.com"
    )
    assert naming.portal_host("demo", "preview", "t.example.com") == "demo-preview.t.example.com"


def test_database_names_replace_hyphens():
    assert naming.database_name("big-u", "preview") == "big_u_preview"
    assert naming.defaults_database_name("big-u", "production") == "big_u_production_defaults"


def test_tags_are_the_three_design_tags():
    assert naming.tags("demo", "preview") == {
        "tenant": "demo",
        "stage": "preview",
        "managed-by": "tenantctl",
    }


def test_parse_stack_name_rejects_non_tenant_stacks():
    with pytest.raises(naming.NameError_, match="not a tenant stack"):
        naming.parse_stack_name("demo-staging")
    with pytest.raises(naming.NameError_, match="reserved"):
        naming.parse_stack_name("admin-preview")


def test_payment_names_live_under_the_stack_path():
    assert naming.payment_parameter_path("demo", "preview") == "/demo/preview/payment/"
    assert naming.payment_secret_name("demo", "production").endswith(
        "demo/production/payment-credentials"
    )


def test_bucket_names_fit_s3_limits_for_the_longest_slug():
    slug = "a" * naming.SLUG_MAX_LENGTH
    for stage in naming.STAGES:
        name = naming.content_bucket(slug, stage)
        assert 3 <= len(name) <= 63 and name == name.lower()
