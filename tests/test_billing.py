"""Billing milestones exactly once: SIGKILL at every point between recording a milestone
and confirming its publication, then a re-run; counted through SQS queues subscribed to
the billing bus on the moto server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.core.rollout import BILLING_SOURCE, milestone_key
from infra.ops.adapters import aws
from tests.helpers import ROOT, TENANTCTL, drain

POINTS = ("during-record", "recorded", "before-send", "after-send", "after-commit")


def subscribe(name: str, fifo: bool) -> str:
    """A queue subscribed to the billing bus. The FIFO one is what a billing consumer that
    deduplicates on the idempotency key sees; the standard one sees every put."""
    sqs, events = aws.client("sqs"), aws.client("events")
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = os.environ["TENANTCTL_BILLING_BUS"]
    rule = name.replace(".", "-")
    events.put_rule(
        Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": [BILLING_SOURCE]})
    )
    target: dict[str, Any] = {"Id": "q", "Arn": arn}
    if fifo:
        target["SqsParameters"] = {"MessageGroupId": "billing"}
        target["InputTransformer"] = {
            "InputPathsMap": {"key": "$.detail.idempotencyKey"},
            "InputTemplate": '{"idempotencyKey": "<key>"}',
        }
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[target])
    return str(url)


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_then_rerun_leaves_one_event_per_milestone(control_env: str, point: str):
    raw, deduplicated = subscribe("billing-raw", False), subscribe("billing.fifo", True)
    client = f"kill-{POINTS.index(point)}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    crashed = subprocess.run(
        [sys.executable, str(ROOT / "tests/billing_crash.py"), point, client],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    rerun = subprocess.run(
        [TENANTCTL, "rollout", "start", client, "--contract", "C-1", "--signed-off", "2026-11-02"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
    publish = CliRunner().invoke(main, ["billing", "publish", "--json"])
    assert publish.exit_code == 0, publish.output
    assert json.loads(publish.stdout) == {"published": []}

    key = milestone_key(client, "C-1", "contract-signoff")
    assert drain(deduplicated) == [{"idempotencyKey": key}]
    copies = drain(raw)
    assert {json.dumps(c["detail"], sort_keys=True) for c in copies} == {
        json.dumps(
            {
                "client": client,
                "contract": "C-1",
                "milestone": "contract-signoff",
                "occurredAt": copies[0]["detail"]["occurredAt"],
                "idempotencyKey": key,
            },
            sort_keys=True,
        )
    }
    # Only a kill after the bus accepted the event and before that was recorded can make
    # the publisher send it again (the same event); everywhere else the bus got it once.
    assert len(copies) == (2 if point == "after-send" else 1)
    pending = CliRunner().invoke(main, ["billing", "pending", "--json"])
    assert json.loads(pending.stdout) == {"pending": []}
