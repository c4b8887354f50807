"""A stack's databases and config promotion against a real PostgreSQL 15 (the suite's cluster)."""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Any

import psycopg
import pytest

from infra.core import naming
from infra.ops.adapters import database
from infra.ops.adapters.config_tables import (
    config_tables,
    copy_config,
    read_config,
    rollback_config,
)
from infra.ops.adapters.database import DatabaseStateError, StackDatabases, database_url

# permit_types is created before lots on purpose: config_tables must order by keys, not text.
SCHEMA = """
CREATE SCHEMA config;
CREATE SCHEMA activity;
CREATE TABLE config.settings (key text PRIMARY KEY, value text);
CREATE TABLE config.permit_types (
    code text PRIMARY KEY,
    name text NOT NULL,
    lot_code text NOT NULL,
    price_cents integer NOT NULL
);
CREATE TABLE config.lots (code text PRIMARY KEY, name text NOT NULL, capacity integer);
ALTER TABLE config.permit_types ADD FOREIGN KEY (lot_code)
    REFERENCES config.lots (code) DEFERRABLE INITIALLY IMMEDIATE;
CREATE TABLE activity.permits (
    id bigserial PRIMARY KEY,
    permit_type text NOT NULL REFERENCES config.permit_types (code) DEFERRABLE INITIALLY IMMEDIATE,
    plate text NOT NULL
);
"""
SEED = """
INSERT INTO config.settings VALUES ('org.name', 'Demo University'), ('currency', 'USD');
INSERT INTO config.lots VALUES ('A', 'Lot A', 100), ('B', 'Lot B', 50);
INSERT INTO config.permit_types VALUES
    ('STD', 'Standard', 'A', 12000), ('EV', 'Electric', 'B', 15000);
"""
SLUG = "acme"


