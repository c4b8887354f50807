"""A ``tenantctl`` process without the start-up: forked from one that has imported it all.

The robustness families run the real CLI as processes (a hundred and more per run) to pause,
kill and race them. A fresh interpreter spends 0.4-1 s importing the CLI, boto3, psycopg
and (for deploys) Pulumi before it does anything; ``Zygote`` imports them once, then forks
a child per run. The child is a real process of its own (its own pid and start time, the
caller's argv, environment, working directory, stdin, stdout and stderr), runs
``infra.cli.main`` and ends as ``python -c "...; sys.exit(main())"`` would (threads joined,
atexit handlers run, output flushed, the exit status), without the module teardown;
``SIGKILL`` ends it as it ends any process.

The zygote is single-threaded and has made no client, connection or thread when it forks
(it checks: with more than one thread it refuses, and the caller starts plain processes).
It has parsed botocore's models of the services the product uses (most of what making a
client costs) and frozen what it made out of the collector's reach, so a child's clients
and collections are cheaper (the reset kill family: 17-19 s -> 11-14 s).
``ForkedProcess`` offers what the tests use of ``subprocess.Popen``; the zygote reaps the
child and sends its exit status. ``TENANTCTL_TEST_NO_ZYGOTE=1`` starts plain processes.

A program under test that runs ``tenantctl`` itself (the CI scripts) gets the same from
``Zygote.shim_dir()``: a ``tenantctl`` to put first on its PATH, a few lines of the
standard library (``python -S``) that hand the zygote its arguments, environment,
working directory and standard streams, pass on SIGTERM, SIGINT and SIGHUP, and exit
as the run did. Its child looks like the installed command (``sys.argv[0]`` is
``tenantctl``, the working directory is not on ``sys.path``). Without the zygote's
socket it becomes the real ``tenantctl``.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

NO_ZYGOTE_ENV = "TENANTCTL_TEST_NO_ZYGOTE"
SOCKET_ENV = "TENANTCTL_TEST_ZYGOTE_SOCKET"
"""Where a ``shim_dir()`` tenantctl finds the zygote."""
_READY = b"ready\n"


# --------------------------------------------------------------- the zygote side


def _preload() -> None:
    """What a CLI run may import: every command, the faults boundary, the local deployer,
    the Pulumi program (what a deploy on the local target evaluates) and the operations
    the commands import when they run (plan, drift, reset, promote)."""
    import click

    from infra.cli import main

    context = click.Context(main)
    for name in main.list_commands(context):
        main.get_command(context, name)
    import infra.devtools.localapply
    import infra.ops.adapters.faults
    import infra.ops.lifecycle.promote
    import infra.ops.lifecycle.reset
    import infra.ops.planning.drift
    import infra.ops.planning.plan
    import infra.ops.stacks.opening
    import infra.program.plan  # noqa: F401

    _load_aws_models()
    # Every object made so far lives as long as the zygote: the children's collector never
    # walks them (a full pass over Pulumi's provider SDK and botocore's models costs each
    # child tens of milliseconds), and the children share their pages instead of copying
    # every page a collection touches.
    gc.freeze()


_AWS_CLIENT = re.compile(r"""aws\.client\(\s*["']([a-z0-9-]+)["']""")


def _load_aws_models() -> None:
    """botocore's models of every service the product makes a client for (found in its
    source), parsed into the shared loader a child's clients read them from (about 110 ms
    of the 130 ms a client takes to make). Only data: no client, session or connection."""
    from botocore.exceptions import DataNotFoundError

    from infra import PROJECT_DIR
    from infra.ops.adapters import aws

    loader = aws._loader()
    for name in ("partitions", "sdk-default-configuration", "endpoints", "_retry"):
        with contextlib.suppress(DataNotFoundError):
            loader.load_data(name)
    services = set()
    for path in (PROJECT_DIR / "infra").rglob("*.py"):
        services.update(_AWS_CLIENT.findall(path.read_text()))
    for service in sorted(services):
        for kind in ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2"):
            with contextlib.suppress(DataNotFoundError):
                loader.load_service_model(service, kind)


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def serve(listener: socket.socket) -> None:
    """Fork a child for each request on *listener*; report each child's pid, then status."""
    _preload()
    if _threads() != 1:  # forking a process with threads could copy a held lock
        sys.stdout.write(f"threads {_threads()}\n")
        sys.stdout.flush()
        return
    sys.stdout.buffer.write(_READY)
    sys.stdout.flush()
    children: dict[int, socket.socket] = {}
    parent = os.getppid()
    while os.getppid() == parent or children:  # ends with the test process that started it
        ready, _, _ = select.select([listener], [], [], 0.01)
        if ready:
            conn, _ = listener.accept()
            pid = _fork(conn)
            if pid == 0:  # the child: nothing of the zygote's; its run follows in _child_main
                listener.close()
                for other in children.values():
                    other.close()
                return
            children[pid] = conn
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            conn = children.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                conn.close()


_run: dict[str, Any] = {}
"""In a child: what to run (set by _fork)."""


def _fork(conn: socket.socket) -> int:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    request = json.loads(data.decode())
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        conn.sendall(f"pid {pid}\n".encode())
        return pid
    conn.close()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    if "argv0" in request:  # as the installed command: its own name, no cwd on sys.path
        sys.argv = [request["argv0"], *request["args"]]
        sys.path[:] = [p for p in sys.path if p not in ("", ".")]
    else:
        sys.argv = ["-c", *request["args"]]
    _run.update(request)
    return 0


def _child_main() -> None:
    """``sys.exit(main())``, then what an interpreter does on the way out that a program can
    see (waits for its threads, runs atexit handlers, flushes stdout and stderr), and not
    the module teardown (0.2-0.4 s with all of it imported; the caller sees no difference)."""
    from infra.cli import main

    try:
        main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    if code is None:
        code = 0
    elif not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


# --------------------------------------------------------------- the test side


class ForkedProcess:
    """A CLI run forked by the zygote: what the robustness tests use of ``subprocess.Popen``."""

    def __init__(self, conn: socket.socket, stdout: IO[str], stderr: IO[str]) -> None:
        self._conn = conn
        self._pending = b""
        self.stdout = stdout
        self.stderr = stderr
        line = self._line(None)
        if line is None or not line.startswith("pid "):
            raise RuntimeError(f"the zygote did not start the run: {line!r}")
        self.pid = int(line.split()[1])
        self.returncode: int | None = None

    def _line(self, timeout: float | None) -> str | None:
        """The zygote's next line; ``None`` when none came within *timeout*."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._conn], [], [], left)
            if not ready:
                return None
            data = self._conn.recv(4096)
            if not data:
                return f"(the zygote closed the connection after {self._pending!r})"
            self._pending += data
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode()

    def poll(self) -> int | None:
        return self.wait(0) if self._done(0) else None

    def _done(self, timeout: float | None) -> bool:
        if self.returncode is None:
            line = self._line(timeout)
            if line is None:
                return False
            if not line.startswith("exit "):
                raise RuntimeError(f"the zygote lost run {self.pid}: {line!r}")
            self.returncode = int(line.split()[1])
            self._conn.close()
        return True

    def wait(self, timeout: float | None = None) -> int:
        if not self._done(timeout):
            raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:  # as Popen: never signal a pid that was reaped (reusable)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Read stdout and stderr to their end, then wait for the exit status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        chunks: dict[int, list[bytes]] = {self.stdout.fileno(): [], self.stderr.fileno(): []}
        open_fds = list(chunks)
        while open_fds:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select(open_fds, [], [], left)
            if not ready:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            for fd in ready:
                data = os.read(fd, 65536)
                if data:
                    chunks[fd].append(data)
                else:
                    open_fds.remove(fd)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        self.wait(left)
        out, err = (
            b"".join(chunks[f.fileno()]).decode(errors="replace")
            for f in (
                self.stdout,
                self.stderr,
            )
        )
        self.stdout.close()
        self.stderr.close()
        return out, err


class Zygote:
    """One per test process, started on first use; ``None`` from ``get()`` when it cannot be."""

    _instance: Zygote | None = None
    _failed = False
    _lock = threading.Lock()

    def __init__(self, cwd: Path) -> None:
        self.dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"tenantctl-zygote-{os.getpid()}"
        self.dir.mkdir(exist_ok=True)
        self.path = self.dir / "socket"
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen(16)
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(listener.fileno())],
            cwd=cwd,
            env=env,
            pass_fds=[listener.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        listener.close()
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if first != _READY:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"the zygote did not start: {first!r}")

    @classmethod
    def get(cls, cwd: Path) -> Zygote | None:
        if os.environ.get(NO_ZYGOTE_ENV) == "1":
            return None
        with cls._lock:
            if cls._instance is None and not cls._failed:
                try:
                    cls._instance = cls(cwd)
                    atexit.register(cls._instance.stop)
                except (OSError, RuntimeError) as exc:
                    cls._failed = True
                    sys.stderr.write(f"zygote unavailable, starting plain processes: {exc}\n")
            return cls._instance

    def start(
        self, args: list[str], env: dict[str, str], cwd: Path, stdin: int | IO[Any]
    ) -> ForkedProcess:
        """Run ``tenantctl *args`` in a forked child, its output on two new pipes."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        if stdin == subprocess.DEVNULL:
            in_fd, own = os.open(os.devnull, os.O_RDONLY), True
        else:
            in_fd, own = (stdin if isinstance(stdin, int) else stdin.fileno()), False
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(str(self.path))
            request = json.dumps({"args": args, "env": env, "cwd": str(cwd)}).encode()
            socket.send_fds(conn, [request], [in_fd, out_w, err_w])
        finally:
            for fd in (out_w, err_w, *([in_fd] if own else [])):
                os.close(fd)
        return ForkedProcess(conn, os.fdopen(out_r, "r"), os.fdopen(err_r, "r"))

    def shim_dir(self) -> Path:
        """A folder holding a ``tenantctl`` that runs in this zygote (see the module's doc);
        put it first on PATH with ``SOCKET_ENV`` naming ``self.path``."""
        folder = self.dir / "bin"
        shim = folder / "tenantctl"
        if not shim.exists():
            folder.mkdir(exist_ok=True)
            real = str(Path(sys.executable).with_name("tenantctl"))
            partial = folder / "tenantctl.partial"
            partial.write_text(_SHIM.format(python=sys.executable, real=real, env=SOCKET_ENV))
            partial.chmod(0o755)
            partial.replace(shim)
        return folder

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.dir)


_BOOT = """
import socket, sys
from tests import zygote
zygote.serve(socket.socket(fileno=int(sys.argv[1])))
if zygote._run:
    zygote._child_main()
"""

_SHIM = """#!{python} -S
# tenantctl for a program under test: the run forked by the test process's zygote
# (tests/zygote.py); the real one when the zygote cannot be reached.
import json, os, signal, socket, sys

REAL = {real!r}
request = {{
    "args": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd(), "argv0": "tenantctl"
}}
try:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(os.environ[{env!r}])
    socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
    reader = conn.makefile("r")
    first = reader.readline()
except (KeyError, OSError):
    first = ""
if not first.startswith("pid "):
    os.execv(REAL, [REAL, *sys.argv[1:]])
pid = int(first.split()[1])
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, lambda number, _frame: os.kill(pid, number))
line = reader.readline()
code = int(line.split()[1]) if line.startswith("exit ") else 1
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""
