"""promote: launch production at go-live with preview's vetted content and configuration.

Steps, each recorded in a promotion record in the production bucket
(``tenantctl/promotions/<id>``) as it finishes:

1. ``copy-content``   preview's current release copied into production as a new
                      release (only missing blobs are copied; same id on re-run)
2. ``copy-config``    configuration tables copied in one database transaction,
                      previous production configuration kept for rollback; the
                      transaction itself records the promotion id, so a re-run
                      after a crash between commit and record does not repeat it
   ``replay-imports`` old-system data files (accounts, vehicles, permits, violations)
                      recorded by ``tenantctl import`` in preview loaded into production
                      from the kept files, each in one transaction with its record
3. ``switch-current`` production ``current.json`` switched to the new release
4. ``go-live``        ``tenants:live: true`` in the production stack file, then
                      production deployed (payment live, portal open)
5. ``record``         the go-live recorded as complete

Running ``promote`` again after any failure resumes the unfinished promotion:
finished steps are skipped, nothing is done twice, nothing is lost. A
promotion and a rollback hold the client's lock (``infra.ops.stacks.locking``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from infra.core import naming
from infra.core.config_diff import diff_config
from infra.core.content_model import ContentDiff, diff_manifests, iso8601, new_release_id, utc_now
from infra.core.errors import PreconditionFailed
from infra.core.promotion import PromotedContent, promoted_content
from infra.core.steps import Progress, quiet
from infra.ops.adapters.checkpoints import checkpoint
from infra.ops.adapters.config_tables import (
    CONFIG_SCHEMA,
    copy_config,
    read_config,
    rollback_config,
)
from infra.ops.adapters.database import CONNECT_TIMEOUT_S
from infra.ops.adapters.payment_store import credentials_mode, read_parameters
from infra.ops.stacks.deployers import deploy_stack
from infra.ops.stacks.handle import StackHandle, open_from_files, refuse_stack_names
from infra.ops.stacks.locking import client_lock, lock_region
from infra.ops.stacks.stackfiles import set_live

ACTIVE_RECORD = "promotion-active"
LAST_RECORD = "last-promotion"
STEPS = ("copy-content", "copy-config", "replay-imports", "switch-current", "go-live", "record")


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


def open_pair(stacks_dir: Path, slug: str) -> tuple[StackHandle, StackHandle]:
    refuse_stack_names(slug, "promote")
    return (
        open_from_files(stacks_dir, slug, naming.PREVIEW),
        open_from_files(stacks_dir, slug, naming.PRODUCTION),
    )


# ------------------------------------------------------------------ preconditions


@dataclass(frozen=True)
class Precondition:
    """One thing a promotion needs; *message* says how to fix it when not *ok*."""

    check: str
    ok: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "message": self.message}


def check_preconditions(preview: StackHandle, production: StackHandle) -> list[Precondition]:
    """Each precondition with ``ok`` and a message that says how to fix it when not."""
    checks: list[Precondition] = []
    slug = preview.spec.slug

    def check(name: str, ok: bool, message: str) -> None:
        checks.append(Precondition(name, ok, message))

    current = preview.content.current()
    check(
        "preview-content",
        current is not None,
        f"preview serves release {current.release}"
        if current
        else f"preview has no content release; run `tenantctl create {slug}` first",
    )
    has_db = preview.database.exists(preview.working_database)
    check(
        "preview-database",
        has_db,
        f"preview database {preview.working_database} exists"
        if has_db
        else f"preview database {preview.working_database} is missing; run "
        f"`tenantctl create {slug}` or `tenantctl reset-preview {slug}`",
    )
    mode = credentials_mode(production.secrets, production.spec)
    fix = f"set them with `tenantctl payment set-credentials {slug} --stage production`"
    if mode == "live":
        check("live-credentials", True, "production has live payment credentials")
    elif mode == "unknown":
        check(
            "live-credentials",
            True,
            "production has payment credentials (the provider's key format does not say "
            "whether they are live; make sure they are)",
        )
    elif mode == "sandbox":
        check("live-credentials", False, f"production payment credentials are sandbox; {fix}")
    else:
        check("live-credentials", False, f"production has no payment credentials; {fix}")
    if production.spec.portal_domain is not None:
        check("custom-domain-certificate", *_custom_domain_check(production))
    return checks


def _custom_domain_check(production: StackHandle) -> tuple[bool, str]:
    """The client's own domain must be validated before go-live: the deploy that opens the
    portal would otherwise wait up to 75 minutes for DNS the client controls, then fail."""
    domain = production.spec.portal_domain
    arn = (production.outputs or {}).get("customDomainCertificateArn")
    if not arn:
        return False, (
            f"no certificate known for {domain}: deploy production first "
            f"(`pulumi up -s {production.stack_name}`)"
        )
    cert = production.acm.describe_certificate(CertificateArn=arn)["Certificate"]
    status = cert.get("Status")
    if status == "ISSUED":
        return True, f"certificate of {domain} issued"
    records = "; ".join(
        f"{o['ResourceRecord']['Name']} {o['ResourceRecord']['Type']} "
        f"{o['ResourceRecord']['Value']}"
        for o in cert.get("DomainValidationOptions", [])
        if "ResourceRecord" in o
    )
    return False, (
        f"certificate of {domain} is {status}; send the client these DNS records to publish "
        f"and promote once ACM has issued it: {records or 'see customDomainValidationRecords'}"
    )


# ------------------------------------------------------------------------ dry run


def _config_of(url: str) -> dict[str, dict[Any, tuple[Any, ...]]]:
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        return read_config(conn)


def _content_diff(preview: StackHandle, production: StackHandle) -> ContentDiff:
    """Production's current files against what promotion would serve (see infra.promotion)."""
    source = preview.content.current()
    target = production.content.current()
    release = preview.content.release(source.release) if source else None
    new = _promoted(preview, production, release.files).files if release else {}
    old: dict[str, str] = {}
    if target:
        served = production.content.release(target.release)
        old = dict(served.files) if served else {}
    return diff_manifests(old, new)


