"""status: what every tenant in ``stacks/`` looks like right now.

Per stage, the stack file (as ``list`` reads it) and what the content bucket
records: the release the portal serves, the last reset and the last promotion. A
stage that cannot be reached is reported in its row, not fatal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.core import naming
from infra.core.errors import UnknownTenant
from infra.ops.adapters import aws
from infra.ops.adapters.content_store import ContentStore
from infra.ops.lifecycle.listing import StageStatus, TenantRow, read_stage, tenants_in
from infra.ops.lifecycle.promote import ACTIVE_RECORD, LAST_RECORD
from infra.ops.lifecycle.reset import RESET_RECORD
from infra.ops.stacks.handle import content_bucket_of
from infra.ops.stacks.opening import read_outputs
from infra.ops.stacks.stackfiles import stack_region


def _stage_status(stacks_dir: Path, slug: str, stage: naming.Stage) -> StageStatus:
    spec, listed = read_stage(stacks_dir, slug, stage)
    if spec is None:
        return StageStatus(listed)
    facts: dict[str, Any] = {}
    try:
        region = stack_region(stacks_dir, slug, stage)
        bucket = content_bucket_of(spec, read_outputs(spec, region))
        store = ContentStore(aws.client("s3", region), bucket)
        current = store.current()
        if current is not None:
            facts["current_release"] = current.release
            facts["switched_at"] = current.switched_at
        if stage == naming.PREVIEW:
            reset = store.get_record(RESET_RECORD)
            facts["last_reset"] = reset.get("at") if reset else None
            # After --undo the working database is the one from before that reset again.
            undone = bool(reset and reset.get("undo", {}).get("undoneAt"))
            facts["training_data"] = reset.get("trainingData") if reset and not undone else None
        else:
            facts["last_promotion"] = store.get_record(LAST_RECORD)
            active = store.get_record(ACTIVE_RECORD)
            facts["promotion_in_progress"] = active.get("id") if active else None
    except Exception as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        facts["error"] = (first or type(exc).__name__)[:300]
    return StageStatus(listed, **facts)


def tenant_status(stacks_dir: Path, slug: str | None = None) -> list[TenantRow[StageStatus]]:
    found = tenants_in(stacks_dir)
    if slug is not None and slug not in found:
        raise UnknownTenant(
            f"no tenant {slug!r} in {stacks_dir}; `tenantctl list` shows the tenants there"
        )
    slugs = [slug] if slug else sorted(found)
    return [TenantRow(s, {st: _stage_status(stacks_dir, s, st) for st in found[s]}) for s in slugs]
