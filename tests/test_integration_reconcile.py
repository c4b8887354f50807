"""``tenantctl integration reconcile`` (issue 19, fourth slice): what a vendor reports for
a window (the mock pull API with paging; a drop folder) against what was ingested, by
source id and version; read-only, exit 6 when they differ. Pure comparison, then the
local target (moto + PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from infra.core.errors import ExitCode
from infra.core.integrations.adapters import parkmobile_pull
from infra.core.integrations.adapters.base import AdapterContext
from infra.core.integrations.reconcile import Seen, compare, vendor_view
from infra.core.integrations.record import EventKind, SessionRecord
from infra.devtools.mockvendors import MockPullAPI, VendorSession
from infra.ops.integrations.filedrop import process_file
from infra.ops.integrations.pull import pull
from infra.ops.integrations.store import ingest, lots_and_zones
from infra.ops.stacks.opening import open_from_files
from tests.helpers import SLUG, cli, create_demo, ok, validate
from tests.test_rollout import subscribe_queue

# ------------------------------------------------------------------ pure

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
T1 = datetime(2026, 5, 2, 12, tzinfo=UTC)


def _record(source_id: str, version: int, kind: EventKind, start: datetime) -> SessionRecord:
    return SessionRecord(
        integration="feed",
        source_id=source_id,
        version=version,
        kind=kind,
        plate="" if kind is EventKind.CANCEL else "ABC1",
        start=start,
        end=start.replace(hour=start.hour + 1),
        vendor_zone="" if kind is EventKind.CANCEL else "Z1",
    )


def test_the_vendor_view_keeps_what_ingestion_keeps_within_the_window() -> None:
    inside, before = T0.replace(hour=13), T0.replace(hour=11)
    view = vendor_view(
        [
            _record("a", 1, EventKind.NEW, inside),
            _record("a", 3, EventKind.EXTEND, inside),
            _record("a", 2, EventKind.UPDATE, inside),  # out of order: v3 still wins
            _record("b", 5, EventKind.NEW, inside),
            _record("b", 1, EventKind.CANCEL, inside),  # a cancel beats every version
            _record("c", 1, EventKind.NEW, before),  # starts before the window
            _record("d", 1, EventKind.NEW, T1),  # the window's end is exclusive
            _record("e", 1, EventKind.CANCEL, inside),  # a cancel of nothing in the window
        ],
        T0,
        T1,
    )
    assert view == {"a": Seen(3, "EXTEND"), "b": Seen(1, "CANCEL")}


def test_compare_names_missing_extra_and_differing_sessions() -> None:
    vendor = {
        "same": Seen(2, "EXTEND"),
        "renamed": Seen(2, "UPDATE"),  # the vendor's word for it; one version, one session
        "newer": Seen(3, "UPDATE"),
        "gone-there": Seen(1, "CANCEL"),
        "both-gone": Seen(1, "CANCEL"),
        "only-vendor": Seen(1, "NEW"),
    }
    ingested = {
        "same": Seen(2, "EXTEND"),
        "renamed": Seen(2, "EXTEND"),
        "newer": Seen(2, "EXTEND"),
        "gone-there": Seen(1, "NEW"),
        "both-gone": Seen(4, "CANCEL"),
        "only-here": Seen(1, "NEW"),
        "cancelled-here": Seen(1, "CANCEL"),  # gone on both sides
    }
    found = [(m.source_id, m.difference) for m in compare(vendor, ingested)]
    assert found == [
        ("gone-there", "differs"),
        ("newer", "differs"),
        ("only-here", "extra"),
        ("only-vendor", "missing"),
    ]
    assert compare(vendor, vendor) == []


# ------------------------------------------------------------- local target


@pytest.fixture
def stacks(tmp_path: Path, control_env: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    subscribe_queue()
    return create_demo(tmp_path, monkeypatch, "--contract", "C-1")


WINDOW = ("--since", "2026-05-01T00:00:00-05:00", "--until", "2026-05-02T00:00:00-05:00")


def _map(stacks: Path, tmp_path: Path, integration: str) -> None:
    zones = tmp_path / f"{integration}.csv"
    zones.write_text("id,name\nM-N1,North Garage\n")
    ok(cli(stacks, "integration", "map-zones", SLUG, integration, "--zones", str(zones),
           "--write"))  # fmt: skip


def _rows(stacks: Path) -> list[tuple[Any, ...]]:
    with psycopg.connect(open_from_files(stacks, SLUG, "preview").working_url) as conn:
        return conn.execute(
            "SELECT integration, source_id, version, kind FROM activity.sessions ORDER BY 1, 2"
        ).fetchall()


CHANGED = int(datetime(2026, 5, 1, 3, tzinfo=UTC).timestamp())
"""The vendor's last change of the sessions: booked ahead, before the window opens."""


def _session(n: int, modified: int, day: int = 1) -> VendorSession:
    return VendorSession(
        f"pm-{n}", f"RC {n}", "M-N1", f"2026-05-0{day}T0{n}:00:00", f"2026-05-0{day}T0{n}:30:00",
        modified,
    )  # fmt: skip


