"""``tenantctl integration`` on the local target (moto + PostgreSQL): edits under the
client's lock and safe to re-run, map-zones against the preview's real lots, credentials
into the integration's secret and never out, and what reset-preview and promote do to an
integration (issue 19 B)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import psycopg

from infra.core import naming
from infra.devtools.mockvendors import MockPullAPI
from infra.ops.integrations import store
from infra.ops.stacks.opening import open_from_files
from infra.ops.stacks.stackfiles import read_spec
from tests.helpers import SLUG, cli, lock_held_elsewhere, ok, ready_for_go_live, validate
from tests.test_integrations_store import session

ADD = (
    "integration", "add", SLUG, "parkmobile", "--vendor", "parkmobile", "--mode", "pull",
    "--schedule-minutes", "5", "--timezone", "America/Chicago",
    "--preview-endpoint", "https://sandbox.api.parkmobile.example",
    "--production-endpoint", "https://api.parkmobile.example",
)  # fmt: skip
ZONES_CSV = (
    "zone_id,name\n"
    "101,North Garage\n"  # exact (a lot's name)
    "102,stadium-lot \n"  # near miss of "Stadium Lot": an exact-name import drops it
    "E1,\n"  # exact (a lot's code)
    "999,Pop-up Event Lot\n"  # no lot: stays unmapped
)
CREDENTIALS = '{"clientId": "pm-demo", "clientSecret": "pm-secret-DO-NOT-PRINT"}'


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _activity(working_url: str) -> tuple[int, int]:
    """How many sessions and quarantined sessions the preview's working database holds."""
    with psycopg.connect(working_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM activity.sessions), "
            "(SELECT count(*) FROM activity.session_quarantine)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _integrations(stacks: Path, stage: naming.Stage = "preview") -> list[Any]:
    return list(read_spec(stacks, SLUG, stage).integrations)


def test_add_is_validated_locked_and_safe_to_rerun(stacks: Path) -> None:
    first = validate("integration-add", _json(cli(stacks, *ADD, "--json")))
    again = validate("integration-add", _json(cli(stacks, *ADD, "--json")))
    assert (first["changed"], again["changed"]) == (True, False)
    assert [i.id for i in _integrations(stacks)] == ["parkmobile"]
    assert _integrations(stacks, "production") == []  # production gets it from promote

    other = cli(stacks, *ADD, "--grace-minutes", "20")
    assert other.exit_code == 3 and "--replace" in other.output
    bad = cli(stacks, *[("America/Chicgo" if a == "America/Chicago" else a) for a in ADD])
    assert bad.exit_code == 2 and "IANA timezone" in bad.output and "Traceback" not in bad.output
    before = (stacks / "Pulumi.demo-preview.yaml").read_text()
    with lock_held_elsewhere(SLUG, "reset-preview"):
        held = cli(stacks, *ADD, "--grace-minutes", "20", "--replace")
    assert held.exit_code == 4 and "reset-preview" in held.output
    assert (stacks / "Pulumi.demo-preview.yaml").read_text() == before

    # re-running create keeps what `integration add` recorded (tenantctl's state, like live)
    from tests.helpers import EXAMPLE

    again_create = _json(cli(stacks, "create", SLUG, "--from", str(EXAMPLE), "--json"))
    assert again_create["status"] == "unchanged", again_create
    assert [i.id for i in _integrations(stacks)] == ["parkmobile"]

    listing = validate(
        "integration-list", _json(cli(stacks, "integration", "list", SLUG, "--json"))
    )
    assert listing["integrations"][0]["endpoint"] == "https://sandbox.api.parkmobile.example"
    removed = validate(
        "integration-remove",
        _json(cli(stacks, "integration", "remove", SLUG, "parkmobile", "--json")),
    )
    gone = _json(cli(stacks, "integration", "remove", SLUG, "parkmobile", "--json"))
    assert (removed["changed"], gone["changed"]) == (True, False)
    assert _integrations(stacks) == []


