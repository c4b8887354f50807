"""A stack's PostgreSQL server: defaults template, working database, undo, config promotion.

Per stack (names from ``infra.core.naming``):

- ``<slug>_<stage>_defaults`` is a template database seeded from ``templates/db``;
- ``<slug>_<stage>`` is the working database, created from the template;
- ``<slug>_<stage>_undo`` is the working database as it was before the last reset.

On a shared pool server (a pooled preview) the stack also has its own login role
(``naming.database_role_name``): every database of the stack refuses ``PUBLIC``
and admits that role only (``CREATE DATABASE`` never copies these grants from
the template, so each database is restricted as it is made), and the tables are
granted to it, so no tenant on the server can reach another's data.

A reset renames the working database to the undo name and clones the template
into a new working database, so it costs the same whatever the size of the
data it replaces. Promotion copies schema ``config`` (never ``activity``) in one
transaction on the destination, keeping the previous rows in schema
``config_rollback`` and recording itself in ``tenantctl.promotions``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from infra.core import naming
from infra.core.errors import EnvironmentProblem, TenantctlError
from infra.ops.adapters.checkpoints import checkpoint

DATABASE_URL_ENV = "TENANTCTL_DATABASE_URL"
"""The one setting that names a PostgreSQL server directly (admin URL): local target, tunnel."""

POOL_URLS_ENV = "TENANTCTL_POOL_DATABASE_URLS"
"""Optional, beside ``TENANTCTL_DATABASE_URL``: a JSON object naming pool servers directly,
``{"<pool>": "<admin URL>"}`` (a second local server, or tunnels to several pools). A pooled
stack on a pool named here uses that URL; every other stack ``TENANTCTL_DATABASE_URL``."""


def pool_url(pool: str) -> str | None:
    """The admin URL ``TENANTCTL_POOL_DATABASE_URLS`` gives *pool*, or ``None``."""
    text = os.environ.get(POOL_URLS_ENV)
    if not text:
        return None
    try:
        urls = json.loads(text)
    except json.JSONDecodeError:
        urls = None
    if not isinstance(urls, dict) or not all(isinstance(v, str) for v in urls.values()):
        raise EnvironmentProblem(
            f"{POOL_URLS_ENV} must be a JSON object of pool name -> PostgreSQL URL; fix or unset it"
        )
    url: str | None = urls.get(pool)
    return url


CREATE_STRATEGY = "WAL_LOG"
"""How CREATE DATABASE clones the defaults template (~7.5 MB, mostly catalogs).

