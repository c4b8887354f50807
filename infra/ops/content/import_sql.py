"""The SQL of an import, per kind: staging inserts, natural keys, references, row checks.

Text only (statements and the tables they name), kept apart from the engine that
runs them (``infra.ops.content.import_engine``) so each kind's SQL reads in one place.
"""

from __future__ import annotations

from infra.core.import_kinds import (
    Kind,
)

INSERTS: dict[str, tuple[str, dict[str, str], str, str]] = {
    # kind: (from clause, {target column: expression}, conflict target, extra SET)
    "lots": (
        "staging s",
        {
            "code": "s.code",
            "name": "s.name",
            "kind": "s.kind",
            "capacity": "s.capacity::int",
            "accessible_spaces": "coalesce(s.accessible_spaces::int, 0)",
            "ev_spaces": "coalesce(s.ev_spaces::int, 0)",
            "address": "coalesce(s.address, '')",
            "description": "coalesce(s.description, '')",
            "hours": "coalesce(s.hours, '')",
            "active": "coalesce(s.active::boolean, true)",
            "sort_order": "coalesce(s.sort_order::int, 0)",
        },
        "(code)",
        "",
    ),
    "zones": (
        "staging s",
        {"zone": "s.zone", "lot_code": "s.lot_code", "name": "s.name", "provider": "s.provider"},
        "(zone)",
        "",
    ),
    "permit-types": (
        "staging s",
        {
            "code": "s.code",
            "name": "s.name",
            "description": "coalesce(s.description, '')",
            "price_cents": "(s.price::numeric * 100)::int",
            "term_code": "s.term_code",
            "duration_days": "s.duration_days::int",
            "eligible_groups": "string_to_array(s.eligible_groups, ';')",
            "max_per_account": "coalesce(s.max_per_account::int, 1)",
            "max_vehicles": "coalesce(s.max_vehicles::int, 2)",
            "quantity_limit": "s.quantity_limit::int",
            "requires_approval": "coalesce(s.requires_approval::boolean, false)",
            "on_sale": "coalesce(s.on_sale::boolean, true)",
            "sort_order": "coalesce(s.sort_order::int, 0)",
        },
        "(code)",
        "",
    ),
    "violation-types": (
        "staging s",
        {
            "code": "s.code",
            "name": "s.name",
            "description": "coalesce(s.description, '')",
            "fine_cents": "(s.fine::numeric * 100)::int",
            "appeal_window_days": "coalesce(s.appeal_window_days::int, 14)",
            "late_fee_cents": "coalesce((s.late_fee::numeric * 100)::int, 0)",
            "late_after_days": "coalesce(s.late_after_days::int, 30)",
            "tow_eligible": "coalesce(s.tow_eligible::boolean, false)",
            "sort_order": "coalesce(s.sort_order::int, 0)",
        },
        "(code)",
        "",
    ),
    "settings": (
        "staging s",
        {"key": "s.key", "value": "s.value", "description": "coalesce(s.description, '')"},
        "(key)",
        "",
    ),
    "messages": (
        "staging s",
        {"code": "s.code", "title": "s.title", "body": "s.body", "severity": "s.severity"},
        "(code)",
        "",
    ),
    "accounts": (
        "staging s",
        {
            "email": "s.email",
            "full_name": "s.full_name",
            "affiliation": "s.affiliation",
            "campus_id": "s.campus_id",
            "phone": "s.phone",
        },
        "((lower(email)))",
        ", updated_at = now()",
    ),
    "vehicles": (
        "staging s JOIN activity.accounts a ON lower(a.email) = lower(s.account_email)",
        {
            "account_id": "a.id",
            "plate": "s.plate",
            "plate_state": "s.plate_state",
            "make": "coalesce(s.make, '')",
            "model": "coalesce(s.model, '')",
            "color": "coalesce(s.color, '')",
        },
        "(account_id, plate_state, plate)",
        "",
    ),
    "permits": (
        "staging s JOIN activity.accounts a ON lower(a.email) = lower(s.account_email) "
        "JOIN activity.vehicles v ON v.account_id = a.id AND v.plate_state = s.plate_state "
        "AND v.plate = s.plate",
        {
            "permit_number": "s.permit_number",
            "account_id": "a.id",
            "permit_type_code": "s.permit_type",
            "vehicle_id": "v.id",
            "status": "s.status",
            "price_cents": "(s.price::numeric * 100)::int",
            "currency": "s.currency",
            "valid_from": "s.valid_from::timestamptz",
            "valid_until": "s.valid_until::timestamptz",
        },
        "(permit_number)",
        ", updated_at = now()",
    ),
    "violations": (
        "staging s",
        {
            "citation_number": "s.citation_number",
            "violation_type_code": "s.violation_type",
            "lot_code": "s.lot_code",
            "location_note": "coalesce(s.location_note, '')",
            "plate": "s.plate",
            "plate_state": "s.plate_state",
            "status": "s.status",
            "fine_cents": "(s.fine::numeric * 100)::int",
            "late_fee_cents": "coalesce((s.late_fee::numeric * 100)::int, 0)",
            "currency": "s.currency",
            "issued_at": "s.issued_at::timestamptz",
            "issued_by": "s.issued_by",
            "due_on": "s.due_on::date",
            "appeal_deadline": "s.appeal_deadline::date",
        },
        "(citation_number)",
        ", updated_at = now()",
    ),
}


_ACCOUNT = (
    "EXISTS (SELECT 1 FROM activity.accounts t WHERE lower(t.email) = lower(s.account_email))"
)


