"""The ``FleetRun`` workflow: one per fleet run, durable across worker deaths.

Temporal records every step in the run's history, so a worker that dies mid-wave is
replaced by any other worker on the task queue, which replays the history and goes on:
a stack whose activity completed is never run again; one that was in flight is retried
(its operation is idempotent: ``deploy`` changes nothing the second time).

Per wave: at most ``concurrency`` stack activities at once; each retried with capped
exponential backoff; no new stack starts once the failure budget is breached or the run
is cancelled. Then the health gate (``infra.core.fleet.gate``): on a breach the run pauses
and says why, until a ``retry`` of a failed stack, an ``approve`` (accepting the failures
so far) or a ``cancel``. A person's ``pause`` starts no further stack (those in flight
finish) until ``resume``. With ``approve_between_waves`` each wave after the canary waits
for ``approve``. ``status`` is a query; it never changes the run.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from infra.core import fleet as rules
    from infra.core import naming
    from infra.core.affected import StackRef
    from infra.ops.fleet import model as m


def _ref(stack: str) -> StackRef:
    slug, stage = naming.parse_stack_name(stack)
    return StackRef(slug, stage)


def _reason(exc: BaseException) -> str:
    cause = exc.cause if isinstance(exc, ActivityError) else None
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    message = (cause.message if isinstance(cause, ApplicationError) else str(cause or exc)) or ""
    return message or type(exc).__name__


@workflow.defn(name=m.WORKFLOW)
class FleetRun:
    def __init__(self) -> None:
        self._spec: m.RunSpec | None = None
        self._waves: list[list[str]] = []
        self._stacks: dict[str, dict[str, Any]] = {}
        self._state = m.RUNNING
        self._reason: str | None = None
        self._wave = 0
        self._approved = 0
        self._accepted_failures = 0
        self._retries: list[str] = []
        self._cancelled = False
        self._paused_by: str | None = None

    # ------------------------------------------------------------------ signals, query

    @workflow.signal(name=m.APPROVE_SIGNAL)
    def approve(self, wave: int) -> None:
        """Release wave *wave* (1-based) and every wave before it; past a paused gate, this
        accepts the failures so far."""
        self._approved = max(self._approved, wave)

    @workflow.signal(name=m.RETRY_SIGNAL)
    def retry(self, stack: str) -> None:
        entry = self._stacks.get(stack)
        if entry is not None and entry["state"] == m.FAILED and stack not in self._retries:
            entry["state"] = m.PENDING
            self._retries.append(stack)

    @workflow.signal(name=m.PAUSE_SIGNAL)
    def pause(self, reason: str) -> None:
        """Start no further stack until ``resume``; stacks in flight finish."""
        self._paused_by = reason or "no reason given"

    @workflow.signal(name=m.RESUME_SIGNAL)
    def resume(self) -> None:
        self._paused_by = None

    @workflow.signal(name=m.CANCEL_SIGNAL)
    def cancel(self) -> None:
        self._cancelled = True

    @workflow.query(name=m.STATUS_QUERY)
    def status(self) -> dict[str, Any]:
        spec = self._spec
        counts = dict.fromkeys((m.PENDING, m.STARTED, m.SUCCEEDED, m.FAILED, m.SKIPPED), 0)
        for entry in self._stacks.values():
            counts[entry["state"]] += 1
        state, reason = self._state, self._reason
        if self._paused_by is not None and state in (m.RUNNING, m.AWAITING_APPROVAL, m.PAUSED):
            state, reason = m.PAUSED, f"paused by a person: {self._paused_by}"
        return {
            "run": workflow.info().workflow_id,
            "operation": spec.operation if spec else "",
            "state": state,
            "reason": reason,
            "pausedBy": self._paused_by,
            "gate": self._state,
            "wave": self._wave,
            "failureBudget": self._allowed(),
            "counts": counts,
            "waves": [
                {
                    "wave": n,
                    "canary": self._is_canary(n),
                    "stacks": [{"stack": s, **self._stacks[s]} for s in wave],
                }
                for n, wave in enumerate(self._waves, start=1)
            ],
        }

    # ------------------------------------------------------------------ the run

    def _allowed(self) -> int:
        if self._spec is None:
            return 0
        budget = rules.parse_budget(self._spec.failure_budget).allowed(len(self._stacks))
        return max(budget, self._accepted_failures)

    def _is_canary(self, n: int) -> bool:
        spec = self._spec
        return spec is not None and n == 1 and 0 < spec.canary < len(spec.stacks)

    def _failed(self, stacks: list[str] | None = None) -> list[str]:
        names = self._stacks if stacks is None else stacks
        return [s for s in names if self._stacks[s]["state"] == m.FAILED]

    def _may_start(self) -> bool:
        return not self._cancelled and len(self._failed()) <= self._allowed()

    @workflow.run
    async def run(self, spec: m.RunSpec) -> dict[str, Any]:
        self._spec = spec
        waves = rules.plan_waves((_ref(s) for s in spec.stacks), spec.canary, spec.wave_size)
        self._waves = [[ref.stack for ref in wave] for wave in waves]
        self._stacks = {s: {"state": m.PENDING, "error": None} for w in self._waves for s in w}
        for n, wave in enumerate(self._waves, start=1):
            self._wave = n
            if n > 1 and spec.approve_between_waves and self._approved < n:
                await self._hold(
                    m.AWAITING_APPROVAL,
                    f"wave {n} of {len(self._waves)} ({len(wave)} stacks) waits for approval",
                    lambda n=n: self._approved >= n,
                )
            accepted = False
            while not self._cancelled:
                pending = [s for s in wave if self._stacks[s]["state"] == m.PENDING]
                todo = list(dict.fromkeys(self._retries + pending))  # a retry is pending too
                self._retries = []
                self._state, self._reason = m.RUNNING, None
                await self._run_stacks(todo, spec)
                reason = rules.gate(
                    canary=self._is_canary(n),
                    wave_failed=self._failed(wave),
                    failed_total=len(self._failed()),
                    allowed=self._allowed(),
                    accepted=accepted,
                )
                left = [s for s in wave if self._stacks[s]["state"] == m.PENDING]
                if reason is None and not left and not self._retries:
                    break
                if reason is None:
                    continue
                await self._hold(
                    m.PAUSED,
                    f"after wave {n}: {reason}",
                    lambda n=n: self._approved > n or bool(self._retries),
                )
                if self._approved > n and not self._retries:
                    accepted = True
                    self._accepted_failures = len(self._failed())
            if self._cancelled:
                break
        for entry in self._stacks.values():
            if entry["state"] == m.PENDING:
                entry["state"] = m.SKIPPED
        failed = self._failed()
        if self._cancelled:
            self._state, self._reason = m.CANCELLED, "cancelled by a person"
        else:
            self._state = m.DONE
            self._reason = (
                f"{len(failed)} stack(s) failed and were accepted: {', '.join(failed[:5])}"
                if failed
                else None
            )
        return self.status()

    async def _hold(self, state: str, reason: str, until: Any) -> None:
        self._state, self._reason = state, reason
        await workflow.wait_condition(lambda: self._cancelled or until())

    async def _run_stacks(self, stacks: list[str], spec: m.RunSpec) -> None:
        slots = asyncio.Semaphore(spec.concurrency)
        policy = RetryPolicy(
            initial_interval=timedelta(seconds=spec.first_retry_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=spec.max_retry_seconds),
            maximum_attempts=spec.max_attempts,
            non_retryable_error_types=[m.USER_ERROR],
        )

        async def one(stack: str) -> None:
            async with slots:
                await workflow.wait_condition(lambda: self._paused_by is None or self._cancelled)
                if not self._may_start():
                    return
                entry = self._stacks[stack]
                entry.update(state=m.STARTED, error=None)
                try:
                    done = await workflow.execute_activity(
                        m.ACTIVITY,
                        m.StackTask(spec.operation, stack),
                        result_type=m.StackDone,
                        start_to_close_timeout=timedelta(seconds=spec.timeout_seconds),
                        heartbeat_timeout=timedelta(seconds=spec.heartbeat_seconds),
                        retry_policy=policy,
                    )
                except ActivityError as exc:
                    entry.update(state=m.FAILED, error=_reason(exc))
                else:
                    entry.update(state=m.SUCCEEDED, seconds=round(done.seconds, 3))

        await asyncio.gather(*(one(s) for s in stacks))
