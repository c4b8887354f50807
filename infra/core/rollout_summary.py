"""What account staff see of one rollout: its phases, dates, tasks and why it needs attention.

Pure logic over the rollout model (``infra.core.rollout``): ``summarize`` turns a
schedule, one rollout's recorded state and the tool's observations into a
``RolloutSummary``; ``attention_order`` sorts a portfolio, most in need first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from infra.core.rollout import (
    MILESTONES,
    Observation,
    RolloutRecord,
    Schedule,
    TaskStatus,
    plan_dates,
    task_status,
)


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
