"""The read-only rollout commands: ``rollout status`` and ``rollout history``.

They take no lock and import no AWS client: ``rollout status`` over 1,000 rollouts
answers from a fixed number of queries in a cold process (``scripts/bench_rollout.py``).
Checking observed tasks now needs the systems; the caller passes an observer then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from infra.core.rollout_summary import RolloutSummary, attention_order
from infra.ops.adapters import control
from infra.ops.rollout.reads import HistoryEntry, history, status_all, status_one
from infra.ops.rollout.store import Observer, load_schedule, today


@dataclass(frozen=True)
class RolloutStatus:
    """``rollout status``: the portfolio (``detail=False``, one summary line per client)
    or one client in full."""

    today: date
    rollouts: list[RolloutSummary]
    detail: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "rollouts": [s.to_json(detail=self.detail) for s in self.rollouts],
        }


def rollout_status(client: str | None, observe: Observer | None) -> RolloutStatus:
    """One client's rollout, or with no *client* every client's, attention first.

    With *observe* (``infra.ops.rollout.observe.observer``), the observed tasks are
    checked on the systems now (and stored); without it they are the last
    observations. Reads; takes no lock; imports no AWS client (the caller brings the
    observer only when it checks)."""
    schedule = load_schedule()
    with control.connect() as conn:
        if client is None:
            summaries = status_all(conn, schedule)
            if observe is not None:
                summaries = attention_order(
                    status_one(conn, schedule, s.client, observe) for s in summaries
                )
            return RolloutStatus(today(), summaries, detail=False)
        one = status_one(conn, schedule, client, observe)
    return RolloutStatus(today(), [one], detail=True)


@dataclass(frozen=True)
class History:
    """``rollout history``: who did what and when, oldest first."""

    client: str
    rows: list[HistoryEntry]

    def to_json(self) -> dict[str, Any]:
        return {"client": self.client, "history": [r.to_json() for r in self.rows]}


def read_history(client: str, contract: str | None = None) -> History:
    with control.connect() as conn:
        return History(client, history(conn, client, contract))
