"""Run by tests/test_billing.py in a subprocess: record a milestone and publish it,
SIGKILLing this process at one named point (a real kill, no cleanup runs).

Usage: python tests/billing_crash.py POINT CLIENT

POINT: during-record (milestone and outbox rows written, transaction not committed),
recorded (committed, nothing sent), before-send (outbox row locked, nothing sent),
after-send (the bus has the event, its publication is not recorded),
after-commit (publication recorded, the process dies before it ends).
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import date
from typing import Any

from infra.ops.adapters import aws, control
from infra.ops.rollout import billing
from infra.ops.rollout import transitions as rollout_transitions

point, client = sys.argv[1], sys.argv[2]


def die(*_: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


real_earn = rollout_transitions.earn


def earn(*args: Any, **kwargs: Any) -> bool:
    earned = real_earn(*args, **kwargs)
    if point == "during-record":
        die()
    return earned


class Events:
    def __init__(self, client: Any) -> None:
        self.client = client

    def put_events(self, **kwargs: Any) -> Any:
        if point == "before-send":
            die()
        answer = self.client.put_events(**kwargs)
        if point == "after-send":
            die()
        return answer


class Clients:
    @staticmethod
    def client(service: str, region: str | None = None) -> Any:
        return Events(aws.client(service, region))


rollout_transitions.earn = earn  # type: ignore[assignment]
billing.aws = Clients  # type: ignore[assignment]

with control.connect() as conn:
    rollout_transitions.start(conn, client, "C-1", date(2026, 11, 2), "crash-test")
    if point == "recorded":
        die()
    billing.publish(conn, die if point == "after-commit" else billing.quiet)
