"""Fleet runs from the command line's side: where the Temporal server is, submitting a run,
following it, its status, the signals (approve, pause, resume, retry, cancel), the worker.

Where, from the environment:

- no ``TENANTCTL_TEMPORAL_ADDRESS``: the embedded server (``infra.ops.fleet.embedded``,
  started when not running) and a worker inside the command itself, which runs the
  run's stacks while the command follows it, until the run finishes or waits for a
  person (approval, a breached gate, a pause);
- ``TENANTCTL_TEMPORAL_ADDRESS`` (host:port), ``TENANTCTL_TEMPORAL_NAMESPACE`` (default
  ``default``), and for mutual TLS (Temporal Cloud, a secured cluster)
  ``TENANTCTL_TEMPORAL_TLS_CERT`` and ``TENANTCTL_TEMPORAL_TLS_KEY`` (PEM files) with an
  optional ``TENANTCTL_TEMPORAL_TLS_CA``: a cluster, whose workers are
  ``tenantctl fleet worker`` processes on as many machines as needed.

``TENANTCTL_TEMPORAL_TASK_QUEUE`` (default ``tenantctl-fleet``) in both. A server that
cannot be reached, or a run no worker serves, is one line and exit 5, safe to retry.

Every call is synchronous for the CLI (each runs its own event loop); every Temporal
error is translated here into a ``TenantctlError``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode, TLSConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from infra.core import fleet as rules
from infra.core import naming
from infra.core.affected import StackRef, rollout_order
from infra.core.errors import (
    ConflictError,
    DependencyUnreachable,
    LocalIOError,
    NeedsPerson,
    PreconditionFailed,
    UserInputError,
)
from infra.ops.fleet import embedded
from infra.ops.fleet import model as m
from infra.ops.fleet.activities import Command, StackRunner, tenantctl_command
from infra.ops.fleet.workflow import FleetRun
from infra.ops.planning import changes
from infra.ops.stacks.stackfiles import read_spec, tenants

ADDRESS_ENV = "TENANTCTL_TEMPORAL_ADDRESS"
NAMESPACE_ENV = "TENANTCTL_TEMPORAL_NAMESPACE"
TASK_QUEUE_ENV = "TENANTCTL_TEMPORAL_TASK_QUEUE"
TLS_CERT_ENV = "TENANTCTL_TEMPORAL_TLS_CERT"
TLS_KEY_ENV = "TENANTCTL_TEMPORAL_TLS_KEY"
TLS_CA_ENV = "TENANTCTL_TEMPORAL_TLS_CA"
DEFAULT_NAMESPACE = "default"
DEFAULT_TASK_QUEUE = "tenantctl-fleet"

CONNECT_SECONDS = 5.0
QUERY_SECONDS = 10.0
"""A status query no worker answers within this long means no worker serves the run."""
FOLLOW_SECONDS = 0.5
"""How often a followed run's status is read (a query: cheap, never in the history)."""

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    address: str = ""
    namespace: str = DEFAULT_NAMESPACE
    task_queue: str = DEFAULT_TASK_QUEUE
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    embedded: Path | None = None
    """The embedded server's state folder, when no cluster is configured: the command
    then starts the server if needed and runs a worker itself."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        def path(name: str) -> Path | None:
            return Path(env[name]) if env.get(name) else None

        address = env.get(ADDRESS_ENV) or ""
        cert, key = path(TLS_CERT_ENV), path(TLS_KEY_ENV)
        if (cert is None) != (key is None):
            raise UserInputError(
                f"set both {TLS_CERT_ENV} and {TLS_KEY_ENV} (the client certificate and its "
                "key, PEM files) for mutual TLS, or neither"
            )
        return cls(
            address,
            env.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE,
            env.get(TASK_QUEUE_ENV) or DEFAULT_TASK_QUEUE,
            cert,
            key,
            path(TLS_CA_ENV),
            None if address else embedded.state_dir(env),
        )

    @property
    def where(self) -> str:
        return (
            f"the embedded Temporal server at {self.address}"
            if self.embedded
            else (f"the Temporal server at {self.address}")
        )


def start_server(settings: Settings) -> tuple[Settings, embedded.Server | None]:
    """*settings* with the embedded server's address (started when not running) and the
    server, or *settings* unchanged for a cluster."""
    if settings.embedded is None:
        return settings, None
    server = embedded.ensure(settings.embedded)
    return replace(settings, address=server.address), server


def _tls(settings: Settings) -> TLSConfig | bool:
    if settings.tls_cert is None or settings.tls_key is None:
        return False
    try:
        return TLSConfig(
            client_cert=settings.tls_cert.read_bytes(),
            client_private_key=settings.tls_key.read_bytes(),
            server_root_ca_cert=settings.tls_ca.read_bytes() if settings.tls_ca else None,
        )
    except OSError as exc:
        raise LocalIOError(
            f"cannot read the Temporal TLS file {exc.filename} ({exc.strerror}); fix "
            f"{TLS_CERT_ENV}, {TLS_KEY_ENV} or {TLS_CA_ENV}"
        ) from None


_runtime: Runtime | None = None


def _quiet_runtime() -> Runtime:
    """The SDK's core runtime without its log forwarding: a short-lived command would
    otherwise crash at exit when the core's thread forwards a log line while Python is
    finalizing (temporalio/sdk-python#300, "PyGILState_Release")."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime(telemetry=TelemetryConfig(logging=None, metrics=None))
    return _runtime


async def connect(settings: Settings) -> Client:
    """A client of *settings*' server. The embedded server may have just started (its
    port opens before its frontend answers, later still when it reopens a large
    database), so it is given ``embedded.START_SECONDS``, tried again until then."""
    if not settings.address:
        settings, _ = start_server(settings)
    patience = embedded.START_SECONDS if settings.embedded else 0.0
    deadline = time.monotonic() + patience
    while True:
        try:
            return await asyncio.wait_for(
                Client.connect(
                    settings.address,
                    namespace=settings.namespace,
                    tls=_tls(settings),
                    runtime=_quiet_runtime(),
                ),
                CONNECT_SECONDS,
            )
        except (TimeoutError, RuntimeError, RPCError) as exc:
            if time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                continue
            why = "connection refused" if "refused" in str(exc).lower() else "no answer"
            raise DependencyUnreachable(
                f"cannot reach {settings.where} ({why}); "
                + (
                    f"see {settings.embedded / 'server.log'}, then re-run"
                    if settings.embedded
                    else f"check {ADDRESS_ENV} (or unset it for the embedded server), then re-run"
                )
            ) from None


@dataclass(frozen=True)
class Following:
    """What a command that follows a run on the embedded server needs: how to run a stack
    (it is the run's worker meanwhile) and where each status read goes (a live display)."""

    command: Command
    on_update: Callable[[dict[str, Any]], None] | None = None


QUERIES = "queries"
"""``_run``'s worker that answers queries and runs no stack (reading a status never does)."""


def _run(
    settings: Settings,
    call: Callable[[Client], Awaitable[T]],
    serve: Following | str | None = None,
) -> T:
    """*call* with a client; on the embedded server with a worker inside this command
    meanwhile: of workflows only (``QUERIES``), or running stacks too (a ``Following``)."""

    async def main() -> T:
        client = await connect(settings)
        if serve is None or settings.embedded is None:
            return await call(client)
        command = serve.command if isinstance(serve, Following) else None
        async with _serving(client, settings, command):
            return await call(client)

    return asyncio.run(main())


# ------------------------------------------------------------------------ selection


@dataclass(frozen=True)
class Selection:
    """Which stacks a run covers: every criterion given narrows the stacks with a stack file
    (``every`` alone: all of them). At least one is needed; a run never selects by default.
    The spec has no labels, so there is no ``--label``."""

    items: tuple[str, ...] = ()
    """``--select``: slugs (both stages) and stack names (``SLUG-STAGE``)."""
    every: bool = False
    stage: naming.Stage | None = None
    clients: frozenset[str] | None = None
    """``--phase``: the clients whose rollout is in that phase (the control database)."""
    changed_since: str | None = None
    """``--changed-since REF``: the stacks the commits since REF affect, by the rules of
    `tenantctl changed` (``infra.core.affected``), in the repository holding the stacks."""

    @property
    def empty(self) -> bool:
        return (
            not (self.items or self.every or self.stage or self.clients is not None)
            and self.changed_since is None
        )


def select(
    stacks_dir: Path, selection: Iterable[str] | Selection, every: bool = False
) -> list[str]:
    """The stacks a run covers, in rollout order (see ``Selection``); every slug or stack
    named must have a stack file."""
    chosen_by = (
        selection if isinstance(selection, Selection) else Selection(tuple(selection), every)
    )
    if chosen_by.empty:
        raise UserInputError(
            "nothing selected: pass --select SLUG,..., --stage, --phase, --changed-since REF "
            "or --all"
        )
    existing = tenants(stacks_dir)
    known = {StackRef(slug, stage) for slug, stages in existing.items() for stage in stages}
    chosen = set(known)
    if chosen_by.items:
        named: set[StackRef] = set()
        for item in chosen_by.items:
            try:
                slug, stage = naming.parse_stack_name(item)
                refs = {StackRef(slug, stage)}
            except naming.NameError_:
                refs = {StackRef(item, stage) for stage in existing.get(item, [])}
            if not refs or not refs <= known:
                raise UserInputError(
                    f"no stack file for {item!r} in {stacks_dir}; `tenantctl list` shows the "
                    "clients"
                )
            named |= refs
        chosen &= named
    if chosen_by.stage is not None:
        chosen = {ref for ref in chosen if ref.stage == chosen_by.stage}
    if chosen_by.clients is not None:
        chosen = {ref for ref in chosen if ref.slug in chosen_by.clients}
    if chosen_by.changed_since is not None:
        repo = stacks_dir.resolve().parent
        _, _, found = changes.affected(repo, chosen_by.changed_since)
        chosen &= set(found.stacks)
    if not chosen:
        raise UserInputError(
            "the selection matches no stack (nothing to run); widen it or check `tenantctl list`"
        )
    return [ref.stack for ref in rollout_order(chosen)]


def eligible(stacks_dir: Path, operation: str, stacks: list[str]) -> tuple[list[str], list[str]]:
    """The stacks of *stacks* *operation* may run on, and why each other one is left out.

    Only ``reset-preview`` narrows: a fleet resets only the previews whose tenant config
    opted in (``tenants:nightlyReset: true``), never a production stack."""
    if operation != rules.RESET_PREVIEW:
        return stacks, []
    kept: list[str] = []
    left_out: list[str] = []
    for stack in stacks:
        slug, stage = naming.parse_stack_name(stack)
        if stage != naming.PREVIEW:
            left_out.append(f"{stack}: a production stack is never reset")
        elif not read_spec(stacks_dir, slug, stage).nightly_reset:
            left_out.append(f"{stack}: not opted in (tenants:nightlyReset: true)")
        else:
            kept.append(stack)
    if not kept:
        raise UserInputError(
            "no selected stack may be reset: a fleet resets only previews whose stack file "
            "sets tenants:nightlyReset: true"
        )
    return kept, left_out


# ------------------------------------------------------------------------ submit


@dataclass(frozen=True)
class Submitted:
    run: str
    operation: str
    waves: list[list[str]]
    address: str

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "operation": self.operation,
            "waves": [{"wave": n, "stacks": w} for n, w in enumerate(self.waves, start=1)],
            "temporal": self.address,
        }


