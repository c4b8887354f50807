"""``tenantctl integration replay`` (issue 19): an integration's dead-letter queue on the
emulator's SQS (created by the local apply with the program's redrive policy) re-driven
through the adapter into the preview's database, idempotent by source id and version,
an unreadable message left on the queue with its reason. Local target (moto +
PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from infra.core.errors import ExitCode
from infra.core.integration_config import integration_names
from infra.devtools.mockvendors import enforcement_data
from infra.ops.adapters import aws
from infra.ops.stacks.opening import open_from_files
from tests.helpers import SLUG, cli, lock_held_elsewhere, ok, validate

ADD = (
    "integration", "add", SLUG, "meters", "--vendor", "generic-push", "--mode", "push",
    "--timezone", "America/New_York",
)  # fmt: skip
REPLAY = ("integration", "replay", SLUG, "meters")
EVENT = {
    "transactionId": "m-1", "version": 1, "action": "NEW", "plate": "DLQ 1", "zone": "M-N1",
    "startTime": "2026-05-01T09:00:00", "endTime": "2026-05-01T11:00:00",
}  # fmt: skip


def _configured(stacks: Path, tmp_path: Path) -> None:
    ok(cli(stacks, *ADD))
    zones = tmp_path / "zones.csv"
    zones.write_text("id,name\nM-N1,North Garage\n")
    ok(cli(stacks, "integration", "map-zones", SLUG, "meters", "--zones", str(zones), "--write"))


def _dead_letter(bodies: list[bytes]) -> Any:
    """*bodies* delivered to the integration's queue and failed until SQS moves them to its
    dead-letter queue (the redrive policy's receive count)."""
    sqs = aws.client("sqs")
    names = integration_names(SLUG, "preview", "meters")
    queue = sqs.get_queue_url(QueueName=names.queue)["QueueUrl"]
    for body in bodies:
        sqs.send_message(QueueUrl=queue, MessageBody=body.decode())
    for _ in range(20):  # a consumer that keeps failing: received, never deleted
        if not sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages"
        ):
            break
    dlq = sqs.get_queue_url(QueueName=names.dead_letter_queue)["QueueUrl"]
    count = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert int(count["Attributes"]["ApproximateNumberOfMessages"]) == len(bodies)
    return sqs, dlq


def _sessions(stacks: Path) -> list[tuple[Any, ...]]:
    with psycopg.connect(open_from_files(stacks, SLUG, "preview").working_url) as conn:
        return conn.execute(
            "SELECT source_id, version, plate, lot_code FROM activity.sessions ORDER BY 1"
        ).fetchall()


def test_replay_stores_each_session_once_and_leaves_what_it_cannot_read(
    stacks: Path, tmp_path: Path
) -> None:
    _configured(stacks, tmp_path)
    undeployed = cli(stacks, *REPLAY)
    assert undeployed.exit_code == ExitCode.PRECONDITION
    assert "deploy the stack first (`tenantctl deploy demo-preview`)" in undeployed.output
    ok(cli(stacks, "deploy", "demo-preview", "--yes"))
    later = {**EVENT, "version": 2, "action": "EXTEND", "endTime": "2026-05-01T12:00:00"}
    sqs, dlq = _dead_letter(
        [
            enforcement_data([EVENT]),
            enforcement_data([EVENT]),
            b"{not json",
            enforcement_data([later]),
        ]
    )

    with lock_held_elsewhere(SLUG, "promote"):  # serialized with the client's others
        held = cli(stacks, *REPLAY)
    assert held.exit_code == ExitCode.LOCKED and "promote" in held.output
    assert "Traceback" not in held.output
    assert _sessions(stacks) == []
    depth = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "4"

    first = cli(stacks, *REPLAY, "--json")
    assert first.exit_code == ExitCode.PRECONDITION, first.output
    report = validate("integration-replay", json.loads(first.stdout))
    assert (report["messages"], report["replayed"]) == (4, 3)
    assert (report["stored"], report["alreadyStored"]) == (2, 1)
    assert len(report["left"]) == 1 and "JSON" in report["left"][0]["reason"]
    assert _sessions(stacks) == [("m-1", 2, "DLQ1", "N1")]

    again = cli(stacks, *REPLAY)  # the unreadable message is still there, nothing twice
    assert again.exit_code == ExitCode.PRECONDITION
    assert "0 of 1 message(s) replayed" in again.output and "left on the queue" in again.output
    assert "Traceback" not in again.output
    assert _sessions(stacks) == [("m-1", 2, "DLQ1", "N1")]
    left = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in left] == ["{not json"]

    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=left[0]["ReceiptHandle"])  # a person's fix
    out = ok(cli(stacks, *REPLAY)).stdout
    assert "0 of 0 message(s) replayed" in out


def test_replay_of_an_integration_the_stage_does_not_have(stacks: Path, tmp_path: Path) -> None:
    _configured(stacks, tmp_path)
    production = cli(stacks, *REPLAY, "--stage", "production")  # promote carries it there
    assert production.exit_code == ExitCode.BAD_INPUT
    assert "demo-production has no integration 'meters'" in production.output
