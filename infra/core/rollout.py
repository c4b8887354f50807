"""The rollout model: phases, tasks, gates, planned dates and billing milestones.

Pure logic. The vendor's schedule (``templates/rollout/schedule.yaml``) is
parsed by the operations and validated here (``parse_schedule``); the recorded
state of one rollout (``RolloutRecord``) comes from the control database; what
the tool observes on the real systems comes in as ``Observation`` values. From
these ``summarize`` computes what account staff see: the current phase, days
in it against its estimate, lateness, the next tasks and who owes them, the
gates, and why a rollout needs attention.

Planned dates come from the sign-off date and the estimates: phase 1 is
planned to start at sign-off, each phase to end after its estimate's upper
bound, the next to start then. A recorded replan replaces a phase's estimate;
a pause pushes every planned date after its start by its length. Actual dates
come from when phases complete (a phase actually starts when the previous one
completed). A phase is late when its planned end has passed and it is not
complete; a completed phase finished late when it completed after that.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infra.core.text_rules import first_of

Owner = Literal["vendor", "client"]
OWNERS: tuple[Owner, ...] = ("vendor", "client")

Milestone = Literal["contract-signoff", "preview-go-live", "go-live", "recurring-start"]
MILESTONES: tuple[Milestone, ...] = (
    "contract-signoff",
    "preview-go-live",
    "go-live",
    "recurring-start",
)
"""Billing milestones, in the order a rollout earns them."""

START_MILESTONE: Milestone = "contract-signoff"
"""Earned by starting the rollout (contract sign-off)."""

CHECKS: dict[str, str] = {
    "stacks-deployed": "preview and production stacks exist and were deployed",
    "certificates-issued": "TLS certificates issued (the client's own domain validated)",
    "admins-exist": "the administrator accounts of the spec exist in both user pools",
    "payment-sandbox": "preview has sandbox payment credentials",
    "payment-live": "production has live payment credentials",
    "content-edited": "preview content differs from the defaults",
    "config-edited": "preview configuration differs from the defaults",
    "imports-recorded": "data imports recorded",
    "promote-dry-run-clean": "`promote --dry-run` meets every precondition",
    "live-site-launched": "production is live",
}
"""What the tool can observe on the real systems; a task names one with ``observe``."""

ObservedState = Literal["done", "not-done", "unknown"]
TaskState = Literal["done", "open", "unknown"]

BILLING_SOURCE = "tenantctl.rollout"
BILLING_DETAIL_TYPE = "Billing Milestone Reached"
_MILESTONE_NAMESPACE = uuid.UUID("6f3a1c52-3a55-4c61-9a0e-1b9a6d1f0e10")
"""Fixed forever: changing it would give every past milestone a new idempotency key."""


def milestone_key(client: str, contract: str, milestone: str) -> str:
    """The deterministic idempotency key of one milestone of one client's contract."""
    return str(uuid.uuid5(_MILESTONE_NAMESPACE, f"{client}\x1f{contract}\x1f{milestone}"))


def billing_event(
    client: str, contract: str, milestone: str, occurred_at: datetime
) -> dict[str, Any]:
    """The one event a milestone publishes (see ``infra/schemas/billing-event.schema.json``).

    Built only from recorded facts, so every retry publishes the same bytes.
    """
    return {
        "source": BILLING_SOURCE,
        "detailType": BILLING_DETAIL_TYPE,
        "detail": {
            "client": client,
            "contract": contract,
            "milestone": milestone,
            "occurredAt": occurred_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "idempotencyKey": milestone_key(client, contract, milestone),
        },
    }


# ---------------------------------------------------------------- the schedule