def new_run(
    operation: str,
    stacks: list[str],
    *,
    canary: int = rules.DEFAULT_CANARY,
    wave_size: int = rules.DEFAULT_WAVE_SIZE,
    concurrency: int = rules.DEFAULT_CONCURRENCY,
    failure_budget: str = rules.DEFAULT_FAILURE_BUDGET,
    approve_between_waves: bool = False,
    **timing: float,
) -> m.RunSpec:
    """A run's intent, checked (every option refused here, before anything is submitted)."""
    if operation not in rules.OPERATIONS:
        raise UserInputError(
            f"unknown fleet operation {operation!r}; one of {', '.join(rules.OPERATIONS)}"
        )
    rules.check_sizes(canary, wave_size, concurrency)
    if operation in rules.FINDINGS:  # findings, not harm: the run never pauses for them
        canary, failure_budget = 0, rules.NO_BUDGET
    budget = str(rules.parse_budget(failure_budget))
    return m.RunSpec(
        operation,
        stacks,
        canary,
        wave_size,
        concurrency,
        budget,
        approve_between_waves,
        **timing,  # type: ignore[arg-type]
    )


def submit(settings: Settings, spec: m.RunSpec) -> Submitted:
    options = {
        "canary": spec.canary,
        "waveSize": spec.wave_size,
        "concurrency": spec.concurrency,
        "failureBudget": spec.failure_budget,
        "approveBetweenWaves": spec.approve_between_waves,
    }
    run = rules.run_id(spec.operation, spec.stacks, options)
    refs = [StackRef(*naming.parse_stack_name(s)) for s in spec.stacks]
    waves = [[r.stack for r in w] for w in rules.plan_waves(refs, spec.canary, spec.wave_size)]

    async def call(client: Client) -> None:
        try:
            await client.start_workflow(
                m.WORKFLOW,
                spec,
                id=run,
                task_queue=settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            raise ConflictError(
                f"fleet run {run} (the same operation, stacks and options) is already "
                f"running; follow it with `tenantctl fleet status {run}`"
            ) from None

    _run(settings, call)
    return Submitted(run, spec.operation, waves, settings.address)


# ------------------------------------------------------------------------ status


def _unknown(run: str) -> UserInputError:
    return UserInputError(f"no fleet run {run!r}; `tenantctl fleet status` lists the runs")


async def _status(client: Client, settings: Settings, run: str) -> dict[str, Any]:
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(run)
    try:
        described = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise _unknown(run) from None
        raise
    if described.status == WorkflowExecutionStatus.COMPLETED:
        result: dict[str, Any] = await handle.result()
        return result
    if described.status != WorkflowExecutionStatus.RUNNING:
        name = described.status.name.lower() if described.status else "closed"
        return {"run": run, "state": name, "reason": f"the workflow {name}", "waves": []}
    try:
        answer: dict[str, Any] = await handle.query(
            m.STATUS_QUERY,
            # The embedded worker has just started in this command: on a busy machine its
            # first poll, and a replay of the run's history, may take a while.
            rpc_timeout=timedelta(seconds=QUERY_SECONDS * (3 if settings.embedded else 1)),
        )
    except RPCError as exc:
        raise DependencyUnreachable(
            f"fleet run {run} did not answer ({exc.message}); is a worker running on task "
            f"queue {settings.task_queue}? start one with `tenantctl fleet worker`"
        ) from None
    return answer


def status(settings: Settings, run: str) -> dict[str, Any]:
    """A run's per-wave and per-stack progress, and what a person must do, if anything.

    On the embedded server this command answers the query itself (a worker of workflows
    only: reading a status never runs a stack)."""

    async def call(client: Client) -> dict[str, Any]:
        return with_next_step(await _status(client, settings, run))

    return _run(settings, call, QUERIES)


def resting(status: dict[str, Any]) -> bool:
    """True when *status* will not change without a person: the run ended, or waits for
    an approval, a retry or a resume, with no stack in flight."""
    return status["state"] != m.RUNNING and not status.get("counts", {}).get(m.STARTED)


async def _follow(
    client: Client, settings: Settings, run: str, following: Following
) -> dict[str, Any]:
    while True:
        current = with_next_step(await _status(client, settings, run))
        if following.on_update is not None:
            following.on_update(current)
        if resting(current):
            return current
        await asyncio.sleep(FOLLOW_SECONDS)


def follow(settings: Settings, run: str, following: Following) -> dict[str, Any]:
    """Read *run*'s status every ``FOLLOW_SECONDS`` (passing each to ``on_update``) until
    it rests; its last status. On the embedded server this command is the run's worker
    meanwhile; on a cluster the cluster's workers run it."""

    async def call(client: Client) -> dict[str, Any]:
        return await _follow(client, settings, run, following)

    return _run(settings, call, following)


class _serving:
    """On the embedded server, a worker inside this command for as long as the block runs:
    workflows only when *command* is None, else the stacks too."""

    def __init__(self, client: Client, settings: Settings, command: Command | None) -> None:
        self._worker: Worker | None = None
        self._task: asyncio.Future[None] | None = None
        self._folder = settings.embedded
        self._log: logging.Handler | None = None
        if settings.embedded is not None:
            # A short sticky timeout: the next command's worker takes the run over at once.
            self._worker = worker(client, settings, command, sticky_seconds=1.0)

    async def __aenter__(self) -> asyncio.Future[None] | None:
        if self._worker is not None and self._folder is not None:
            # The SDK's own log lines go to a file beside the server's, not to the person.
            self._log = logging.FileHandler(self._folder / "worker.log")
            logging.getLogger("temporalio").addHandler(self._log)
            logging.getLogger("temporalio").propagate = False
            self._task = asyncio.ensure_future(self._worker.run())
        return self._task

    async def __aexit__(self, *exc: object) -> None:
        if self._worker is not None and self._task is not None and not self._task.done():
            await self._worker.shutdown()
        if self._log is not None:
            logging.getLogger("temporalio").removeHandler(self._log)
            logging.getLogger("temporalio").propagate = True
            self._log.close()


def with_next_step(status: dict[str, Any]) -> dict[str, Any]:
    """*status* with ``next``, the command a person runs now (None when nothing waits), and
    ``attention``: each failed stack with its error and exactly what to do about it."""
    run, state, wave = status["run"], status["state"], status.get("wave", 0)
    failed = [s for w in status.get("waves", []) for s in w["stacks"] if s["state"] == m.FAILED]
    attention = [
        {
            "stack": s["stack"],
            "error": s["error"],
            "do": f"fix what the error says, then tenantctl fleet retry {run} --stack {s['stack']}",
        }
        for s in failed
    ]
    step: str | None = None
    commands: list[str] = []
    if status.get("pausedBy") is not None:
        step = f"tenantctl fleet resume {run}"
        commands = [step]
    elif state == m.AWAITING_APPROVAL:
        step = f"tenantctl fleet approve {run} --wave {wave}"
        commands = [step]
    elif state == m.PAUSED:
        retry = f"tenantctl fleet retry {run} --stack {failed[0]['stack']}" if failed else ""
        go_on = f"tenantctl fleet approve {run} --wave {wave + 1}"
        step = f"fix and {retry}, or accept the failures with {go_on}" if retry else go_on
        commands = [c for c in (retry, go_on) if c]
    return {**status, "next": step, "commands": commands, "attention": attention}


def waiting_for_person(status: dict[str, Any]) -> NeedsPerson | None:
    """The error a command that showed *status* exits with when the run rests until a
    person acts (``ExitCode.NEEDS_PERSON``), naming the exact command; None otherwise."""
    if not status.get("commands") or not resting(status):
        return None
    why = status.get("reason") or status["state"]
    return NeedsPerson(
        f"fleet run {status['run']} waits for a person ({why}): run "
        + " or ".join(f"`{c}`" for c in status["commands"])
    )


@dataclass(frozen=True)
class RunSummary:
    run: str
    status: str
    started: str | None

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "status": self.status, "started": self.started}


