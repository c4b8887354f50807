"""Built once per test process, restored for every later test: the state fixtures' steps.

A state fixture (the demo client created, then edited; the control database) builds
state on the three systems a test sees: the moto server this process runs, this
process's PostgreSQL cluster, and a folder. Each test gets that state afresh, as if
built for it alone. Building it through the real commands costs seconds (a ``create``
is about 2 s here); the first test of each process does, and ``Steps.run`` keeps what
the step left, to restore for the next test that runs the same step from the same state:

- moto: every backend of this process (moto serves from them), pickled; a copy for
  each test is unpickled (a few ms). Registries, functions and immutable key and
  certificate objects are kept by reference; locks are made anew; dict subclasses are
  rebuilt from their raw items (moto's override how an item is set).
- PostgreSQL: each database copied once into a template (``CREATE DATABASE ...
  TEMPLATE``, names starting ``SNAPSHOT_PREFIX``, which ``pg_env`` keeps), then cloned
  back with its template flag, connection flag and comment.
- the folder: its files.

A step restores only from a known state: a pristine one (moto as ``aws_env`` left it, no
database but the system ones and the templates) or exactly what the previous step left (moto's
pickle unchanged byte for byte, the same databases). Anything else (a fixture that is
not a step changed something in between) builds for real and keeps nothing, so a
restore is never a guess. The key is the chain of steps from the pristine state, each
with its arguments and the ``AWS_*``/``TENANTCTL_*`` environment it ran in (a variable
naming the step's folder counts as naming "the folder", wherever the test's is).

``TENANTCTL_TEST_FRESH_STATE=1`` builds every step for real (slow; to rule this
module out). tests/test_snapshots.py checks a restore against a real build.
"""

from __future__ import annotations

import io
import itertools
import os
import pickle
import shutil
import threading
import types
import uuid
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from moto.core.base_backend import AccountSpecificBackend, BackendDict, backend_lock
from moto.core.model_instances import reset_model_data
from psycopg import sql

from infra.ops.adapters.database import DATABASE_URL_ENV

SNAPSHOT_PREFIX = "zz_snapshot_"
"""Template copies of the databases a step left; the per-test cleanup keeps them."""
SYSTEM_DATABASES = ("postgres", "template0", "template1")
FRESH_ENV = "TENANTCTL_TEST_FRESH_STATE"
_ENV_PREFIXES = ("AWS_", "TENANTCTL_")
FOLDER = "<the step's folder>"

READY_STEP = "edit preview, stage live credentials, ready the domain"
"""The step of conftest's ``ready`` (named here for tests/test_snapshots.py)."""

Key = tuple[Any, ...]
T = TypeVar("T")


# ------------------------------------------------------------------------ moto


class _Pickler(pickle.Pickler):
    """moto's backends, by value, except what must stay shared or cannot be pickled."""

    def __init__(self, file: io.BytesIO, shared: list[Any]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared = shared

    def persistent_id(self, obj: Any) -> int | None:
        # The registries are moto's own (a copy would be a detached one); lambdas cannot
        # be pickled; cryptography's keys and certificates are immutable and unpicklable.
        if isinstance(obj, BackendDict | AccountSpecificBackend | types.FunctionType) or (
            type(obj).__module__.startswith("cryptography.")
        ):
            self.shared.append(obj)
            return len(self.shared) - 1
        return None

    def reducer_override(self, obj: Any) -> Any:
        # A dict subclass is rebuilt from its raw items: moto's override __setitem__ (s3's
        # versioned key store appends a version on each) or __init__ (ssm's ParameterDict).
        if isinstance(obj, dict) and not isinstance(obj, OrderedDict):
            factory = obj.default_factory if isinstance(obj, defaultdict) else None
            state = (list(dict.items(obj)), getattr(obj, "__dict__", {}))
            return _new_dict, (type(obj), factory), state, None, None, _fill_dict
        # A lock (sqs queues have one) is made anew, unheld, for each copy.
        if type(obj) in _LOCK_TYPES:
            return _LOCK_TYPES[type(obj)], ()
        return NotImplemented


_LOCK_TYPES: dict[type, Callable[[], Any]] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
}


def _new_dict(cls: type[dict[Any, Any]], factory: Any) -> dict[Any, Any]:
    made = dict.__new__(cls)
    if isinstance(made, defaultdict):
        defaultdict.__init__(made, factory)
    return made


def _fill_dict(made: dict[Any, Any], state: tuple[list[Any], dict[str, Any]]) -> None:
    items, attrs = state
    dict.update(made, items)
    if attrs:
        made.__dict__.update(attrs)


