"""Recorded steps: what an operation did, one line of progress each, and how long it took."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Progress = Callable[[str], None]
"""Where an operation reports progress (the CLI passes a stderr writer)."""


def quiet(_: str) -> None:
    """A ``Progress`` that says nothing."""


@dataclass
class StepLog:
    """What each step did and how long it took (seconds)."""

    steps: list[dict[str, Any]] = field(default_factory=list)

    def run(self, name: str, action: Callable[[], str], progress: Progress) -> None:
        started = time.perf_counter()
        detail = action()
        seconds = round(time.perf_counter() - started, 3)
        self.steps.append({"step": name, "detail": detail, "seconds": seconds})
        progress(f"  {name}: {detail} ({seconds:.2f}s)")