class Task(BaseModel):
    """One task of a phase."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9-]{1,48}$")
    title: str = Field(min_length=1, max_length=120)
    owner: Owner
    required: bool = True
    observe: str | None = None
    """A check in ``CHECKS``: the tool decides whether the task is done."""
    accept: bool = False
    """Observed only: a person may mark it done although the check says not done
    (e.g. the client keeps the default content)."""

    @field_validator("observe")
    @classmethod
    def _known_check(cls, value: str | None) -> str | None:
        if value is not None and value not in CHECKS:
            raise ValueError(f"unknown check {value!r}; known: {', '.join(CHECKS)}")
        return value

    @model_validator(mode="after")
    def _accept_needs_observe(self) -> Task:
        if self.accept and self.observe is None:
            raise ValueError("accept applies to observed tasks only (set observe)")
        return self


class Estimate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_days: int = Field(ge=1, le=365)
    max_days: int = Field(ge=1, le=365)

    @model_validator(mode="after")
    def _ordered(self) -> Estimate:
        if self.max_days < self.min_days:
            raise ValueError("max_days must be at least min_days")
        return self

    def label(self) -> str:
        if self.min_days == self.max_days:
            return f"{self.min_days}d"
        return f"{self.min_days}-{self.max_days}d"


class Phase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int = Field(ge=1, le=20)
    key: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")
    title: str = Field(min_length=1, max_length=80)
    estimate: Estimate
    milestones: tuple[Milestone, ...] = ()
    """Earned when the phase completes (in the same transaction)."""
    tasks: tuple[Task, ...] = Field(min_length=1)

    def task(self, key: str) -> Task | None:
        return next((t for t in self.tasks if t.key == key), None)


class Schedule(BaseModel):
    """The vendor's schedule: phases in order, their estimates and tasks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phases: tuple[Phase, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        numbers = [p.number for p in self.phases]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"phases must be numbered 1, 2, 3, ... in order; got {numbers}")
        keys = [t.key for p in self.phases for t in p.tasks]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"task keys must be unique across phases; repeated: {dupes}")
        earned = [m for p in self.phases for m in p.milestones]
        if START_MILESTONE in earned:
            raise ValueError(f"{START_MILESTONE} is earned by starting the rollout, not a phase")
        if len(set(earned)) != len(earned):
            raise ValueError("a milestone may be earned by one phase only")
        return self

    def phase(self, number: int) -> Phase:
        for p in self.phases:
            if p.number == number:
                return p
        raise KeyError(number)

    def find_task(self, key: str) -> tuple[Phase, Task] | None:
        for p in self.phases:
            t = p.task(key)
            if t is not None:
                return p, t
        return None

    @property
    def last(self) -> int:
        return self.phases[-1].number


class ScheduleError(ValueError):
    """The schedule file is not valid; ``problems`` are ``(where, message)`` lines."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = [f"{where}: {message}" for where, message in problems]
        super().__init__(f"schedule is invalid: {first_of(lines) or 'invalid'}")


def parse_schedule(data: Any) -> Schedule:
    """Validate the schedule file's data; ``ScheduleError`` names every problem."""
    try:
        return Schedule.model_validate(data)
    except ValidationError as exc:
        problems = [(".".join(str(p) for p in e["loc"]) or "(top)", e["msg"]) for e in exc.errors()]
        raise ScheduleError(problems) from None


# ---------------------------------------------------------- recorded state


@dataclass(frozen=True)
class Mark:
    """A person's mark on a task: who and when (and why)."""

    by: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True)
class PhaseCompletion:
    at: datetime
    by: str
    override_reason: str | None = None


@dataclass(frozen=True)
class Replan:
    phase: int
    min_days: int
    max_days: int
    at: datetime
    by: str
    reason: str


@dataclass(frozen=True)
class Pause:
    started: date
    ended: date | None
    by: str
    reason: str


@dataclass(frozen=True)
class Observation:
    state: ObservedState
    detail: str
    checked_at: datetime | None = None


@dataclass(frozen=True)
class MilestoneRecord:
    milestone: str
    occurred_at: datetime
    published: bool


