"""Named points inside the operations where a fault test can pause (and kill) a real run.

``TENANTCTL_TEST_PAUSE_AT=<point>[:<seconds>]`` makes the process write
``checkpoint <point>`` to stderr when it reaches that point and sleep there
(default 30 s), so a test can start a competing run or send SIGKILL at exactly
that moment. Unset (always, outside the fault tests) it costs one dictionary
lookup. The points are listed in ``POINTS``.
"""

from __future__ import annotations

import os
import sys
import time

PAUSE_ENV = "TENANTCTL_TEST_PAUSE_AT"

POINTS = (
    "lock-acquired",
    "reset-built",
    "reset-swapped",
    "reset-content",
    "undo-swapped",
    *(
        f"promote-{step}"
        for step in ("copy-content", "copy-config", "switch-current", "go-live", "record")
    ),
    "provision-defaults-database",
    "provision-working-database",
    "provision-first-release",
)


def checkpoint(point: str) -> None:
    """Pause here when the fault tests asked for *point*."""
    wanted = os.environ.get(PAUSE_ENV)
    if not wanted:
        return
    name, _, seconds = wanted.partition(":")
    if name != point:
        return
    sys.stderr.write(f"checkpoint {point}\n")
    sys.stderr.flush()
    time.sleep(float(seconds or 30))