Measured on PostgreSQL 15, 2 cores, a reset with a busy working database,
median of 8: with fsync on, WAL_LOG 0.33 s and FILE_COPY 0.41 s per reset
(FILE_COPY's two checkpoints flush whatever the server has dirtied); with
fsync off FILE_COPY wins slightly (0.23 s vs 0.29 s). Real servers run with
fsync on, so WAL_LOG."""

TERMINATE_WAIT_MS = 5000
CONNECT_TIMEOUT_S = 10


class DatabaseStateError(TenantctlError):
    """The databases are not in the state an operation needs (nothing was changed)."""


# ------------------------------------------------------------------------- URLs


def database_url(admin_url: str, dbname: str) -> str:
    """*admin_url* with its database replaced by *dbname* (URL or ``key=value`` form)."""
    if "://" in admin_url:
        parts = urlsplit(admin_url)
        return urlunsplit(parts._replace(path="/" + dbname))
    return make_conninfo(admin_url, dbname=dbname)


CONNECT_ATTEMPTS = 3
"""Connection attempts before PostgreSQL counts as unreachable (exit 5)."""


@retry(
    retry=retry_if_exception_type(psycopg.OperationalError),
    stop=stop_after_attempt(CONNECT_ATTEMPTS),
    wait=wait_exponential(multiplier=0.25, max=2),
    reraise=True,
)
def connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection; a refused or dropped connect is retried with backoff."""
    return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


# ---------------------------------------------------------------------- server


class StackDatabases:
    """One stack's databases on its PostgreSQL server (needs CREATEDB).

    Bound to the stack: the working, defaults and undo names come from
    ``infra.core.naming`` once, here. Holds a URL with credentials: never print it.
    """

    def __init__(
        self, admin_url: str, slug: str, stage: naming.Stage, role: str | None = None
    ) -> None:
        self.admin_url = admin_url
        self.slug = slug
        self.stage = stage
        self.role = role
        """The stack's own login role on a pool server; ``None`` on a dedicated instance."""
        self.working = naming.database_name(slug, stage)
        self.defaults = naming.defaults_database_name(slug, stage)
        self.undo = naming.undo_database_name(slug, stage)
        self.staging = f"{self.working}_next"
        """Where a reset builds the new working database before swapping it in."""
        self.trash = f"{self.working}_old"
        """Where a swap puts the copy it discards, dropped once the swap committed."""

    def __repr__(self) -> str:
        return f"StackDatabases({self.working}, <url hidden>)"

    def url(self, dbname: str) -> str:
        return database_url(self.admin_url, dbname)

    @contextmanager
    def _admin(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        with connect(self.admin_url) as conn:
            yield conn

    def exists(self, db: str) -> bool:
        with self._admin() as conn:
            return exists(conn, db)

    def seed_defaults(self, schema_sql: str, seed_sql: str) -> None:
        """(Re)build the defaults template from *schema_sql* then *seed_sql*.

        The new template is built under a staging name and only replaces the
        old one once both scripts succeeded, so a broken seed never leaves the
        stack without a template to reset from.
        """
        defaults = self.defaults
        staging = f"{defaults}_next"
        with self._admin() as conn:
            _drop(conn, staging)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(_ident(staging)))
            self._restrict(conn, staging)
        try:
            with connect(self.url(staging)) as db, db.transaction():
                db.execute(schema_sql.encode())
                db.execute(seed_sql.encode())
                self._grant_tables(db)
        except psycopg.Error as exc:
            with self._admin() as conn:
                _drop(conn, staging)
            raise DatabaseStateError(
                f"seeding {defaults} failed, the old template is unchanged: {error_message(exc)}"
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

    def create_working(self) -> bool:
        """Create the working database from the template; ``False`` if it already exists."""
        working = self.working
        with self._admin() as conn:
            if exists(conn, working):
                return False
            self._require_defaults(conn)
            _create_from(conn, working, self.defaults)
            self._restrict(conn, working)
        return True

    def reset_working(
        self, reset_id: str, fill: Callable[[str], object] | None = None
    ) -> dict[str, float]:
        """Working back to the template; the old working database becomes the undo.

        Crash-safe: the new working database is built under ``<working>_next``
        while the old one keeps serving, then one transaction renames the old
        undo away, the old working database to the undo name and the new one to
        the working name, and marks it with *reset_id* (a database comment).
        At every instant the working name holds the old or the new database;
        the previous undo is discarded only once the new state is complete. A
        re-run with the same *reset_id* after the swap does nothing.

        *fill*, when given, is called with the URL of the new database after it
        is built and before the swap (training data goes in there), so a kill
        before the swap leaves the old working database serving.

        Returns seconds per step: ``build``, ``fill``, ``swap``, ``cleanup``.
        """
        timings: dict[str, float] = {}

        def step(name: str, started: float) -> None:
            timings[name] = round(time.perf_counter() - started, 4)

        mark = reset_mark(reset_id)
        with self._admin() as conn:
            self._require_defaults(conn)
            if comment(conn, self.working) == mark:
                _drop(conn, self.trash)
                return {"already": 0.0}
            started = time.perf_counter()
            _drop(conn, self.staging)
            _create_from(conn, self.staging, self.defaults)
            self._restrict(conn, self.staging)
            step("build", started)
            checkpoint("reset-built")
            if fill is not None:
                started = time.perf_counter()
                fill(self.url(self.staging))
                step("fill", started)
                checkpoint("reset-filled")

            started = time.perf_counter()
            had_working = exists(conn, self.working)

            def swap() -> None:
                with conn.transaction():
                    if exists(conn, self.undo):
                        _rename(conn, self.undo, self.trash)
                    if had_working:
                        _rename(conn, self.working, self.undo)
                    _rename(conn, self.staging, self.working)
                    _comment_on(conn, self.working, mark)

            try:
                _swap_retrying(conn, (self.working, self.undo), swap)
            except psycopg.Error as exc:
                _drop(conn, self.staging)
                raise DatabaseStateError(
                    f"could not swap in a new {self.working}: {error_message(exc)}; "
                    f"{self.working} is as it was"
                ) from exc
            step("swap", started)
            checkpoint("reset-swapped")
            started = time.perf_counter()
            _drop(conn, self.trash)
            step("cleanup", started)
        return timings

    def working_equals_defaults(self) -> bool:
        """Whether the working database still holds exactly the defaults template.

        ``False`` as soon as anything differs, cheapest first: writes counted in
        the working database since it was made (statistics can be late or lost,
        so only a count above zero is trusted), the schema (columns and their
        defaults, constraints, indexes, views, triggers), then table by table the
        rows (count and an order-free sum of row hashes: constant memory at any
        size), then sequence values. Any database error is also ``False``: the
        caller then does the full reset it would have done anyway.
        """
        try:
            with connect(self.url(self.working)) as work, connect(self.url(self.defaults)) as base:
                if work.execute(_WRITES_COUNTED).fetchone() != (0,):
                    return False
                if _catalog(work) != _catalog(base):
                    return False
                for schema, table in work.execute(_TABLES).fetchall():
                    if _table_digest(work, schema, table) != _table_digest(base, schema, table):
                        return False
                return bool(
                    work.execute(_SEQUENCES).fetchall() == base.execute(_SEQUENCES).fetchall()
                )
        except psycopg.Error:
            return False

    def working_digest(self) -> str | None:
        """``digest`` of the working database; ``None`` when it cannot be read."""
        try:
            return digest(self.url(self.working))
        except psycopg.Error:
            return None

    def reset_done(self, reset_id: str) -> bool:
        """Whether the working database is the one the reset *reset_id* swapped in."""
        with self._admin() as conn:
            return comment(conn, self.working) == reset_mark(reset_id)

    def undo_reset(self, reset_id: str = "") -> bool:
        """Put the undo database back as the working database (there is then no undo).

        One transaction renames the working database away and the undo copy in
        its place, so the working name is never empty. ``False`` when the undo
        of *reset_id* already happened (a re-run after an interrupted undo).
        """
        mark = undo_mark(reset_id) if reset_id else None
        with self._admin() as conn:
            if mark and comment(conn, self.working) == mark:
                _drop(conn, self.trash)
                return False
            if not exists(conn, self.undo):
                raise DatabaseStateError(
                    f"there is no {self.undo} to restore: nothing was reset since the last undo"
                )
            _drop(conn, self.trash)

            def swap() -> None:
                with conn.transaction():
                    if exists(conn, self.working):
                        _rename(conn, self.working, self.trash)
                    _rename(conn, self.undo, self.working)
                    _comment_on(conn, self.working, mark)

            _swap_retrying(conn, (self.working, self.undo), swap)
            checkpoint("undo-swapped")
            _drop(conn, self.trash)
        return True

    def recover(self) -> list[str]:
        """Repair what an interrupted reset or undo left behind; what was repaired.

        Run under the client's lock, so nothing else is building: the staging
        copy and the discarded copy are dropped, and a database refusing
        connections (left so by an older tenantctl) accepts them again.
        """
        repaired: list[str] = []
        with self._admin() as conn:
            for db in (self.staging, self.trash):
                if exists(conn, db):
                    _drop(conn, db)
                    repaired.append(f"dropped leftover {db}")
            for db in (self.working, self.undo):
                row = conn.execute(
                    "SELECT datallowconn FROM pg_database WHERE datname = %s", (db,)
                ).fetchone()
                if row is not None and not row[0]:
                    _allow_connections(conn, db)
                    repaired.append(f"{db} accepts connections again")
        return repaired

    # ---- a pooled stack's own role

    def _restrict(self, conn: psycopg.Connection[tuple[Any, ...]], db: str) -> None:
        """*db* refuses every role but the stack's own (and the server's master user, its
        owner); nothing on a dedicated instance."""
        if self.role is None:
            return
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(_ident(db)))
        conn.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                _ident(db), _ident(self.role)
            )
        )

    def _grant_tables(self, db: psycopg.Connection[tuple[Any, ...]]) -> None:
        """The stack's role may read and write every table of the database *db* is open on
        (copied with the database when it is a template)."""
        if self.role is None:
            return
        role = _ident(self.role)
        for (schema,) in db.execute(_SCHEMAS).fetchall():
            name = _ident(schema)
            db.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(name, role))
            db.execute(
                sql.SQL(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}"
                ).format(name, role)
            )
            db.execute(
                sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                    name, role
                )
            )

    def ensure_role(self, password: str) -> bool:
        """The stack's login role exists with *password*; ``True`` when it was created.

        The password is sent as a SCRAM-SHA-256 verifier computed here (libpq's
        ``PQencryptPasswordConn``), so it never reaches the server's statement log."""
        if self.role is None:
            raise ValueError("a dedicated instance has no stack role")  # a programming error
        with self._admin() as conn:
            verifier = conn.pgconn.encrypt_password(
                password.encode(), self.role.encode(), b"scram-sha-256"
            ).decode()
            created = not role_exists(conn, self.role)
            verb = "CREATE ROLE {} LOGIN PASSWORD {}" if created else "ALTER ROLE {} PASSWORD {}"
            conn.execute(sql.SQL(verb).format(_ident(self.role), sql.Literal(verifier)))
        return created

    def ensure_access(self) -> list[str]:
        """Every existing database of the stack restricted to its role, its tables granted;
        the databases it did that for. Idempotent (post-provision runs it every deploy)."""
        if self.role is None:
            return []
        done: list[str] = []
        with self._admin() as conn:
            present = [db for db in (self.defaults, self.working, self.undo) if exists(conn, db)]
            for db in present:
                self._restrict(conn, db)
        for db in present:
            with connect(self.url(db)) as database, database.transaction():
                self._grant_tables(database)
            done.append(db)
        return done

    # ---- moving a stack's databases to another server

    @property
    def all_databases(self) -> tuple[str, ...]:
        """What a move carries, the template first."""
        return (self.defaults, self.working, self.undo)

    def existing(self) -> list[str]:
        with self._admin() as conn:
            return [db for db in self.all_databases if exists(conn, db)]

    def freeze(self) -> list[str]:
        """No one but the master user may connect to the stack's databases any more (a move
        copies them next); sessions on them are ended. The databases it froze."""
        frozen: list[str] = []
        with self._admin() as conn:
            for db in self.all_databases:
                if not exists(conn, db):
                    continue
                conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(_ident(db)))
                if self.role is not None and role_exists(conn, self.role):
                    conn.execute(
                        sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
                            _ident(db), _ident(self.role)
                        )
                    )
                _terminate(conn, db)
                frozen.append(db)
        return frozen

    def copy_to(self, target: StackDatabases, db: str, schema_sql: str, mark: str) -> bool:
        """Copy *db* into the same name on *target*'s server; ``False`` when a run of the
        move *mark* already did.

        Built under ``<db>_moving`` from *schema_sql* (the schema the stack was created
        with, ``templates/db``), filled table by table with ``COPY`` (binary) in one
        transaction with constraints deferred, sequences set, restricted to the target's
        role, then renamed into place and marked: an interrupted copy is started over,
        a finished one is never repeated."""
        moving = f"{db}_moving"
        with target._admin() as conn:
            if comment(conn, db) == mark:
                return False
            if exists(conn, db):
                raise DatabaseStateError(
                    f"the target server already has a database {db} that this move did not "
                    "make; nothing was moved (remove it or choose another pool)"
                )
            _drop(conn, moving)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(_ident(moving)))
            # Closed to every other tenant of the server from the start, even before the
            # stack's role exists there (a preview leaving its own instance gets it at deploy).
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(_ident(moving)))
            target._restrict(conn, moving)
        with (
            connect(self.url(db)) as source,
            connect(target.url(moving)) as copy,
            copy.transaction(),
        ):
            copy.execute(schema_sql.encode())
            copy.execute("SET CONSTRAINTS ALL DEFERRED")
            for schema, table in source.execute(_TABLES).fetchall():
                _copy_table(source, copy, schema, table)
            for schema, sequence, last in source.execute(_SEQUENCES).fetchall():
                if last is not None:
                    copy.execute(
                        "SELECT setval(%s::regclass, %s, true)",
                        (sql.Identifier(schema, sequence).as_string(copy), last),
                    )
            target._grant_tables(copy)
        template = db == self.defaults
        with target._admin() as conn:
            _rename(conn, moving, db)
            _comment_on(conn, db, mark)
            if template:
                conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true").format(_ident(db)))
        return True

    def drop_all(self) -> list[str]:
        """Drop every database of the stack here (after a move copied them); what was dropped."""
        dropped: list[str] = []
        with self._admin() as conn:
            for db in (*self.all_databases, self.staging, self.trash):
                if exists(conn, db):
                    _drop(conn, db)
                    dropped.append(db)
        return dropped

    def _require_defaults(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        if not exists(conn, self.defaults):
            raise DatabaseStateError(
                f"the defaults template {self.defaults} does not exist; "
                f"run `tenantctl create {self.slug}` to seed it"
            )


def role_exists(conn: psycopg.Connection[tuple[Any, ...]], role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def _copy_table(
    source: psycopg.Connection[tuple[Any, ...]],
    target: psycopg.Connection[tuple[Any, ...]],
    schema: str,
    table: str,
) -> None:
    """Every row of *schema*.*table* from *source* into the same table on *target*, by the
    source's column names (generated columns are computed again)."""
    columns = [
        row[0]
        for row in source.execute(
            "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
            "AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
            "ORDER BY a.attnum",
            (schema, table),
        ).fetchall()
    ]
    names = sql.SQL(", ").join(_ident(c) for c in columns)
    relation = sql.Identifier(schema, table)
    out = sql.SQL("COPY {} ({}) TO STDOUT (FORMAT binary)").format(relation, names)
    into = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(relation, names)
    try:
        with source.cursor().copy(out) as reader, target.cursor().copy(into) as writer:
            for chunk in reader:
                writer.write(chunk)
    except psycopg.Error as exc:
        raise DatabaseStateError(
            f"could not copy {schema}.{table}: {error_message(exc)}; nothing on the target "
            "server is in use yet, re-run the move"
        ) from exc


def exists(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone() is not None
    )


_USER_SCHEMAS = "NOT IN ('pg_catalog', 'information_schema') AND {col} NOT LIKE 'pg\\_%'"

_WRITES_COUNTED = (
    "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::int FROM pg_stat_user_tables"
)

_TABLES = f"""
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname {_USER_SCHEMAS.format(col="n.nspname")}
    ORDER BY 1, 2
"""

_CATALOG = (
    f"""SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
              a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
         AND n.nspname {_USER_SCHEMAS.format(col="n.nspname")}
       ORDER BY 1, 2, a.attnum""",
    f"""SELECT n.nspname, t.relname, c.conname, pg_get_constraintdef(c.oid)
       FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       WHERE n.nspname {_USER_SCHEMAS.format(col="n.nspname")} ORDER BY 1, 2, 3""",
    f"""SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
       WHERE schemaname {_USER_SCHEMAS.format(col="schemaname")} ORDER BY 1, 2, 3""",
    f"""SELECT schemaname, viewname, definition FROM pg_views
       WHERE schemaname {_USER_SCHEMAS.format(col="schemaname")} ORDER BY 1, 2""",
    f"""SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid)
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE NOT t.tgisinternal AND n.nspname {_USER_SCHEMAS.format(col="n.nspname")}
       ORDER BY 1, 2, 3""",
)

_SEQUENCES = "SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2"

_SCHEMAS = f"""SELECT nspname FROM pg_namespace
    WHERE nspname {_USER_SCHEMAS.format(col="nspname")} ORDER BY 1"""


def digest(url: str) -> str:
    """One SHA-256 of everything ``working_equals_defaults`` compares (schema, each table's
    rows, sequence values) of the database at *url*: equal digests, equal contents."""
    found = hashlib.sha256()
    with connect(url) as conn:
        found.update(repr(_catalog(conn)).encode())
        for schema, table in conn.execute(_TABLES).fetchall():
            found.update(repr((schema, table, _table_digest(conn, schema, table))).encode())
        found.update(repr(conn.execute(_SEQUENCES).fetchall()).encode())
    return found.hexdigest()


def _catalog(conn: psycopg.Connection[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
    """The user schema's definitions that a reset restores along with the rows."""
    return [conn.execute(query).fetchall() for query in _CATALOG]


def _table_digest(
    conn: psycopg.Connection[tuple[Any, ...]], schema: str, table: str
) -> tuple[Any, ...] | None:
    """Row count and an order-free sum of 64-bit row hashes (constant memory)."""
    return conn.execute(
        sql.SQL(
            "SELECT count(*), coalesce(sum(('x' || left(md5(ROW(tenantctl_row.*)::text), 16))"
            "::bit(64)::bigint::numeric), 0) FROM {}.{} AS tenantctl_row"
        ).format(_ident(schema), _ident(table))
    ).fetchone()


def _drop(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> None:
    if not exists(conn, db):
        return
    conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(_ident(db)))
    conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(_ident(db)))


def reset_mark(reset_id: str) -> str:
    return f"tenantctl reset {reset_id}"


def undo_mark(reset_id: str) -> str:
    return f"tenantctl undo {reset_id}"


def comment(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> str | None:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (db,)
    ).fetchone()
    return row[0] if row else None


def _comment_on(conn: psycopg.Connection[tuple[Any, ...]], db: str, text: str | None) -> None:
    conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(_ident(db), sql.Literal(text)))


def _rename(conn: psycopg.Connection[tuple[Any, ...]], old: str, new: str) -> None:
    conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(_ident(old), _ident(new)))


SWAP_ATTEMPTS = 10


def _swap_retrying(
    conn: psycopg.Connection[tuple[Any, ...]], busy: tuple[str, ...], swap: Callable[[], None]
) -> None:
    """End the sessions on *busy*, then *swap*; again while a client reconnects in between.

    Renaming needs a database nobody is connected to. Sessions are ended rather
    than refused (``ALLOW_CONNECTIONS false``), so no crash can leave a database
    that refuses connections.
    """
    for attempt in range(SWAP_ATTEMPTS):
        for db in busy:
            if exists(conn, db):
                _terminate(conn, db)
        try:
            swap()
            return
        except psycopg.errors.ObjectInUse:
            if attempt == SWAP_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _create_from(conn: psycopg.Connection[tuple[Any, ...]], db: str, template: str) -> None:
    _terminate(conn, template)
    conn.execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY {}").format(
            _ident(db), _ident(template), sql.SQL(CREATE_STRATEGY)
        )
    )


def _terminate(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> None:
    conn.execute(
        "SELECT pg_terminate_backend(pid, %s) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (TERMINATE_WAIT_MS, db),
    )


def _allow_connections(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> None:
    conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(_ident(db)))


def error_message(exc: psycopg.Error) -> str:
    diag = exc.diag
    text = diag.message_primary or str(exc).strip()
    return f"{text} ({diag.message_detail})" if diag.message_detail else text


# ---------------------------------------------------------------- config tables
