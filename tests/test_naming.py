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
    assert naming.settings_parameter("demo", "preview") == "/demo/preview/settings"
    assert naming.payment_secret_name("demo", "production").endswith(
        "demo/production/payment-credentials"
    )


def test_bucket_names_fit_s3_limits_for_the_longest_slug():
    slug = "a" * naming.SLUG_MAX_LENGTH
    for stage in naming.STAGES:
        name = naming.content_bucket(slug, stage, "0" * 8)
        assert 3 <= len(name) <= 63 and name == name.lower()


KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_bucket_names_differ_between_installations():
    names = {
        naming.content_bucket("demo", "production", naming.installation_id(kms, platform))
        for kms, platform in [
            (KMS, "acme/platform/prod"),
            (KMS.replace("123456789012", "210987654321"), "acme/platform/prod"),
            (KMS.replace("us-east-1", "eu-west-1"), "acme/platform/prod"),
            (KMS, "acme/platform/staging"),
        ]
    }
    assert len(names) == 4


def test_installation_id_is_stable_for_a_new_key_of_the_same_platform():
    rotated = KMS.replace("1234abcd-12ab-34cd-56ef-1234567890ab", "ffff0000-12ab-34cd-56ef-0")
    assert naming.installation_id(KMS, "acme/platform/prod") == naming.installation_id(
        rotated, "acme/platform/prod"
    )
