"""Shared fixtures: a real AWS emulator (moto server) and a real PostgreSQL 15 cluster.

- ``moto_endpoint`` (session): moto on 127.0.0.1, a free port; ``http://127.0.0.1:<port>``.
- ``aws_env``: environment pointing boto3 at it with fake credentials; moto state reset,
  then the platform's operations bucket (client locks) created (after the first test,
  that state put back from its snapshot in process).
- ``pg_admin_url`` (session): a throwaway PostgreSQL cluster started for the suite (in
  /dev/shm when it has room).
- ``pg_env``: ``TENANTCTL_DATABASE_URL`` set; databases of earlier tests dropped.
- ``steps`` (session): what the state fixtures below built, kept to restore for the next
  test (tests/snapshots.py): each test still gets the state afresh, in a fraction of the time.
- ``control_env``: a fresh control database (migrated) and billing bus for this test;
  ``TENANTCTL_CONTROL_DATABASE_URL`` and ``TENANTCTL_BILLING_BUS`` set; returns the URL.
- ``stacks``: the demo client created on the local target, in a new stacks folder.
- ``ready``: ``stacks``, edited in preview, with live credentials staged for production.
- ``stack_files``: the demo client's stack files copied into a folder (nothing deployed).
- ``repo``: a git repository with three clients' stack files and a tenant file, one commit.
- ``browser_cache`` (session, autouse): verify's page loads kept for the run, by what
  decides them (tests/browser_cache.py); tests marked ``real_browser`` always load.

Plain helpers (the CLI in process, the demo client's content and databases) are in
helpers.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from infra.devtools import localtarget
from infra.ops.verify import browser
from infra.ops.verify import run as verify_run
from tests.browser_cache import BrowserCache
from tests.helpers import (
    CLIENTS,
    EXAMPLE,
    STACKS,
    commit,
    copy_demo_stack_files,
    create_demo,
    git,
    make_ready,
    write_stack,
)
from tests.snapshots import READY_STEP, Steps, drop_database, user_databases

# Before any client can exist: nothing in this suite may sign for a real account.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(localtarget.FAKE_CREDENTIALS)
os.environ.setdefault("AWS_REGION", localtarget.LOCAL_REGION)
os.environ.setdefault("AWS_DEFAULT_REGION", localtarget.LOCAL_REGION)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules with ``real_browser`` tests first; the long families (a minute or more
    each) from the middle on. ``--dist worksteal`` hands each worker one half of the list
    to start with, so one worker begins with the real page loads the other tests reuse
    (``browser_cache``) and the other with the long families, which load no pages: a test
    that verifies a site then finds its loads made, rather than making them at the same
    time on the other worker, and the longest tests start early, not last (where they
    would leave one worker running alone at the end). Otherwise the order is kept."""
    browser_modules = {item.path for item in items if item.get_closest_marker("real_browser")}
    first = [item for item in items if item.path in browser_modules]
    others = [item for item in items if item.path not in browser_modules]
    long = [item for item in others if item.get_closest_marker("robustness")]
    rest = [item for item in others if not item.get_closest_marker("robustness")]
    middle = max(len(items) // 2 - len(first), 0)
    items[:] = first + rest[:middle] + long + rest[middle:]


@pytest.fixture(scope="session", autouse=True)
def browser_cache(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserCache]:
    """verify's page loads, kept for every later test of the run (both workers) that
    loads the same page served the same way; tests marked ``real_browser`` always load."""
    # Decided by the test being set up or run (PYTEST_CURRENT_TEST is "<node id> (<when>)"):
    # a module fixture's verify counts as its first test's, so every test that asks for
    # a fixture whose run is under test (test_verify's passing run) is marked.
    real = {i.nodeid for i in request.session.items if i.get_closest_marker("real_browser")}
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    cache = BrowserCache(
        shared / "browser-cache",
        lambda: os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0] in real,
    )
    real_load_all, real_serving = browser.load_all, verify_run.serving
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            browser, "load_all", lambda loads, exe: cache.load_all(real_load_all, loads, exe)
        )
        mp.setattr(verify_run, "serving", lambda site: cache.serving(real_serving, site))
        yield cache


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with localtarget.in_process() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def steps() -> Steps:
    """This worker's steps, on its moto server and (as each test's pg_env names it) its
    PostgreSQL cluster."""
    return Steps()