@dataclass(frozen=True)
class PromotionPlan:
    """Exactly what a promotion would change; ``to_json`` is ``promote --dry-run --json``."""

    stack: str
    preconditions: list[Precondition]
    content: ContentDiff
    config: dict[str, dict[str, list[str]]]
    """Per configuration table: the primary keys of rows ``added``, ``changed``, ``removed``."""
    imports: list[dict[str, Any]]
    payment_from: str | None
    portal_from: str
    payment_to: str = "live"
    portal_to: str = "live"

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.preconditions)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "preconditions": [c.to_json() for c in self.preconditions],
            "ready": self.ready,
            "content": {
                "added": self.content.added,
                "changed": self.content.changed,
                "removed": self.content.removed,
            },
            "config": self.config,
            "imports": self.imports,
            "payment": {"from": self.payment_from, "to": self.payment_to},
            "portal": {"from": self.portal_from, "to": self.portal_to},
        }


def plan_promotion(preview: StackHandle, production: StackHandle) -> PromotionPlan:
    """Exactly what ``promote`` would change, changing nothing."""
    checks = check_preconditions(preview, production)
    config: dict[str, dict[str, list[str]]] = {}
    ok = {c.check: c.ok for c in checks}
    if ok["preview-database"] and production.database.exists(production.working_database):
        for table, d in diff_config(
            _config_of(preview.working_url), _config_of(production.working_url)
        ).items():
            config[f"{CONFIG_SCHEMA}.{table}"] = {
                "added": sorted(map(str, d.added)),
                "changed": sorted(map(str, d.changed)),
                "removed": sorted(map(str, d.removed)),
            }
    params = read_parameters(production.ssm, production.spec)
    return PromotionPlan(
        stack=production.stack_name,
        preconditions=checks,
        content=_content_diff(preview, production),
        config=config,
        imports=_pending_imports(preview, production) if ok["preview-database"] else [],
        payment_from=params.get("mode"),
        portal_from="live" if production.spec.live else "coming soon",
    )


def _pending_imports(preview: StackHandle, production: StackHandle) -> list[dict[str, Any]]:
    from infra.ops.content.imports import pending_replays

    return [
        {k: r[k] for k in ("kind", "fileName", "rows", "sha256")}
        for r in pending_replays(preview, production)
    ]


def _promoted(
    preview: StackHandle,
    production: StackHandle,
    files: Mapping[str, str],
    production_defaults: Mapping[str, str] | None = None,
) -> PromotedContent:
    """What production would serve for preview release *files* (see infra.promotion)."""
    return promoted_content(
        files,
        preview.content.defaults_manifest(),
        production_defaults or production.content.defaults_manifest(),
    )


# -------------------------------------------------------------------------- steps


StepFn = Callable[["Promotion"], str]


class Promotion:
    """One promotion's state, persisted in the production bucket after every step."""

    def __init__(
        self,
        stacks_dir: Path,
        preview: StackHandle,
        production: StackHandle,
        record: dict[str, Any],
        progress: Progress,
    ) -> None:
        self.stacks_dir = stacks_dir
        self.preview = preview
        self.production = production
        self.record = record
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
    source = p.preview.content.release(p.record["sourceRelease"])
    if source is None:
        raise PreconditionFailed(
            f"preview release {p.record['sourceRelease']} no longer exists; it was the source "
            "of this promotion"
        )
    production_defaults = p.production.content.defaults_manifest()
    promoted = _promoted(p.preview, p.production, source.files, production_defaults)
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
    counts = copy_config(p.preview.working_url, p.production.working_url, p.id)
    p.record["tables"] = counts
    return ", ".join(f"{t} {n}" for t, n in counts.items()) + " rows"


