"""A stack's PostgreSQL server: defaults template, working database, undo, config promotion.

Per stack (names from ``infra.naming``):

- ``<slug>_<stage>_defaults`` is a template database seeded from ``templates/db``;
- ``<slug>_<stage>`` is the working database, created from the template;
- ``<slug>_<stage>_undo`` is the working database as it was before the last reset.

A reset renames the working database to the undo name and clones the template
into a new working database, so it costs the same whatever the size of the
data it replaces. Promotion copies schema ``config`` (never ``activity``) in one
transaction on the destination, keeping the previous rows in schema
``config_rollback`` and recording itself in ``tenantctl.promotions``.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Json

from infra.core import naming
from infra.core.errors import TenantctlError

DATABASE_URL_ENV = "TENANTCTL_DATABASE_URL"
"""The one setting that names a PostgreSQL server directly (admin URL): local target, tunnel."""

CONFIG_SCHEMA = "config"
"""Configuration tables: what promotion carries."""
ACTIVITY_SCHEMA = "activity"
"""Transactional tables (permits, violations, payments): never promoted."""
ROLLBACK_SCHEMA = "config_rollback"
"""Production's configuration as it was before the last promotion."""
STATE_SCHEMA = naming.TOOL
PROMOTIONS_TABLE = "promotions"

CREATE_STRATEGY = "WAL_LOG"
"""How CREATE DATABASE clones the defaults template (~7.5 MB, mostly catalogs).

Measured on PostgreSQL 15, 2 cores, a reset with a busy working database,
median of 8: with fsync on, WAL_LOG 0.33 s and FILE_COPY 0.41 s per reset
(FILE_COPY's two checkpoints flush whatever the server has dirtied); with
fsync off FILE_COPY wins slightly (0.23 s vs 0.29 s). Real servers run with
fsync on, so WAL_LOG."""

TERMINATE_WAIT_MS = 5000
CONNECT_TIMEOUT_S = 10
_LOCK_KEY = zlib.crc32(f"{naming.TOOL}.promote".encode())


class DatabaseStateError(TenantctlError):
    """The databases are not in the state an operation needs (nothing was changed)."""


# ------------------------------------------------------------------------- URLs


def database_url(admin_url: str, dbname: str) -> str:
    """*admin_url* with its database replaced by *dbname* (URL or ``key=value`` form)."""
    if "://" in admin_url:
        parts = urlsplit(admin_url)
        return urlunsplit(parts._replace(path="/" + dbname))
    return make_conninfo(admin_url, dbname=dbname)


def _connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


# ---------------------------------------------------------------------- server