@pytest.fixture
def aws_env(moto_endpoint: str, steps: Steps, monkeypatch: pytest.MonkeyPatch) -> str:
    for key, value in localtarget.aws_environment(moto_endpoint).items():
        monkeypatch.setenv(key, value)
    if not steps.to_pristine():  # after the first test: the same, without four requests
        request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass
        # What the platform provides before any client exists: where client locks are kept.
        localtarget.create_operations_bucket(moto_endpoint, localtarget.LOCAL_REGION)
    steps.moto_base()
    return moto_endpoint


MEMORY_DIR = Path("/dev/shm")
MEMORY_NEEDED = 2 * 1024**3
"""Room the suite's cluster may take in memory (a worker's grows to a few hundred MB)."""


def _cluster_root() -> Path | None:
    """In memory when there is room (a throwaway cluster needs no disk): creating, copying
    and dropping databases, which every state fixture does, is then no disk I/O (about 6x
    faster on a busy disk). Else the default temp dir (e.g. Docker's 64 MB /dev/shm)."""
    try:
        stat = os.statvfs(MEMORY_DIR)
    except OSError:
        return None
    if stat.f_bavail * stat.f_frsize < MEMORY_NEEDED or not os.access(MEMORY_DIR, os.W_OK):
        return None
    return Path(tempfile.mkdtemp(prefix="tenantctl-pg-", dir=MEMORY_DIR))


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    cluster = localtarget.PostgresCluster.create(_cluster_root())
    cluster.start()
    try:
        yield cluster.admin_url
    finally:
        cluster.remove()


@pytest.fixture
def pg_env(pg_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(localtarget.DATABASE_URL_ENV, pg_admin_url)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in user_databases(conn):  # not the steps' template copies
            drop_database(conn, name)
    return pg_admin_url


@pytest.fixture
def control_env(pg_env: str, aws_env: str, steps: Steps, monkeypatch: pytest.MonkeyPatch) -> str:
    def build() -> str:
        url = localtarget.create_control(pg_env, "tenantctl_control")
        localtarget.create_billing_bus(
            aws_env, localtarget.LOCAL_REGION, localtarget.LOCAL_BILLING_BUS
        )
        return url

    url = steps.run("control database and billing bus", build)
    monkeypatch.setenv(localtarget.CONTROL_DATABASE_URL_ENV, url)
    monkeypatch.setenv(localtarget.BILLING_BUS_ENV, localtarget.LOCAL_BILLING_BUS)
    return url


@pytest.fixture
def stacks(
    tmp_path: Path, aws_env: str, pg_env: str, steps: Steps, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The demo client created on the local target, both stacks deployed and provisioned."""
    return create_demo(tmp_path, monkeypatch, steps=steps)


@pytest.fixture
def ready(stacks: Path, pg_env: str, steps: Steps) -> Path:
    """Created, edited in preview, with live credentials staged for production and the
    client's own domain ready (certificate issued, attached, CNAME published)."""

    steps.run(READY_STEP, lambda: make_ready(stacks, pg_env), stacks)
    return stacks


@pytest.fixture
def stack_files(tmp_path: Path) -> Path:
    """The demo client's stack files in tmp_path (no AWS, nothing deployed)."""
    return copy_demo_stack_files(tmp_path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A project repository with three clients (CLIENTS) and a tenant file, one commit."""
    root = tmp_path / "repo"
    (root / "stacks").mkdir(parents=True)
    (root / "infra" / "program").mkdir(parents=True)
    (root / "infra" / "cli").mkdir(parents=True)
    (root / "templates").mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "ci@example.com")
    git(root, "config", "user.name", "CI")
    for slug in CLIENTS:
        for stage in ("preview", "production"):
            write_stack(root, slug, stage)
    shutil.copy(EXAMPLE, root / "stacks" / "tenant.example.yaml")
    # What `tenantctl plan` reads of the platform, offline (next to the stack files).
    shutil.copy(STACKS / "platform-outputs.yaml", root / "stacks" / "platform-outputs.yaml")
    (root / "infra" / "program" / "tenant.py").write_text("# the program\n")
    (root / "infra" / "cli" / "plan.py").write_text("# the CLI\n")
    (root / "templates" / "home.html").write_text("<h1>home</h1>\n")
    (root / "README.md").write_text("# readme\n")
    commit(root, "initial")
    return root
