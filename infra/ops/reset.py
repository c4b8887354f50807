"""reset-preview: bring a preview back to defaults, keeping one undo.

What is reset: content (a new release from ``defaults/``, switched in with one
PUT of ``current.json``), the working database (recreated from the defaults
template after ending open sessions; the old one is kept as the undo copy),
and the payment settings (back to the sandbox defaults the program defines).
What is kept: domains, certificates, the database server, the bucket.

Every function here takes a ``PreviewStack``, which cannot be built for a
production spec.
"""

from __future__ import annotations

import time
from typing import Any

from infra.core import naming
from infra.core.content_model import iso8601, utc_now
from infra.core.errors import PreconditionFailed
from infra.core.payment_settings import payment_parameters
from infra.ops.payment import read_parameters, write_parameters
from infra.ops.stack import PreviewStack
from infra.ops.steps import Progress, StepLog, quiet

RESET_RECORD = "last-reset"


def _now() -> str:
    return iso8601(utc_now())


def reset_preview(stack: PreviewStack, progress: Progress = quiet) -> dict[str, Any]:
    """Reset content, database and payment settings to defaults; keep the previous state."""
    spec, log = stack.spec, StepLog()
    started = time.perf_counter()
    undo: dict[str, Any] = {}

    if not stack.database.exists(naming.defaults_database_name(spec.slug, spec.stage)):
        raise PreconditionFailed(
            f"{spec.stack_name} has no defaults database yet; run `tenantctl create "
            f"{spec.slug}` (or its post-provision step) first"
        )

    def content() -> str:
        current = stack.content.current()
        undo["release"] = current.release if current else None
        release = stack.content.publish_from_defaults(source="reset")
        stack.content.switch(release.id, previous=undo["release"])
        return f"release {release.id} from defaults/ ({len(release.files)} files) now current"

    def database() -> str:
        timings = stack.database.reset_working()
        undo["database"] = naming.undo_database_name(spec.slug, spec.stage)
        detail = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
        return f"{stack.working_database} recreated from the defaults template ({detail})"

    def payment() -> str:
        undo["payment"] = read_parameters(stack.ssm, spec)
        defaults = payment_parameters(spec)
        write_parameters(stack.ssm, spec, defaults)
        return f"{len(defaults)} payment settings back to defaults (mode {defaults['mode']})"

    log.run("content", content, progress)
    log.run("database", database, progress)
    log.run("payment", payment, progress)

    result = {
        "stack": spec.stack_name,
        "action": "reset",
        "at": _now(),
        "seconds": round(time.perf_counter() - started, 3),
        "steps": log.steps,
        "undo": {**undo, "available": True},
    }
    stack.content.put_record(RESET_RECORD, result)
    return result


def undo_reset(stack: PreviewStack, progress: Progress = quiet) -> dict[str, Any]:
    """Return the preview to the state it had before the last reset (once)."""
    spec, log = stack.spec, StepLog()
    record = stack.content.get_record(RESET_RECORD)
    if not record or not record.get("undo", {}).get("available"):
        raise PreconditionFailed(
            f"nothing to undo for {spec.stack_name}: no reset since the last undo "
            "(reset-preview keeps exactly one previous state)"
        )
    undo = record["undo"]
    started = time.perf_counter()

    def content() -> str:
        if not undo.get("release"):
            return "no release before the reset; content left as defaults"
        current = stack.content.current()
        stack.content.switch(undo["release"], previous=current.release if current else None)
        return f"release {undo['release']} current again"

    def database() -> str:
        stack.database.undo_reset()
        return f"{stack.working_database} restored from the copy kept at reset"

    def payment() -> str:
        write_parameters(stack.ssm, spec, undo.get("payment") or payment_parameters(spec))
        return "payment settings restored"

    log.run("content", content, progress)
    log.run("database", database, progress)
    log.run("payment", payment, progress)
    record["undo"] = {**undo, "available": False, "undoneAt": _now()}
    stack.content.put_record(RESET_RECORD, record)
    return {
        "stack": spec.stack_name,
        "action": "undo",
        "at": _now(),
        "seconds": round(time.perf_counter() - started, 3),
        "steps": log.steps,
    }
