"""Recorded steps: what an operation did, one line of progress each, and how long it took."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Progress = Callable[[str], None]
"""Where an operation reports progress (the CLI passes a stderr writer)."""


NOTICES: list[dict[str, Any]] = []
"""What this process's operations must tell a ``--json`` caller beside their result, one
``{kind: detail}`` each (a lock taken over from a dead holder); the CLI adds them to the
document it prints."""


def quiet(_: str) -> None:
    """A ``Progress`` that says nothing."""


@dataclass(frozen=True)
class Step:
    """One finished step: its name, one line of what it did, and how long it took."""

    step: str
    detail: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "detail": self.detail, "seconds": self.seconds}


@dataclass
class StepLog:
    """What each step did and how long it took (seconds)."""

    steps: list[Step] = field(default_factory=list)

    def run(self, name: str, action: Callable[[], str], progress: Progress) -> None:
        started = time.perf_counter()
        detail = action()
        seconds = round(time.perf_counter() - started, 3)
        self.steps.append(Step(name, detail, seconds))
        progress(f"  {name}: {detail} ({seconds:.2f}s)")