def _replay_imports(p: Promotion) -> str:
    from infra.ops.content.imports import replay_imports

    return replay_imports(p.preview, p.production, p.progress)


def _switch_current(p: Promotion) -> str:
    current = p.production.content.current()
    if current and current.release == p.release_id:
        return f"production already serves {p.release_id}"
    p.record.setdefault("previousRelease", current.release if current else None)
    p.save()
    p.production.content.switch(p.release_id, previous=p.record["previousRelease"])
    return f"production serves {p.release_id}"


def _go_live(p: Promotion) -> str:
    live_spec, _ = set_live(p.stacks_dir, p.production.spec.slug, True)
    _, how = deploy_stack(live_spec, p.stacks_dir, p.production, p.progress)
    return f"{naming.CONFIG_NAMESPACE}live true; {how}"


def _finish(p: Promotion) -> str:
    from infra.ops.rollout.commands import go_live_recorded

    # Idempotent: a re-run after a crash between the database commit and this record
    # finds the milestones recorded and records nothing twice.
    rollout = go_live_recorded(p.production.spec.slug, None, p.progress)
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


def _unchanged_since(
    preview: StackHandle, production: StackHandle, last: dict[str, Any] | None
) -> bool:
    """Whether *last* is complete, production is live, and promoting would change nothing."""
    if not last or last.get("status") != "complete" or not production.spec.live:
        return False
    current = production.content.current()
    if current is None or current.release != f"promotion-{last['id']}":
        return False
    content = _content_diff(preview, production)
    if content.added or content.changed or content.removed:
        return False
    config = diff_config(_config_of(preview.working_url), _config_of(production.working_url))
    return not any(d.added or d.changed or d.removed for d in config.values())


def promote(
    stacks_dir: Path,
    slug: str,
    progress: Progress = quiet,
    override_reason: str | None = None,
    *,
    break_lock: bool = False,
) -> PromotionOutcome:
    """Run (or resume) the promotion of *slug*'s preview to production.

    When the last promotion is complete and preview has not changed since, it
    is a no-op that says so (``unchanged: true``): a retry after lost output
    never replaces the rollback point. With new changes it is a new promotion
    whose rollback point is the state it replaces. A new promotion first passes
    the rollout gate (``infra.ops.rollout.commands.promote_gate``: testing and training
    complete, or *override_reason*, which is recorded).
    """
    with client_lock(
        slug, "promote", lock_region(stacks_dir, slug), break_stale=break_lock, progress=progress
    ):
        return _promote(stacks_dir, slug, progress, override_reason)


def _promote(
    stacks_dir: Path, slug: str, progress: Progress, override_reason: str | None
) -> PromotionOutcome:
    preview, production = open_pair(stacks_dir, slug)
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
        from infra.ops.rollout.commands import promote_gate

        unchecked = promote_gate(stacks_dir, slug, override_reason, None, progress)
        failed = [c for c in check_preconditions(preview, production) if not c.ok]
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

    promotion = Promotion(stacks_dir, preview, production, record, progress)
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

    store.put_record(LAST_RECORD, {"id": record["id"], "completedAt": record["completedAt"]})
    store.put_record(ACTIVE_RECORD, {"id": None, "lastCompleted": record["id"]})
    return PromotionOutcome(record)


def rollback(
    stacks_dir: Path, slug: str, progress: Progress = quiet, *, break_lock: bool = False
) -> PromotionOutcome:
    """Return production to the state before the last completed promotion.

    That is its release and configuration tables and, when that promotion was
    the go-live (production was not live before it), the portal closed again
    (``tenants:live: false``) and payment back to sandbox, by redeploying
    production. A later promotion's rollback leaves production live. Both
    PostgreSQL and the bucket are reached before either is changed; every step
    checks what is already done, so a re-run after a failure finishes it.
    """
    with client_lock(
        slug,
        "promote --rollback",
        lock_region(stacks_dir, slug),
        break_stale=break_lock,
        progress=progress,
    ):
        return _rollback(stacks_dir, slug, progress)


def _rollback(stacks_dir: Path, slug: str, progress: Progress) -> PromotionOutcome:
    _, production = open_pair(stacks_dir, slug)
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
        _, how = deploy_stack(spec, stacks_dir, production, progress)
        progress(f"  portal and payment: tenants:live false; {how}")
    record["status"] = "rolled-back"
    record["rolledBackAt"] = _now()
    store.put_record(_record_name(record["id"]), record)
    return PromotionOutcome(record)