class DatabaseServer:
    """Database-level operations on one PostgreSQL server (needs CREATEDB)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def __repr__(self) -> str:
        return "DatabaseServer(<url hidden>)"

    def url(self, dbname: str) -> str:
        return database_url(self.admin_url, dbname)

    @contextmanager
    def _admin(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        with _connect(self.admin_url) as conn:
            yield conn

    def exists(self, db: str) -> bool:
        with self._admin() as conn:
            return _exists(conn, db)

    def has_undo(self, slug: str, stage: naming.Stage) -> bool:
        return self.exists(naming.undo_database_name(slug, stage))

    def seed_defaults(self, slug: str, stage: naming.Stage, schema_sql: str, seed_sql: str) -> None:
        """(Re)build the defaults template from *schema_sql* then *seed_sql*.

        The new template is built under a staging name and only replaces the
        old one once both scripts succeeded, so a broken seed never leaves the
        stack without a template to reset from.
        """
        defaults = naming.defaults_database_name(slug, stage)
        staging = f"{defaults}_next"
        with self._admin() as conn:
            _drop(conn, staging)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(_ident(staging)))
        try:
            with _connect(self.url(staging)) as db, db.transaction():
                db.execute(schema_sql.encode())
                db.execute(seed_sql.encode())
        except psycopg.Error as exc:
            with self._admin() as conn:
                _drop(conn, staging)
            raise DatabaseStateError(
                f"seeding {defaults} failed, the old template is unchanged: {_message(exc)}"
            ) from exc
        with self._admin() as conn:
            _drop(conn, defaults)
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(_ident(staging), _ident(defaults))
            )
            # Readable (dry runs and tests compare against it); _create_from ends
            # readers' sessions, since CREATE DATABASE ... TEMPLATE fails while any exist.
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true").format(_ident(defaults))
            )

    def create_working(self, slug: str, stage: naming.Stage) -> bool:
        """Create the working database from the template; ``False`` if it already exists."""
        working = naming.database_name(slug, stage)
        with self._admin() as conn:
            if _exists(conn, working):
                return False
            self._require_defaults(conn, slug, stage)
            _create_from(conn, working, naming.defaults_database_name(slug, stage))
        return True

    def reset_working(self, slug: str, stage: naming.Stage) -> dict[str, float]:
        """Working back to the template; the old working database becomes the undo.

        Returns seconds per step: ``terminate``, ``drop_undo``, ``rename``, ``create``.
        """
        working = naming.database_name(slug, stage)
        undo = naming.undo_database_name(slug, stage)
        defaults = naming.defaults_database_name(slug, stage)
        timings: dict[str, float] = {}

        def step(name: str, started: float) -> None:
            timings[name] = round(time.perf_counter() - started, 4)

        with self._admin() as conn:
            self._require_defaults(conn, slug, stage)
            had_working = _exists(conn, working)
            started = time.perf_counter()
            if had_working:
                _close_sessions(conn, working)
            step("terminate", started)

            started = time.perf_counter()
            _drop(conn, undo)
            step("drop_undo", started)

            started = time.perf_counter()
            if had_working:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(_ident(working), _ident(undo))
                )
            step("rename", started)

            started = time.perf_counter()
            try:
                _create_from(conn, working, defaults)
            except psycopg.Error as exc:
                if had_working:  # put the application's database back where it was
                    conn.execute(
                        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                            _ident(undo), _ident(working)
                        )
                    )
                    _allow_connections(conn, working)
                raise DatabaseStateError(
                    f"could not recreate {working} from {defaults}: {_message(exc)}; "
                    f"{working} is as it was"
                ) from exc
            step("create", started)
        return timings

    def undo_reset(self, slug: str, stage: naming.Stage) -> None:
        """Put the undo database back as the working database (there is then no undo)."""
        working = naming.database_name(slug, stage)
        undo = naming.undo_database_name(slug, stage)
        with self._admin() as conn:
            if not _exists(conn, undo):
                raise DatabaseStateError(
                    f"there is no {undo} to restore: nothing was reset since the last undo"
                )
            if _exists(conn, working):
                _close_sessions(conn, working)
                _drop(conn, working)
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(_ident(undo), _ident(working))
            )
            _allow_connections(conn, working)

    def _require_defaults(
        self, conn: psycopg.Connection[tuple[Any, ...]], slug: str, stage: naming.Stage
    ) -> None:
        defaults = naming.defaults_database_name(slug, stage)
        if not _exists(conn, defaults):
            raise DatabaseStateError(
                f"the defaults template {defaults} does not exist; "
                f"run `tenantctl create {slug}` to seed it"
            )

    # Promotion lives on the server object too, so callers holding a stack's
    # DatabaseServer need nothing else.
    def copy_config(self, src_url: str, dst_url: str, promotion_id: str) -> dict[str, int]:
        return copy_config(src_url, dst_url, promotion_id)

    def rollback_config(self, dst_url: str, promotion_id: str) -> dict[str, int]:
        return rollback_config(dst_url, promotion_id)


def _exists(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone() is not None
    )


def _drop(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> None:
    if not _exists(conn, db):
        return
    conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(_ident(db)))
    conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(_ident(db)))


def _create_from(conn: psycopg.Connection[tuple[Any, ...]], db: str, template: str) -> None:
    _terminate(conn, template)
    conn.execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY {}").format(
            _ident(db), _ident(template), sql.SQL(CREATE_STRATEGY)
        )
    )


def _close_sessions(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> None:
    """Refuse new connections to *db*, then end the open ones and wait for them to go."""
    conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(_ident(db)))
    _terminate(conn, db)


def _terminate(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> None:
    conn.execute(
        "SELECT pg_terminate_backend(pid, %s) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (TERMINATE_WAIT_MS, db),
    )


def _allow_connections(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> None:
    conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(_ident(db)))


def _message(exc: psycopg.Error) -> str:
    diag = exc.diag
    text = diag.message_primary or str(exc).strip()
    return f"{text} ({diag.message_detail})" if diag.message_detail else text


# ---------------------------------------------------------------- config tables


@dataclass(frozen=True)
class TableInfo:
    name: str
    oid: int
    columns: tuple[str, ...]
    types: tuple[str, ...]
    primary_key: tuple[str, ...]


def _table_infos(conn: psycopg.Connection[Any], schema: str = CONFIG_SCHEMA) -> list[TableInfo]:
    """Tables of *schema*, parents before children (foreign-key order, ties by name)."""
    rows = conn.execute(
        """
        SELECT c.relname, c.oid::int,
               array_agg(a.attname::text ORDER BY a.attnum),
               array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum),
               coalesce((
                   SELECT array_agg(pa.attname::text
                                    ORDER BY array_position(i.indkey::int2[], pa.attnum))
                   FROM pg_index i
                   JOIN pg_attribute pa ON pa.attrelid = i.indrelid AND pa.attnum = ANY(i.indkey)
                   WHERE i.indrelid = c.oid AND i.indisprimary
               ), '{}')
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                           AND a.attgenerated = ''
        WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        GROUP BY c.relname, c.oid
        """,
        (schema,),
    ).fetchall()
    infos = {
        name: TableInfo(name, oid, tuple(cols), tuple(types), tuple(pk))
        for name, oid, cols, types, pk in rows
    }
    edges = conn.execute(
        """
        SELECT child.relname, parent.relname
        FROM pg_constraint con
        JOIN pg_class child ON child.oid = con.conrelid
        JOIN pg_class parent ON parent.oid = con.confrelid
        WHERE con.contype = 'f'
          AND child.relnamespace = %s::regnamespace AND parent.relnamespace = %s::regnamespace
        """,
        (schema, schema),
    ).fetchall()
    parents: dict[str, set[str]] = {name: set() for name in infos}
    for child, parent in edges:
        if child != parent and child in parents and parent in infos:
            parents[child].add(parent)
    ordered: list[str] = []
    while parents:
        ready = sorted(t for t, ps in parents.items() if not ps)
        if not ready:  # a cycle: deferred constraints make any order work
            ready = sorted(parents)
        for table in ready:
            del parents[table]
        for ps in parents.values():
            ps.difference_update(ready)
        ordered.extend(ready)
    return [infos[name] for name in ordered]


def config_tables(conn: psycopg.Connection[Any]) -> list[str]:
    """Every table in schema ``config``, referenced tables before the tables referencing them."""
    return [t.name for t in _table_infos(conn)]


def read_config(conn: psycopg.Connection[Any]) -> dict[str, dict[Hashable, tuple[Any, ...]]]:
    """``{table: {primary_key: row}}`` for every config table (rows as column tuples)."""
    snapshot: dict[str, dict[Hashable, tuple[Any, ...]]] = {}
    for info in _table_infos(conn):
        if not info.primary_key:
            raise DatabaseStateError(f"table {CONFIG_SCHEMA}.{info.name} has no primary key")
        positions = [info.columns.index(c) for c in info.primary_key]
        query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
            sql.SQL(", ").join(map(_ident, info.columns)),
            sql.Identifier(CONFIG_SCHEMA, info.name),
            sql.SQL(", ").join(map(_ident, info.primary_key)),
        )
        rows: dict[Hashable, tuple[Any, ...]] = {}
        with conn.cursor() as cur:
            for row in cur.execute(query):
                key = row[positions[0]] if len(positions) == 1 else tuple(row[p] for p in positions)
                rows[key] = tuple(row)
        snapshot[info.name] = rows
    return snapshot


# ------------------------------------------------------------------- promotion


def _ensure_state(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        sql.SQL(
            """
            CREATE SCHEMA IF NOT EXISTS {schema};
            CREATE TABLE IF NOT EXISTS {table} (
                id text PRIMARY KEY,
                promoted_at timestamptz NOT NULL DEFAULT now(),
                counts json NOT NULL,
                rolled_back_at timestamptz
            )
            """
        ).format(schema=_ident(STATE_SCHEMA), table=sql.Identifier(STATE_SCHEMA, PROMOTIONS_TABLE))
    )


def _promotion(conn: psycopg.Connection[Any], promotion_id: str) -> tuple[Any, ...] | None:
    return conn.execute(
        sql.SQL("SELECT counts, rolled_back_at FROM {} WHERE id = %s").format(
            sql.Identifier(STATE_SCHEMA, PROMOTIONS_TABLE)
        ),
        (promotion_id,),
    ).fetchone()


def _check_foreign_keys(conn: psycopg.Connection[Any]) -> None:
    """Every key referencing a config table must be deferrable NO ACTION.

    Promotion deletes and re-inserts config rows inside one transaction; a
    cascading, SET NULL or immediate key would change or block activity rows.
    """
    bad = conn.execute(
        """
        SELECT con.conrelid::regclass::text, con.conname
        FROM pg_constraint con
        WHERE con.contype = 'f' AND con.confrelid IN (
            SELECT oid FROM pg_class WHERE relnamespace = %s::regnamespace)
          AND (NOT con.condeferrable OR con.confdeltype <> 'a' OR con.confupdtype <> 'a')
        ORDER BY 1, 2
        """,
        (CONFIG_SCHEMA,),
    ).fetchall()
    if bad:
        names = ", ".join(f"{table}.{name}" for table, name in bad)
        raise DatabaseStateError(
            f"foreign keys {names} must be DEFERRABLE with no ON DELETE/UPDATE action "
            "for configuration to be promoted; fix templates/db/schema.sql"
        )


def _check_same_tables(src: list[TableInfo], dst: list[TableInfo]) -> None:
    shape_src = {t.name: list(zip(t.columns, t.types, strict=True)) for t in src}
    shape_dst = {t.name: list(zip(t.columns, t.types, strict=True)) for t in dst}
    if shape_src != shape_dst:
        differ = sorted(
            name
            for name in set(shape_src) | set(shape_dst)
            if shape_src.get(name) != shape_dst.get(name)
        )
        raise DatabaseStateError(
            f"preview and production config tables differ in shape ({', '.join(differ)}); "
            "migrate both to the same schema before promoting"
        )


def _delete_all(conn: psycopg.Connection[Any], tables: list[TableInfo]) -> None:
    conn.execute("SET CONSTRAINTS ALL DEFERRED")
    for info in reversed(tables):
        conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(CONFIG_SCHEMA, info.name)))


def _sync_sequences(conn: psycopg.Connection[Any], tables: list[TableInfo]) -> None:
    """Serial/identity sequences past the copied keys, so the next insert does not collide."""
    for info in tables:
        qualified = f"{_quote(CONFIG_SCHEMA)}.{_quote(info.name)}"
        for column in info.columns:
            seq = conn.execute(
                "SELECT pg_get_serial_sequence(%s, %s)", (qualified, column)
            ).fetchone()
            if seq is None or seq[0] is None:
                continue
            conn.execute(
                sql.SQL(
                    "SELECT setval(%s, coalesce(max({c}), 1), max({c}) IS NOT NULL) FROM {t}"
                ).format(c=_ident(column), t=sql.Identifier(CONFIG_SCHEMA, info.name)),
                (seq[0],),
            )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_list(info: TableInfo) -> sql.Composable:
    return sql.SQL(", ").join(map(_ident, info.columns))


def copy_config(src_conn_url: str, dst_conn_url: str, promotion_id: str) -> dict[str, int]:
    """Replace the destination's config rows with the source's, in one transaction.

    Returns rows copied per table. Resumable: when *promotion_id* is already
    recorded in the destination, returns the recorded counts and changes
    nothing. Activity tables are never touched; a source that lacks a config
    row an activity row needs fails the commit and leaves everything as it was.
    """
    try:
        with _connect(src_conn_url) as src, _connect(dst_conn_url) as dst:
            src.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            src.read_only = True
            with dst.transaction(), src.transaction():
                dst.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                _ensure_state(dst)
                done = _promotion(dst, promotion_id)
                if done is not None:
                    counts, rolled_back_at = done
                    if rolled_back_at is not None:
                        raise DatabaseStateError(
                            f"promotion {promotion_id} was rolled back at {rolled_back_at}; "
                            "start a new promotion"
                        )
                    return {str(k): int(v) for k, v in counts.items()}
                tables = _table_infos(dst)
                _check_same_tables(_table_infos(src), tables)
                _check_foreign_keys(dst)
                _snapshot_for_rollback(dst, tables, promotion_id)
                _delete_all(dst, tables)
                counts = {}
                with dst.cursor() as dcur, src.cursor() as scur:
                    for info in tables:
                        cols = _column_list(info)
                        table = sql.Identifier(CONFIG_SCHEMA, info.name)
                        with (
                            scur.copy(
                                sql.SQL(
                                    "COPY (SELECT {} FROM {}) TO STDOUT (FORMAT BINARY)"
                                ).format(cols, table)
                            ) as out,
                            dcur.copy(
                                sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
                                    table, cols
                                )
                            ) as into,
                        ):
                            for chunk in out:
                                into.write(chunk)
                        counts[info.name] = dcur.rowcount
                _sync_sequences(dst, tables)
                dst.execute(
                    sql.SQL("INSERT INTO {} (id, counts) VALUES (%s, %s)").format(
                        sql.Identifier(STATE_SCHEMA, PROMOTIONS_TABLE)
                    ),
                    (promotion_id, Json(counts)),
                )
                dst.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check now, with a clear error
    except psycopg.errors.IntegrityError as exc:
        raise DatabaseStateError(
            f"promotion {promotion_id} not applied, production configuration is unchanged: "
            f"{_message(exc)}"
        ) from exc
    return counts


def _snapshot_for_rollback(
    conn: psycopg.Connection[Any], tables: list[TableInfo], promotion_id: str
) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(_ident(ROLLBACK_SCHEMA)))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(_ident(ROLLBACK_SCHEMA)))
    conn.execute(
        sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
            _ident(ROLLBACK_SCHEMA), sql.Literal(promotion_id)
        )
    )
    for info in tables:
        conn.execute(
            sql.SQL("CREATE TABLE {} AS SELECT {} FROM {}").format(
                sql.Identifier(ROLLBACK_SCHEMA, info.name),
                _column_list(info),
                sql.Identifier(CONFIG_SCHEMA, info.name),
            )
        )


def rollback_config(dst_url: str, promotion_id: str) -> dict[str, int]:
    """Restore the config rows *promotion_id* replaced, in one transaction.

    Returns rows restored per table; ``{}`` when it was already rolled back.
    """
    try:
        with _connect(dst_url) as dst, dst.transaction():
            dst.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            _ensure_state(dst)
            done = _promotion(dst, promotion_id)
            if done is None:
                raise DatabaseStateError(f"promotion {promotion_id} was never applied here")
            if done[1] is not None:
                return {}
            owner = dst.execute(
                "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
                (ROLLBACK_SCHEMA,),
            ).fetchone()
            if owner is None or owner[0] != promotion_id:
                raise DatabaseStateError(
                    f"the rollback point of promotion {promotion_id} is gone "
                    f"(schema {ROLLBACK_SCHEMA} belongs to {owner[0] if owner else 'nothing'})"
                )
            tables = _table_infos(dst)
            _delete_all(dst, tables)
            counts: dict[str, int] = {}
            for info in tables:
                cur = dst.execute(
                    sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}").format(
                        sql.Identifier(CONFIG_SCHEMA, info.name),
                        _column_list(info),
                        _column_list(info),
                        sql.Identifier(ROLLBACK_SCHEMA, info.name),
                    )
                )
                counts[info.name] = cur.rowcount
            _sync_sequences(dst, tables)
            dst.execute(
                sql.SQL("UPDATE {} SET rolled_back_at = now() WHERE id = %s").format(
                    sql.Identifier(STATE_SCHEMA, PROMOTIONS_TABLE)
                ),
                (promotion_id,),
            )
            dst.execute("SET CONSTRAINTS ALL IMMEDIATE")
    except psycopg.errors.IntegrityError as exc:
        raise DatabaseStateError(
            f"rollback of promotion {promotion_id} not applied, configuration is unchanged: "
            f"{_message(exc)}"
        ) from exc
    return counts
