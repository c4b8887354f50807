"""What the portal must offer, read from the stack's working database (schema ``config``).

Read-only: one connection, plain SELECTs. The configuration hash is the SHA-256 of every
configuration table's rows (``infra.ops.adapters.config_tables.read_config``) as canonical
JSON, so two runs on the same configuration name the same hash, and any edit changes it.
"""

from __future__ import annotations

import json
from typing import Any

from infra.core.content_model import content_hash
from infra.core.verify_checks import ClientConfig, Lot, PermitType, ViolationType
from infra.ops.adapters.config_tables import read_config
from infra.ops.adapters.database import connect

CURRENCY_SETTING = "locale.currency"


def _rows_hash(rows: dict[Any, tuple[Any, ...]]) -> str:
    canonical = [list(rows[key]) for key in sorted(rows, key=str)]
    return content_hash(json.dumps(canonical, default=str, sort_keys=True).encode())


Snapshot = dict[str, dict[Any, tuple[Any, ...]]]


def config_fingerprint(snapshot: Snapshot) -> tuple[str, dict[str, str]]:
    """The configuration hash and one hash per table (what tells which table changed)."""
    canonical = {
        table: [list(rows[key]) for key in sorted(rows, key=str)]
        for table, rows in sorted(snapshot.items())
    }
    whole = content_hash(json.dumps(canonical, default=str, sort_keys=True).encode())
    return whole, {table: _rows_hash(rows) for table, rows in sorted(snapshot.items())}


def config_state(url: str) -> tuple[str, dict[str, str]]:
    """``config_fingerprint`` of the working database at *url* (read-only)."""
    with connect(url) as conn:
        return config_fingerprint(read_config(conn))


def read_client_config(url: str) -> tuple[ClientConfig, tuple[str, dict[str, str]]]:
    """The client's offer (active lots, permit types on sale, violation types, currency)
    and the configuration's fingerprint (``config_fingerprint``)."""
    with connect(url) as conn:
        currency_row = conn.execute(
            "SELECT value FROM config.settings WHERE key = %s", (CURRENCY_SETTING,)
        ).fetchone()
        lots = conn.execute(
            "SELECT code, name FROM config.lots WHERE active ORDER BY sort_order, code"
        ).fetchall()
        permits = conn.execute(
            """
            SELECT p.code, p.name, p.price_cents,
                   coalesce((SELECT array_agg(l.lot_code ORDER BY l.lot_code)
                             FROM config.permit_type_lots l
                             WHERE l.permit_type_code = p.code), '{}'),
                   coalesce(t.name, p.duration_days || ' days')
            FROM config.permit_types p
            LEFT JOIN config.terms t ON t.code = p.term_code
            WHERE p.active AND p.on_sale
            ORDER BY p.sort_order, p.code
            """
        ).fetchall()
        violations = conn.execute(
            "SELECT code, name, fine_cents FROM config.violation_types WHERE active "
            "ORDER BY sort_order, code"
        ).fetchall()
        snapshot = read_config(conn)
    config = ClientConfig(
        currency=(currency_row[0] if currency_row and currency_row[0] else ""),
        lots=tuple(Lot(code, name) for code, name in lots),
        permit_types=tuple(
            PermitType(code, name, price, tuple(lot_codes), period)
            for code, name, price, lot_codes, period in permits
        ),
        violation_types=tuple(ViolationType(code, name, fine) for code, name, fine in violations),
    )
    return config, config_fingerprint(snapshot)
