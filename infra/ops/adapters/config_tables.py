"""Configuration tables: what promotion carries from preview to production.

Promotion copies schema ``config`` (never ``activity``) in one transaction on
the destination, keeping the previous rows in schema ``config_rollback`` and
recording itself in ``tenantctl.promotions``, so a retry with the same
promotion id changes nothing and a rollback restores exactly what was there.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Json

from infra.core import naming
from infra.ops.adapters.database import DatabaseStateError, connect, error_message

CONFIG_SCHEMA = "config"
"""Configuration tables: what promotion carries."""
ACTIVITY_SCHEMA = "activity"
"""Transactional tables (permits, violations, payments): never promoted."""
ROLLBACK_SCHEMA = "config_rollback"
"""Production's configuration as it was before the last promotion."""
STATE_SCHEMA = naming.TOOL
PROMOTIONS_TABLE = "promotions"

_LOCK_KEY = zlib.crc32(f"{naming.TOOL}.promote".encode())


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
            sql.SQL(", ").join(map(sql.Identifier, info.columns)),
            sql.Identifier(CONFIG_SCHEMA, info.name),
            sql.SQL(", ").join(map(sql.Identifier, info.primary_key)),
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
        ).format(
            schema=sql.Identifier(STATE_SCHEMA),
            table=sql.Identifier(STATE_SCHEMA, PROMOTIONS_TABLE),
        )
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
                ).format(c=sql.Identifier(column), t=sql.Identifier(CONFIG_SCHEMA, info.name)),
                (seq[0],),
            )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_list(info: TableInfo) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, info.columns))


def copy_config(src_conn_url: str, dst_conn_url: str, promotion_id: str) -> dict[str, int]:
    """Replace the destination's config rows with the source's, in one transaction.

    Returns rows copied per table. Resumable: when *promotion_id* is already
    recorded in the destination, returns the recorded counts and changes
    nothing. Activity tables are never touched; a source that lacks a config
    row an activity row needs fails the commit and leaves everything as it was.
    """
    try:
        with connect(src_conn_url) as src, connect(dst_conn_url) as dst:
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
            f"{error_message(exc)}"
        ) from exc
    return counts


def _snapshot_for_rollback(
    conn: psycopg.Connection[Any], tables: list[TableInfo], promotion_id: str
) -> None:
    conn.execute(
        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(ROLLBACK_SCHEMA))
    )
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(ROLLBACK_SCHEMA)))
    conn.execute(
        sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
            sql.Identifier(ROLLBACK_SCHEMA), sql.Literal(promotion_id)
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
        with connect(dst_url) as dst, dst.transaction():
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
            f"{error_message(exc)}"
        ) from exc
    return counts
