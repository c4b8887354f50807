"""Training data for a preview reset: ``reset-preview --with-training-data``.

The set is versioned (``VERSION``): the accounts and vehicles are files in
``templates/training/``; the permits and violations are generated from the
client's own configuration in the new working database (its permit types and
their lots, its violation types), with deterministic numbers (``TRN-P-0001``,
``TRN-C-0001``) and fixed dates, so a re-run loads exactly the same rows. Every
file goes through the import engine, into the new database before the swap.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from infra.core.errors import PreconditionFailed
from infra.core.rendering import TEMPLATES_DIR
from infra.ops.content.import_engine import Problems, file_sha256, load
from infra.ops.content.imports import kind_named

VERSION = "training-1"
"""The training set's version, recorded in the reset's record."""

FILES = TEMPLATES_DIR / "training"
PERMIT_PREFIX = "TRN-P-"
CITATION_PREFIX = "TRN-C-"
_VALID = ("2026-08-15T00:00:00+00:00", "2027-08-14T23:59:59+00:00")
_ISSUED, _DUE, _APPEAL = "2026-09-02T09:00:00+00:00", "2026-10-02", "2026-09-16"


def _static(name: str) -> list[dict[str, str]]:
    with (FILES / f"{name}.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def plan_rows(conn: psycopg.Connection[Any], currency: str) -> dict[str, list[dict[str, str]]]:
    """The rows of the training set for the configuration in *conn*, by import kind.

    Raises ``PreconditionFailed`` (nothing changed) when the configuration has
    no lots, no permit type valid in one of them, or no violation types.
    """
    lots = [r[0] for r in conn.execute("SELECT code FROM config.lots ORDER BY code")]
    types = conn.execute(
        "SELECT pt.code, pt.price_cents, min(ptl.lot_code) FROM config.permit_types pt "
        "JOIN config.permit_type_lots ptl ON ptl.permit_type_code = pt.code "
        "GROUP BY pt.code, pt.price_cents ORDER BY pt.code"
    ).fetchall()
    violations = conn.execute(
        "SELECT code, fine_cents FROM config.violation_types ORDER BY code"
    ).fetchall()
    needed = (("lots", lots), ("permit types with lots", types), ("violation types", violations))
    missing = [what for what, rows in needed if not rows]
    if missing:
        raise PreconditionFailed(
            f"the training data needs {' and '.join(missing)} in the client's configuration; "
            "import them (`tenantctl import`) or reset without --with-training-data"
        )
    accounts, vehicles = _static("accounts"), _static("vehicles")
    permits, citations = [], []
    for i, vehicle in enumerate(vehicles):
        code, price_cents, _lot = types[i % len(types)]
        permits.append(
            {
                "permit_number": f"{PERMIT_PREFIX}{i + 1:04d}",
                "account_email": vehicle["account_email"],
                "permit_type": code,
                "plate": vehicle["plate"],
                "plate_state": vehicle["plate_state"],
                "status": "active",
                "price": f"{price_cents / 100:.2f}",
                "currency": currency,
                "valid_from": _VALID[0],
                "valid_until": _VALID[1],
            }
        )
        vcode, fine_cents = violations[i % len(violations)]
        citations.append(
            {
                "citation_number": f"{CITATION_PREFIX}{i + 1:04d}",
                "violation_type": vcode,
                "lot_code": lots[i % len(lots)],
                "plate": vehicle["plate"],
                "plate_state": vehicle["plate_state"],
                "status": "open",
                "fine": f"{fine_cents / 100:.2f}",
                "late_fee": "0.00",
                "currency": currency,
                "issued_at": _ISSUED,
                "issued_by": "Training Officer",
                "due_on": _DUE,
                "appeal_deadline": _APPEAL,
                "location_note": "training data",
            }
        )
    return {"accounts": accounts, "vehicles": vehicles, "permits": permits, "violations": citations}


def check_training_data(url: str, currency: str) -> None:
    """Refuse (``PreconditionFailed``) when the configuration at *url* lacks what the set needs."""
    with psycopg.connect(url) as conn:
        plan_rows(conn, currency)


def load_training_data(url: str, currency: str) -> int:
    """Load the training set into the database at *url*; the number of rows loaded."""
    total = 0
    with psycopg.connect(url) as conn:
        planned = plan_rows(conn, currency)
    with tempfile.TemporaryDirectory() as tmp:
        for name, rows in planned.items():
            kind = kind_named(name)
            path = Path(tmp) / f"training-{name}.csv"
            with path.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=kind.header, lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
            problems = Problems()
            # One connection per file: each load stages into its own temporary table.
            with psycopg.connect(url) as conn:
                digest = file_sha256(path)
                result = load(conn, kind, path, digest, f"training:{VERSION}", problems)
            if problems.count:
                raise PreconditionFailed(
                    f"the training data ({VERSION}) does not fit this configuration: "
                    f"{name}: {problems.first[0] if problems.first else ''}; "
                    "reset without --with-training-data"
                )
            total += result.rows
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("SET CONSTRAINTS ALL DEFERRED")
        for statement in _FIXED_IDS:
            conn.execute(statement, {"v": VERSION, "at": _VALID[0], "domain": _DOMAIN})
    return total


_DOMAIN = "%@training.example"
"""Every training account's email is at this domain (templates/training/accounts.csv)."""

# The import engine gives new rows random ids and the time of loading; the training
# rows get ids derived from the set's version and their natural keys, and fixed times,
# so a re-run (or a resumed reset) gives identical rows. References first, then the keys.
_ACCOUNT = "md5(%(v)s || ':account:' || lower(a.email))::uuid"
_VEHICLE = "md5(%(v)s || ':vehicle:' || v.plate_state || v.plate)::uuid"
_PERMIT = "md5(%(v)s || ':permit:' || p.permit_number)::uuid"
_FIXED_IDS = (
    *(
        f"UPDATE activity.{t} x SET account_id = {_ACCOUNT} FROM activity.accounts a "
        "WHERE x.account_id = a.id AND a.email LIKE %(domain)s"
        for t in ("vehicles", "permits", "violations")
    ),
    f"UPDATE activity.accounts a SET id = {_ACCOUNT}, created_at = %(at)s, updated_at = %(at)s "
    "WHERE a.email LIKE %(domain)s",
    *(
        f"UPDATE activity.{t} x SET vehicle_id = {_VEHICLE} FROM activity.vehicles v "
        f"WHERE x.vehicle_id = v.id AND v.plate LIKE 'TRN%%'"
        for t in ("permits", "violations")
    ),
    f"UPDATE activity.vehicles v SET id = {_VEHICLE}, created_at = %(at)s "
    "WHERE v.plate LIKE 'TRN%%'",
    f"UPDATE activity.violations x SET permit_id = {_PERMIT} FROM activity.permits p "
    f"WHERE x.permit_id = p.id AND p.permit_number LIKE '{PERMIT_PREFIX}%%'",
    f"UPDATE activity.permits p SET id = {_PERMIT}, "
    f"created_at = %(at)s, updated_at = %(at)s WHERE p.permit_number LIKE '{PERMIT_PREFIX}%%'",
    "UPDATE activity.violations x SET id = md5(%(v)s || ':citation:' || x.citation_number)::uuid, "
    f"updated_at = %(at)s WHERE x.citation_number LIKE '{CITATION_PREFIX}%%'",
)
