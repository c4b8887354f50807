"""status and list: what every tenant in ``stacks/`` looks like right now.

``list`` reads only the stack files. ``status`` adds, per stage, what the
content bucket records: the release the portal serves, the last reset and the
last promotion. A stage that cannot be reached is reported, not fatal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.core import naming
from infra.core.errors import TenantctlError, UnknownTenant
from infra.core.spec import SpecError, TenantSpec
from infra.ops import aws
from infra.ops.content import ContentStore
from infra.ops.promote import ACTIVE_RECORD, LAST_RECORD
from infra.ops.reset import RESET_RECORD
from infra.ops.stack import content_bucket_of, read_outputs
from infra.ops.stackfiles import read_spec, stack_region, tenants


def _read(stacks_dir: Path, slug: str, stage: naming.Stage) -> TenantSpec | dict[str, Any]:
    """The stage's spec, or the row that reports its broken stack file (one client's error)."""
    try:
        return read_spec(stacks_dir, slug, stage)
    except (TenantctlError, SpecError) as exc:
        return {
            "stack": naming.stack_name(slug, stage),
            "live": None,
            "error": " / ".join(line.strip() for line in str(exc).splitlines()),
            "fileError": True,
        }


def broken_files(rows: list[dict[str, Any]]) -> int:
    """How many stages of *rows* have a stack file that could not be read."""
    return sum(1 for row in rows for info in row["stages"].values() if info.get("fileError"))


def list_tenants(stacks_dir: Path) -> list[dict[str, Any]]:
    """Every tenant's stages from the stack files; a broken file is that stage's ``error``."""
    found = tenants(stacks_dir)
    rows = []
    for slug in sorted(found):
        stages: dict[str, Any] = {}
        for stage in found[slug]:
            spec = _read(stacks_dir, slug, stage)
            if isinstance(spec, dict):
                stages[stage] = spec
                continue
            stages[stage] = {
                "stack": spec.stack_name,
                "live": spec.live,
                "portalUrl": f"https://{spec.public_portal_host}",
                "adminUrl": f"https://{spec.admin_host}",
            }
        rows.append({"slug": slug, "stages": stages})
    return rows


def _stage_status(stacks_dir: Path, slug: str, stage: naming.Stage) -> dict[str, Any]:
    spec = _read(stacks_dir, slug, stage)
    if isinstance(spec, dict):
        return {**spec, "reachable": False}
    row: dict[str, Any] = {
        "stack": spec.stack_name,
        "live": spec.live,
        "portalUrl": f"https://{spec.public_portal_host}",
        "adminUrl": f"https://{spec.admin_host}",
        "currentRelease": None,
        "switchedAt": None,
        "lastReset": None,
        "lastPromotion": None,
        "promotionInProgress": None,
        "reachable": True,
    }
    try:
        bucket = content_bucket_of(spec, read_outputs(spec, stack_region(stacks_dir, slug, stage)))
        store = ContentStore(aws.client("s3"), bucket)
        current = store.current()
        if current is not None:
            row["currentRelease"] = current.release
            row["switchedAt"] = current.switched_at
        if stage == naming.PREVIEW:
            reset = store.get_record(RESET_RECORD)
            row["lastReset"] = reset.get("at") if reset else None
        else:
            last = store.get_record(LAST_RECORD)
            row["lastPromotion"] = last
            active = store.get_record(ACTIVE_RECORD)
            row["promotionInProgress"] = active.get("id") if active else None
    except Exception as exc:
        row["reachable"] = False
        row["error"] = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
    return row


def tenant_status(stacks_dir: Path, slug: str | None = None) -> list[dict[str, Any]]:
    found = tenants(stacks_dir)
    if slug is not None and slug not in found:
        raise UnknownTenant(
            f"no tenant {slug!r} in {stacks_dir}; `tenantctl list` shows the tenants there"
        )
    slugs = [slug] if slug else sorted(found)
    return [
        {"slug": s, "stages": {st: _stage_status(stacks_dir, s, st) for st in found[s]}}
        for s in slugs
    ]
