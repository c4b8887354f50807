"""Stack files: read, render over what people wrote, diff, write atomically, set live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from infra.core import naming
from infra.core.errors import UnknownTenant
from infra.core.providers import PROVIDERS
from infra.core.spec import ROLES, SpecError, TenantSpec, parse_spec, spec_from_config
from infra.ops.adapters import yamlfiles
from infra.ops.stacks import stackfiles
from tests.helpers import STACKS, demo_data, demo_spec


def demo_text(stage: naming.Stage) -> str:
    return naming.stack_file(STACKS, "demo", stage).read_text()


def variant(stage: naming.Stage, **changes: Any) -> TenantSpec:
    return parse_spec({**demo_data(stage), **changes})


def reparse(text: str) -> TenantSpec:
    return spec_from_config(stackfiles.parse_config(text, "test"))


# ------------------------------------------------------------------------ reading


def test_read_spec_returns_the_demo_spec(stack_files: Path) -> None:
    assert stackfiles.read_spec(stack_files, "demo", "production") == demo_spec("production")


def test_read_spec_of_unknown_tenant_names_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UnknownTenant) as caught:
        stackfiles.read_spec(tmp_path, "acme", "preview")
    message = str(caught.value)
    assert "\n" not in message
    assert "no tenant 'acme'" in message
    assert "Pulumi.acme-preview.yaml does not exist" in message
    assert "tenantctl create acme" in message


def test_read_spec_of_malformed_yaml_names_file_and_line(stack_files: Path) -> None:
    path = naming.stack_file(stack_files, "demo", "preview")
    path.write_text("config:\n  tenants:slug: demo\n   tenants:stage: [preview\n")
    with pytest.raises(stackfiles.MalformedFile) as caught:
        stackfiles.read_spec(stack_files, "demo", "preview")
    message = str(caught.value)
    assert "\n" not in message
    assert "Pulumi.demo-preview.yaml: invalid YAML at line" in message


def test_read_spec_of_invalid_value_names_file_key_value_and_rule(stack_files: Path) -> None:
    path = naming.stack_file(stack_files, "demo", "preview")
    path.write_text(path.read_text().replace("parking@demo-state", "parking-at-demo-state"))
    with pytest.raises(SpecError) as caught:
        stackfiles.read_spec(stack_files, "demo", "preview")
    message = str(caught.value)
    assert "Pulumi.demo-preview.yaml" in message
    assert "tenants:branding.supportEmail" in message
    assert "'parking-at-demo-state.example.edu'" in message
    assert "must be an email address" in message


def test_read_spec_refuses_a_file_without_config(stack_files: Path) -> None:
    naming.stack_file(stack_files, "demo", "preview").write_text("- just\n- a list\n")
    with pytest.raises(stackfiles.MalformedFile, match="expected a top-level `config:`"):
        stackfiles.read_spec(stack_files, "demo", "preview")


def test_tenants_lists_stages_and_reports_strays(stack_files: Path) -> None:
    naming.stack_file(stack_files, "acme", "production").write_text("config: {}\n")
    for name in ("Pulumi.acme-staging.yaml", "Pulumi.Acme-preview.yaml", "Pulumi.zed-preview.yml"):
        (stack_files / name).write_text("config: {}\n")
    (stack_files / "tenant.example.yaml").write_text("slug: demo\n")
    (stack_files / "README.md").write_text("hi\n")
    strays: list[stackfiles.StrayFile] = []

    found = stackfiles.tenants(stack_files, strays.append)

    assert found == {"acme": ["production"], "demo": ["preview", "production"]}
    assert sorted(s.path.name for s in strays) == [
        "Pulumi.Acme-preview.yaml",
        "Pulumi.acme-staging.yaml",
        "Pulumi.zed-preview.yml",
    ]
    assert all(s.reason for s in strays)
    assert stackfiles.stray_files(stack_files) == strays


# ---------------------------------------------------------------------- rendering


@pytest.mark.parametrize("stage", naming.STAGES)
def test_render_of_the_same_spec_is_byte_identical(stage: naming.Stage) -> None:
    text = demo_text(stage)
    assert stackfiles.render_stack_file(demo_spec(stage), text) == text


def test_render_keeps_comments_order_and_other_namespaces() -> None:
    text = demo_text("production")
    spec = variant("production", displayName="Demo University Parking")

    rendered = stackfiles.render_stack_file(spec, text)

    assert rendered == text.replace(
        "tenants:displayName: Demo State University Parking",
        "tenants:displayName: Demo University Parking",
    )


def test_render_drops_removed_keys_and_keeps_the_next_keys_comment() -> None:
    text = demo_text("production")
    spec = variant("production", portalDomain=None)

    rendered = stackfiles.render_stack_file(spec, text)

    assert "portalDomain" not in rendered
    assert "The client's own portal domain" not in rendered
    assert "  # Production: multi-AZ" in rendered
    assert rendered.index("# Production: multi-AZ") < rendered.index("tenants:database:")
    assert reparse(rendered) == spec


def test_render_appends_new_keys_after_trailing_comments() -> None:
    data = demo_data("production")
    data.pop("database")
    text = stackfiles.render_stack_file(parse_spec(data), None)
    spec = demo_spec("production")

    rendered = stackfiles.render_stack_file(spec, text)

    assert rendered.startswith(text.split("  tenants:admins:")[0])
    assert rendered.rstrip().endswith(
        f"backupRetentionDays: {spec.database_sizing.backup_retention_days}"
    )
    assert reparse(rendered) == spec


def test_render_keeps_a_trailing_comment_when_a_list_shrinks() -> None:
    text = demo_text("production")
    spec = variant("production", admins=demo_data("production")["admins"][:2])

    rendered = stackfiles.render_stack_file(spec, text)

    assert "# Set to true by `tenantctl promote`" in rendered
    assert rendered.index("# Set to true") < rendered.index("tenants:live: false")
    assert reparse(rendered) == spec


def test_render_of_a_new_file_has_a_header_and_no_defaults() -> None:
    rendered = stackfiles.render_stack_file(demo_spec("preview"), None)
    assert rendered.startswith('# Tenant "demo": preview stack')
    assert "tenants:baseDomain" not in rendered  # the default
    assert "primaryColor" not in rendered
    assert reparse(rendered) == demo_spec("preview")


def test_diff_shows_the_changed_value() -> None:
    text = demo_text("preview")
    new = stackfiles.render_stack_file(variant("preview", displayName="Demo U"), text)

    diff = stackfiles.diff_stack_file(text, new, "stacks/Pulumi.demo-preview.yaml")

    assert diff[:2] == [
        "--- a/stacks/Pulumi.demo-preview.yaml",
        "+++ b/stacks/Pulumi.demo-preview.yaml",
    ]
    assert "-  tenants:displayName: Demo State University Parking" in diff
    assert "+  tenants:displayName: Demo U" in diff
    assert stackfiles.diff_stack_file(text, text) == []


# ------------------------------------------------------------------------ writing


def test_write_atomically_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.acme-preview.yaml"
    path.write_text("old\n")
    path.chmod(0o640)

    yamlfiles.write_atomically(path, "new\n")

    assert path.read_text() == "new\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_staging_several_files_is_all_or_nothing(tmp_path: Path) -> None:
    first = tmp_path / "Pulumi.acme-preview.yaml"
    first.write_text("old\n")
    second = tmp_path / "gone" / "Pulumi.acme-production.yaml"  # cannot be staged

    with pytest.raises(FileNotFoundError):
        yamlfiles.stage_writes([(first, "new\n"), (second, "new\n")])()

    assert first.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temp file left behind


def test_a_failed_rename_leaves_no_temp_file_behind(tmp_path: Path) -> None:
    blocked = tmp_path / "Pulumi.acme-preview.yaml"
    blocked.mkdir()  # a folder where the file should go: its rename fails
    second = tmp_path / "Pulumi.acme-production.yaml"
    commit_all = yamlfiles.stage_writes([(blocked, "new\n"), (second, "new\n")])

    with pytest.raises(OSError):
        commit_all()

    assert sorted(p.name for p in tmp_path.iterdir()) == [blocked.name]


def test_set_live_touches_one_line(stack_files: Path) -> None:
    path = naming.stack_file(stack_files, "demo", "production")
    before = path.read_text()

    assert stackfiles.set_live(stack_files, "demo", True)[1] is True

    after = path.read_text()
    changed = [
        (old, new)
        for old, new in zip(before.splitlines(), after.splitlines(), strict=True)
        if old != new
    ]
    assert changed == [("  tenants:live: false", "  tenants:live: true")]
    assert stackfiles.read_spec(stack_files, "demo", "production").live is True
    assert stackfiles.set_live(stack_files, "demo", True)[1] is False


def test_set_live_appends_the_key_when_absent(stack_files: Path) -> None:
    path = naming.stack_file(stack_files, "demo", "production")
    before = path.read_text().replace("  tenants:live: false\n", "")
    path.write_text(before)

    stackfiles.set_live(stack_files, "demo", True)

    assert path.read_text() == before + "  tenants:live: true\n"


def test_set_live_of_unknown_tenant_is_unknown(tmp_path: Path) -> None:
    with pytest.raises(UnknownTenant, match=r"Pulumi\.acme-production\.yaml does not exist"):
        stackfiles.set_live(tmp_path, "acme", True)


# ------------------------------------------------------------------------ property

_WORDS = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 -'&:#\"éü"),
    min_size=2,
    max_size=40,
).map(str.strip)
_LABEL = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)
_HOST = st.builds(lambda a, b: f"{a}.{b}.edu", _LABEL, _LABEL)
_EMAIL = st.builds(lambda user, host: f"{user}@{host}", _LABEL, _HOST)
_COLOUR = st.from_regex(r"#[0-9a-fA-F]{6}", fullmatch=True)
_SIZE = st.none() | st.integers(min_value=20, max_value=2000)


@st.composite
def specs(draw: st.DrawFn) -> TenantSpec:
    stage = draw(st.sampled_from(naming.STAGES))
    slug = draw(st.from_regex(r"[a-z][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True))
    assume(naming.slug_problem(slug) is None)
    provider = draw(st.sampled_from(sorted(PROVIDERS)))
    pattern = PROVIDERS[provider].merchant_id_pattern.pattern
    admins = draw(
        st.lists(
            st.fixed_dictionaries(
                {"email": _EMAIL, "name": _WORDS, "role": st.sampled_from(sorted(ROLES))}
            ),
            min_size=1,
            max_size=4,
            unique_by=lambda a: a["email"].lower(),
        )
    )
    admins[0]["role"] = "administrator"
    data: dict[str, Any] = {
        "slug": slug,
        "stage": stage,
        "displayName": draw(_WORDS),
        "platformStack": "acme/platform/prod",
        "payment": {
            "provider": provider,
            "merchantId": draw(st.from_regex(pattern, fullmatch=True)),
            **draw(st.sampled_from([{}, {"currency": "EUR"}])),
        },
        "branding": {
            "organizationName": draw(_WORDS),
            "supportEmail": draw(_EMAIL),
            **draw(
                st.fixed_dictionaries(
                    {},
                    optional={"primaryColor": _COLOUR, "supportPhone": st.just("+1 555 010 2000")},
                )
            ),
        },
        "admins": admins,
        "database": draw(
            st.fixed_dictionaries(
                {},
                optional={"allocatedStorageGb": _SIZE, "instanceClass": st.just("db.r6g.large")},
            )
        ),
    }
    if stage == naming.PRODUCTION:
        data.update(
            draw(st.fixed_dictionaries({}, optional={"portalDomain": _HOST, "live": st.booleans()}))
        )
    try:
        return parse_spec(data)
    except SpecError:
        assume(False)
        raise


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), before=specs())
def test_render_then_parse_gives_the_same_spec(spec: TenantSpec, before: TenantSpec) -> None:
    assert reparse(stackfiles.render_stack_file(spec, None)) == spec
    over_another = stackfiles.render_stack_file(spec, stackfiles.render_stack_file(before, None))
    assert reparse(over_another) == spec
    assert stackfiles.render_stack_file(spec, over_another) == over_another
    over_demo = stackfiles.render_stack_file(spec, demo_text(spec.stage))
    assert reparse(over_demo) == spec
    assert "aws:region: us-east-1" in over_demo
