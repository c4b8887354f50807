"""The fleet's one activity: a stack's operation, as a ``tenantctl`` subprocess.

One process per stack operation (never Pulumi inline in the worker): a `pulumi up` gets
its own process, a crash of one cannot take the worker down, and the command is exactly
what a person or CI would run, under the client's lock like any other. The activity
heartbeats while the process runs, so a dead worker's stacks are retried elsewhere after
the heartbeat timeout; when the activity is cancelled (the worker shuts down, or its
heartbeat timed out) it stops the process group with SIGTERM, which tenantctl turns into
a clean, resumable interruption. A worker that dies outright (SIGKILL, out of memory)
cannot stop anything, so each operation asks the kernel to be sent SIGTERM when its
worker dies (Linux ``PR_SET_PDEATHSIG``): the retry elsewhere is then the only run.

The exit code decides what happens next: 0 succeeded; 2 (bad input), 3 (precondition)
and 6 (drift found) are the user's to fix, or a result, so they are not retried; anything
else (lock held, dependency unreachable, `pulumi up` failed) is retried under the run's
retry policy. The failure reason is tenantctl's own one-line error; nothing else of the
output is kept, so no secret reaches the run's history.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from infra.core import naming
from infra.core.errors import ExitCode, TenantctlError
from infra.core.text_rules import printable
from infra.ops.fleet import model as m
from infra.ops.stacks.stackfiles import read_spec

Command = Callable[[str, str], Sequence[str]]
"""(operation, stack) -> the argv that performs it."""

NOT_RETRIED = (ExitCode.BAD_INPUT, ExitCode.PRECONDITION, ExitCode.CHANGES)

REASON_LENGTH = 300
"""A failure reason is cut to this many characters in the run's history and status."""

PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal a process gets when its parent (thread) dies."""

STOP_GRACE_SECONDS = 20.0
"""How long a cancelled operation may take to stop cleanly after SIGTERM before SIGKILL."""


def tenantctl_executable() -> list[str]:
    """The ``tenantctl`` of this installation (beside this interpreter), else on PATH."""
    beside = Path(sys.executable).with_name("tenantctl")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("tenantctl")
    return [found] if found else [sys.executable, "-c", "from infra.cli import main; main()"]


def tenantctl_command(stacks_dir: Path) -> Command:
    """The real operations: ``tenantctl plan`` (offline), ``deploy``, ``verify``,
    ``preflight`` (of the platform the stack names, for the clients of the folder),
    ``drift`` and ``reset-preview`` (a preview only)."""
    base = tenantctl_executable()

    def command(operation: str, stack: str) -> list[str]:
        slug, stage = naming.parse_stack_name(stack)
        where = ["--stacks-dir", str(stacks_dir), "--json"]
        if operation == "plan":
            return [*base, "plan", slug, "--stage", stage, *where]
        if operation == "deploy":
            return [*base, "deploy", stack, "--yes", *where]
        if operation == "verify":
            return [*base, "verify", slug, "--stage", stage, *where]
        if operation == "drift":
            return [*base, "drift", slug, "--stage", stage, *where]
        if operation == "preflight":
            try:
                platform = read_spec(stacks_dir, slug, stage).platform_stack
            except TenantctlError as exc:  # a bad stack file: the user's to fix
                raise ApplicationError(str(exc), type=m.USER_ERROR, non_retryable=True) from None
            return [*base, "preflight", "--platform-stack", platform, *where]
        if operation == "reset-preview" and stage == naming.PREVIEW:
            return [*base, "reset-preview", slug, "--yes", *where]
        raise ApplicationError(f"unknown fleet operation {operation!r}", type=m.USER_ERROR)

    return command


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()]
    text = printable(next((line for line in reversed(lines) if line), ""))
    return text[:REASON_LENGTH]


class StackRunner:
    """The activity, bound to how a worker runs an operation (tests pass a stand-in)."""

    def __init__(self, command: Command) -> None:
        self._command = command

    @activity.defn(name=m.ACTIVITY)
    async def run_stack(self, task: m.StackTask) -> m.StackDone:
        argv = list(self._command(task.operation, task.stack))
        started = time.monotonic()
        info = activity.info()
        beat = (info.heartbeat_timeout.total_seconds() / 3) if info.heartbeat_timeout else 10.0
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group: stopped whole, with its children
            preexec_fn=functools.partial(_die_with_parent, os.getpid()),
        )
        output = asyncio.ensure_future(process.communicate())
        try:
            while not output.done():
                await asyncio.wait({output}, timeout=beat)
                activity.heartbeat()
        except asyncio.CancelledError:
            await _stop(process)
            raise
        _, stderr = output.result()
        code = process.returncode
        if code == 0:
            return m.StackDone(task.stack, time.monotonic() - started)
        reason = _last_line(stderr) or "no error message"
        raise ApplicationError(
            f"{task.operation} {task.stack} exited {code}: {reason}",
            type=m.USER_ERROR if code in NOT_RETRIED else m.STACK_FAILED,
            non_retryable=code in NOT_RETRIED,
            # A failed stack is a result the run reports, not a worker fault: no traceback.
            category=ApplicationErrorCategory.BENIGN,
        )


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: on Linux, ask the kernel for SIGTERM when the worker dies
    (even by SIGKILL), so a dead worker leaves no operation running that another worker
    will run again. Elsewhere the worker's own stop (``_stop``) is all there is."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the worker died before the prctl: nobody will send it
        os._exit(int(ExitCode.INTERRUPTED))


def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)  # the group the operation leads (start_new_session)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Stop a cancelled operation (the worker shuts down, or the activity's heartbeat timed
    out and it runs elsewhere now): SIGTERM to its process group, which tenantctl turns into
    a clean, resumable interruption, then SIGKILL after ``STOP_GRACE_SECONDS``."""
    if process.returncode is not None:
        return
    _signal_group(process, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
    except (TimeoutError, asyncio.CancelledError):
        _signal_group(process, signal.SIGKILL)
