"""promote: launch production at go-live with preview's vetted content and configuration.

The steps are ``STEPS`` (``STEP_FUNCTIONS``, in order; each function's docstring
says what it does). Each is recorded in a promotion record in the production bucket
(``tenantctl/promotions/<id>``) as it finishes. Running ``promote`` again after any
failure resumes the unfinished promotion: finished steps are skipped, nothing is done
twice, nothing is lost. A promotion and a rollback hold the client's lock
(``infra.ops.stacks.locking``).

One promotion reads each stack file once and each stack's outputs once, and
evaluates its preconditions once (``infra.ops.lifecycle.promote_plan``); the
rollout's gate (a ``PromotionGate``, passed in: the lifecycle never imports the
rollout) gets them rather than reading again. The go-live step rewrites the
production file's ``live`` line and binds the handle to the deploy's own outputs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from infra.core import naming
from infra.core.config_diff import diff_config
from infra.core.content_model import iso8601, new_release_id, utc_now
from infra.core.errors import PreconditionFailed
from infra.core.steps import Progress, quiet
from infra.ops.adapters.checkpoints import checkpoint
from infra.ops.adapters.config_tables import (
    copy_config,
    rollback_config,
)
from infra.ops.content.imports import replay_imports
from infra.ops.lifecycle.promote_plan import (
    Precondition,
    check_preconditions,
    config_of,
    content_diff,
    promoted_release,
)
from infra.ops.stacks.deployers import deploy_stack
from infra.ops.stacks.handle import StackHandle, refuse_stack_names
from infra.ops.stacks.locking import client_lock, place_of
from infra.ops.stacks.opening import open_file
from infra.ops.stacks.platformfile import platform_outputs
from infra.ops.stacks.stackfiles import read_stack, set_integrations, set_live

ACTIVE_RECORD = "promotion-active"
LAST_RECORD = "last-promotion"


def _now() -> str:
    return iso8601(utc_now())


@dataclass(frozen=True)
class PromotionOutcome:
    """A promotion or rollback, as its record in the production bucket now reads.

    ``unchanged``: nothing was done, the recorded promotion is live and preview
    has not changed since. ``to_json`` is the ``--json`` document: the record,
    plus ``"unchanged": true`` in that case.
    """

    record: dict[str, Any]
    unchanged: bool = False
    production: StackHandle | None = None
    """The production handle bound to the go-live deploy's outputs (a new promotion that
    completed), for a check right after it; not part of the JSON."""

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def status(self) -> str:
        return str(self.record.get("status"))

    def to_json(self) -> dict[str, Any]:
        return {**self.record, "unchanged": True} if self.unchanged else dict(self.record)


def _record_name(promotion_id: str) -> str:
    return f"promotions/{promotion_id}"


class PromotionGate(Protocol):
    """What stands between a promotion and the client's rollout (``RolloutGate``)."""

    def check(
        self,
        preview: StackHandle,
        production: StackHandle,
        preconditions: Sequence[Precondition],
        override_reason: str | None,
        progress: Progress,
    ) -> str | None:
        """Before a new promotion: raise ``PreconditionFailed`` when the rollout does not
        allow it (unless *override_reason*, recorded); a note when it could not check."""
        ...

    def record_go_live(self, slug: str, progress: Progress) -> str:
        """The promotion's last step: record the go-live (idempotent); one line."""
        ...


StepFn = Callable[["Promotion"], str]


class Promotion:
    """One promotion's state, persisted in the production bucket after every step."""

    def __init__(
        self,
        stacks_dir: Path,
        preview: StackHandle,
        production: StackHandle,
        record: dict[str, Any],
        gate: PromotionGate,
        progress: Progress,
    ) -> None:
        self.stacks_dir = stacks_dir
        self.preview = preview
        self.production = production
        self.record = record
        self.gate = gate
        self.progress = progress

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def release_id(self) -> str:
        return f"promotion-{self.id}"

    def save(self) -> None:
        self.production.content.put_record(_record_name(self.id), self.record)


def _copy_content(p: Promotion) -> str:
    """Preview's current release copied into production as a new release (only missing
    blobs are copied; the same id on a re-run)."""
    source = p.preview.content.release(p.record["sourceRelease"])
    if source is None:
        raise PreconditionFailed(
            f"preview release {p.record['sourceRelease']} no longer exists; it was the source "
            "of this promotion"
        )
    production_defaults = p.production.content.defaults_manifest()
    promoted = promoted_release(p.preview, p.production, source.files, production_defaults)
    by_digest = {d: k for k, d in production_defaults.items()}
    sources = {
        digest: (p.production.content.bucket, naming.DEFAULTS_PREFIX + by_digest[digest])
        for digest in promoted.files.values()
        if digest in by_digest
    }
    for key in promoted.from_preview:
        digest = promoted.files[key]
        sources[digest] = (p.preview.content.bucket, naming.blob_key(digest))
    release = p.production.content.import_release(
        p.release_id, promoted.files, sources, f"preview:{p.id}"
    )
    return (
        f"release {release.id}: {len(release.files)} files, "
        f"{len(promoted.from_preview)} of them the client's edits"
    )