def query(url: str, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(text.encode() if not params else text, params or None)
        return cur.fetchall() if cur.description else []


def execute(url: str, text: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(text.encode())


@pytest.fixture
def server(pg_env: str) -> StackDatabases:
    return StackDatabases(pg_env, SLUG, naming.PREVIEW)


@pytest.fixture
def preview(server: StackDatabases) -> str:
    """A seeded preview stack; returns the working database URL."""
    server.seed_defaults(SCHEMA, SEED)
    server.create_working()
    return server.url(server.working)


@pytest.fixture
def production(pg_env: str) -> str:
    databases = StackDatabases(pg_env, SLUG, naming.PRODUCTION)
    databases.seed_defaults(SCHEMA, SEED)
    databases.create_working()
    return databases.url(databases.working)


def config_of(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        return read_config(conn)


# ------------------------------------------------------------------ templates


def test_seed_defaults_makes_a_template(server: StackDatabases) -> None:
    server.seed_defaults(SCHEMA, SEED)

    defaults = naming.defaults_database_name(SLUG, naming.PREVIEW)
    rows = query(
        server.admin_url, "SELECT datistemplate FROM pg_database WHERE datname = %s", (defaults,)
    )
    assert rows == [(True,)]


def test_a_fresh_working_database_equals_the_defaults(server: StackDatabases, preview: str):
    assert server.working_equals_defaults()


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE config.lots SET capacity = capacity + 1 WHERE code = 'A'",  # one value
        "UPDATE config.lots SET capacity = capacity - 1 WHERE code = 'A';"
        "UPDATE config.lots SET capacity = capacity + 1 WHERE code = 'B'",  # sums would cancel
        "INSERT INTO activity.permits (permit_type, plate) VALUES ('STD', 'X1');"
        "DELETE FROM activity.permits",  # rows back as they were; the sequence moved on
        "ALTER TABLE config.lots ALTER COLUMN capacity SET DEFAULT 10",  # schema only
        "CREATE INDEX lots_name ON config.lots (name)",  # schema only
    ],
)
def test_any_change_to_the_working_database_is_seen_without_statistics(
    server: StackDatabases, preview: str, change: str, monkeypatch: pytest.MonkeyPatch
):
    execute(preview, change)
    # Statistics saying "no writes" (late, or lost in a crash): only the compare can tell.
    monkeypatch.setattr(database, "_WRITES_COUNTED", "SELECT 0")

    assert not server.working_equals_defaults()


def test_written_counts_alone_say_changed(server: StackDatabases, preview: str):
    execute(preview, "UPDATE config.lots SET capacity = capacity WHERE code = 'A'")  # same values
    deadline = 50
    while server.working_equals_defaults() and deadline:  # statistics arrive within a second
        threading.Event().wait(0.1)
        deadline -= 1
    assert not server.working_equals_defaults()


def test_an_unreachable_working_database_is_not_called_equal(server: StackDatabases) -> None:
    assert not server.working_equals_defaults()  # no databases at all: an error, so False


def test_reset_working_ends_sessions_on_the_template(server: StackDatabases, preview: str) -> None:
    reader = psycopg.connect(server.url(naming.defaults_database_name(SLUG, naming.PREVIEW)))

    server.reset_working("r1")

    assert query(preview, "SELECT count(*) FROM config.lots") == [(2,)]
    reader.close()


def test_seed_defaults_failure_keeps_the_old_template(server: StackDatabases, preview: str) -> None:
    with pytest.raises(DatabaseStateError, match="old template is unchanged"):
        server.seed_defaults(SCHEMA, SEED + "INSERT INTO nowhere VALUES (1);")

    server.reset_working("r2")
    assert query(preview, "SELECT count(*) FROM config.lots") == [(2,)]


def test_create_working_is_idempotent(server: StackDatabases) -> None:
    server.seed_defaults(SCHEMA, SEED)

    assert server.create_working() is True
    assert server.create_working() is False


def test_exists_names_databases(server: StackDatabases, preview: str) -> None:
    assert server.exists(naming.database_name(SLUG, naming.PREVIEW))
    assert not server.exists(naming.database_name(SLUG, naming.PRODUCTION))


def test_database_url_replaces_only_the_database() -> None:
    url = "postgresql://admin:s3cret@db.example.com:5432/postgres?sslmode=require"

    assert database_url(url, "acme_preview") == (
        "postgresql://admin:s3cret@db.example.com:5432/acme_preview?sslmode=require"
    )


# ---------------------------------------------------------------------- reset


def test_reset_working_restores_defaults_and_keeps_the_edited_db_as_undo(
    server: StackDatabases, preview: str
) -> None:
    execute(preview, "UPDATE config.lots SET capacity = 7 WHERE code = 'A'")
    execute(preview, "INSERT INTO activity.permits (permit_type, plate) VALUES ('STD', 'ABC123')")

    timings = server.reset_working("r3")

    assert set(timings) == {"build", "swap", "cleanup"}
    assert query(preview, "SELECT code, capacity FROM config.lots ORDER BY code") == [
        ("A", 100),
        ("B", 50),
    ]
    assert query(preview, "SELECT count(*) FROM activity.permits") == [(0,)]
    undo = naming.undo_database_name(SLUG, naming.PREVIEW)
    execute(server.admin_url, f"ALTER DATABASE {undo} WITH ALLOW_CONNECTIONS true")
    assert query(server.url(undo), "SELECT capacity FROM config.lots WHERE code = 'A'") == [(7,)]


def test_undo_reset_restores_the_edits(server: StackDatabases, preview: str) -> None:
    execute(preview, "UPDATE config.lots SET capacity = 7 WHERE code = 'A'")
    server.reset_working("r4")

    server.undo_reset()

    assert query(preview, "SELECT capacity FROM config.lots WHERE code = 'A'") == [(7,)]
    assert not server.exists(server.undo)


def test_undo_reset_without_a_reset_fails(server: StackDatabases, preview: str) -> None:
    with pytest.raises(DatabaseStateError, match="acme_preview_undo"):
        server.undo_reset()


def test_reset_working_ends_open_sessions(server: StackDatabases, preview: str) -> None:
    session = psycopg.connect(preview, autocommit=True)
    idle_in_transaction = psycopg.connect(preview)
    idle_in_transaction.execute("SELECT * FROM config.lots FOR UPDATE")

    server.reset_working("r5")

    for conn in (session, idle_in_transaction):
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        conn.close()
    assert query(preview, "SELECT count(*) FROM config.lots") == [(2,)]


def test_reset_working_without_defaults_fails(server: StackDatabases) -> None:
    with pytest.raises(DatabaseStateError, match="acme_preview_defaults does not exist"):
        server.reset_working("r6")


def test_reset_working_keeps_refusing_connections_while_it_runs(
    server: StackDatabases, preview: str
) -> None:
    """A client that keeps reconnecting cannot make the rename fail."""
    stop = threading.Event()

    def reconnect() -> None:
        while not stop.is_set():
            with contextlib.suppress(psycopg.OperationalError):
                psycopg.connect(preview, connect_timeout=1).close()

    worker = threading.Thread(target=reconnect)
    worker.start()
    try:
        for _ in range(3):
            server.reset_working("r7")
    finally:
        stop.set()
        worker.join()
    assert query(preview, "SELECT count(*) FROM config.lots") == [(2,)]


# -------------------------------------------------------------- config tables


def test_config_tables_lists_referenced_tables_first(preview: str) -> None:
    with psycopg.connect(preview) as conn:
        assert config_tables(conn) == ["lots", "settings", "permit_types"]


def test_read_config_keys_rows_by_primary_key(preview: str) -> None:
    assert config_of(preview)["permit_types"] == {
        "EV": ("EV", "Electric", "B", 15000),
        "STD": ("STD", "Standard", "A", 12000),
    }


# ------------------------------------------------------------------ promotion


def test_copy_config_carries_config_rows_and_leaves_activity_alone(
    preview: str, production: str
) -> None:
    execute(preview, "UPDATE config.lots SET capacity = 80 WHERE code = 'A'")
    execute(preview, "INSERT INTO config.lots VALUES ('C', 'Lot C', 10)")
    execute(preview, "DELETE FROM config.settings WHERE key = 'currency'")
    execute(preview, "INSERT INTO activity.permits (permit_type, plate) VALUES ('STD', 'TEST1')")
    execute(production, "INSERT INTO activity.permits (permit_type, plate) VALUES ('EV', 'LIVE1')")

    counts = copy_config(preview, production, "p1")

    assert counts == {"lots": 3, "settings": 1, "permit_types": 2}
    assert config_of(production) == config_of(preview)
    assert query(production, "SELECT plate FROM activity.permits") == [("LIVE1",)]


def test_copy_config_run_again_with_the_same_id_changes_nothing(
    preview: str, production: str
) -> None:
    execute(preview, "UPDATE config.lots SET capacity = 80 WHERE code = 'A'")
    first = copy_config(preview, production, "p1")
    execute(preview, "UPDATE config.lots SET capacity = 1 WHERE code = 'A'")

    again = copy_config(preview, production, "p1")

    assert again == first
    assert query(production, "SELECT capacity FROM config.lots WHERE code = 'A'") == [(80,)]


def test_rollback_config_restores_the_previous_config(preview: str, production: str) -> None:
    before = config_of(production)
    execute(preview, "UPDATE config.lots SET capacity = 80 WHERE code = 'A'")
    execute(preview, "INSERT INTO config.settings VALUES ('portal.banner', 'Hi')")
    copy_config(preview, production, "p1")

    rollback_config(production, "p1")

    assert config_of(production) == before


def test_copy_config_after_rollback_with_the_same_id_is_refused(
    preview: str, production: str
) -> None:
    copy_config(preview, production, "p1")
    rollback_config(production, "p1")

    with pytest.raises(DatabaseStateError, match="rolled back"):
        copy_config(preview, production, "p1")


def test_copy_config_violating_a_deferred_key_leaves_production_unchanged(
    preview: str, production: str
) -> None:
    execute(production, "INSERT INTO activity.permits (permit_type, plate) VALUES ('EV', 'LIVE1')")
    execute(preview, "DELETE FROM config.permit_types WHERE code = 'EV'")
    execute(preview, "UPDATE config.lots SET capacity = 80 WHERE code = 'A'")
    before = config_of(production)

    with pytest.raises(DatabaseStateError, match="production configuration is unchanged"):
        copy_config(preview, production, "p1")

    assert config_of(production) == before
    assert query(production, "SELECT plate, permit_type FROM activity.permits") == [("LIVE1", "EV")]


def test_copy_config_refuses_cascading_foreign_keys(preview: str, production: str) -> None:
    execute(
        production,
        "CREATE TABLE activity.notes (lot text REFERENCES config.lots ON DELETE CASCADE)",
    )

    with pytest.raises(DatabaseStateError, match=re.escape("activity.notes")):
        copy_config(preview, production, "p1")


def test_copy_config_refuses_tables_of_different_shape(preview: str, production: str) -> None:
    execute(production, "ALTER TABLE config.lots ADD COLUMN colour text")

    with pytest.raises(DatabaseStateError, match="lots"):
        copy_config(preview, production, "p1")


# ------------------------------------------------------------ real templates


def test_seed_defaults_accepts_the_rendered_demo_schema_and_seed(
    server: StackDatabases,
) -> None:
    from infra.core.rendering import render_db_schema, render_db_seed
    from tests.helpers import demo_spec

    urls = {}
    for stage in naming.STAGES:
        databases = StackDatabases(server.admin_url, "demo", stage)
        databases.seed_defaults(render_db_schema(), render_db_seed(demo_spec(stage)))
        databases.create_working()
        urls[stage] = databases.url(databases.working)
    preview_url, production_url = urls[naming.PREVIEW], urls[naming.PRODUCTION]

    counts = copy_config(preview_url, production_url, "demo-1")

    assert set(counts) == set(config_of(preview_url))
    assert all(n > 0 for n in counts.values()), counts
    assert config_of(production_url) == config_of(preview_url)
