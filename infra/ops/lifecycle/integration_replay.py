"""``tenantctl integration replay SLUG ID``: re-drive one integration's dead-letter queue
into its stage's working database (``infra.ops.integrations.replay``), idempotent by
(integration, source id, version). Preview by default; ``--stage production`` replays a
production's, which is where a person is paged for one (its alarm is on once live).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.core import naming
from infra.core.errors import DependencyUnreachable, PreconditionFailed
from infra.core.integration_config import integration_names
from infra.core.integrations.adapters.registry import (
    adapter_for_integration,
    context_for_integration,
)
from infra.core.steps import Progress, quiet
from infra.ops.adapters import aws
from infra.ops.adapters.database import connect
from infra.ops.integrations.replay import ReplayCounts, replay_dead_letters
from infra.ops.integrations.store import lots_and_zones
from infra.ops.lifecycle.integration_config import find
from infra.ops.stacks.locking import client_lock, lock_place
from infra.ops.stacks.opening import open_from_files
from infra.ops.stacks.stackfiles import stack_region


@dataclass(frozen=True)
class Replay:
    stack: str
    integration: str
    queue: str
    counts: ReplayCounts

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "integration": self.integration,
            "deadLetterQueue": self.queue,
            **self.counts.to_json(),
        }


def run_replay(
    stacks_dir: Path,
    slug: str,
    integration_id: str,
    stage: naming.Stage,
    *,
    break_lock: str | None = None,
    progress: Progress = quiet,
) -> Replay:
    """Re-drive the dead-letter queue under the client's lock (it writes sessions and
    deletes messages), so it never races a reset-preview or a promote."""
    with client_lock(
        slug,
        f"integration replay {integration_id} --stage {stage}",
        lock_place(stacks_dir, slug),
        break_reason=break_lock,
        progress=progress,
    ):
        return _run_replay(stacks_dir, slug, integration_id, stage)


def _run_replay(stacks_dir: Path, slug: str, integration_id: str, stage: naming.Stage) -> Replay:
    handle = open_from_files(stacks_dir, slug, stage)
    spec = handle.spec
    integration = find(spec, integration_id)
    try:
        adapter = adapter_for_integration(integration)
    except ValueError as exc:
        raise PreconditionFailed(f"{exc}: a {integration.mode} integration has no queue") from None
    name = integration_names(spec.slug, spec.stage, integration.id).dead_letter_queue
    sqs = aws.client("sqs", stack_region(stacks_dir, slug, stage))
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if "NonExistentQueue" not in code and code != "QueueDoesNotExist":
            raise DependencyUnreachable(f"SQS refused to find {name}: {exc}") from None
        raise PreconditionFailed(
            f"dead-letter queue {name} does not exist yet; deploy the stack first "
            f"(`{naming.TOOL} deploy {spec.stack_name}`)"
        ) from None
    except BotoCoreError as exc:
        raise DependencyUnreachable(f"SQS did not answer for {name}: {exc}") from None
    context = context_for_integration(integration)
    with connect(handle.working_url) as conn:
        lots, _ = lots_and_zones(conn)
        counts = replay_dead_letters(
            sqs,
            url,
            conn,
            adapter,
            context,
            zone_map=integration.zone_map(),
            lots=lots,
            policy=integration.unmatched_zones,
        )
    return Replay(spec.stack_name, integration.id, name, counts)