def list_runs(settings: Settings, limit: int = 20) -> list[RunSummary]:
    async def call(client: Client) -> list[RunSummary]:
        found: list[RunSummary] = []
        async for run in client.list_workflows(f"WorkflowType = '{m.WORKFLOW}'", limit=limit):
            found.append(
                RunSummary(
                    run.id,
                    run.status.name.lower() if run.status else "unknown",
                    run.start_time.isoformat() if run.start_time else None,
                )
            )
        return found

    return _run(settings, call)


# ------------------------------------------------------------------------ signals


@dataclass(frozen=True)
class Signalled:
    run: str
    signal: str
    detail: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] | None = None
    """On the embedded server, the run's status where this command ran it to."""

    def to_json(self) -> dict[str, Any]:
        extra = {} if self.status is None else {"status": self.status}
        return {"run": self.run, "signal": self.signal, **self.detail, **extra}


async def _signal(client: Client, run: str, name: str, *args: Any) -> None:
    handle = client.get_workflow_handle(run)
    try:
        await handle.signal(name, *args) if args else await handle.signal(name)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            try:
                await handle.describe()
            except RPCError:
                raise _unknown(run) from None
            raise PreconditionFailed(
                f"fleet run {run} has finished; start a new run for what is left"
            ) from None
        raise