@dataclass
class RolloutRecord:
    """What the control database holds about one rollout."""

    client: str
    contract: str
    signed_off: date
    marks: dict[str, Mark] = field(default_factory=dict)
    completions: dict[int, PhaseCompletion] = field(default_factory=dict)
    replans: list[Replan] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)
    milestones: list[MilestoneRecord] = field(default_factory=list)


# ------------------------------------------------------------ planned dates


@dataclass(frozen=True)
class PhaseDates:
    number: int
    estimate: Estimate
    planned_start: date
    planned_end: date
    actual_start: date | None
    actual_end: date | None


def effective_estimate(schedule: Schedule, replans: Sequence[Replan], number: int) -> Estimate:
    """The phase's estimate after the latest replan of it (replans are kept, never edited)."""
    latest = [r for r in replans if r.phase == number]
    if not latest:
        return schedule.phase(number).estimate
    last = max(latest, key=lambda r: r.at)
    return Estimate(min_days=last.min_days, max_days=last.max_days)


def _paused_days(pauses: Sequence[Pause], start: date, end: date, today: date) -> int:
    """Days of pause beginning in ``[start, end)`` (an open pause runs until *today*)."""
    total = 0
    for p in pauses:
        if start <= p.started < end:
            total += max(0, ((p.ended or today) - p.started).days)
    return total


def plan_dates(schedule: Schedule, record: RolloutRecord, today: date) -> list[PhaseDates]:
    """Planned and actual dates of every phase (see the module docstring)."""
    rows: list[PhaseDates] = []
    previous_planned_end = record.signed_off
    previous_actual_end: date | None = record.signed_off
    for phase in schedule.phases:
        estimate = effective_estimate(schedule, record.replans, phase.number)
        start = previous_planned_end
        end = start + timedelta(days=estimate.max_days)
        # A pause starting inside the planned window pushes the end out; apply until stable
        # (the pushed window may reach a later pause).
        pushed = 0
        while True:
            extra = _paused_days(record.pauses, start, end, today)
            if extra == pushed:
                break
            end = end + timedelta(days=extra - pushed)
            pushed = extra
        completion = record.completions.get(phase.number)
        actual_start = previous_actual_end
        actual_end = completion.at.date() if completion and actual_start else None
        rows.append(PhaseDates(phase.number, estimate, start, end, actual_start, actual_end))
        previous_planned_end = end
        previous_actual_end = actual_end
    return rows


# ----------------------------------------------------------- task states


@dataclass(frozen=True)
class TaskStatus:
    key: str
    title: str
    owner: Owner
    required: bool
    state: TaskState
    how: str
    """Who/what says so: ``marked by pat 2026-11-02``, ``observed: ...``."""
    regressed: bool = False
    """Its phase completed through the gate (not overridden) and it is not done now."""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "owner": self.owner,
            "required": self.required,
            "state": self.state,
            "how": self.how,
            "regressed": self.regressed,
        }


def _marked(mark: Mark, verb: str) -> str:
    """``marked by pat 2026-11-02 (note)``."""
    note = f" ({mark.note})" if mark.note else ""
    return f"{verb} by {mark.by} {mark.at.date().isoformat()}{note}"


def task_status(
    task: Task,
    mark: Mark | None,
    observation: Observation | None,
    phase_complete: bool,
) -> TaskStatus:
    """A task's state now: observed tasks follow the systems; others follow a person's mark."""
    state: TaskState
    how: str
    if task.observe is None:
        if mark is not None:
            state, how = "done", _marked(mark, "marked")
        else:
            state, how = "open", "not marked done"
    else:
        obs = observation or Observation("unknown", "not checked")
        if obs.state == "done":
            state, how = "done", f"observed: {obs.detail}"
        elif mark is not None and (task.accept or obs.state == "unknown"):
            # A person may vouch for what the tool cannot see, or accept a default.
            state, how = "done", f"{_marked(mark, 'confirmed')}; observed: {obs.detail}"
        elif obs.state == "unknown":
            state, how = "unknown", f"unknown: {obs.detail}"
        else:
            state, how = "open", f"observed: {obs.detail}"
    regressed = phase_complete and state == "open" and task.required
    return TaskStatus(task.key, task.title, task.owner, task.required, state, how, regressed)