def test_map_zones_flags_near_misses_against_the_previews_lots(
    stacks: Path, tmp_path: Path
) -> None:
    ok(cli(stacks, *ADD))
    zones = tmp_path / "zones.csv"
    zones.write_text(ZONES_CSV)
    args = ("integration", "map-zones", SLUG, "parkmobile", "--zones", str(zones))
    proposed = validate("integration-map-zones", _json(cli(stacks, *args, "--json")))
    got = {z["vendorZoneId"]: (z["match"], z["lot"]) for z in proposed["zones"]}
    assert got == {
        "101": ("exact", "N1"),
        "102": ("near-miss", "N2"),
        "E1": ("exact", "E1"),
        "999": ("unmatched", None),
    }
    assert proposed["written"] is False and _integrations(stacks)[0].zones == []

    written = _json(cli(stacks, *args, "--write", "--json"))
    rerun = _json(cli(stacks, *args, "--write", "--json"))
    assert (written["changed"], rerun["changed"]) == (True, False)
    mapped = {z.vendor_zone_id: z.lot for z in _integrations(stacks)[0].zones}
    assert mapped == {"101": "N1", "102": "N2", "E1": "E1", "999": None}
    listing = _json(cli(stacks, "integration", "list", SLUG, "--json"))["integrations"][0]
    assert (listing["zonesMapped"], listing["zonesUnmapped"]) == (3, 1)

    missing = cli(stacks, *args[:-1], str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_credentials_go_to_the_integrations_secret_and_never_out(
    stacks: Path, aws_env: str, monkeypatch: Any
) -> None:
    ok(cli(stacks, *ADD))
    args = ("integration", "set-credentials", SLUG, "parkmobile", "--stage", "preview")
    before_deploy = cli(stacks, *args, input=CREDENTIALS)
    assert before_deploy.exit_code == 3 and "deploy the stack first" in before_deploy.output
    ok(cli(stacks, "deploy", "demo-preview", "--yes"))

    stored = cli(stacks, *args, "--json", input=CREDENTIALS)
    document = validate("integration-set-credentials", _json(stored))
    assert document["secret"] == "demo/preview/integrations/parkmobile"
    assert document["keys"] == ["clientId", "clientSecret"]
    assert "pm-secret-DO-NOT-PRINT" not in stored.output
    value = boto3.client("secretsmanager", region_name=naming.DEFAULT_REGION).get_secret_value(
        SecretId="demo/preview/integrations/parkmobile"
    )
    assert json.loads(value["SecretString"])["clientSecret"] == "pm-secret-DO-NOT-PRINT"
    assert "pm-secret" not in (stacks / "Pulumi.demo-preview.yaml").read_text()

    monkeypatch.setenv("PM_CREDS", '{"apiKey": "pm-secret-DO-NOT-PRINT"}')
    wrong = cli(stacks, *args, "--from-env", "PM_CREDS")
    assert wrong.exit_code == 2 and "pm-secret" not in wrong.output


def test_reset_keeps_and_promote_carries_the_integration(
    stacks: Path, pg_env: str, tmp_path: Path
) -> None:
    with MockPullAPI([], token="pm-demo") as api:  # the vendor sandbox
        ok(cli(stacks, *ADD, "--preview-endpoint", f"{api.url}/parkmobile/parkingRights"))
        zones = tmp_path / "zones.csv"
        zones.write_text("id,name\n101,North Garage\n")
        ok(cli(stacks, "integration", "map-zones", SLUG, "parkmobile", "--zones", str(zones),
               "--write"))  # fmt: skip
        ok(cli(stacks, "deploy", "demo-preview", "--yes"))  # the integration's secret
        ok(cli(stacks, "integration", "set-credentials", SLUG, "parkmobile", "--stage",
               "preview", input=CREDENTIALS))  # fmt: skip
        ok(cli(stacks, "integration", "test", SLUG, "parkmobile"))
    working = open_from_files(stacks, SLUG, "preview").working_url
    with psycopg.connect(working) as conn:  # and a session in a zone the map does not know
        lots, _ = store.lots_and_zones(conn)
        unknown = replace(session(zone="999"), integration="parkmobile")
        assert store.ingest(conn, [unknown], zone_map={}, lots=lots).quarantined == 1
    assert _activity(working) == (1, 1)
    configured = _integrations(stacks)

    ok(cli(stacks, "reset-preview", SLUG, "--yes"))
    assert _activity(working) == (0, 0)  # sessions and quarantine are activity: not defaults
    assert _integrations(stacks) == configured  # the config and zone map are kept

    from tests.helpers import LIVE, edit_preview

    edit_preview(pg_env)
    ok(cli(stacks, "payment", "set-credentials", SLUG, "--stage", "production", input=LIVE))
    ready_for_go_live(stacks)
    plan = json.loads(ok(cli(stacks, "promote", SLUG, "--dry-run", "--json")).stdout)
    validate("promote", plan)
    assert plan["integrations"] == {"added": ["parkmobile"], "changed": [], "removed": []}
    ok(cli(stacks, "promote", SLUG, "--yes"))
    production = read_spec(stacks, SLUG, "production")
    assert production.live and list(production.integrations) == configured
    assert production.integrations[0].endpoint("production", True) == (
        "https://api.parkmobile.example"
    )
    listed = ("integration", "list", SLUG, "--stage", "production", "--json")
    live = validate("integration-list", json.loads(ok(cli(stacks, *listed)).stdout))
    (item,) = live["integrations"]  # switched to live with go-live
    assert (item["endpoint"], item["schedule"], item["alarmsAct"]) == (
        "https://api.parkmobile.example",
        "ENABLED",
        True,
    )
    text = ok(cli(stacks, *listed[:-1])).stdout
    assert "endpoint https://api.parkmobile.example  schedule ENABLED  alarms on" in text

    ok(cli(stacks, "promote", SLUG, "--rollback", "--yes"))  # the go-live undone
    closed = read_spec(stacks, SLUG, "production")
    assert not closed.live and list(closed.integrations) == configured  # schedules DISABLED
    (back,) = json.loads(ok(cli(stacks, *listed)).stdout)["integrations"]
    assert (back["schedule"], back["alarmsAct"]) == ("DISABLED", False)
    assert back["endpoint"].startswith("http://127.0.0.1:")  # the sandbox (the mock) again