def _signalling(
    settings: Settings,
    run: str,
    send: Callable[[Client], Awaitable[Signalled]],
    following: Following | None,
) -> Signalled:
    """*send* a signal; on the embedded server with *following*, then run the run (this
    command is its worker) until it rests. One worker for both: a worker that stopped
    right after a signal could hold the workflow task the signal made."""

    async def call(client: Client) -> Signalled:
        done = await send(client)
        if following is None or settings.embedded is None:
            return done
        return replace(done, status=await _follow(client, settings, run, following))

    return _run(settings, call, following or QUERIES)


def approve(
    settings: Settings, run: str, wave: int | None = None, following: Following | None = None
) -> Signalled:
    """Release the wave the run waits for (or *wave* and every wave before it)."""

    async def send(client: Client) -> Signalled:
        current = await _status(client, settings, run)
        state = current.get("gate", current["state"])  # a person's pause is not the gate's
        if wave is None and state not in (m.AWAITING_APPROVAL, m.PAUSED):
            raise PreconditionFailed(
                f"fleet run {run} is {state}, not waiting for approval; nothing to approve"
            )
        release = wave
        if release is None:
            release = current["wave"] + (1 if state == m.PAUSED else 0)
        if release < 1:
            raise UserInputError(f"--wave must be 1 or more, not {release}")
        await _signal(client, run, m.APPROVE_SIGNAL, release)
        return Signalled(run, m.APPROVE_SIGNAL, {"wave": release})

    return _signalling(settings, run, send, following)


