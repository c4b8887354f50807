"""``reset-preview --with-training-data`` (issue 20, Training): seeded, recorded, removed.

Against the real systems (moto server, PostgreSQL): the seeded rows are in the
new working database after a seeded reset, name only the client's own lots and
types, are gone after the next plain reset, and a seeded reset killed at its
step boundaries re-runs to the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from infra.core import naming
from infra.core.errors import ExitCode
from infra.ops.content.training_data import CITATION_PREFIX, PERMIT_PREFIX, VERSION
from tests.helpers import SLUG, cli, db_url, ok
from tests.robustness_support import Run, broken_state, leftovers, rows, run

SEEDED = ["reset-preview", SLUG, "--with-training-data", "--yes"]
PLAIN = ["reset-preview", SLUG, "--yes"]
UNDO = ["reset-preview", SLUG, "--undo", "--yes"]


def _seeded(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        return {
            "accounts": conn.execute(
                "SELECT email FROM activity.accounts WHERE email LIKE '%%@training.example' "
                "ORDER BY email"
            ).fetchall(),
            "permits": conn.execute(
                "SELECT permit_number, permit_type_code, price_cents FROM activity.permits "
                "WHERE permit_number LIKE %s ORDER BY 1",
                (PERMIT_PREFIX + "%",),
            ).fetchall(),
            "violations": conn.execute(
                "SELECT citation_number, violation_type_code, lot_code, fine_cents "
                "FROM activity.violations WHERE citation_number LIKE %s ORDER BY 1",
                (CITATION_PREFIX + "%",),
            ).fetchall(),
        }


def test_seeded_reset_loads_the_clients_own_types_and_a_plain_reset_removes_them(
    ready: Path, pg_env: str
) -> None:
    url = db_url(pg_env, "preview")
    result = ok(cli(ready, *SEEDED, "--json"))
    document = json.loads(result.stdout)
    assert document["trainingData"] == VERSION
    seeded = _seeded(url)
    assert len(seeded["accounts"]) == 3 and len(seeded["permits"]) == 3
    assert len(seeded["violations"]) == 3
    with psycopg.connect(url) as conn:
        prices = dict(conn.execute("SELECT code, price_cents FROM config.permit_types"))
        fines = dict(conn.execute("SELECT code, fine_cents FROM config.violation_types"))
        lots = {r[0] for r in conn.execute("SELECT code FROM config.lots")}
    for _, code, price in seeded["permits"]:
        assert prices[code] == price
    for _, code, lot, fine in seeded["violations"]:
        assert fines[code] == fine and lot in lots
    status = json.loads(ok(cli(ready, "status", SLUG, "--json")).stdout)
    assert VERSION in json.dumps(status)

    ok(cli(ready, *UNDO))  # back to the edits from before: no training data, status says so
    assert _seeded(url)["permits"] == []
    assert VERSION not in json.dumps(json.loads(ok(cli(ready, "status", SLUG, "--json")).stdout))
    ok(cli(ready, *SEEDED))
    ok(cli(ready, *PLAIN))
    assert _seeded(url) == {"accounts": [], "permits": [], "violations": []}
    status = json.loads(ok(cli(ready, "status", SLUG, "--json")).stdout)
    assert VERSION not in json.dumps(status)


def test_a_configuration_without_permit_type_lots_is_refused_in_one_line_and_nothing_changes(
    ready: Path, pg_env: str
) -> None:
    defaults = db_url(pg_env, "preview", naming.defaults_database_name(SLUG, "preview"))
    with psycopg.connect(defaults) as conn:  # permit types valid in no lot
        conn.execute("DELETE FROM config.permit_type_lots")
    before = rows(db_url(pg_env, "preview"))
    code, _, err = run(SEEDED, ready)
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert code == ExitCode.PRECONDITION and len(errors) == 1, err
    assert "permit types" in errors[0] and "Traceback" not in err
    assert rows(db_url(pg_env, "preview")) == before


@pytest.mark.parametrize("point", ["reset-built", "reset-filled", "reset-swapped"])
def test_a_seeded_reset_killed_at_a_step_boundary_re_runs_to_the_same_rows(
    ready: Path, pg_env: str, point: str
) -> None:
    url = db_url(pg_env, "preview")
    ok(cli(ready, *SEEDED))
    want = rows(url)
    ok(cli(ready, *PLAIN))
    r = Run(SEEDED, ready, pause_at=point)
    assert r.wait_for_checkpoint(point), r.finish()
    r.kill()
    # A plain re-run finishes the interrupted seeded reset (its pending record says so).
    code, _, err = run(PLAIN, ready)
    assert code == 0, err
    assert rows(url) == want
    assert broken_state(pg_env, SLUG) == [] and leftovers(pg_env, SLUG) == []


def test_a_second_seeded_reset_changes_nothing_and_keeps_the_first_ones_undo(
    ready: Path, pg_env: str
) -> None:
    url = db_url(pg_env, "preview")
    with psycopg.connect(url) as conn:  # the client's own edit, which --undo must bring back
        conn.execute("UPDATE config.lots SET name = 'Edited by the client' WHERE code = 'ST1'")
    first = json.loads(ok(cli(ready, *SEEDED, "--json")).stdout)
    assert first["trainingDigest"] and "unchanged" not in first

    again = json.loads(ok(cli(ready, *SEEDED, "--json")).stdout)
    assert again["unchanged"] is True and again["id"] == first["id"]
    assert again["trainingData"] == VERSION and again["undo"] == first["undo"]

    with psycopg.connect(url) as conn:  # a trainee's change: the next seeded reset resets
        conn.execute(
            "DELETE FROM activity.violations WHERE citation_number LIKE %s",
            (CITATION_PREFIX + "%",),
        )
    third = json.loads(ok(cli(ready, *SEEDED, "--json")).stdout)
    assert "unchanged" not in third and third["id"] != first["id"]
    assert len(_seeded(url)["violations"]) == 3
    # A plain reset after a seeded one is never "unchanged": it removes the training data.
    plain = json.loads(ok(cli(ready, *PLAIN, "--json")).stdout)
    assert "unchanged" not in plain and plain["trainingData"] is None


def test_undo_after_two_seeded_resets_returns_to_the_clients_edits(
    ready: Path, pg_env: str
) -> None:
    url = db_url(pg_env, "preview")
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE config.lots SET name = 'Edited by the client' WHERE code = 'ST1'")
    ok(cli(ready, *SEEDED))
    ok(cli(ready, *SEEDED))
    ok(cli(ready, *UNDO))
    with psycopg.connect(url) as conn:
        name = conn.execute("SELECT name FROM config.lots WHERE code = 'ST1'").fetchone()
    assert name == ("Edited by the client",)


def test_undo_with_training_data_is_a_usage_error_before_any_system_is_reached(
    tmp_path: Path,
) -> None:
    # No database, no emulator, not even stack files: the combination is refused first.
    code, _, err = run([*UNDO, "--with-training-data"], tmp_path)
    assert code == ExitCode.BAD_INPUT and "cannot be combined" in err and "Traceback" not in err
