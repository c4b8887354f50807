"""``tenantctl import``: configuration and old-system data from CSV, whole or not at all.

One pass over the file, streamed (never held): each row is checked
(``infra.core.import_kinds``; a plain line by one regex per kind) and, while no
problem has been found, written by COPY into a temporary staging table. Then, in
the same transaction, natural keys are checked for duplicates and references for
existence (SQL against the staged rows), and only when no problem was found
anywhere is the staging table inserted into its table by natural key (``INSERT
... ON CONFLICT``, or a plain ``INSERT`` when no staged key is in the table yet)
and the file recorded in ``stack.imports`` by (kind, SHA-256). Any problem: the transaction
is rolled back, nothing is written. Same file again: nothing happens.

Imports act on preview (``PreviewStack``). Configuration reaches production by
promotion; old-system data is replayed into production from the recorded files
by ``replay_imports`` (a step of ``promote``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
from botocore.exceptions import ClientError
from psycopg import sql

from infra.core import naming
from infra.core.errors import LocalIOError, PreconditionFailed, UserInputError
from infra.core.import_kinds import (
    DATA_ORDER,
    KINDS,
    Check,
    Kind,
    money,
    row_pattern,
    row_problems,
)
from infra.core.steps import Progress, quiet
from infra.ops.stacks.handle import PreviewStack, StackHandle
from infra.ops.stacks.locking import client_lock, preview_lock_region

SNIFF_BYTES = 64 * 1024
MAX_PROBLEMS_KEPT = 20
MAX_PROBLEMS_PER_CHECK = 10_000
PROBLEM_HEADER = ("line", "column", "value", "reason")
_CHUNK = 1024 * 1024


@dataclass
class Problems:
    """Where problems go: a CSV writer (optional), a count, and the first few for --json."""

    out: IO[str] | None = None
    count: int = 0
    first: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._writer = csv.writer(self.out, lineterminator="\n") if self.out else None

    def add(self, line: int, column: str, value: str, reason: str) -> None:
        self.count += 1
        if self._writer:
            if self.count == 1:
                self._writer.writerow(PROBLEM_HEADER)
            self._writer.writerow((line, column, value, reason))
        if len(self.first) < MAX_PROBLEMS_KEPT:
            self.first.append({"line": line, "column": column, "value": value, "reason": reason})


@dataclass
class ImportResult:
    kind: str
    file: str
    sha256: str
    status: str  # loaded | unchanged | checked | rejected
    rows: int = 0
    problems: int = 0
    first_problems: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        if self.status == "rejected":
            return f"{self.kind}: {self.problems} problem(s) in {self.file}; nothing was written"
        if self.status == "unchanged":
            return f"{self.kind}: {self.file} was imported before (same SHA-256); nothing changed"
        verb = "checked (dry run, nothing written)" if self.status == "checked" else "loaded"
        return f"{self.kind}: {self.rows} row(s) of {self.file} {verb} in {self.seconds:.2f}s"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "sha256": self.sha256,
            "status": self.status,
            "rows": self.rows,
            "problems": self.problems,
            "firstProblems": self.first_problems,
            "seconds": self.seconds,
            "summary": self.summary,
        }


def kind_named(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise UserInputError(f"unknown import kind {name!r}; one of: {', '.join(KINDS)}")
    return kind


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise LocalIOError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


@contextmanager
def _csv_file(path: Path) -> Iterator[tuple[IO[str], Any]]:
    """*path* open as text (UTF-8, BOM or not), and its CSV dialect sniffed from the start."""
    try:
        f = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise LocalIOError(f"cannot read {path}: {exc.strerror or exc}") from None
    with f:
        sample = f.read(SNIFF_BYTES)
        f.seek(0)  # the utf-8-sig decoder drops the BOM again after the seek
        try:
            dialect: Any = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        yield f, dialect


# ------------------------------------------------------------------ SQL per kind

# Staged rows are text; each entry maps a target column to an expression over ``s``.
_INSERTS: dict[str, tuple[str, dict[str, str], str, str]] = {
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

# kind: [(column reported, condition a bad row meets, reason, extra reason SQL)]
_REFERENCES: dict[str, list[tuple[str, str, str, str]]] = {
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

# Checks across columns of one row, run on the staged rows: kind: [(column, condition, reason)]
_ROW_CHECKS: dict[str, list[tuple[str, str, str]]] = {
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

_KEY_EXPRESSIONS = {
    "accounts": ("lower(s.email)",),
    "vehicles": ("lower(s.account_email)", "s.plate_state", "s.plate"),
}


_OVERLAP: dict[str, str] = {
    # data kinds: the staged rows whose natural key is in the table already (an anti-join)
    "accounts": "staging s JOIN activity.accounts t ON lower(t.email) = lower(s.email)",
    "vehicles": "staging s JOIN activity.accounts a ON lower(a.email) = lower(s.account_email) "
    "JOIN activity.vehicles t ON t.account_id = a.id AND t.plate_state = s.plate_state "
    "AND t.plate = s.plate",
    "permits": "staging s JOIN activity.permits t ON t.permit_number = s.permit_number",
    "violations": "staging s JOIN activity.violations t ON t.citation_number = s.citation_number",
}


def _insert_sql(kind: Kind, upsert: bool = True) -> str:
    """Insert or update by natural key; a plain INSERT when *upsert* is False (no key of
    the staged rows is in the table: same result, without a speculative insert per row)."""
    source, columns, conflict, extra = _INSERTS[kind.name]
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


def _overlaps(conn: psycopg.Connection[Any], kind: Kind) -> bool:
    """Whether a staged natural key is in the table already (True when not known)."""
    join = _OVERLAP.get(kind.name)
    if join is None:
        return True
    return bool(conn.execute(f"SELECT EXISTS (SELECT 1 FROM {join})").fetchone()[0])  # type: ignore[index]


_PERMIT_TYPE_LOTS = (
    "DELETE FROM config.permit_type_lots p USING staging s WHERE p.permit_type_code = s.code "
    "AND NOT (p.lot_code = ANY (string_to_array(s.lots, ';')))",
    "INSERT INTO config.permit_type_lots (id, permit_type_code, lot_code) "
    "SELECT s.code || '@' || l, s.code, l FROM staging s, unnest(string_to_array(s.lots, ';')) l "
    "ON CONFLICT (id) DO NOTHING",
)


# ------------------------------------------------------------------ the engine


def _stage(conn: psycopg.Connection[Any], kind: Kind, path: Path, problems: Problems) -> int:
    """Check every row of *path* and COPY it into ``staging``; the number of data rows.

    A line that one regex per kind accepts (``row_pattern``: no quotes, every field
    valid) is copied as it is, in big chunks, with its line number in front; any
    other record gets the per-column checks, which name each problem.
    """
    columns = [c.name for c in kind.columns]
    conn.execute(
        sql.SQL("CREATE TEMP TABLE staging (line bigint NOT NULL, {}) ON COMMIT DROP").format(
            sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)
        )
    )
    rows = 0
    with _csv_file(path) as (f, dialect):
        reader = csv.reader(f, dialect)
        try:
            header: list[str] = next(reader)
        except StopIteration:
            problems.add(1, "", "", "the file is empty; it needs the header line")
            return 0
        missing = [c for c in columns if c not in header]
        unknown = [h for h in header if h not in columns]
        duplicated = sorted({h for h in header if header.count(h) > 1})
        for name in missing:
            problems.add(1, name, "", "column missing from the header")
        for name in unknown:
            problems.add(1, name, name, f"not a column of {kind.name}")
        for name in duplicated:
            problems.add(1, name, name, "column named twice in the header")
        if missing or unknown or duplicated:
            return 0
        width = len(header)
        plan = [(header.index(c.name), c.name, c.check, c.required) for c in kind.columns]
        needs_row_checks = kind.name == "messages"  # the other row checks run in SQL
        delimiter = dialect.delimiter
        copy_sql = sql.SQL("COPY staging (line, {}) FROM STDIN (FORMAT csv, DELIMITER {})").format(
            sql.SQL(", ").join(map(sql.Identifier, header)), sql.Literal(delimiter)
        )
        checks = [(position, _or_empty(check, required)) for position, _, check, required in plan]
        simple = dialect.quotechar == '"' and not dialect.skipinitialspace and not needs_row_checks
        fast = row_pattern(kind, header, delimiter) if simple else None
        match = fast.fullmatch if fast else (lambda _: None)
        out = io.StringIO()
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        chunk: list[str] = []
        line = reader.line_num
        with conn.cursor().copy(copy_sql) as copy:
            for raw in f:
                line += 1
                body = raw.rstrip("\r\n")
                if match(body):  # the common case: a good, plain line
                    rows += 1
                    chunk.append(f"{line}{delimiter}{body}\n")
                    if len(chunk) >= _LINES_PER_WRITE:
                        if not problems.count:
                            copy.write("".join(chunk))
                        chunk.clear()
                    continue
                if not body:
                    continue  # a blank line
                record = csv.reader(itertools.chain((raw,), f), dialect)
                row = next(record)
                number, line = line, line + record.line_num - 1  # quoted line breaks
                rows += 1
                if len(row) != width:
                    problems.add(number, "", "", f"{len(row)} fields; the header has {width}")
                    continue
                try:
                    values: list[Any] = [check(row[position]) for position, check in checks]
                except ValueError:
                    _row_problems(number, row, plan, problems)
                    continue
                if needs_row_checks:
                    found = row_problems(kind, dict(zip(columns, values, strict=True)))
                    for name, reason in found:
                        problems.add(number, name, row[header.index(name)], reason)
                    if found:
                        continue
                staged: list[Any] = [number, *([None] * width)]
                for (position, _, _, _), value in zip(plan, values, strict=True):
                    staged[position + 1] = value
                writer.writerow(staged)
                chunk.append(out.getvalue())
                out.seek(0)
                out.truncate()
            if chunk and not problems.count:
                copy.write("".join(chunk))
    return rows


_LINES_PER_WRITE = 8192


def _or_empty(check: Check, required: bool) -> Callable[[str], str | None]:
    """*check*, with an empty field meaning NULL (optional) or a problem (required).

    Amounts are staged as text (``240.00``), as the one-regex path copies them.
    """
    if check is money:
        check = _dollars
    if required:

        def required_check(value: str) -> str:
            if not value:
                raise ValueError("required")
            return check(value)

        return required_check
    return lambda value: check(value) if value else None


def _dollars(value: str) -> str:
    cents = int(money(value))
    return f"{cents // 100}.{cents % 100:02d}"


def _row_problems(
    line: int, row: list[str], plan: list[tuple[int, str, Check, bool]], problems: Problems
) -> None:
    """Every problem of a row the fast path refused, one per column."""
    for position, name, check, required in plan:
        value = row[position]
        if not value:
            if required:
                problems.add(line, name, "", "required")
            continue
        try:
            check(value)
        except ValueError as exc:
            problems.add(line, name, value, str(exc))


def _check_staged(conn: psycopg.Connection[Any], kind: Kind, problems: Problems) -> None:
    """Duplicate natural keys and references to rows that do not exist."""
    key = _KEY_EXPRESSIONS.get(kind.name, tuple(f"s.{c}" for c in kind.key))
    shown = " || ' ' || ".join(f"coalesce({k}, '')" for k in key)
    any_twice = conn.execute(  # a hash aggregate; the sort below only when there are some
        f"SELECT EXISTS (SELECT 1 FROM staging s GROUP BY {', '.join(key)} HAVING count(*) > 1)"
    ).fetchone()
    duplicates = []
    if any_twice and any_twice[0]:
        duplicates = conn.execute(
            f"SELECT line, shown, first FROM (SELECT s.line, {shown} AS shown, "
            f"min(s.line) OVER (PARTITION BY {', '.join(key)}) AS first FROM staging s) d "
            f"WHERE line > first ORDER BY line LIMIT {MAX_PROBLEMS_PER_CHECK}"
        ).fetchall()
    for line, value, first in duplicates:
        problems.add(line, "+".join(kind.key), value, f"same {'+'.join(kind.key)} as line {first}")
    for column, condition, reason in _ROW_CHECKS.get(kind.name, []):
        for line, value in conn.execute(
            f"SELECT s.line, s.{column} FROM staging s WHERE {condition} "
            f"ORDER BY s.line LIMIT {MAX_PROBLEMS_PER_CHECK}"
        ):
            problems.add(line, column, value or "", reason)
    for column, condition, reason, extra in _REFERENCES.get(kind.name, []):
        for line, value, more in conn.execute(
            f"SELECT s.line, s.{column}, {extra} FROM staging s WHERE {condition} "
            f"ORDER BY s.line LIMIT {MAX_PROBLEMS_PER_CHECK}"
        ):
            problems.add(line, column, value or "", reason + (more or ""))


_SESSION_SETTINGS = (
    # Memory for this transaction only: the staged file stays in memory instead of
    # spilling to disk (temp_buffers must be set before the session's first temp table),
    # sorts and hashes over a million rows fit, indexes rebuild in one pass.
    "SET LOCAL temp_buffers = '256MB'",
    "SET LOCAL work_mem = '128MB'",
    "SET LOCAL maintenance_work_mem = '256MB'",
)

BULK_ROWS = 20_000
"""From this many rows on, foreign keys are checked once for the file, not once per row."""


@contextmanager
def _foreign_keys_checked_once(
    conn: psycopg.Connection[Any], kind: Kind, rows: int, keys_too: bool = False
) -> Iterator[None]:
    """For a big file, drop the table's foreign keys and plain indexes for the insert, then
    add them back; with *keys_too* (a plain INSERT, no ON CONFLICT) its primary key and
    unique constraints and indexes as well, with the foreign keys that point at it.

    Adding a foreign key back validates every row in one set-based query, and an
    index built once sorts its keys, which is many times faster than PostgreSQL's
    per-row trigger or a million inserts into a B-tree (random UUID keys above all).
    A unique index rebuilt over a duplicate fails with a unique violation, like the
    insert would have. Same transaction: a failure restores everything with the rest.
    The tables are locked (ACCESS EXCLUSIVE) until the commit, as a bulk load should.
    """
    if rows < BULK_ROWS:
        yield
        return
    table = f"{kind.schema}.{kind.table}"
    types = "('f', 'p', 'u')" if keys_too else "('f')"
    constraints = conn.execute(  # (table, name, definition); keys first when added back
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        f"WHERE (conrelid = %s::regclass AND contype IN {types}) "
        "OR (%s AND confrelid = %s::regclass AND contype = 'f') "
        "ORDER BY contype = 'f', conrelid::regclass::text, conname",
        (table, keys_too, table),
    ).fetchall()
    owned = "NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
    unique = "" if keys_too else "AND NOT i.indisunique AND NOT i.indisprimary"
    indexes = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        f"WHERE i.indrelid = %s::regclass AND {owned} {unique}",
        (table,),
    ).fetchall()
    for owner, name, _ in reversed(constraints):  # foreign keys first
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.SQL(owner), sql.Identifier(name)
            )
        )
    for index_name, _ in indexes:  # rebuilt once below: faster than a million inserts into each
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(index_name)))
    yield
    for _, index_definition in indexes:
        conn.execute(sql.SQL(index_definition))
    for owner, name, definition in constraints:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                sql.SQL(owner), sql.Identifier(name)
            )
            + sql.SQL(definition)
        )


def load(
    conn: psycopg.Connection[Any],
    kind: Kind,
    path: Path,
    digest: str,
    file_key: str,
    problems: Problems,
    dry_run: bool = False,
) -> ImportResult:
    """Check and load *path* in one transaction on *conn*; commit only when nothing is wrong."""
    started = time.perf_counter()
    result = ImportResult(kind.name, path.name, digest, "rejected")
    with conn.transaction() as tx:
        for setting in _SESSION_SETTINGS:
            conn.execute(setting)
        recorded = conn.execute(
            "SELECT 1 FROM stack.imports WHERE kind = %s AND sha256 = %s", (kind.name, digest)
        ).fetchone()
        if recorded:
            result.status = "unchanged"
            return result
        result.rows = _stage(conn, kind, path, problems)
        if not problems.count:
            conn.execute("ANALYZE staging")  # a temp table has no statistics until told
            _check_staged(conn, kind, problems)
        if not problems.count:
            try:
                upsert = _overlaps(conn, kind)
                with (
                    conn.transaction(),
                    _foreign_keys_checked_once(conn, kind, result.rows, keys_too=not upsert),
                ):
                    # Hash joins: the planner misjudges the staged rows matching a join
                    # on two columns and would look an index up once per row.
                    conn.execute("SET LOCAL enable_nestloop = off")
                    conn.execute(_insert_sql(kind, upsert))
                    conn.execute("RESET enable_nestloop")
                    if kind.name == "permit-types":
                        for statement in _PERMIT_TYPE_LOTS:
                            conn.execute(statement)
            except psycopg.errors.IntegrityError as exc:
                diag = exc.diag
                problems.add(
                    0,
                    diag.column_name or "",
                    "",
                    f"the database refused a row: {diag.message_primary} "
                    f"({diag.constraint_name or ''}) {diag.message_detail or ''}".strip(),
                )
        result.problems = problems.count
        result.first_problems = problems.first
        if problems.count:
            raise psycopg.Rollback(tx)
        conn.execute(
            "INSERT INTO stack.imports (kind, sha256, file_key, file_name, rows) "
            "VALUES (%s, %s, %s, %s, %s)",
            (kind.name, digest, file_key, path.name, result.rows),
        )
        result.status = "checked" if dry_run else "loaded"
        if dry_run:
            raise psycopg.Rollback(tx)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


# ------------------------------------------------------------------ operations


def import_file(
    stack: PreviewStack,
    kind_name: str,
    path: Path,
    dry_run: bool = False,
    problems_out: IO[str] | None = None,
    progress: Progress = quiet,
) -> ImportResult:
    """Import *path* as *kind_name* into the preview; the file is kept for promote's replay."""
    if not isinstance(stack, PreviewStack):
        raise PreconditionFailed("imports act on preview; production gets them through promote")
    kind = kind_named(kind_name)
    if not path.is_file():
        raise UserInputError(f"{path} is not a file")
    digest = file_sha256(path)
    key = naming.import_file_key(kind.name, digest)
    problems = Problems(problems_out)
    progress(f"  {kind.name}: checking {path.name} (sha256 {digest[:12]}…)")

    def run() -> ImportResult:
        with psycopg.connect(stack.working_url) as conn:
            if not dry_run:
                # Kept before the commit, so a recorded import always has its file.
                _upload(stack, path, key)
            return load(
                conn, kind, path, digest, f"s3://{stack.content.bucket}/{key}", problems, dry_run
            )

    if dry_run:
        return run()
    with client_lock(stack.spec.slug, f"import {kind.name}", preview_lock_region(stack.region)):
        return run()