def retry(
    settings: Settings, run: str, stack: str, following: Following | None = None
) -> Signalled:
    """Run one failed stack of *run* again."""

    async def send(client: Client) -> Signalled:
        current = await _status(client, settings, run)
        states = {s["stack"]: s["state"] for w in current["waves"] for s in w["stacks"]}
        if stack not in states:
            raise UserInputError(f"{stack} is not in fleet run {run}")
        if states[stack] != m.FAILED:
            raise PreconditionFailed(
                f"{stack} is {states[stack]} in fleet run {run}; only a failed stack is retried"
            )
        await _signal(client, run, m.RETRY_SIGNAL, stack)
        return Signalled(run, m.RETRY_SIGNAL, {"stack": stack})

    return _signalling(settings, run, send, following)


def pause(settings: Settings, run: str, reason: str) -> Signalled:
    """Start no further stack of *run* until ``resume``; stacks in flight finish."""

    async def send(client: Client) -> Signalled:
        await _signal(client, run, m.PAUSE_SIGNAL, reason)
        return Signalled(run, m.PAUSE_SIGNAL, {"reason": reason})

    return _run(settings, send)  # no worker: a signal needs none


def resume(settings: Settings, run: str, following: Following | None = None) -> Signalled:
    """Let a run a person paused start stacks again."""

    async def send(client: Client) -> Signalled:
        await _signal(client, run, m.RESUME_SIGNAL)
        return Signalled(run, m.RESUME_SIGNAL)

    return _signalling(settings, run, send, following)