_NEAR_LOT = (
    "coalesce('; did you mean ' || quote_literal((SELECT t.code FROM config.lots t "
    "WHERE upper(trim(t.code)) = upper(trim({col})) LIMIT 1)) || '? zone and lot names must "
    "match exactly', '')"
)


REFERENCES: dict[str, list[tuple[str, str, str, str]]] = {
    "zones": [
        (
            "lot_code",
            "NOT EXISTS (SELECT 1 FROM config.lots t WHERE t.code = s.lot_code)",
            "no lot with exactly this code",
            _NEAR_LOT.format(col="s.lot_code"),
        )
    ],
    "permit-types": [
        (
            "term_code",
            "s.term_code IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM config.terms t WHERE t.code = s.term_code)",
            "no term with this code",
            "''",
        ),
        (
            "lots",
            "EXISTS (SELECT 1 FROM unnest(string_to_array(s.lots, ';')) l "
            "WHERE NOT EXISTS (SELECT 1 FROM config.lots t WHERE t.code = l))",
            "names a lot that does not exist (import lots first; codes match exactly)",
            "''",
        ),
    ],
    "vehicles": [
        (
            "account_email",
            f"NOT {_ACCOUNT}",
            "no account with this email; import accounts first",
            "''",
        )
    ],
    "permits": [
        (
            "account_email",
            f"NOT {_ACCOUNT}",
            "no account with this email; import accounts first",
            "''",
        ),
        (
            "permit_type",
            "NOT EXISTS (SELECT 1 FROM config.permit_types t WHERE t.code = s.permit_type)",
            "no permit type with this code",
            "''",
        ),
        (
            "plate",
            f"{_ACCOUNT} AND NOT EXISTS (SELECT 1 FROM activity.vehicles v "
            "JOIN activity.accounts a ON a.id = v.account_id "
            "WHERE lower(a.email) = lower(s.account_email) AND v.plate_state = s.plate_state "
            "AND v.plate = s.plate)",
            "no vehicle with this plate and state on the account; import vehicles first",
            "''",
        ),
    ],
    "violations": [
        (
            "violation_type",
            "NOT EXISTS (SELECT 1 FROM config.violation_types t WHERE t.code = s.violation_type)",
            "no violation type with this code",
            "''",
        ),
        (
            "lot_code",
            "s.lot_code IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM config.lots t WHERE t.code = s.lot_code)",
            "no lot with exactly this code",
            _NEAR_LOT.format(col="s.lot_code"),
        ),
    ],
}


ROW_CHECKS: dict[str, list[tuple[str, str, str]]] = {
    "permits": [
        (
            "valid_until",
            "s.valid_until::timestamptz <= s.valid_from::timestamptz",
            "must be after valid_from",
        )
    ],
    "permit-types": [
        (
            "term_code",
            "(s.term_code IS NULL) = (s.duration_days IS NULL)",
            "give exactly one of term_code and duration_days",
        )
    ],
    "lots": [
        (
            "capacity",
            "coalesce(s.accessible_spaces::int, 0) + coalesce(s.ev_spaces::int, 0) "
            "> s.capacity::int",
            "smaller than accessible_spaces + ev_spaces",
        )
    ],
}


KEY_EXPRESSIONS = {
    "accounts": ("lower(s.email)",),
    "vehicles": ("lower(s.account_email)", "s.plate_state", "s.plate"),
}


OVERLAP: dict[str, str] = {
    # data kinds: the staged rows whose natural key is in the table already (an anti-join)
    "accounts": "staging s JOIN activity.accounts t ON lower(t.email) = lower(s.email)",
    "vehicles": "staging s JOIN activity.accounts a ON lower(a.email) = lower(s.account_email) "
    "JOIN activity.vehicles t ON t.account_id = a.id AND t.plate_state = s.plate_state "
    "AND t.plate = s.plate",
    "permits": "staging s JOIN activity.permits t ON t.permit_number = s.permit_number",
    "violations": "staging s JOIN activity.violations t ON t.citation_number = s.citation_number",
}


def insert_sql(kind: Kind, upsert: bool = True) -> str:
    """Insert or update by natural key; a plain INSERT when *upsert* is False (no key of
    the staged rows is in the table: same result, without a speculative insert per row)."""
    source, columns, conflict, extra = INSERTS[kind.name]
    targets = ", ".join(columns)
    exprs = ", ".join(columns.values())
    if not upsert:
        return f"INSERT INTO {kind.schema}.{kind.table} ({targets}) SELECT {exprs} FROM {source}"
    keys = {c.strip(" ()") for c in conflict.replace("lower(email)", "email").split(",")}
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys)
    return (
        f"INSERT INTO {kind.schema}.{kind.table} ({targets}) SELECT {exprs} FROM {source} "
        f"ON CONFLICT {conflict} DO UPDATE SET {updates}{extra}"
    )


PERMIT_TYPE_LOTS = (
    "DELETE FROM config.permit_type_lots p USING staging s WHERE p.permit_type_code = s.code "
    "AND NOT (p.lot_code = ANY (string_to_array(s.lots, ';')))",
    "INSERT INTO config.permit_type_lots (id, permit_type_code, lot_code) "
    "SELECT s.code || '@' || l, s.code, l FROM staging s, unnest(string_to_array(s.lots, ';')) l "
    "ON CONFLICT (id) DO NOTHING",
)


SESSION_SETTINGS = (
    # Memory for this transaction only: the staged file stays in memory instead of
    # spilling to disk (temp_buffers must be set before the session's first temp table),
    # sorts and hashes over a million rows fit, indexes rebuild in one pass.
    "SET LOCAL temp_buffers = '256MB'",
    "SET LOCAL work_mem = '128MB'",
    "SET LOCAL maintenance_work_mem = '256MB'",
)
