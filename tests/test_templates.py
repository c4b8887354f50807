"""The templates in ``templates/`` rendered for the reference tenant.

Pure: renders with ``infra.core.rendering`` and inspects the text; no AWS, no database.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from infra.core.rendering import (
    TEMPLATES_DIR,
    RenderError,
    render_content,
    render_db_schema,
    render_db_seed,
    system_messages,
)
from infra.core.spec import TenantSpec, parse_spec, spec_from_config

ROOT = Path(__file__).resolve().parent.parent
BANNER = "Preview system — practice data, reset at any time"
HOSTILE_HTML_NAME = "<script>alert('pwned')</script> & \"Sons\""
HOSTILE_SQL_NAME = "O'Brien College; DROP TABLE config.lots; --"

PAGES = (
    "home",
    "buy-permit",
    "pay-violation",
    "violation",
    "sign-in",
    "forgot-password",
    "reset-password",
    "account",
    "payment-complete",
    "payment-cancelled",
    "help",
    "coming-soon",
    "not-found",
)
EMAILS = (
    "permit-confirmation",
    "payment-receipt",
    "violation-notice",
    "password-reset",
    "welcome",
    "permit-renewal-reminder",
)
REQUIRED_MESSAGES = (
    "permit-sold-out",
    "payment-declined",
    "payment-succeeded",
    "violation-not-found",
    "maintenance",
    "session-expired",
    "account-locked",
    "permit-renewal-open",
)
CONFIG_TABLES = (
    "settings",
    "terms",
    "lots",
    "permit_types",
    "permit_type_lots",
    "violation_types",
    "system_messages",
)
PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")


# ----------------------------------------------------------------- helpers


@cache
def reference_spec(stage: str) -> TenantSpec:
    path = ROOT / "stacks" / f"Pulumi.demo-{stage}.yaml"
    config = YAML(typ="safe").load(path.read_text(encoding="utf-8"))["config"]
    return spec_from_config(config, expected_stack=f"demo-{stage}", source=str(path))


def with_branding(spec: TenantSpec, **branding: Any) -> TenantSpec:
    """*spec* with branding fields replaced, validated like a stack file."""
    data = spec.model_dump(by_alias=True, mode="json")
    data["branding"] = {**data["branding"], **branding}
    return parse_spec(data)


@cache
def rendered(stage: str) -> dict[str, str]:
    files = render_content(reference_spec(stage))
    return {name: data.decode("utf-8") for name, data in files.items()}


def pages(files: dict[str, str]) -> dict[str, str]:
    return {n: t for n, t in files.items() if n.startswith("portal/") and n.endswith(".html")}


def emails(files: dict[str, str]) -> dict[str, str]:
    return {n: t for n, t in files.items() if n.startswith("email/") and not n.endswith(".json")}


# ----------------------------------------------------------------- content


def test_content_includes_every_page_email_and_message_file() -> None:
    names = set(rendered("preview"))

    expected = {f"portal/{page}.html" for page in PAGES}
    expected |= {f"email/{email}.{ext}" for email in EMAILS for ext in ("html", "txt")}
    expected |= {"portal/styles.css", "email/subjects.json", "messages/portal.json"}
    assert expected <= names


def test_content_never_publishes_partials() -> None:
    names = rendered("preview")

    assert not [n for n in names if Path(n).name.startswith("_")]


@pytest.mark.parametrize("stage", ["preview", "production"])
def test_content_leaves_no_jinja_syntax(stage: str) -> None:
    leftovers = {
        name: marker
        for name, text in rendered(stage).items()
        for marker in ("{{", "}}", "{%", "%}", "{#", "#}")
        if marker in text
    }

    assert leftovers == {}


def test_pages_show_organization_support_and_stylesheet() -> None:
    spec = reference_spec("production")

    for name, text in pages(rendered("production")).items():
        assert spec.branding.organization_name in text, name
        assert f"mailto:{spec.branding.support_email}" in text, name
        assert '<link rel="stylesheet" href="/styles.css">' in text, name
        assert '<main id="main"' in text, name
        assert "<!DOCTYPE html>" in text, name


def test_stylesheet_uses_brand_colours() -> None:
    spec = with_branding(reference_spec("preview"), primaryColor="#123456", accentColor="#abcdef")

    css = render_content(spec)["portal/styles.css"].decode()

    assert "--primary: #123456;" in css
    assert "--accent: #abcdef;" in css


def test_emails_show_organization_support_and_brand_colour() -> None:
    spec = reference_spec("production")

    for name, text in emails(rendered("production")).items():
        assert spec.branding.organization_name in text, name
        assert spec.branding.support_email in text, name
        if name.endswith(".html"):
            assert spec.branding.primary_color in text, name


def test_production_emails_link_to_the_clients_own_domain() -> None:
    for name, text in emails(rendered("production")).items():
        assert "https://parking.demo-state.example.edu" in text, name
        assert "-preview" not in text, name


def test_every_email_has_a_subject() -> None:
    subjects = json.loads(rendered("production")["email/subjects.json"])

    assert set(subjects) == set(EMAILS)
    assert all(isinstance(s, str) and s.strip() for s in subjects.values())


def test_preview_pages_show_practice_banner() -> None:
    files = rendered("preview")

    for name, text in {**pages(files), **emails(files)}.items():
        assert BANNER in text, name


def test_production_pages_hide_practice_banner() -> None:
    for name, text in rendered("production").items():
        assert BANNER not in text, name
        assert "[Preview]" not in text, name


def test_preview_email_subjects_are_marked() -> None:
    subjects = json.loads(rendered("preview")["email/subjects.json"])

    assert all(s.startswith("[Preview] ") for s in subjects.values())


def test_content_renders_without_logo_or_phone() -> None:
    spec = with_branding(reference_spec("preview"), logoUrl=None, supportPhone=None)

    files = {n: d.decode() for n, d in render_content(spec).items()}

    assert not [n for n, t in files.items() if "<img" in t or "None" in t]
    assert "tel:" not in files["portal/help.html"]


def test_html_escapes_hostile_organization_name() -> None:
    spec = with_branding(reference_spec("preview"), organizationName=HOSTILE_HTML_NAME)

    files = {n: d.decode() for n, d in render_content(spec).items()}

    for name in [n for n in files if n.endswith(".html")]:
        assert "<script>" not in files[name], name
        assert (
            "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; &#34;Sons&#34;"
            in files[name]
        ), name


def test_json_encodes_hostile_organization_name() -> None:
    spec = with_branding(reference_spec("preview"), organizationName=HOSTILE_HTML_NAME)

    files = render_content(spec)
    messages = json.loads(files["messages/portal.json"])
    subjects = json.loads(files["email/subjects.json"])

    assert HOSTILE_HTML_NAME in messages["account-created"]["body"]
    assert HOSTILE_HTML_NAME in subjects["welcome"]
    assert b"<script>" not in files["messages/portal.json"]


# ----------------------------------------------------------------- messages


def test_portal_messages_have_title_body_and_severity() -> None:
    messages = system_messages(reference_spec("preview"))

    assert len(messages) >= 12
    assert set(REQUIRED_MESSAGES) <= set(messages)
    for code, message in messages.items():
        assert re.fullmatch(r"[a-z][a-z0-9-]*", code)
        assert set(message) == {"title", "body", "severity"}, code
        assert message["severity"] in {"info", "warning", "error"}, code
        assert message["title"].strip() and message["body"].strip(), code


def test_portal_messages_name_support_contact() -> None:
    spec = reference_spec("preview")

    messages = system_messages(spec)

    assert spec.branding.support_email in messages["violation-not-found"]["body"]
    assert spec.branding.support_phone in messages["violation-not-found"]["body"]


# ----------------------------------------------------------------- placeholders


def test_runtime_placeholders_are_documented() -> None:
    readme = (TEMPLATES_DIR / "README.md").read_text(encoding="utf-8")
    used = {
        match for text in rendered("production").values() for match in PLACEHOLDER.findall(text)
    }

    assert used
    assert sorted(name for name in used if f"${{{name}}}" not in readme) == []


# ----------------------------------------------------------------- database


def test_seed_quotes_hostile_organization_name() -> None:
    spec = with_branding(reference_spec("preview"), organizationName=HOSTILE_SQL_NAME)

    seed = render_db_seed(spec)

    assert "('organization.name', 'O''Brien College; DROP TABLE config.lots; --'," in seed
    assert "O'Brien" not in seed


def test_seed_inserts_one_row_per_message() -> None:
    spec = reference_spec("preview")

    seed = render_db_seed(spec)

    inserts = re.findall(r"^INSERT INTO config\.system_messages .*;$", seed, re.M)
    assert len(inserts) == len(system_messages(spec))
    for code in system_messages(spec):
        assert f"VALUES ('{code}', " in seed


def test_seed_holds_configuration_only() -> None:
    seed = render_db_seed(reference_spec("production"))

    assert "INSERT INTO activity." not in seed
    for table in CONFIG_TABLES:
        assert f"INSERT INTO config.{table} " in seed, table


def test_seed_records_the_stacks_own_portal_url() -> None:
    seed = render_db_seed(reference_spec("production"))

    assert "('portal.url', 'https://parking.demo-state.example.edu')" in seed


def test_seed_configuration_is_the_same_in_preview_and_production() -> None:
    # Only stack.settings may differ, so promote --dry-run on fresh stacks shows no changes.
    def config_part(stage: str) -> str:
        seed = render_db_seed(reference_spec(stage))
        return re.sub(r"INSERT INTO stack\.settings .*?;\n", "", seed, flags=re.S)

    assert "INSERT INTO stack.settings" in render_db_seed(reference_spec("preview"))
    assert config_part("preview") == config_part("production")


def schema_sql() -> str:
    """``schema.sql`` without its ``--`` comments."""
    return re.sub(r"--[^\n]*", "", render_db_schema())


def test_schema_declares_every_foreign_key_deferrable_without_cascade() -> None:
    schema = schema_sql()
    references = [re.sub(r"\s+", " ", r) for r in re.findall(r"REFERENCES[^,;]*", schema)]

    assert len(references) >= 10
    assert [r for r in references if "DEFERRABLE INITIALLY IMMEDIATE" not in r] == []
    assert "CASCADE" not in schema.upper()
    assert "RESTRICT" not in schema.upper()


def test_schema_gives_every_config_table_one_primary_key() -> None:
    schema = schema_sql()

    for table in CONFIG_TABLES:
        body = re.search(rf"CREATE TABLE config\.{table} \((.*?)\n\);", schema, re.S)
        assert body is not None, table
        assert body.group(1).count("PRIMARY KEY") == 1, table
        assert "PRIMARY KEY (" not in body.group(1), table


def test_schema_has_no_meta_commands_or_create_database() -> None:
    schema = schema_sql()

    assert not re.search(r"^\s*\\", schema, re.M)
    assert "CREATE DATABASE" not in schema.upper()


# ----------------------------------------------------------------- errors


def test_missing_variable_raises_render_error(tmp_path: Path) -> None:
    (tmp_path / "portal").mkdir()
    (tmp_path / "portal" / "bad.html").write_text("<p>{{ branding.motto }}</p>\n")

    with pytest.raises(RenderError, match=r"templates/portal/bad\.html"):
        render_content(reference_spec("preview"), tmp_path)