@dataclass(frozen=True)
class _Moto:
    data: bytes
    shared: list[Any]

    def load(self) -> list[tuple[Any, str, str, Any]]:
        unpickler = pickle.Unpickler(io.BytesIO(self.data))
        unpickler.persistent_load = self.shared.__getitem__  # type: ignore[assignment]
        loaded: list[tuple[Any, str, str, Any]] = unpickler.load()
        return loaded


def _moto_backends() -> list[tuple[Any, str, str, Any]]:
    return [
        (backends, account, region, backend)
        for backends in BackendDict._instances
        for account, in_account in backends.items()
        for region, backend in in_account.items()
    ]


def _moto_dump() -> _Moto:
    shared: list[Any] = []
    buffer = io.BytesIO()
    with backend_lock:
        _Pickler(buffer, shared).dump(_moto_backends())
    return _Moto(buffer.getvalue(), shared)


def _moto_restore(saved: _Moto) -> None:
    """What moto's reset does, then the saved backends put back in their registries."""
    BackendDict.reset()
    reset_model_data()
    for backends, account, region, backend in saved.load():
        in_account = backends[account]  # made and registered on first use
        with backend_lock:
            dict.__setitem__(in_account, region, backend)


# ------------------------------------------------------------------ PostgreSQL


@dataclass(frozen=True)
class _Database:
    name: str
    template: str
    is_template: bool
    allow_connections: bool
    comment: str | None
    owner: str
    acl: list[str] | None  # a clone gets neither the owner nor the grants of its source