def _upload(stack: StackHandle, path: Path, key: str) -> None:
    try:
        stack.s3.upload_file(str(path), stack.content.bucket, key)
    except ClientError as exc:
        raise PreconditionFailed(
            f"cannot keep {path.name} in {stack.content.bucket}: {exc}"
        ) from None


def recorded_imports(stack: StackHandle) -> list[dict[str, Any]]:
    """Every import recorded in *stack*'s working database, oldest first."""
    with psycopg.connect(stack.working_url) as conn:
        rows = conn.execute(
            "SELECT kind, sha256, file_key, file_name, rows, imported_at "
            "FROM stack.imports ORDER BY imported_at, kind"
        ).fetchall()
    return [
        {
            "kind": k,
            "sha256": d,
            "fileKey": f,
            "fileName": n,
            "rows": r,
            "importedAt": a.isoformat(),
        }
        for k, d, f, n, r, a in rows
    ]


def imports_recorded(stack: StackHandle, kinds: tuple[str, ...] | None = None) -> bool:
    """Whether any import (of *kinds*, default all) is recorded (rollout: "imports done")."""
    return any(kinds is None or r["kind"] in kinds for r in recorded_imports(stack))


def pending_replays(preview: StackHandle, production: StackHandle) -> list[dict[str, Any]]:
    """Old-system data files recorded in preview and not yet in production, in replay order."""
    done = set()
    if production.database.exists(production.working_database):
        done = {(r["kind"], r["sha256"]) for r in recorded_imports(production)}
    data = [r for r in recorded_imports(preview) if r["kind"] in DATA_ORDER]
    data.sort(key=lambda r: (DATA_ORDER.index(r["kind"]), r["importedAt"]))
    return [r for r in data if (r["kind"], r["sha256"]) not in done]


def replay_imports(
    preview: StackHandle, production: StackHandle, progress: Progress = quiet
) -> str:
    """Load into production every old-system file preview recorded; resumable file by file."""
    todo = pending_replays(preview, production)
    for record in todo:
        kind = KINDS[record["kind"]]
        key = naming.import_file_key(kind.name, record["sha256"])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / record["fileName"]
            preview.s3.download_file(preview.content.bucket, key, str(path))
            if file_sha256(path) != record["sha256"]:
                raise PreconditionFailed(
                    f"s3://{preview.content.bucket}/{key} does not match its hash"
                )
            problems = Problems()
            with psycopg.connect(production.working_url) as conn:
                result = load(conn, kind, path, record["sha256"], record["fileKey"], problems)
        if result.status == "rejected":
            first = problems.first[0] if problems.first else {}
            raise PreconditionFailed(
                f"replaying {kind.name} {record['fileName']} into production failed: "
                f"{problems.count} problem(s); line {first.get('line')}: {first.get('reason')}"
            )
        progress(f"    {result.summary}")
    return f"{len(todo)} old-system file(s) replayed" if todo else "no old-system data to replay"