def gate_problems(tasks: Iterable[TaskStatus]) -> list[str]:
    """Why a phase cannot complete: each required task that is not done, one line each."""
    return [f"{t.key} ({t.owner}): {t.how}" for t in tasks if t.required and t.state != "done"]


def phase_gate(
    phase: Phase,
    record: RolloutRecord,
    observations: Mapping[str, Observation],
    *,
    must_be_complete: bool = False,
) -> list[str]:
    """The one gate rule: why *phase* does not hold, one line each (empty: it holds).

    Each required task must be done now, observed tasks as the systems say
    (*observations*), the others as a person marked them. Completing a phase asks
    only that; promotion also needs the phase recorded complete
    (*must_be_complete*)."""
    problems: list[str] = []
    if must_be_complete and phase.number not in record.completions:
        problems.append(f"phase {phase.number} {phase.title} is not complete")
    return problems + gate_problems(
        task_status(
            t,
            record.marks.get(t.key),
            observations.get(t.observe) if t.observe else None,
            False,
        )
        for t in phase.tasks
    )


# --------------------------------------------------------------- the summary


@dataclass(frozen=True)
class PhaseSummary:
    number: int
    key: str
    title: str
    estimate: str
    planned_start: date
    planned_end: date
    actual_start: date | None
    actual_end: date | None
    complete: bool
    late: bool
    late_days: int
    override_reason: str | None
    tasks: tuple[TaskStatus, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "key": self.key,
            "title": self.title,
            "estimate": self.estimate,
            "plannedStart": self.planned_start.isoformat(),
            "plannedEnd": self.planned_end.isoformat(),
            "actualStart": self.actual_start.isoformat() if self.actual_start else None,
            "actualEnd": self.actual_end.isoformat() if self.actual_end else None,
            "complete": self.complete,
            "late": self.late,
            "lateDays": self.late_days,
            "overrideReason": self.override_reason,
            "tasks": [t.to_json() for t in self.tasks],
        }


@dataclass(frozen=True)
class RolloutSummary:
    client: str
    contract: str
    signed_off: date
    today: date
    phase: int | None
    """The current (first incomplete) phase; ``None`` when all are complete."""
    phase_title: str
    days_in_phase: int
    estimate: str
    late: bool
    late_days: int
    paused: bool
    next_tasks: tuple[TaskStatus, ...]
    attention: tuple[str, ...]
    billed: tuple[str, ...]
    """Milestones recorded and confirmed published."""
    pending: tuple[str, ...]
    """Milestones recorded, not yet confirmed published."""
    phases: tuple[PhaseSummary, ...]

    @property
    def sort_key(self) -> tuple[int, int, str, str]:
        return (0 if self.attention else 1, -self.late_days, self.client, self.contract)

    def to_json(self, detail: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "client": self.client,
            "contract": self.contract,
            "signedOff": self.signed_off.isoformat(),
            "phase": self.phase,
            "phaseTitle": self.phase_title,
            "daysInPhase": self.days_in_phase,
            "estimate": self.estimate,
            "late": self.late,
            "lateDays": self.late_days,
            "paused": self.paused,
            "nextTasks": [
                {"key": t.key, "owner": t.owner, "state": t.state} for t in self.next_tasks
            ],
            "attention": list(self.attention),
            "billed": list(self.billed),
            "pendingBilling": list(self.pending),
        }
        if detail:
            data["phases"] = [p.to_json() for p in self.phases]
        return data


