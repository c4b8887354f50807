"""The control database: where rollouts, their history, milestones and the outbox live.

One setting, ``TENANTCTL_CONTROL_DATABASE_URL``, names it (on the local target a
database on the same PostgreSQL server; in AWS the platform provides it). The
schema is the ordered SQL files in ``migrations/``; ``migrate`` applies the ones
not yet applied, each in its own transaction, recorded in ``schema_migrations``,
under a PostgreSQL advisory lock so that two runners never apply one twice.
Every connection made by ``connect`` first brings the schema up to date.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources

import psycopg

from infra.core.errors import DependencyUnreachable, EnvironmentProblem

CONTROL_DATABASE_URL_ENV = "TENANTCTL_CONTROL_DATABASE_URL"
CONTROL_DATABASE_NAME = "tenantctl_control"
"""The database the local target creates for it."""

_MIGRATION_LOCK = 0x7E4A_C7_10
"""pg_advisory_lock key shared by every migration runner."""
_NAME = re.compile(r"^(?P<version>\d{4})_[a-z0-9_]+\.sql\Z")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The migrations shipped in the package, in order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(match["version"], entry.name, entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


def configured() -> bool:
    return bool(os.environ.get(CONTROL_DATABASE_URL_ENV))


def control_url() -> str:
    url = os.environ.get(CONTROL_DATABASE_URL_ENV)
    if not url:
        raise EnvironmentProblem(
            f"no control database: set {CONTROL_DATABASE_URL_ENV} (the local target's env file "
            "sets it; in AWS the platform provides it)"
        )
    return url


def migrate(url: str) -> list[str]:
    """Apply the migrations *url* lacks; return their names. Safe to run concurrently."""
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in migrations():
                if migration.version in applied:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                applied_now.append(migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return applied_now


def _up_to_date(conn: psycopg.Connection) -> bool:
    latest = migrations()[-1].version
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not (row and row[0]):
        return False
    found = conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (latest,)).fetchone()
    return found is not None


@contextmanager
def connect(url: str | None = None) -> Iterator[psycopg.Connection]:
    """A connection to the control database, its schema brought up to date first.

    In autocommit mode: every change is made inside an explicit ``conn.transaction()``,
    which is then a real transaction (never a savepoint of an implicit one).
    """
    url = url or control_url()
    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        # Named here, not by the shared translator: that one names the stage databases'
        # setting, and a person fixing the wrong setting at go-live loses time.
        reason = " ".join(str(exc).split())[:200]
        raise DependencyUnreachable(
            f"could not reach the control database ({reason}); check the server and "
            f"{CONTROL_DATABASE_URL_ENV}, then re-run"
        ) from exc
    try:
        if not _up_to_date(conn):
            migrate(url)
        yield conn
    finally:
        conn.close()
