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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infra.core import naming
from infra.core.errors import TenantctlError

DATABASE_URL_ENV = "TENANTCTL_DATABASE_URL"
"""The one setting that names a PostgreSQL server directly (admin URL): local target, tunnel."""


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


def connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


# ---------------------------------------------------------------------- server


class StackDatabases:
    """One stack's databases on its PostgreSQL server (needs CREATEDB).

    Bound to the stack: the working, defaults and undo names come from
    ``infra.core.naming`` once, here. Holds a URL with credentials: never print it.
    """

    def __init__(self, admin_url: str, slug: str, stage: naming.Stage) -> None:
        self.admin_url = admin_url
        self.slug = slug
        self.stage = stage
        self.working = naming.database_name(slug, stage)
        self.defaults = naming.defaults_database_name(slug, stage)
        self.undo = naming.undo_database_name(slug, stage)

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
        try:
            with connect(self.url(staging)) as db, db.transaction():
                db.execute(schema_sql.encode())
                db.execute(seed_sql.encode())
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
        return True

    def reset_working(self) -> dict[str, float]:
        """Working back to the template; the old working database becomes the undo.

        Returns seconds per step: ``terminate``, ``drop_undo``, ``rename``, ``create``.
        """
        working = self.working
        undo = self.undo
        defaults = self.defaults
        timings: dict[str, float] = {}

        def step(name: str, started: float) -> None:
            timings[name] = round(time.perf_counter() - started, 4)

        with self._admin() as conn:
            self._require_defaults(conn)
            had_working = exists(conn, working)
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
                    f"could not recreate {working} from {defaults}: {error_message(exc)}; "
                    f"{working} is as it was"
                ) from exc
            step("create", started)
        return timings

    def undo_reset(self) -> None:
        """Put the undo database back as the working database (there is then no undo)."""
        working = self.working
        undo = self.undo
        with self._admin() as conn:
            if not exists(conn, undo):
                raise DatabaseStateError(
                    f"there is no {undo} to restore: nothing was reset since the last undo"
                )
            if exists(conn, working):
                _close_sessions(conn, working)
                _drop(conn, working)
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(_ident(undo), _ident(working))
            )
            _allow_connections(conn, working)

    def _require_defaults(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        if not exists(conn, self.defaults):
            raise DatabaseStateError(
                f"the defaults template {self.defaults} does not exist; "
                f"run `tenantctl create {self.slug}` to seed it"
            )


def exists(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone() is not None
    )


def _drop(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> None:
    if not exists(conn, db):
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


def error_message(exc: psycopg.Error) -> str:
    diag = exc.diag
    text = diag.message_primary or str(exc).strip()
    return f"{text} ({diag.message_detail})" if diag.message_detail else text


# ---------------------------------------------------------------- config tables