def user_databases(conn: psycopg.Connection[Any]) -> list[str]:
    """The databases a test or a step made (not the system ones, not the templates)."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname <> ALL(%s) AND datname NOT LIKE %s "
            "ORDER BY 1",
            (list(SYSTEM_DATABASES), SNAPSHOT_PREFIX + "%"),
        )
    ]


def drop_database(conn: psycopg.Connection[Any], name: str) -> None:
    db = sql.Identifier(name)
    conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(db))
    conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(db))


def _attributes(
    conn: psycopg.Connection[Any], name: str
) -> tuple[bool, bool, str | None, str, list[str] | None]:
    row = conn.execute(
        "SELECT datistemplate, datallowconn, shobj_description(oid, 'pg_database'), "
        "pg_get_userbyid(datdba), datacl::text[] FROM pg_database WHERE datname = %s",
        (name,),
    ).fetchone()
    assert row is not None, name
    return bool(row[0]), bool(row[1]), row[2], row[3], row[4]


def _clone(conn: psycopg.Connection[Any], name: str, template: str) -> None:
    # No one may be connected to a template; a step's connections may linger a moment.
    conn.execute(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = %s",
        (template,),
    )
    conn.execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    )


def _set_attributes(conn: psycopg.Connection[Any], db: _Database) -> None:
    name = sql.Identifier(db.name)
    conn.execute(
        sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE {} ALLOW_CONNECTIONS {}").format(
            name, sql.Literal(db.is_template), sql.Literal(db.allow_connections)
        )
    )
    if db.comment is not None:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(name, sql.Literal(db.comment)))
    conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(name, sql.Identifier(db.owner)))
    # The grants as they were, exactly (a superuser may write the catalog row).
    conn.execute(
        "UPDATE pg_database SET datacl = %s::aclitem[] WHERE datname = %s", (db.acl, db.name)
    )


# ---------------------------------------------------------------------- folders


def _files(folder: Path | None) -> dict[str, bytes] | None:
    if folder is None:
        return None
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _write(folder: Path, files: dict[str, bytes]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# ------------------------------------------------------------------------ steps


@dataclass(frozen=True)
class _Snapshot:
    moto: _Moto
    databases: tuple[_Database, ...]
    files: dict[str, bytes] | None
    value: Any
    """What the step returned."""


@dataclass(frozen=True)
class _Mark:
    """What the last step left: its chain, and how to tell that nothing changed since."""

    key: Key
    moto: bytes
    databases: tuple[str, ...]


class Steps:
    """The snapshots of one test process, on its moto server and PostgreSQL cluster."""

    def __init__(self, admin_url: str | None = None) -> None:
        self._admin_url = admin_url
        self.snapshots: dict[Key, _Snapshot] = {}
        self.mark: _Mark | None = None
        self.base: bytes | None = None
        self._pristine: _Moto | None = None
        self.fresh = os.environ.get(FRESH_ENV) == "1"
        self.counts = {"built": 0, "restored": 0, "unknown state": 0}
        self._names = (f"{SNAPSHOT_PREFIX}{uuid.uuid4().hex[:8]}_{n}" for n in itertools.count())

    @property
    def admin_url(self) -> str:
        """The cluster's admin URL: as given, else the one ``pg_env`` sets for the test."""
        return self._admin_url or os.environ[DATABASE_URL_ENV]

    def moto_base(self) -> None:
        """moto is as every test begins (reset, then what aws_env makes): the pristine state,
        with no database but the system ones, that a chain of steps starts from."""
        saved = _moto_dump()
        self.base, self._pristine = saved.data, saved

    def to_pristine(self) -> bool:
        """moto put back as the last ``moto_base`` found it, in this process (what a reset
        through moto's API and the requests after it make, without them); False, changing
        nothing, before there is one or with ``TENANTCTL_TEST_FRESH_STATE=1``."""
        if self._pristine is None or self.fresh:
            return False
        _moto_restore(self._pristine)
        return True

    def discard(self) -> None:
        """Drop this instance's template copies and forget its snapshots."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for saved in self.snapshots.values():
                for db in saved.databases:
                    drop_database(conn, db.template)
        self.snapshots.clear()
        self.mark = None

    def run(self, name: str, build: Callable[[], T], folder: Path | None = None) -> T:
        """*build*'s result: run it (it may change moto, the databases and *folder*, and
        nothing else), or put back what it left and return what it returned, when the same
        step ran from the same state earlier in this process. *name* says what the step
        does, with its arguments."""
        base = None if self.fresh else self._state()
        if base is None:
            self.counts["unknown state"] += 1
            self.mark = None
            return build()
        key = (*base, (name, _environment(folder)))
        saved = self.snapshots.get(key)
        if saved is not None and not self._intact(saved):
            del self.snapshots[key]  # someone dropped its template copies: build again
            saved = None
        if saved is None:
            value = build()
            self.counts["built"] += 1
            try:
                saved = self.snapshots[key] = self._take(folder, value)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                warnings.warn(
                    f"step {name!r} is built for every test: its moto state cannot be kept "
                    f"({exc}); teach tests/snapshots.py's _Pickler about it",
                    stacklevel=2,
                )
                self.mark = None
                return value
        else:
            self.counts["restored"] += 1
            self._restore(saved, folder)
        self.mark = _Mark(key, _moto_dump().data, tuple(d.name for d in saved.databases))
        return saved.value  # type: ignore[no-any-return]

    # -- what the state is now

    def _state(self) -> Key | None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            databases = tuple(user_databases(conn))
        mark = self.mark
        if mark is not None and databases == mark.databases and _moto_dump().data == mark.moto:
            return mark.key
        if self.base is not None and not databases and _moto_dump().data == self.base:
            return ()
        return None

    # -- taking and restoring

    def _intact(self, saved: _Snapshot) -> bool:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            found = {
                row[0]
                for row in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname = ANY(%s)",
                    ([db.template for db in saved.databases],),
                )
            }
        return found == {db.template for db in saved.databases}

    def _take(self, folder: Path | None, value: Any) -> _Snapshot:
        moto = _moto_dump()  # first: what cannot be kept fails before any copy is made
        databases = []
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in user_databases(conn):
                template = next(self._names)
                is_template, allow, comment, owner, acl = _attributes(conn, name)
                _clone(conn, template, name)
                # Nobody connects to a template copy (a clone needs it unused).
                conn.execute(
                    sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                        sql.Identifier(template)
                    )
                )
                databases.append(_Database(name, template, is_template, allow, comment, owner, acl))
        return _Snapshot(moto, tuple(databases), _files(folder), value)

    def _restore(self, saved: _Snapshot, folder: Path | None) -> None:
        _moto_restore(saved.moto)
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in user_databases(conn):
                drop_database(conn, name)
            for db in saved.databases:
                _clone(conn, db.name, db.template)
                _set_attributes(conn, db)
        if folder is not None and saved.files is not None:
            _write(folder, saved.files)


def _environment(folder: Path | None) -> tuple[tuple[str, str], ...]:
    """The ``AWS_*``/``TENANTCTL_*`` environment; a variable naming the step's own folder
    (``TENANTCTL_STACKS_DIR``, as a workflow job sets it) is kept as ``FOLDER``: the folder
    is in another place for each test, and what it holds is restored."""
    here = None if folder is None else str(folder)
    return tuple(
        sorted(
            (k, FOLDER if v == here else v)
            for k, v in os.environ.items()
            if k.startswith(_ENV_PREFIXES)
        )
    )
