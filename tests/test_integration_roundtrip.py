"""``tenantctl integration test`` (issue 19, third slice): a TEST transaction through a
preview integration's path end to end (push: signed HMAC to the receive handler; file:
a dropped CSV) to the enforcement lookup, recorded in the rollout history, and the
"integrations verified" task needing one per integration since its last config change.
Local target (moto + PostgreSQL) with a control database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from infra.core import naming
from infra.core.errors import ExitCode, UserInputError
from infra.core.integration_config import IntegrationSpec
from infra.core.integrations.adapters import generic_push
from infra.core.integrations.adapters.base import AdapterContext
from infra.core.integrations.adapters.registry import adapter_for_integration
from infra.core.integrations.record import EventKind
from infra.core.integrations.roundtrip import (
    TEST_PLATE,
    config_hash,
    no_round_trip,
    round_trip_payload,
    round_trip_transaction,
    sign,
    signature_ok,
)
from infra.core.rendering import render_db_schema, render_db_seed
from infra.devtools.mockvendors import MockPullAPI, enforcement_data
from infra.ops.adapters.database import StackDatabases
from infra.ops.integrations.receive import SignatureRefused, receive_push
from infra.ops.integrations.store import lots_and_zones
from infra.ops.stacks.opening import open_from_files
from tests.helpers import SLUG, cli, create_demo, demo_spec, lock_held_elsewhere, ok, validate
from tests.test_integrations_store import CONTEXT, ZONE_N2, stored
from tests.test_rollout import status, subscribe_queue, task

PUSH = (
    "integration", "add", SLUG, "meters", "--vendor", "generic-push", "--mode", "push",
    "--timezone", "America/New_York",
)  # fmt: skip
FILE = (
    "integration", "add", SLUG, "drops", "--vendor", "csv-drop", "--mode", "file",
    "--timezone", "America/New_York",
)  # fmt: skip
HMAC = '{"hmacSecret": "meters-hmac-DO-NOT-PRINT"}'


# ------------------------------------------------------------------ pure


def _spec(vendor: str, mode: str, **extra: object) -> IntegrationSpec:
    return IntegrationSpec.model_validate(
        {
            **extra,
            "id": "feed",
            "vendor": vendor,
            "mode": mode,
            "timezone": "America/New_York",
            "zones": [
                {"vendorZoneId": "Z0", "ignore": True},
                {"vendorZoneId": "Z1", "vendorZoneName": "North", "lot": "N1"},
            ],
        }
    )


PULL_ENDPOINT = {"scheduleMinutes": 5, "endpoints": {"preview": "http://127.0.0.1:9/"}}


@pytest.mark.parametrize(
    ("vendor", "mode", "extra"),
    [
        ("generic-push", "push", {}),
        ("apds", "push", {}),
        ("csv-drop", "file", {}),
        ("parkmobile", "pull", PULL_ENDPOINT),
    ],
)
def test_the_test_transaction_is_read_by_the_integrations_own_adapter(
    vendor: str, mode: str, extra: dict[str, object]
) -> None:
    spec = _spec(vendor, mode, **extra)
    tx = round_trip_transaction(spec, "abcd", datetime(2026, 5, 1, 13, tzinfo=UTC))
    result = adapter_for_integration(spec).parse(
        round_trip_payload(spec, tx), AdapterContext(spec.id, ZoneInfo(spec.timezone))
    )

    assert result.rejections == ()
    (record,) = result.records
    assert (record.kind, record.plate, record.vendor_zone) == (EventKind.TEST, TEST_PLATE, "Z1")
    assert (record.source_id, record.start, record.end) == (tx.source_id, tx.start, tx.end)
    assert tx.lot == "N1" and tx.start < tx.at < tx.end


def test_no_test_without_a_mapped_zone_or_for_a_vendor_it_cannot_drive() -> None:
    unmapped = _spec("generic-push", "push").model_copy(update={"zones": []})
    with pytest.raises(ValueError, match="maps no vendor zone to a lot; run"):
        round_trip_transaction(unmapped, "x", datetime(2026, 5, 1, tzinfo=UTC))
    lookup = _spec("apds", "lookup", endpoints={"preview": "http://127.0.0.1:9/"})
    assert no_round_trip(lookup) is not None
    assert no_round_trip(_spec("apds", "push")) is None
    tx = round_trip_transaction(lookup, "x", datetime(2026, 5, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match=r"feed has no round trip \(not applicable\): a lookup"):
        round_trip_payload(lookup, tx)


def test_signature_and_config_hash() -> None:
    body = b'{"enforcementData": []}'
    assert signature_ok(body, sign(body, b"k"), b"k")
    assert not signature_ok(body, sign(body, b"other"), b"k")
    assert not signature_ok(body + b" ", sign(body, b"k"), b"k")
    spec = _spec("generic-push", "push")
    assert config_hash(spec) == config_hash(_spec("generic-push", "push"))
    assert config_hash(spec) != config_hash(spec.model_copy(update={"grace_minutes": 11}))


@pytest.fixture
def working(pg_env: str) -> Iterator[Any]:
    """A preview working database made from the demo client's defaults."""
    server = StackDatabases(pg_env, "rtrip", naming.PREVIEW)
    server.seed_defaults(render_db_schema(), render_db_seed(demo_spec("preview")))
    server.create_working()
    with psycopg.connect(server.url(server.working), autocommit=True) as c:
        yield c


