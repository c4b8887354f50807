"""Named points inside the operations where a fault test can pause (and kill) a real run.

``TENANTCTL_TEST_PAUSE_AT=<point>[:<seconds>]`` makes the process write
``checkpoint <point>`` to stderr when it reaches that point and wait there
(default 30 s, or until it receives SIGUSR1), so a test can start a competing
run or send SIGKILL at exactly that moment. Unset (always, outside the fault
tests) it costs one dictionary lookup. The points are ``POINTS`` and, for each step
of a promotion, ``promote-<step>`` (``infra.ops.lifecycle.promote.STEPS``, which this
lowest layer cannot import: the steps are listed once, there), and for each step of a
preview move, ``move-<step>`` (``infra.ops.lifecycle.move.STEPS``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable

PAUSE_ENV = "TENANTCTL_TEST_PAUSE_AT"

POINTS = (
    "lock-acquired",
    "reset-built",
    "reset-swapped",
    "reset-content",
    "reset-finished",
    "undo-swapped",
    "provision-defaults-database",
    "provision-working-database",
    "provision-first-release",
    "provision-database-role",
    "provision-database-access",
)


GUARDS: list[Callable[[], None]] = []
"""Called at every checkpoint; one raises to stop the operation at this step boundary
(``infra.ops.stacks.locking`` adds one that stops an operation whose lock was broken)."""


def checkpoint(point: str) -> None:
    """A step boundary: run the guards, then pause here when the fault tests asked for *point*
    (and run the guards again after the pause)."""
    for guard in GUARDS:
        guard()
    wanted = os.environ.get(PAUSE_ENV)
    if not wanted:
        return
    name, _, seconds = wanted.partition(":")
    if name != point:
        return
    released = threading.Event()
    previous = signal.signal(signal.SIGUSR1, lambda *_: released.set())
    try:
        sys.stderr.write(f"checkpoint {point}\n")
        sys.stderr.flush()
        deadline = time.monotonic() + float(seconds or 30)
        while not released.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    for guard in GUARDS:  # paused a while: what held then may not hold now
        guard()
