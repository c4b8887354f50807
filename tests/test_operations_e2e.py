"""create, reset-preview, promote and status end to end: through the CLI, against the
moto server and a real PostgreSQL server, on the local target (no Pulumi CLI)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from infra.cli import main
from infra.core import naming, rendering
from infra.core.content_model import content_manifest
from infra.core.errors import ExitCode
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS
from infra.ops.adapters import aws
from infra.ops.adapters.payment_store import write_parameters
from infra.ops.lifecycle import promote as promote_ops
from infra.ops.stacks.routing import read_route
from infra.ops.stacks.stackfiles import read_spec
from tests.helpers import (
    EXAMPLE,
    SANDBOX,
    SLUG,
    STACKS,
    bucket_bytes,
    cli,
    db_url,
    demo_spec,
    edit_preview,
    ok,
    payment_mode,
    served,
    store,
    tables,
)

# -------------------------------------------------------------------------- create


def test_create_provisions_both_stacks_on_the_local_target(stacks: Path, pg_env: str):
    for stage in naming.STAGES:
        assert served(stage) == store(stage).defaults_manifest()
        assert tables(db_url(pg_env, stage))["config.lots"]
    assert read_spec(stacks, SLUG, "production").portal_domain == "parking.demo-state.example.edu"
    # The application finds each host's tenant in the published routes: preview serves
    # it at once, production answers coming-soon, never the portal, until go-live.
    assert serving(stacks, "preview") == {"application"}
    assert serving(stacks, "production") == {"coming-soon"}
    preview_route = route(read_spec(stacks, SLUG, "preview").portal_host)
    assert preview_route["tenant"] == SLUG and preview_route["stage"] == "preview"
    assert preview_route["contentBucket"] == store("preview").bucket
    assert (
        "Coming soon" in route(read_spec(stacks, SLUG, "production").admin_host)["comingSoonPage"]
    )


def route(host: str) -> dict[str, Any]:
    found = read_route(EXAMPLE_PLATFORM_OUTPUTS["operationsBucketName"], host, None)
    assert found is not None, host
    return found


def serving(stacks: Path, stage: naming.Stage) -> set[str]:
    spec = read_spec(stacks, SLUG, stage)
    hosts = [spec.admin_host, spec.portal_host, *filter(None, [spec.portal_domain])]
    return {route(host)["serve"] for host in hosts}


def test_create_again_changes_nothing(stacks: Path):
    before = {p.name: p.read_bytes() for p in stacks.iterdir()}
    releases = store("preview").releases()
    result = ok(cli(stacks, "create", SLUG, "--from", str(EXAMPLE)))
    assert "unchanged" in result.output
    assert {p.name: p.read_bytes() for p in stacks.iterdir()} == before
    assert store("preview").releases() == releases


# --------------------------------------------------------------------------- reset


def test_reset_restores_exactly_the_defaults_and_leaves_production_alone(stacks: Path, pg_env: str):
    production_bytes, production_rows = (
        bucket_bytes("production"),
        tables(db_url(pg_env, "production")),
    )
    edit_preview(pg_env)
    assert served("preview") != store("preview").defaults_manifest()

    result = ok(cli(stacks, "reset-preview", SLUG, "--yes", "--json"))

    report = json.loads(result.stdout)
    assert [s["step"] for s in report["steps"]] == ["database", "content", "payment"]
    assert served("preview") == store("preview").defaults_manifest()
    defaults_db = db_url(pg_env, "preview", naming.defaults_database_name(SLUG, "preview"))
    assert tables(db_url(pg_env, "preview")) == tables(defaults_db)
    assert bucket_bytes("production") == production_bytes
    assert tables(db_url(pg_env, "production")) == production_rows


def test_reset_puts_payment_settings_back_to_sandbox_defaults(stacks: Path):
    ssm = aws.client("ssm")
    spec = demo_spec("preview")
    write_parameters(ssm, spec, {"mode": "live"})
    assert payment_mode("preview") == "live"
    ok(cli(stacks, "reset-preview", SLUG, "--yes"))
    assert payment_mode("preview") == "sandbox"


def test_undo_restores_the_edited_state_once(stacks: Path, pg_env: str):
    edit_preview(pg_env)
    edited_files, edited_rows = served("preview"), tables(db_url(pg_env, "preview"))
    ok(cli(stacks, "reset-preview", SLUG, "--yes"))

    ok(cli(stacks, "reset-preview", SLUG, "--undo", "--yes"))

    assert served("preview") == edited_files
    assert tables(db_url(pg_env, "preview")) == edited_rows
    again = cli(stacks, "reset-preview", SLUG, "--undo", "--yes")
    assert again.exit_code == ExitCode.PRECONDITION and "nothing to undo" in again.output


def test_a_second_reset_of_an_untouched_preview_keeps_the_undo(stacks: Path, pg_env: str):
    edit_preview(pg_env)
    edited_files, edited_rows = served("preview"), tables(db_url(pg_env, "preview"))
    first = json.loads(ok(cli(stacks, "reset-preview", SLUG, "--yes", "--json")).stdout)

    # A retry after lost output, or a second click: nothing changed since the first reset.
    again = json.loads(ok(cli(stacks, "reset-preview", SLUG, "--yes", "--json")).stdout)

    assert again["unchanged"] is True and again["id"] == first["id"] and again["steps"] == []
    assert "unchanged" not in first
    ok(cli(stacks, "reset-preview", SLUG, "--undo", "--yes"))
    assert served("preview") == edited_files
    assert tables(db_url(pg_env, "preview")) == edited_rows


def test_a_reset_after_any_change_since_the_last_one_is_a_new_reset(stacks: Path, pg_env: str):
    ok(cli(stacks, "reset-preview", SLUG, "--yes"))
    with psycopg.connect(db_url(pg_env, "preview")) as conn:  # one change to one row only
        conn.execute(
            "UPDATE config.lots SET capacity = capacity + 1 "
            "WHERE code = (SELECT min(code) FROM config.lots)"
        )
    changed_rows = tables(db_url(pg_env, "preview"))

    again = json.loads(ok(cli(stacks, "reset-preview", SLUG, "--yes", "--json")).stdout)

    assert "unchanged" not in again and again["steps"]
    ok(cli(stacks, "reset-preview", SLUG, "--undo", "--yes"))
    assert tables(db_url(pg_env, "preview")) == changed_rows


def test_reset_ends_open_sessions(stacks: Path, pg_env: str):
    conn = psycopg.connect(db_url(pg_env, "preview"))
    ok(cli(stacks, "reset-preview", SLUG, "--yes"))
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")


@pytest.mark.parametrize("target", ["demo-production", "demo-preview"])
def test_reset_cannot_be_pointed_at_a_stack_name(stacks: Path, pg_env: str, target: str):
    before = bucket_bytes("production")
    result = cli(stacks, "reset-preview", target, "--yes")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "'demo'" in lines[0]
    if target.endswith("production"):
        assert "never touches production" in lines[0]
    assert bucket_bytes("production") == before


def test_reset_has_no_option_that_selects_a_stage():
    params = {p.name for p in main.commands["reset-preview"].params}
    assert not params & {"stage", "stack"}


def test_reset_asks_for_confirmation(stacks: Path, pg_env: str):
    edit_preview(pg_env)
    edited = served("preview")
    result = cli(stacks, "reset-preview", SLUG, input="n\n")
    assert result.exit_code == 1 and "Continue?" in result.output
    assert served("preview") == edited


def test_reset_of_an_unknown_tenant_is_one_line(stacks: Path):
    result = cli(stacks, "reset-preview", "acme", "--yes")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "tenantctl create acme" in result.output


# ------------------------------------------------------------------------- promote


def expected_production_content() -> dict[str, str]:
    """What edit_preview's edits make production serve, stated literally.

    The new page and the edited home page arrive as the client wrote them, the
    removed help page stays removed, and every file the client did not touch is
    production's own rendering of it.
    """
    production_defaults = store("production").defaults_manifest()
    untouched = set(production_defaults) - {"portal/home.html", "portal/help.html"}
    return {
        **{key: production_defaults[key] for key in untouched},
        "portal/home.html": served("preview")["portal/home.html"],
        "portal/parking-map.html": hashlib.sha256(b"<h1>Map edited</h1>").hexdigest(),
    }


def config_only(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {k: v for k, v in rows.items() if k.startswith("config.")}


def test_promote_dry_run_shows_the_changes_and_changes_nothing(ready: Path, pg_env: str):
    before = (bucket_bytes("production"), tables(db_url(pg_env, "production")))
    stack_file = (ready / "Pulumi.demo-production.yaml").read_bytes()

    result = ok(cli(ready, "promote", SLUG, "--dry-run", "--json"))

    plan = json.loads(result.stdout)
    assert plan["ready"] is True
    assert plan["content"]["added"] == ["portal/parking-map.html"]
    assert plan["content"]["changed"] == ["portal/home.html"]
    assert plan["content"]["removed"] == ["portal/help.html"]
    assert plan["config"]["config.lots"]["added"] == ["LOT-Z"]
    assert plan["config"]["config.system_messages"]["removed"] == ["maintenance"]
    assert plan["config"]["config.permit_types"]["changed"]
    assert plan["payment"] == {"from": "sandbox", "to": "live"}
    assert (bucket_bytes("production"), tables(db_url(pg_env, "production"))) == before
    assert (ready / "Pulumi.demo-production.yaml").read_bytes() == stack_file


def test_promote_carries_content_and_configuration_but_no_activity(ready: Path, pg_env: str):
    production_activity = {
        k: v for k, v in tables(db_url(pg_env, "production")).items() if k.startswith("activity.")
    }

    result = ok(cli(ready, "promote", SLUG, "--yes", "--json"))

    record = json.loads(result.stdout)
    assert record["status"] == "complete"
    assert set(record["steps"].values()) == {"done"}
    assert served("production") == expected_production_content()
    production = tables(db_url(pg_env, "production"))
    assert config_only(production) == config_only(tables(db_url(pg_env, "preview")))
    assert {k: v for k, v in production.items() if k.startswith("activity.")} == production_activity
    assert read_spec(ready, SLUG, "production").live is True
    assert serving(ready, "production") == {"application"}  # the client domain's too
    assert payment_mode("production") == "live"


def test_production_keeps_its_own_rendering_of_unedited_files(ready: Path):
    ok(cli(ready, "promote", SLUG, "--yes"))
    s = store("production")
    page = s.read(s.current().release, "portal/buy-permit.html").decode()  # type: ignore[union-attr]
    assert "Preview system" not in page


def test_promote_without_live_credentials_is_refused_and_changes_nothing(stacks: Path, pg_env: str):
    edit_preview(pg_env)
    ok(cli(stacks, "payment", "set-credentials", SLUG, "--stage", "production", input=SANDBOX))
    before = (bucket_bytes("production"), tables(db_url(pg_env, "production")))

    result = cli(stacks, "promote", SLUG, "--yes")

    assert result.exit_code == ExitCode.PRECONDITION
    assert result.output.count("\n") == 1
    assert "sandbox" in result.output and "set-credentials demo --stage production" in result.output
    assert (bucket_bytes("production"), tables(db_url(pg_env, "production"))) == before


def final_state(stacks: Path, pg_env: str) -> dict[str, Any]:
    s = store("production")
    records = [k for k in bucket_bytes("production") if k.startswith("tenantctl/promotions/")]
    with psycopg.connect(db_url(pg_env, "production")) as conn:
        promotions = conn.execute("SELECT count(*) FROM tenantctl.promotions").fetchone()
    return {
        "content": served("production"),
        "releases": len(s.releases()),
        "config": config_only(tables(db_url(pg_env, "production"))),
        "activity": {
            k: v
            for k, v in tables(db_url(pg_env, "production")).items()
            if k.startswith("activity.")
        },
        "live": read_spec(stacks, SLUG, "production").live,
        "records": len(records),
        "db_promotions": promotions,
    }


@pytest.mark.parametrize("step", promote_ops.STEPS)
@pytest.mark.parametrize("when", ["before", "after"])
def test_promote_resumes_after_a_failure_at_each_step(
    ready: Path, pg_env: str, monkeypatch: pytest.MonkeyPatch, step: str, when: str
):
    real = promote_ops.STEP_FUNCTIONS[step]

    def crash(promotion: promote_ops.Promotion) -> str:
        if when == "after":
            real(promotion)  # the step's effect happens, then the process dies before recording
        raise RuntimeError(f"injected failure {when} {step}")

    monkeypatch.setitem(promote_ops.STEP_FUNCTIONS, step, crash)
    failed = cli(ready, "promote", SLUG, "--yes")
    assert failed.exit_code != 0
    monkeypatch.setitem(promote_ops.STEP_FUNCTIONS, step, real)

    ok(cli(ready, "promote", SLUG, "--yes"))

    state = final_state(ready, pg_env)
    assert state["content"] == expected_production_content()
    assert state["config"] == config_only(tables(db_url(pg_env, "preview")))
    assert state["live"] is True
    assert state["records"] == 1 and state["db_promotions"] == (1,)
    # create's first release + exactly one promotion release, however many runs it took
    assert state["releases"] == 2


def test_rollback_returns_production_to_the_previous_release_and_configuration(
    ready: Path, pg_env: str
):
    before_files = served("production")
    before_config = config_only(tables(db_url(pg_env, "production")))
    ok(cli(ready, "promote", SLUG, "--yes"))
    assert served("production") != before_files

    ok(cli(ready, "promote", SLUG, "--rollback", "--yes"))

    assert served("production") == before_files
    assert config_only(tables(db_url(pg_env, "production"))) == before_config


# -------------------------------------------------------------------- status, list


def test_status_reports_both_stages_for_machines(ready: Path):
    ok(cli(ready, "reset-preview", SLUG, "--yes"))
    ok(cli(ready, "promote", SLUG, "--yes"))

    result = ok(cli(ready, "status", SLUG, "--json"))

    (tenant,) = json.loads(result.stdout)["tenants"]
    preview, production = tenant["stages"]["preview"], tenant["stages"]["production"]
    assert preview["currentRelease"] == store("preview").current().release  # type: ignore[union-attr]
    assert preview["lastReset"] is not None
    assert production["live"] is True and production["lastPromotion"]["id"]


def test_list_reads_stack_files_only(tmp_path: Path):
    folder = tmp_path / "stacks"
    shutil.copytree(STACKS, folder)
    result = ok(cli(folder, "list", "--json"))
    assert [t["slug"] for t in json.loads(result.stdout)["tenants"]] == ["demo"]


def test_a_malformed_stack_file_is_one_line_and_exit_2(tmp_path: Path):
    folder = tmp_path / "stacks"
    shutil.copytree(STACKS, folder)
    path = folder / "Pulumi.demo-preview.yaml"
    path.write_text(path.read_text().replace("currency: USD", "currency: dollars"))
    result = cli(folder, "plan", SLUG)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "tenants:payment.currency" in result.output


def test_rendering_is_shared_with_the_defaults_bucket(stacks: Path):
    spec = read_spec(stacks, SLUG, "preview")
    assert store("preview").defaults_manifest() == content_manifest(rendering.render_content(spec))
