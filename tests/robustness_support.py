"""What the robustness families share: real CLI subprocesses, a TCP proxy to cut, state checks."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from infra.core import naming
from infra.ops.adapters.checkpoints import PAUSE_ENV
from infra.ops.adapters.database import comment, undo_mark
from infra.ops.stacks.locking import current_holder
from tests.helpers import ROOT, lock_place, store, tables
from tests.zygote import ForkedProcess, Zygote

CLI = [sys.executable, "-c", "import sys; from infra.cli import main; sys.exit(main())"]


@dataclass
class Counts:
    """What a family counts; the test asserts the failure counts are zero and prints them."""

    family: str
    cases: int = 0
    tracebacks: int = 0
    invalid_accepted: int = 0
    broken_states: int = 0
    production_changes: int = 0
    details: list[str] = field(default_factory=list)

    def report(self) -> str:
        return (
            f"robustness[{self.family}]: cases={self.cases} tracebacks={self.tracebacks} "
            f"invalid_accepted={self.invalid_accepted} broken_states={self.broken_states} "
            f"production_changes={self.production_changes}"
        )

    def check(self) -> None:
        print(self.report())
        assert (
            self.tracebacks,
            self.invalid_accepted,
            self.broken_states,
            self.production_changes,
        ) == (0, 0, 0, 0), "\n".join(self.details[:20])


def looks_like_traceback(code: int, output: str) -> bool:
    return code == 1 or "Traceback" in output or ("unexpected" in output and "bug" in output)


# --------------------------------------------------------------------- subprocesses


class Run:
    """One ``tenantctl`` process, optionally paused at a checkpoint."""

    def __init__(
        self,
        args: list[str],
        stacks: Path,
        pause_at: str | None = None,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
    ) -> None:
        full_env = {**os.environ, **(env or {})}
        full_env["TENANTCTL_STACKS_DIR"] = str(stacks)
        full_env.pop(PAUSE_ENV, None)
        if pause_at:
            full_env[PAUSE_ENV] = f"{pause_at}:60"
        source: Any = subprocess.DEVNULL
        if stdin is not None:
            source = tempfile.TemporaryFile("w+")  # noqa: SIM115 - the child process reads it
            source.write(stdin)
            source.seek(0)
        zygote = Zygote.get(ROOT)
        self.proc: subprocess.Popen[str] | ForkedProcess
        if zygote is not None:  # the same process, without the interpreter's start-up
            self.proc = zygote.start(args, full_env, ROOT, source)
        else:
            self.proc = subprocess.Popen(
                [*CLI, *args],
                cwd=ROOT,
                env=full_env,
                stdin=source,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        self.stderr_lines: list[str] = []
        self.pending = ""

    def wait_for_checkpoint(self, point: str, timeout: float = 60) -> bool:
        """Read stderr until ``checkpoint <point>``; ``False`` when the process ended first.

        Reads the raw descriptor (no buffered readline), so a checkpoint line that
        arrives in one chunk with earlier progress lines is not missed.
        """
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                chunk = os.read(fd, 65536).decode(errors="replace")
                if not chunk:
                    return False
                self.pending += chunk
                *lines, self.pending = self.pending.split("\n")
                for line in lines:
                    self.stderr_lines.append(line + "\n")
                    if line.strip() == f"checkpoint {point}":
                        return True
            elif self.proc.poll() is not None:
                return False
        raise AssertionError(f"checkpoint {point} not reached in {timeout}s")

    def resume(self) -> None:
        """Let a process paused at a checkpoint go on."""
        self.proc.send_signal(signal.SIGUSR1)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, "".join(self.stderr_lines) + self.pending + err


def run(args: list[str], stacks: Path, **kwargs: Any) -> tuple[int, str, str]:
    return Run(args, stacks, **kwargs).finish()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proxy:
    """A TCP forwarder to *target_port* that a test can cut (a dependency dying mid-run)."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = int(self.server.getsockname()[1])
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        self.closed = True
        self.server.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


# ------------------------------------------------------------------------- state


def broken_state(
    pg_admin_url: str, slug: str, stages: tuple[str, ...] = naming.STAGES
) -> list[str]:
    """Every invariant the operations promise, checked against the real systems."""
    problems: list[str] = []
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        rows = dict(conn.execute("SELECT datname, datallowconn FROM pg_database").fetchall())
    for stage in stages:
        working = naming.database_name(slug, stage)  # type: ignore[arg-type]
        if working not in rows:
            problems.append(f"{working} is missing")
        for db, allowed in rows.items():
            if db.startswith(working) and not allowed:
                problems.append(f"{db} refuses connections")
        s = store(stage, slug)  # type: ignore[arg-type]
        current = s.current()
        if current is None:
            problems.append(f"{slug}-{stage} has no current.json")
        elif s.release(current.release) is None:
            problems.append(f"{slug}-{stage} current.json names a missing release")
    reset = store("preview", slug).get_record("last-reset")
    undo_offered = bool(reset and reset.get("undo", {}).get("available"))
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        working_mark = comment(conn, naming.database_name(slug, "preview"))
    undo_under_way = bool(reset) and working_mark == undo_mark(str(reset.get("id")))  # type: ignore[union-attr]
    if (
        undo_offered
        and not undo_under_way
        and naming.undo_database_name(slug, "preview") not in rows
    ):
        problems.append("last-reset offers an undo but the undo database is missing")
    return problems


def leftovers(pg_admin_url: str, slug: str) -> list[str]:
    """Scratch databases a finished operation must not leave behind."""
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()]
    base = slug.replace("-", "_")
    return [n for n in names if n.startswith(base) and n.endswith(("_next", "_old"))]


def lock_value(slug: str) -> str | None:
    holder = current_holder(slug, lock_place())
    return holder.describe() if holder else None


def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the client's configuration and activity tables (not its stack records)."""
    return tables(url, ("config", "activity"))
