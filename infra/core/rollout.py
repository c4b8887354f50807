"""The rollout model: phases, tasks, gates, planned dates and billing milestones.

Pure logic. The vendor's schedule (``templates/rollout/schedule.yaml``) is
parsed by the operations and validated here (``parse_schedule``); the recorded
state of one rollout (``RolloutRecord``) comes from the control database; what
the tool observes on the real systems comes in as ``Observation`` values. From
these ``infra.core.rollout_summary.summarize`` computes what account staff see:
the current phase, days in it against its estimate, lateness, the next tasks
and who owes them, the gates, and why a rollout needs attention.

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
GO_LIVE_MILESTONE: Milestone = "go-live"
"""The one whose event names the verify run the client accepted (its evidence)."""

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
    "integrations-verified": "every integration's vendor zones are mapped or ignored, onto "
    "existing lots, and it has a passing `integration test` round trip since its last config "
    "change, on the release preview serves (not applicable without integrations)",
    "live-site-launched": "production is live",
    "verify-passed": "the latest `tenantctl verify` of preview's served release passed",
    "verify-accepted": "the client accepted a passing verify run of exactly the release and "
    "configuration promote would carry",
    "training-held": "at least one training session was held (`tenantctl rollout training`)",
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
    client: str,
    contract: str,
    milestone: str,
    occurred_at: datetime,
    evidence: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The one event a milestone publishes (see ``infra/schemas/billing-event.schema.json``).

    Built only from recorded facts, so every retry publishes the same bytes. *evidence*:
    for go-live, the client's accepted verify run (``infra.core.acceptance``).
    """
    event: dict[str, Any] = {
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
    if evidence:
        event["detail"]["evidence"] = dict(evidence)
    return event


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