def summarize(
    schedule: Schedule,
    record: RolloutRecord,
    observations: Mapping[str, Observation],
    today: date,
    detail: bool = True,
) -> RolloutSummary:
    """Everything account staff see about one rollout, as of *today*.

    Without *detail* the tasks of phases after the current one are left out (the
    portfolio view needs only the current phase's and the completed phases' tasks).
    """
    dates = plan_dates(schedule, record, today)
    phases: list[PhaseSummary] = []
    current: int | None = None
    for phase, when in zip(schedule.phases, dates, strict=True):
        completion = record.completions.get(phase.number)
        complete = completion is not None
        future = current is not None and not complete
        tasks = (
            ()
            if (future and not detail)
            else tuple(
                task_status(
                    t,
                    record.marks.get(t.key),
                    observations.get(t.observe) if t.observe else None,
                    complete and completion is not None and completion.override_reason is None,
                )
                for t in phase.tasks
            )
        )
        late_days = 0 if complete else max(0, (today - when.planned_end).days)
        if current is None and not complete:
            current = phase.number
        phases.append(
            PhaseSummary(
                phase.number,
                phase.key,
                phase.title,
                when.estimate.label(),
                when.planned_start,
                when.planned_end,
                when.actual_start,
                when.actual_end,
                complete,
                late_days > 0,
                late_days,
                completion.override_reason if completion else None,
                tasks,
            )
        )
    paused = any(p.ended is None for p in record.pauses)
    attention: list[str] = []
    if current is not None:
        now = phases[current - 1]
        start = now.actual_start or now.planned_start
        days = max(0, (today - start).days)
        next_tasks = tuple(t for t in now.tasks if t.state != "done" and t.required) or tuple(
            t for t in now.tasks if t.state != "done"
        )
        if now.late:
            attention.append(f"phase {current} late by {now.late_days}d")
    else:
        now, days, next_tasks = phases[-1], 0, ()
    for p in phases:
        for t in p.tasks:
            if t.regressed:
                attention.append(f"{t.key} no longer done: {t.how}")
    if paused:
        attention.append("paused")
    published = {m.milestone for m in record.milestones if m.published}
    billed = tuple(m for m in MILESTONES if m in published)
    pending = tuple(
        m for m in MILESTONES if m in {x.milestone for x in record.milestones} - published
    )
    if pending:
        attention.append(f"billing not published: {', '.join(pending)}")
    return RolloutSummary(
        client=record.client,
        contract=record.contract,
        signed_off=record.signed_off,
        today=today,
        phase=current,
        phase_title=now.title if current is not None else "complete",
        days_in_phase=days,
        estimate=now.estimate if current is not None else "",
        late=now.late if current is not None else False,
        late_days=now.late_days if current is not None else 0,
        paused=paused,
        next_tasks=next_tasks,
        attention=tuple(attention),
        billed=billed,
        pending=pending,
        phases=tuple(phases),
    )


def attention_order(summaries: Iterable[RolloutSummary]) -> list[RolloutSummary]:
    """What needs attention first (the latest first), then by client."""
    return sorted(summaries, key=lambda s: s.sort_key)


def status_line(s: RolloutSummary) -> str:
    """One line per rollout, for people."""
    if s.phase is None:
        where = "complete"
    else:
        where = f"phase {s.phase} {s.phase_title}: day {s.days_in_phase} of {s.estimate}"
    late = f" LATE {s.late_days}d" if s.late else ""
    nxt = ", ".join(f"{t.key} ({t.owner})" for t in s.next_tasks[:3])
    if len(s.next_tasks) > 3:
        nxt += f" +{len(s.next_tasks) - 3}"
    billed = ",".join(s.billed) or "-"
    flag = "!" if s.attention else " "
    line = f"{flag} {s.client:<24} {where}{late}; next: {nxt or '-'}; billed: {billed}"
    if s.attention:
        more = f"; +{len(s.attention) - 2} more" if len(s.attention) > 2 else ""
        line += f"  [{'; '.join(s.attention[:2])}{more}]"
    return line
