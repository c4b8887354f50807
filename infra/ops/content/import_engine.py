"""The import engine: one CSV file checked and loaded in one transaction, whole or not at all.

One pass over the file, streamed (never held): each row is checked
(``infra.core.import_kinds``; a plain line by one regex per kind) and, while no
problem has been found, written by COPY into a temporary staging table. Then, in
the same transaction, natural keys are checked for duplicates and references for
existence (SQL against the staged rows, ``infra.ops.content.import_sql``), and only
when no problem was found anywhere is the staging table inserted into its table by
natural key (``INSERT ... ON CONFLICT``, or a plain ``INSERT`` when no staged key is
in the table yet) and the file recorded in ``stack.imports`` by (kind, SHA-256). Any
problem: the transaction is rolled back, nothing is written. Same file again:
nothing happens.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from infra.core.errors import LocalIOError
from infra.core.import_kinds import (
    Check,
    Kind,
    money,
    row_pattern,
    row_problems,
)
from infra.ops.content.import_sql import (
    KEY_EXPRESSIONS,
    OVERLAP,
    PERMIT_TYPE_LOTS,
    REFERENCES,
    ROW_CHECKS,
    SESSION_SETTINGS,
    insert_sql,
)

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


def _overlaps(conn: psycopg.Connection[Any], kind: Kind) -> bool:
    """Whether a staged natural key is in the table already (True when not known)."""
    join = OVERLAP.get(kind.name)
    if join is None:
        return True
    return bool(conn.execute(f"SELECT EXISTS (SELECT 1 FROM {join})").fetchone()[0])  # type: ignore[index]


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


def stage(conn: psycopg.Connection[Any], kind: Kind, path: Path, problems: Problems) -> int:
    """``_stage``: *path* checked and copied into the temp table ``staging`` (dropped at
    commit) on *conn*, as ``load`` reads it; verify's import reconciliation reads it too."""
    return _stage(conn, kind, path, problems)


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
    key = KEY_EXPRESSIONS.get(kind.name, tuple(f"s.{c}" for c in kind.key))
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
    for column, condition, reason in ROW_CHECKS.get(kind.name, []):
        for line, value in conn.execute(
            f"SELECT s.line, s.{column} FROM staging s WHERE {condition} "
            f"ORDER BY s.line LIMIT {MAX_PROBLEMS_PER_CHECK}"
        ):
            problems.add(line, column, value or "", reason)
    for column, condition, reason, extra in REFERENCES.get(kind.name, []):
        for line, value, more in conn.execute(
            f"SELECT s.line, s.{column}, {extra} FROM staging s WHERE {condition} "
            f"ORDER BY s.line LIMIT {MAX_PROBLEMS_PER_CHECK}"
        ):
            problems.add(line, column, value or "", reason + (more or ""))


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
        for setting in SESSION_SETTINGS:
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
                    conn.execute(insert_sql(kind, upsert))
                    conn.execute("RESET enable_nestloop")
                    if kind.name == "permit-types":
                        for statement in PERMIT_TYPE_LOTS:
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