def _copy_config(p: Promotion) -> str:
    """Configuration tables copied in one database transaction, production's previous
    configuration kept for rollback; the transaction itself records the promotion id, so
    a re-run after a crash between commit and record does not repeat it."""
    counts = copy_config(p.preview.working_url, p.production.working_url, p.id)
    p.record["tables"] = counts
    return ", ".join(f"{t} {n}" for t, n in counts.items()) + " rows"


def _replay_imports(p: Promotion) -> str:
    """Old-system data files (accounts, vehicles, permits, violations) recorded by
    ``tenantctl import`` in preview, loaded into production from the kept files, each in
    one transaction with its record."""
    return replay_imports(p.preview, p.production, p.progress)


def _switch_current(p: Promotion) -> str:
    """Production's ``current.json`` switched to the new release."""
    current = p.production.content.current()
    if current and current.release == p.release_id:
        return f"production already serves {p.release_id}"
    p.record.setdefault("previousRelease", current.release if current else None)
    p.save()
    p.production.content.switch(p.release_id, previous=p.record["previousRelease"])
    return f"production serves {p.release_id}"


def _go_live(p: Promotion) -> str:
    """``tenants:live: true`` in the production stack file, then production deployed
    (payment live, portal open)."""
    slug = p.production.spec.slug
    # Integrations (config and zone map, never secrets) carried from preview, in the same
    # deploy that switches them live (schedules ENABLED with tenants:live).
    carried = [
        i.model_dump(by_alias=True, mode="json", exclude_defaults=True)
        for i in p.preview.spec.integrations
    ]
    set_integrations(p.stacks_dir, slug, naming.PRODUCTION, carried)
    live_spec, _ = set_live(p.stacks_dir, slug, True)
    p.production, how = deploy_stack(live_spec, p.stacks_dir, p.production, p.progress)
    integrations = f"; {len(carried)} integration(s) carried" if carried else ""
    return f"{naming.CONFIG_NAMESPACE}live true{integrations}; {how}"


def _finish(p: Promotion) -> str:
    """The go-live recorded as complete, with the rollout's go-live milestones."""
    # Idempotent: a re-run after a crash between the database commit and this record
    # finds the milestones recorded and records nothing twice.
    rollout = p.gate.record_go_live(p.production.spec.slug, p.progress)
    p.record["completedAt"] = _now()
    p.record["status"] = "complete"
    return f"go-live recorded; rollout: {rollout}"


STEP_FUNCTIONS: dict[str, StepFn] = {
    "copy-content": _copy_content,
    "copy-config": _copy_config,
    "replay-imports": _replay_imports,
    "switch-current": _switch_current,
    "go-live": _go_live,
    "record": _finish,
}
STEPS = tuple(STEP_FUNCTIONS)


def _unchanged_since(
    preview: StackHandle, production: StackHandle, last: dict[str, Any] | None
) -> bool:
    """Whether *last* is complete, production is live, and promoting would change nothing."""
    if not last or last.get("status") != "complete" or not production.spec.live:
        return False
    current = production.content.current()
    if current is None or current.release != f"promotion-{last['id']}":
        return False
    content = content_diff(preview, production)
    if content.added or content.changed or content.removed:
        return False
    config = diff_config(config_of(preview.working_url), config_of(production.working_url))
    return not any(d.added or d.changed or d.removed for d in config.values())


def promote(
    stacks_dir: Path,
    slug: str,
    gate: PromotionGate,
    progress: Progress = quiet,
    override_reason: str | None = None,
    *,
    break_lock: str | None = None,
) -> PromotionOutcome:
    """Run (or resume) the promotion of *slug*'s preview to production.

    When the last promotion is complete and preview has not changed since, it
    is a no-op that says so (``unchanged: true``): a retry after lost output
    never replaces the rollback point. With new changes it is a new promotion
    whose rollback point is the state it replaces. A new promotion first passes
    *gate* (the CLI's is the rollout's: testing and training complete, or
    *override_reason*, which is recorded).
    """
    refuse_stack_names(slug, "promote")
    preview_file = read_stack(stacks_dir, slug, naming.PREVIEW)  # its region places the lock
    platform = platform_outputs(stacks_dir, preview_file.spec.platform_stack)
    with client_lock(
        slug,
        "promote",
        place_of(platform, preview_file.region),
        break_reason=break_lock,
        progress=progress,
    ):
        # Under the lock: a promotion changes the production file.
        production = open_file(read_stack(stacks_dir, slug, naming.PRODUCTION))
        preview = open_file(preview_file)
        return _promote(stacks_dir, preview, production, gate, progress, override_reason)