def test_the_receive_handler_stores_a_signed_push_and_nothing_else(working: Any) -> None:
    conn = working
    lots, zones = lots_and_zones(conn)
    where: dict[str, Any] = {"zone_map": zones, "lots": lots}
    event = {
        "transactionId": "rx-1", "version": 1, "action": "NEW", "plate": "RX 1", "zone": ZONE_N2,
        "startTime": "2026-05-01T09:00:00", "endTime": "2026-05-01T11:00:00",
    }  # fmt: skip
    body = enforcement_data([event])
    push = (generic_push.ADAPTER, CONTEXT)
    with pytest.raises(SignatureRefused, match="does not match the integration's secret"):
        receive_push(conn, body, sign(body, b"not-it"), b"secret", *push, **where)
    with pytest.raises(UserInputError, match="refused"):
        receive_push(conn, b"{nope", sign(b"{nope", b"secret"), b"secret", *push, **where)
    assert stored(conn) == []

    result = receive_push(conn, body, sign(body, b"secret").upper(), b"secret", *push, **where)
    assert result.inserted == 1
    assert [row[:4] for row in stored(conn)] == [("rx-1", 1, "NEW", "RX1")]


# ------------------------------------------------------------- local target


@pytest.fixture
def stacks(tmp_path: Path, control_env: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    subscribe_queue()
    return create_demo(tmp_path, monkeypatch, "--contract", "C-1")


def _map(stacks: Path, tmp_path: Path, integration: str, *extra: str) -> None:
    zones = tmp_path / f"{integration}.csv"
    zones.write_text("id,name\nM-N1,North Garage\n")
    ok(cli(stacks, "integration", "map-zones", SLUG, integration, "--zones", str(zones),
           "--write", *extra))  # fmt: skip


def _sessions(stacks: Path) -> list[tuple[str, str, str, str]]:
    handle = open_from_files(stacks, SLUG, "preview")
    with psycopg.connect(handle.working_url) as conn:
        rows = conn.execute(
            "SELECT integration, kind, plate, lot_code FROM activity.sessions ORDER BY 1"
        ).fetchall()
    return [tuple(r) for r in rows]


def test_a_push_round_trip_passes_is_recorded_and_opens_the_gate(
    stacks: Path, tmp_path: Path
) -> None:
    ok(cli(stacks, *PUSH))
    _map(stacks, tmp_path, "meters")
    test = ("integration", "test", SLUG, "meters")
    undeployed = cli(stacks, *test)
    assert undeployed.exit_code == ExitCode.PRECONDITION
    assert "deploy the preview first" in undeployed.output
    ok(cli(stacks, "deploy", "demo-preview", "--yes"))
    no_secret = cli(stacks, *test)
    assert no_secret.exit_code == ExitCode.PRECONDITION
    assert "integration set-credentials demo meters --stage preview" in no_secret.output
    assert "Traceback" not in no_secret.output
    verified = task(status(stacks), "integrations-verified")
    assert verified["state"] == "open"
    assert "meters: no passing `tenantctl integration test demo meters`" in verified["how"]

    creds = ("integration", "set-credentials", SLUG, "meters", "--stage", "preview")
    ok(cli(stacks, *creds, input=HMAC))
    with lock_held_elsewhere(SLUG, "reset-preview"):  # serialized with the client's others
        held = cli(stacks, *test)
    assert held.exit_code == ExitCode.LOCKED and "reset-preview" in held.output
    assert "Traceback" not in held.output
    assert _sessions(stacks) == []
    assert task(status(stacks), "integrations-verified")["state"] == "open"
    passed = cli(stacks, *test, "--json")
    ok(passed)
    trip = validate("integration-test", json.loads(passed.stdout))
    assert trip["passed"] and trip["via"].startswith("push: signed HMAC")
    assert trip["lookup"]["allowed"] is False
    assert f"meters/{trip['runId']}" in trip["lookup"]["reason"]
    assert "TEST sessions never authorize" in trip["lookup"]["reason"]
    assert "recorded in the rollout history" in trip["recorded"]
    assert "DO-NOT-PRINT" not in passed.output
    assert _sessions(stacks) == [("meters", "TEST", TEST_PLATE, "N1")]
    assert task(status(stacks), "integrations-verified")["state"] == "done"

    # a new release (a content push) needs a round trip on it: promote would carry that one
    folder = tmp_path / "content"
    ok(cli(stacks, "content", "pull", SLUG, str(folder)))
    home = folder / "portal" / "home.html"
    home.write_text(home.read_text().replace("</main>", "<p>New release</p></main>"))
    pushed = json.loads(ok(cli(stacks, "content", "push", SLUG, str(folder), "--json")).stdout)
    assert trip["release"] and pushed["release"] != trip["release"]
    moved = task(status(stacks), "integrations-verified")
    assert moved["state"] == "open", moved
    assert (
        f"meters: its last passing round trip was on release {trip['release']}, preview "
        f"serves {pushed['release']}: re-run `tenantctl integration test demo meters`"
    ) in moved["how"]
    again = validate("integration-test", json.loads(ok(cli(stacks, *test, "--json")).stdout))
    assert again["release"] == pushed["release"]
    done = task(status(stacks), "integrations-verified")
    assert done["state"] == "done" and f"on release {pushed['release']}" in done["how"]

    # a config change (the zone now ignored) needs a new round trip
    _map(stacks, tmp_path, "meters", "--ignore", "M-N1")
    reopened = task(status(stacks), "integrations-verified")
    assert reopened["state"] == "open" and "meters: no passing" in reopened["how"]


def test_a_file_round_trip_passes(stacks: Path, tmp_path: Path) -> None:
    ok(cli(stacks, *FILE))
    _map(stacks, tmp_path, "drops")
    ok(cli(stacks, "deploy", "demo-preview", "--yes"))

    out = ok(cli(stacks, "integration", "test", SLUG, "drops", "--timeout", "60")).stdout
    assert "via file: a dropped CSV" in out and "round trip passed" in out
    assert "only a TEST session (drops/tenantctl-test-" in out
    assert _sessions(stacks) == [("drops", "TEST", TEST_PLATE, "N1")]


def test_a_round_trip_slower_than_its_timeout_fails(stacks: Path, tmp_path: Path) -> None:
    ok(cli(stacks, *FILE))
    _map(stacks, tmp_path, "drops")
    ok(cli(stacks, "deploy", "demo-preview", "--yes"))

    slow = cli(stacks, "integration", "test", SLUG, "drops", "--timeout", "0.001")
    assert slow.exit_code == ExitCode.PRECONDITION
    assert "more than the 0.001 s --timeout" in slow.output
    assert task(status(stacks), "integrations-verified")["state"] == "open"


def test_production_cannot_be_named(stacks: Path) -> None:
    ok(cli(stacks, *FILE))
    refused = cli(stacks, "integration", "test", SLUG, "drops", "--stage", "production")
    assert refused.exit_code == ExitCode.BAD_INPUT and "No such option '--stage'" in refused.output


def test_a_pull_round_trip_goes_through_the_vendor_sandbox(stacks: Path, tmp_path: Path) -> None:
    with MockPullAPI([], token="pm-client") as api:
        endpoint = f"{api.url}/parkmobile/parkingRights"
        ok(cli(stacks, "integration", "add", SLUG, "parkmobile", "--vendor", "parkmobile",
               "--mode", "pull", "--schedule-minutes", "5", "--timezone", "America/Chicago",
               "--preview-endpoint", endpoint))  # fmt: skip
        _map(stacks, tmp_path, "parkmobile")
        ok(cli(stacks, "deploy", "demo-preview", "--yes"))
        creds = '{"clientId": "pm-client", "clientSecret": "pm-secret-DO-NOT-PRINT"}'
        ok(cli(stacks, "integration", "set-credentials", SLUG, "parkmobile", "--stage",
               "preview", input=creds))  # fmt: skip

        result = cli(stacks, "integration", "test", SLUG, "parkmobile", "--json")
        trip = validate("integration-test", json.loads(ok(result).stdout))
    assert trip["passed"] and trip["via"].startswith("pull: posted to the vendor sandbox")
    assert [r.split("?")[0] for r in api.requests] == [
        "POST /parkmobile/parkingRights",
        "/parkmobile/parkingRights",
    ]
    assert f"parkmobile/{trip['runId']}" in trip["lookup"]["reason"]
    assert "DO-NOT-PRINT" not in result.output
    assert _sessions(stacks) == [("parkmobile", "TEST", TEST_PLATE, "N1")]

    down = cli(stacks, "integration", "test", SLUG, "parkmobile", "--timeout", "2")
    assert down.exit_code == ExitCode.UNREACHABLE and "did not answer" in down.output
    assert "Traceback" not in down.output


def test_apds_push_and_pull_round_trips_and_a_lookup_is_not_applicable(
    stacks: Path, tmp_path: Path
) -> None:
    with MockPullAPI([], token="apds-key-DO-NOT-PRINT") as api:
        sandbox = f"{api.url}/apds/sessions"
        ok(cli(stacks, "integration", "add", SLUG, "apds-push", "--vendor", "apds", "--mode",
               "push", "--timezone", "America/New_York"))  # fmt: skip
        ok(cli(stacks, "integration", "add", SLUG, "apds-pull", "--vendor", "apds", "--mode",
               "pull", "--schedule-minutes", "5", "--timezone", "America/New_York",
               "--preview-endpoint", sandbox))  # fmt: skip
        ok(cli(stacks, "integration", "add", SLUG, "plates", "--vendor", "apds", "--mode",
               "lookup", "--timezone", "America/New_York",
               "--preview-endpoint", sandbox))  # fmt: skip
        for integration in ("apds-push", "apds-pull", "plates"):
            _map(stacks, tmp_path, integration)
        ok(cli(stacks, "deploy", "demo-preview", "--yes"))
        for integration in ("apds-push", "apds-pull"):
            ok(cli(stacks, "integration", "set-credentials", SLUG, integration, "--stage",
                   "preview", input='{"apiKey": "apds-key-DO-NOT-PRINT"}'))  # fmt: skip

        lookup = cli(stacks, "integration", "test", SLUG, "plates")
        assert lookup.exit_code == ExitCode.PRECONDITION, lookup.output
        assert "plates has no round trip: a lookup integration is asked a plate" in lookup.output
        assert "Traceback" not in lookup.output
        gate = task(status(stacks), "integrations-verified")
        assert gate["state"] == "open" and "plates" not in gate["how"]  # never a silent pass
        assert "apds-push: no passing" in gate["how"] and "apds-pull: no passing" in gate["how"]

        trips = {}
        for integration in ("apds-push", "apds-pull"):
            result = cli(stacks, "integration", "test", SLUG, integration, "--json")
            trips[integration] = validate("integration-test", json.loads(ok(result).stdout))
            assert "DO-NOT-PRINT" not in result.output
    assert trips["apds-push"]["via"].startswith("push: signed HMAC push (APDS SessionCreated)")
    assert trips["apds-pull"]["via"].startswith("pull: posted to the vendor sandbox (APDS")
    assert [r.split("?")[0] for r in api.requests] == ["POST /apds/sessions", "/apds/sessions"]
    for integration, trip in trips.items():
        assert f"{integration}/{trip['runId']}" in trip["lookup"]["reason"]
        assert trip["lookup"]["allowed"] is False  # a TEST session, even pulled back
    assert _sessions(stacks) == [
        ("apds-pull", "TEST", TEST_PLATE, "N1"),
        ("apds-push", "TEST", TEST_PLATE, "N1"),
    ]
    done = task(status(stacks), "integrations-verified")
    assert done["state"] == "done", done
    assert "round trip not applicable to plates (lookup)" in done["how"]
