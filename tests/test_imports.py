"""tenantctl import through the CLI, on the local target (moto server + real PostgreSQL),
and the replay of old-system data into production that promote runs."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.core import naming
from infra.core.errors import ExitCode
from infra.core.import_kinds import FAST, KINDS
from infra.ops.adapters.database import database_url
from infra.ops.content.imports import imports_recorded, pending_replays, replay_imports
from infra.ops.stacks.opening import open_from_files
from tests.helpers import ROOT, SLUG, cli, ok, validate


def rows(pg: str, query: str, stage: naming.Stage = "preview") -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url(pg, naming.database_name(SLUG, stage))) as conn:
        return conn.execute(query).fetchall()


def write_csv(path: Path, header: tuple[str, ...], data: list[tuple[Any, ...]], **fmt: Any) -> Path:
    with path.open("w", encoding=fmt.pop("encoding", "utf-8"), newline="") as f:
        writer = csv.writer(f, **fmt)
        writer.writerow(header)
        writer.writerows(data)
    return path


def lot_rows(count: int) -> list[tuple[Any, ...]]:
    return [
        (f"X{i}", f"Lot {i}", "surface", str(100 + i), "2", "1", "", "", "", "true", str(i))
        for i in range(count)
    ]


def accounts_vehicles_permits(tmp_path: Path) -> list[tuple[str, Path]]:
    accounts = [(f"u{i}@example.edu", f"User {i}", "student", "", "") for i in range(50)]
    vehicles = [(f"u{i}@example.edu", f"V{i:04d}", "CA", "", "", "") for i in range(50)]
    permits = [
        (f"P-{i}", f"u{i}@example.edu", "STU-COMM", f"V{i:04d}", "CA", "active", "240.00",
         "USD", "2026-08-15T00:00:00-07:00", "2027-08-14T00:00:00-07:00")
        for i in range(50)
    ]  # fmt: skip
    return [
        ("accounts", write_csv(tmp_path / "a.csv", KINDS["accounts"].header, accounts)),
        ("vehicles", write_csv(tmp_path / "v.csv", KINDS["vehicles"].header, vehicles)),
        ("permits", write_csv(tmp_path / "p.csv", KINDS["permits"].header, permits)),
    ]


# ------------------------------------------------------------------ templates


def test_template_prints_the_documented_header_and_one_example_row():
    result = ok(CliRunner().invoke(main, ["import", "--template", "zones"]))

    parsed = list(csv.reader(io.StringIO(result.output)))
    assert parsed[0] == list(KINDS["zones"].header)
    assert len(parsed) == 2 and len(parsed[1]) == len(parsed[0])


def test_every_kind_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert all(f"| `{name}` |" in readme for name in KINDS)


# ------------------------------------------------------------------ import


def test_one_bad_line_among_thousands_writes_nothing_and_names_the_line(
    stacks: Path, pg_env: str, tmp_path: Path
):
    data = lot_rows(3000)
    data[1699] = (*data[1699][:3], "many", *data[1699][4:])  # file line 1701
    path = write_csv(tmp_path / "lots.csv", KINDS["lots"].header, data)
    before = rows(pg_env, "SELECT * FROM config.lots ORDER BY code")

    result = cli(stacks, "import", SLUG, "lots", str(path))

    assert result.exit_code == ExitCode.BAD_INPUT
    problems = list(csv.reader(io.StringIO(result.stdout)))
    assert problems == [
        ["line", "column", "value", "reason"],
        ["1701", "capacity", "many", "not a whole number"],
    ]
    assert "1 problem(s)" in result.stderr and "nothing was written" in result.stderr
    assert rows(pg_env, "SELECT * FROM config.lots ORDER BY code") == before


def test_a_good_file_loads_whole_and_again_changes_nothing(
    stacks: Path, pg_env: str, tmp_path: Path
):
    path = write_csv(tmp_path / "lots.csv", KINDS["lots"].header, lot_rows(3000))

    first = json.loads(ok(cli(stacks, "import", SLUG, "lots", str(path), "--json")).stdout)
    validate("import", first)
    count = rows(pg_env, "SELECT count(*) FROM config.lots WHERE code LIKE 'X%'")[0][0]
    again = json.loads(ok(cli(stacks, "import", SLUG, "lots", str(path), "--json")).stdout)

    assert first["status"] == "loaded" and first["rows"] == 3000 and count == 3000
    assert again["status"] == "unchanged"
    assert rows(pg_env, "SELECT count(*) FROM stack.imports")[0][0] == 1


def test_dry_run_checks_and_writes_nothing(stacks: Path, pg_env: str, tmp_path: Path):
    path = write_csv(tmp_path / "lots.csv", KINDS["lots"].header, lot_rows(10))

    result = json.loads(
        ok(cli(stacks, "import", SLUG, "lots", str(path), "--dry-run", "--json")).stdout
    )

    assert result["status"] == "checked"
    assert rows(pg_env, "SELECT count(*) FROM config.lots WHERE code LIKE 'X%'")[0][0] == 0
    assert rows(pg_env, "SELECT count(*) FROM stack.imports")[0][0] == 0


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("n1", "did you mean 'N1'"),  # another case: the reference check
        ("N1 ", "must not begin or end with spaces"),  # padded: refused as typed
    ],
)
def test_zone_lot_must_match_exactly(stacks: Path, tmp_path: Path, code: str, reason: str):
    path = write_csv(
        tmp_path / "zones.csv",
        KINDS["zones"].header,
        [("1001", "N1", "North level 1", "both"), ("1002", code, "North level 2", "meter")],
    )

    result = cli(stacks, "import", SLUG, "zones", str(path))

    assert result.exit_code == ExitCode.BAD_INPUT
    problems = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(p["line"], p["column"], p["value"]) for p in problems] == [("3", "lot_code", code)]
    assert reason in problems[0]["reason"]


def test_semicolon_file_with_bom_is_read(stacks: Path, pg_env: str, tmp_path: Path):
    path = write_csv(
        tmp_path / "settings.csv",
        KINDS["settings"].header,
        [("locale.timezone", "Europe/Vienna", "time zone; of dates")],
        delimiter=";",
        encoding="utf-8-sig",
    )

    ok(cli(stacks, "import", SLUG, "settings", str(path)))

    assert rows(pg_env, "SELECT value FROM config.settings WHERE key = 'locale.timezone'") == [
        ("Europe/Vienna",)
    ]


def test_references_between_kinds_are_checked(stacks: Path, tmp_path: Path):
    files = dict(accounts_vehicles_permits(tmp_path))

    result = cli(stacks, "import", SLUG, "permits", str(files["permits"]))

    assert result.exit_code == ExitCode.BAD_INPUT
    reasons = {p["reason"] for p in csv.DictReader(io.StringIO(result.stdout))}
    assert reasons == {"no account with this email; import accounts first"}


def test_message_placeholders_are_checked(stacks: Path, tmp_path: Path):
    path = write_csv(
        tmp_path / "m.csv",
        KINDS["messages"].header,
        [("maintenance", "Down", "Closed from ${starts_at} to ${finish}", "warning")],
    )

    result = cli(stacks, "import", SLUG, "messages", str(path))

    assert result.exit_code == ExitCode.BAD_INPUT
    assert "unknown placeholder ${finish}" in result.stdout


# ------------------------------------------------------------------ replay at go-live


def test_old_system_data_replays_into_production_once(stacks: Path, pg_env: str, tmp_path: Path):
    for kind, path in accounts_vehicles_permits(tmp_path):
        ok(cli(stacks, "import", SLUG, kind, str(path)))
    preview = open_from_files(stacks, SLUG, "preview")
    production = open_from_files(stacks, SLUG, "production")
    assert imports_recorded(preview) and not imports_recorded(production)
    assert [r.kind for r in pending_replays(preview, production)] == [
        "accounts",
        "vehicles",
        "permits",
    ]

    replay_imports(preview, production)
    again = replay_imports(preview, production)

    query = "SELECT permit_number, price_cents FROM activity.permits ORDER BY 1"
    assert rows(pg_env, query, "production") == rows(pg_env, query, "preview")
    assert len(rows(pg_env, query, "production")) == 50
    assert again == "no old-system data to replay"


def test_promote_dry_run_lists_the_replays(stacks: Path, tmp_path: Path):
    for kind, path in accounts_vehicles_permits(tmp_path)[:1]:
        ok(cli(stacks, "import", SLUG, kind, str(path)))

    plan = json.loads(ok(cli(stacks, "promote", SLUG, "--dry-run", "--json")).stdout)

    assert [(i["kind"], i["rows"]) for i in plan["imports"]] == [("accounts", 50)]


def test_bulk_load_keeps_constraints_and_indexes(
    stacks: Path, pg_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from infra.ops.content import import_engine

    monkeypatch.setattr(import_engine, "BULK_ROWS", 10)  # the 50-row files take the bulk path
    catalog = (
        "SELECT conname FROM pg_constraint WHERE conrelid = 'activity.permits'::regclass "
        "OR confrelid = 'activity.permits'::regclass "
        "UNION ALL SELECT indexrelid::regclass::text FROM pg_index "
        "WHERE indrelid = 'activity.permits'::regclass ORDER BY 1"
    )
    before = rows(pg_env, catalog)
    for kind, path in accounts_vehicles_permits(tmp_path):
        ok(cli(stacks, "import", SLUG, kind, str(path)))

    assert rows(pg_env, catalog) == before
    assert rows(pg_env, "SELECT count(*) FROM activity.permits")[0][0] == 50
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        rows(pg_env, "UPDATE activity.permits SET permit_type_code = 'NOPE' RETURNING 1")


def test_a_file_with_known_keys_updates_them_and_adds_the_rest(
    stacks: Path, pg_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from infra.ops.content import import_engine

    monkeypatch.setattr(import_engine, "BULK_ROWS", 10)
    files = accounts_vehicles_permits(tmp_path)
    for kind, path in files:
        ok(cli(stacks, "import", SLUG, kind, str(path)))
    header = KINDS["permits"].header
    with files[2][1].open(newline="") as f:
        data = [tuple(r) for r in csv.reader(f)][1:]
    changed = [(*r[:6], "300", *r[7:]) for r in data[:10]]  # permits 0-9 again, a new price
    added = [(f"Q-{i}", *r[1:]) for i, r in enumerate(data[:20])]
    path = write_csv(tmp_path / "p2.csv", header, changed + added)

    ok(cli(stacks, "import", SLUG, "permits", str(path)))

    prices = dict(rows(pg_env, "SELECT permit_number, price_cents FROM activity.permits"))
    assert len(prices) == 70
    assert [prices[f"P-{i}"] for i in range(12)] == [30000] * 10 + [24000] * 2
    assert prices["Q-0"] == 24000


def test_quoted_records_take_the_checked_path_and_keep_line_numbers(
    stacks: Path, pg_env: str, tmp_path: Path
):
    accounts = [
        ("a0@example.edu", "Rivera, Alex", "student", "", ""),  # quoted: a comma
        ("a1@example.edu", "Two\nlines", "staff", "", ""),  # quoted: file lines 3-4
        ("a2@example.edu", "Plain", "faculty", "S1", ""),
        ("not-an-email", "Bad", "student", "", ""),  # file line 6
    ]
    path = write_csv(tmp_path / "a.csv", KINDS["accounts"].header, accounts)

    rejected = cli(stacks, "import", SLUG, "accounts", str(path))
    ok(
        cli(
            stacks,
            "import",
            SLUG,
            "accounts",
            str(write_csv(path, KINDS["accounts"].header, accounts[:3])),
        )
    )

    problems = list(csv.reader(io.StringIO(rejected.stdout)))
    assert problems[1:] == [["6", "email", "not-an-email", "must be an email address"]]
    assert rows(
        pg_env,
        "SELECT email, full_name FROM activity.accounts WHERE email LIKE 'a_@%' ORDER BY 1",
    ) == [
        ("a0@example.edu", "Rivera, Alex"),
        ("a1@example.edu", "Two\nlines"),
        ("a2@example.edu", "Plain"),
    ]


def test_dates_the_regex_leaves_to_the_full_check_load_the_same(
    stacks: Path, pg_env: str, tmp_path: Path
):
    files = accounts_vehicles_permits(tmp_path)
    for kind, path in files[:2]:
        ok(cli(stacks, "import", SLUG, kind, str(path)))
    with files[2][1].open(newline="") as f:
        data = [tuple(r) for r in csv.reader(f)][1:3]
    data[0] = (*data[0][:6], "12", *data[0][7:8], "2026-08-31T00:00:00Z", "2027-02-29T00:00:00Z")
    data[1] = (*data[1][:8], "2026-08-31T00:00:00Z", "2026-09-30T12:00:00+02:00")
    path = write_csv(tmp_path / "p.csv", KINDS["permits"].header, data)

    rejected = cli(stacks, "import", SLUG, "permits", str(path))
    ok(
        cli(
            stacks,
            "import",
            SLUG,
            "permits",
            str(write_csv(path, KINDS["permits"].header, data[1:])),
        )
    )

    assert [p["line"] for p in csv.DictReader(io.StringIO(rejected.stdout))] == ["2"]
    assert rows(pg_env, "SELECT price_cents, valid_until FROM activity.permits")[0][0] == 24000


@pytest.mark.parametrize("value", [" Lot A", "Lot A ", "Lot A\u00a0"])
def test_text_with_surrounding_whitespace_is_refused_by_the_check_and_its_fast_path(value: str):
    # The one rule for typed strings holds for CSV cells too, on both of a column's paths
    # (the per-field check and the whole-line regex), so a value is never stored padded.
    name = next(c for c in KINDS["lots"].columns if c.name == "name")
    with pytest.raises(ValueError, match="must not begin or end with spaces"):
        name.check(value)
    assert name.check("Lot A") == "Lot A"
    assert re.fullmatch(FAST[name.check], value) is None
    assert re.fullmatch(FAST[name.check], "Lot A") is not None