def cancel(settings: Settings, run: str, following: Following | None = None) -> Signalled:
    """Start no further stack of *run*; those in flight finish (never a half `pulumi up`)."""

    async def send(client: Client) -> Signalled:
        await _signal(client, run, m.CANCEL_SIGNAL)
        return Signalled(run, m.CANCEL_SIGNAL)

    return _signalling(settings, run, send, following)


def wait(settings: Settings, run: str) -> dict[str, Any]:
    """Block until *run* finishes; its final status."""

    async def call(client: Client) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await client.get_workflow_handle(run).result()
        except WorkflowFailureError as exc:
            raise PreconditionFailed(f"fleet run {run} failed: {exc.cause or exc}") from None
        return with_next_step(result)

    return _run(settings, call)


# ------------------------------------------------------------------------ the worker


def worker(
    client: Client,
    settings: Settings,
    command: Command | None,
    *,
    max_activities: int = rules.MAX_CONCURRENCY,
    sticky_seconds: float = 10.0,
) -> Worker:
    """A worker for fleet runs on *settings*' task queue, running stacks with *command*
    (None: workflows only, which answers status queries and runs no stack)."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[FleetRun],
        # The project's modules are imported once, not per run: the workflow uses only its
        # pure rules, and the package's own start-up (PROJECT_DIR) is not workflow code.
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules("infra")
        ),
        activities=[StackRunner(command).run_stack] if command is not None else [],
        max_concurrent_activities=max_activities,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=sticky_seconds),
    )


def stack_command(stacks_dir: Path) -> Command:
    """How this installation runs a stack's operation: ``tenantctl`` on *stacks_dir*."""
    return tenantctl_command(stacks_dir)


def run_worker(settings: Settings, stacks_dir: Path, max_activities: int) -> None:
    """Serve fleet runs until interrupted (Ctrl-C, SIGTERM)."""

    async def call(client: Client) -> None:
        await worker(
            client, settings, stack_command(stacks_dir), max_activities=max_activities
        ).run()

    _run(settings, call)