def _promote(
    stacks_dir: Path,
    preview: StackHandle,
    production: StackHandle,
    gate: PromotionGate,
    progress: Progress,
    override_reason: str | None,
) -> PromotionOutcome:
    slug = preview.spec.slug
    store = production.content
    active = (store.get_record(ACTIVE_RECORD) or {}).get("id")
    record = store.get_record(_record_name(active)) if active else None
    if record is None:
        last_id = (store.get_record(LAST_RECORD) or {}).get("id")
        last = store.get_record(_record_name(last_id)) if last_id else None
        if _unchanged_since(preview, production, last):
            assert last is not None
            progress(f"nothing to promote: promotion {last['id']} is live and preview is unchanged")
            return PromotionOutcome(last, unchanged=True)
        preconditions = check_preconditions(preview, production)
        unchecked = gate.check(preview, production, preconditions, override_reason, progress)
        failed = [c for c in preconditions if not c.ok]
        if failed:
            raise PreconditionFailed(
                f"cannot promote {slug}: " + "; ".join(c.message for c in failed)
            )
        if unchecked:
            progress(unchecked)
        source = preview.content.current()
        assert source is not None  # checked above
        promotion_id = new_release_id()  # sortable by time, like release ids
        record = {
            "id": promotion_id,
            "stack": production.stack_name,
            "source": preview.stack_name,
            "sourceRelease": source.release,
            "startedAt": _now(),
            "status": "in-progress",
            "wasLive": bool(production.spec.live),
            "steps": {name: "pending" for name in STEPS},
        }
        store.put_record(_record_name(promotion_id), record)
        store.put_record(ACTIVE_RECORD, {"id": promotion_id})
        progress(f"promotion {promotion_id}: {preview.stack_name} -> {production.stack_name}")
    else:
        progress(f"resuming promotion {record['id']}")

    promotion = Promotion(stacks_dir, preview, production, record, gate, progress)
    for name in STEPS:
        if record["steps"].get(name) == "done":
            progress(f"  {name}: already done")
            continue
        started = time.perf_counter()
        checkpoint(f"promote-{name}")
        try:
            detail = STEP_FUNCTIONS[name](promotion)
        except Exception as exc:
            record["steps"][name] = "failed"
            record["error"] = f"{name}: {type(exc).__name__}: {exc}".splitlines()[0][:300]
            promotion.save()
            raise
        record["steps"][name] = "done"
        record.setdefault("seconds", {})[name] = round(time.perf_counter() - started, 3)
        record.pop("error", None)
        promotion.save()
        progress(f"  {name}: {detail}")

    store = promotion.production.content  # bound to the go-live deploy's outputs
    store.put_record(LAST_RECORD, {"id": record["id"], "completedAt": record["completedAt"]})
    store.put_record(ACTIVE_RECORD, {"id": None, "lastCompleted": record["id"]})
    return PromotionOutcome(record, production=promotion.production)


def rollback(
    stacks_dir: Path, slug: str, progress: Progress = quiet, *, break_lock: str | None = None
) -> PromotionOutcome:
    """Return production to the state before the last completed promotion.

    That is its release and configuration tables and, when that promotion was
    the go-live (production was not live before it), the portal closed again
    (``tenants:live: false``) and payment back to sandbox, by redeploying
    production. A later promotion's rollback leaves production live. Both
    PostgreSQL and the bucket are reached before either is changed; every step
    checks what is already done, so a re-run after a failure finishes it.
    """
    refuse_stack_names(slug, "promote --rollback")
    preview_file = read_stack(stacks_dir, slug, naming.PREVIEW)
    platform = platform_outputs(stacks_dir, preview_file.spec.platform_stack)
    with client_lock(
        slug,
        "promote --rollback",
        place_of(platform, preview_file.region),
        break_reason=break_lock,
        progress=progress,
    ):
        production = open_file(read_stack(stacks_dir, slug, naming.PRODUCTION))
        return _rollback(stacks_dir, production, progress)


def _rollback(stacks_dir: Path, production: StackHandle, progress: Progress) -> PromotionOutcome:
    slug = production.spec.slug
    store = production.content
    if (store.get_record(ACTIVE_RECORD) or {}).get("id"):
        raise PreconditionFailed(
            f"a promotion of {slug} is unfinished; run `tenantctl promote {slug}` to finish it "
            "before rolling back"
        )
    last = store.get_record(LAST_RECORD)
    record = store.get_record(_record_name(last["id"])) if last else None
    if record is None or record.get("status") != "complete":
        raise PreconditionFailed(
            f"no completed promotion of {slug} to roll back (each promotion can be rolled "
            "back once)"
        )
    # Both systems reachable before anything changes (raises DependencyUnreachable).
    production.database.exists(production.working_database)
    current = store.current()

    rollback_config(production.working_url, record["id"])
    progress("  config: previous production configuration restored")
    previous = record.get("previousRelease")
    if previous and (current is None or current.release != previous):
        store.switch(previous, previous=current.release if current else None)
        progress(f"  content: production serves {previous} again")
    if record.get("wasLive") is False:
        spec, _ = set_live(stacks_dir, slug, False)
        production, how = deploy_stack(spec, stacks_dir, production, progress)
        progress(f"  portal and payment: tenants:live false; {how}")
    record["status"] = "rolled-back"
    record["rolledBackAt"] = _now()
    production.content.put_record(_record_name(record["id"]), record)  # after any redeploy
    return PromotionOutcome(record)