def test_reconcile_a_pull_integration_against_the_paging_vendor_api(
    stacks: Path, tmp_path: Path
) -> None:
    sessions = [_session(1, CHANGED + 1), _session(2, CHANGED + 2), _session(3, CHANGED + 3)]
    with MockPullAPI(sessions, page_size=2, token="pm-client") as api:
        endpoint = f"{api.url}/parkmobile/parkingRights"
        ok(cli(stacks, "integration", "add", SLUG, "parkmobile", "--vendor", "parkmobile",
               "--mode", "pull", "--schedule-minutes", "5", "--timezone", "America/Chicago",
               "--preview-endpoint", endpoint))  # fmt: skip
        _map(stacks, tmp_path, "parkmobile")
        ok(cli(stacks, "deploy", "demo-preview", "--yes"))
        ok(cli(stacks, "integration", "set-credentials", SLUG, "parkmobile", "--stage", "preview",
               input='{"clientId": "pm-client", "clientSecret": "pm-DO-NOT-PRINT"}'))  # fmt: skip
        context = AdapterContext("parkmobile", ZoneInfo("America/Chicago"))
        handle = open_from_files(stacks, SLUG, "preview")
        with psycopg.connect(handle.working_url) as conn:  # what the scheduled pull stored
            lots, _ = lots_and_zones(conn)
            zones = handle.spec.integrations[0].zone_map()
            pulled = pull(endpoint, parkmobile_pull.ADAPTER, context, 0, token="pm-client")
            ingest(conn, pulled.records, zone_map=zones, lots=lots)
        reconcile = ("integration", "reconcile", SLUG, "parkmobile", *WINDOW)
        clean = ok(cli(stacks, *reconcile)).stdout
        assert "vendor 3 session(s) (2 page(s) from the vendor API), ingested 3" in clean
        assert "0 missing, 0 extra, 0 differs" in clean

        api.sessions[1].modified = CHANGED + 100  # changed at the vendor since (its version)
        del api.sessions[2]  # gone from the vendor
        api.sessions.append(_session(4, CHANGED + 4))  # never pulled
        api.sessions.append(_session(5, CHANGED + 5, day=3))  # outside the window
        before = _rows(stacks)
        api.requests.clear()
        result = cli(stacks, *reconcile, "--json")
        assert result.exit_code == ExitCode.CHANGES, result.output
        report = validate("integration-reconcile", json.loads(result.stdout))
    assert (report["missing"], report["extra"], report["differs"]) == (1, 1, 1)
    assert [(d["sourceId"], d["difference"]) for d in report["differences"]] == [
        ("pm-2", "differs"),
        ("pm-3", "extra"),
        ("pm-4", "missing"),
    ]
    assert report["differences"][0]["vendor"] == {"version": CHANGED + 100, "kind": "NEW"}
    assert report["differences"][0]["ingested"] == {"version": CHANGED + 2, "kind": "NEW"}
    assert all(r.startswith("/parkmobile/parkingRights?") for r in api.requests)  # GETs only
    assert _rows(stacks) == before  # read-only
    assert "DO-NOT-PRINT" not in result.output

    down = cli(stacks, *reconcile)  # the mock is gone
    assert down.exit_code == ExitCode.UNREACHABLE and "did not answer" in down.output
    naive = cli(stacks, "integration", "reconcile", SLUG, "parkmobile",
                "--since", "2026-05-01T00:00:00", "--until", "2026-05-02T00:00:00Z")  # fmt: skip
    assert naive.exit_code == ExitCode.BAD_INPUT and "has no UTC offset" in naive.output
    assert "Traceback" not in down.output + naive.output


def test_reconcile_a_file_integration_against_its_drop_folder(stacks: Path, tmp_path: Path) -> None:
    ok(cli(stacks, "integration", "add", SLUG, "drops", "--vendor", "csv-drop", "--mode",
           "file", "--timezone", "America/Chicago"))  # fmt: skip
    _map(stacks, tmp_path, "drops")
    folder = tmp_path / "drop"
    folder.mkdir()
    header = "session_id,version,kind,plate,zone,start,end\n"
    first = folder / "a.csv"
    first.write_text(
        header
        + "f-1,1,NEW,DR 1,M-N1,2026-05-01T09:00:00,2026-05-01T10:00:00\n"
        + "f-2,1,NEW,DR 2,M-N1,2026-05-01T09:00:00,2026-05-01T10:00:00\n"
    )
    handle = open_from_files(stacks, SLUG, "preview")
    context = AdapterContext("drops", ZoneInfo("America/Chicago"))
    with psycopg.connect(handle.working_url) as conn:
        lots, _ = lots_and_zones(conn)
        zones = handle.spec.integrations[0].zone_map()
        process_file(conn, first, context, zone_map=zones, lots=lots)
    reconcile = ("integration", "reconcile", SLUG, "drops", *WINDOW)
    no_folder = cli(stacks, *reconcile)
    assert no_folder.exit_code == ExitCode.BAD_INPUT and "--drop-folder" in no_folder.output
    out = ok(cli(stacks, *reconcile, "--drop-folder", str(folder))).stdout
    assert "vendor 2 session(s) (1 file(s) in" in out and "0 missing" in out

    (folder / "b.csv").write_text(
        header
        + "f-2,2,EXTEND,DR 2,M-N1,2026-05-01T09:00:00,2026-05-01T11:00:00\n"
        + "f-3,1,NEW,DR 3,M-N1,2026-05-01T09:00:00,2026-05-01T10:00:00\n"
    )
    (folder / "a.csv.errors.csv").write_text("line,reason\n")  # ours, not the vendor's
    result = cli(stacks, *reconcile, "--drop-folder", str(folder))
    assert result.exit_code == ExitCode.CHANGES, result.output
    assert "1 missing, 0 extra, 1 differs" in result.output
    assert "differs  f-2: vendor v2 EXTEND, ingested v1 NEW" in result.output
    assert "missing  f-3: vendor v1 NEW, ingested none" in result.output

    ok(cli(stacks, "integration", "add", SLUG, "meters", "--vendor", "generic-push", "--mode",
           "push", "--timezone", "America/New_York"))  # fmt: skip
    push = cli(stacks, "integration", "reconcile", SLUG, "meters", *WINDOW)
    assert push.exit_code == ExitCode.PRECONDITION and "push integration" in push.output
    assert "Traceback" not in push.output
