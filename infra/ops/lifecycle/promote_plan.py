"""What a promotion needs and what it would change: its preconditions and its plan.

``check_preconditions`` evaluates, once, what a promotion needs (preview content and
database, live payment credentials, the client domain's certificate, attachment and
DNS (``infra.ops.lifecycle.domain``), and its email identity), each with a
message saying how to fix it; ``plan_promotion`` is ``promote --dry-run``: exactly
what would change, changing nothing. ``promote`` (``infra.ops.lifecycle.promote``)
and the rollout's gate both take the preconditions from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from botocore.exceptions import ClientError

from infra.core import email_settings, naming
from infra.core.config_diff import diff_config
from infra.core.content_model import ContentDiff, diff_manifests
from infra.core.integration_config import diff_integrations
from infra.core.preflight import identity_verified
from infra.core.promotion import PromotedContent, promoted_content
from infra.ops.adapters.config_tables import (
    CONFIG_SCHEMA,
    read_config,
)
from infra.ops.adapters.database import CONNECT_TIMEOUT_S
from infra.ops.adapters.payment_store import credentials_mode, read_parameters
from infra.ops.content.imports import ImportRecord, pending_replays
from infra.ops.lifecycle.domain import domain_preconditions
from infra.ops.stacks.handle import StackHandle, refuse_stack_names
from infra.ops.stacks.opening import open_file
from infra.ops.stacks.platformfile import platform_outputs
from infra.ops.stacks.stackfiles import read_stack


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
        for name, ok, message in domain_preconditions(production):
            check(name, ok, message)
        check("custom-domain-email", *_custom_domain_email_check(production))
    return checks


def _custom_domain_email_check(production: StackHandle) -> tuple[bool, str]:
    """Going live moves the admin user pool onto the client's own SES identity
    (``email_settings.pool_sends_from_own_identity``); Cognito refuses one that is not
    verified, so the deploy that opens the portal would fail at the pool."""
    domain = email_settings.sending_domain(production.spec)
    try:
        identity = production.sesv2.get_email_identity(EmailIdentity=domain)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NotFoundException":
            raise
        return False, (
            f"no SES identity for {domain}: deploy production first "
            f"(`pulumi up -s {production.stack_name}`)"
        )
    dkim = (identity.get("DkimAttributes") or {}).get("Status")
    if identity_verified(identity):
        return True, f"email identity {domain} verified"
    return False, (
        f"email identity {domain} is not verified (DKIM {dkim or 'unknown'}); send the "
        "client the emailDnsRecords stack output to publish, and promote once SES has "
        "verified them"
    )


def config_of(url: str) -> dict[str, dict[Any, tuple[Any, ...]]]:
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        return read_config(conn)


def content_diff(preview: StackHandle, production: StackHandle) -> ContentDiff:
    """Production's current files against what promotion would serve (see infra.core.promotion)."""
    source = preview.content.current()
    target = production.content.current()
    release = preview.content.release(source.release) if source else None
    new = promoted_release(preview, production, release.files).files if release else {}
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
    imports: list[ImportRecord]
    """Old-system data files promotion would replay into production, in replay order."""
    payment_from: str | None
    portal_from: str
    payment_to: str = "live"
    portal_to: str = "live"
    integrations: dict[str, list[str]] = field(
        default_factory=lambda: {"added": [], "changed": [], "removed": []}
    )
    """Integration ids the go-live step would add, change or remove in production."""

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
            "imports": [
                {k: r.to_json()[k] for k in ("kind", "fileName", "rows", "sha256")}
                for r in self.imports
            ],
            "payment": {"from": self.payment_from, "to": self.payment_to},
            "portal": {"from": self.portal_from, "to": self.portal_to},
            "integrations": self.integrations,
        }


def dry_run(stacks_dir: Path, slug: str) -> PromotionPlan:
    """``promote --dry-run``: both stack files read once, the platform resolved as every
    command resolves it (before anything is reached), then ``plan_promotion``."""
    refuse_stack_names(slug, "promote")
    files = [read_stack(stacks_dir, slug, stage) for stage in naming.STAGES]
    platform_outputs(stacks_dir, files[-1].spec.platform_stack)
    preview, production = (open_file(f) for f in files)
    return plan_promotion(preview, production)


def plan_promotion(preview: StackHandle, production: StackHandle) -> PromotionPlan:
    """Exactly what ``promote`` would change, changing nothing."""
    checks = check_preconditions(preview, production)
    config: dict[str, dict[str, list[str]]] = {}
    ok = {c.check: c.ok for c in checks}
    if ok["preview-database"] and production.database.exists(production.working_database):
        for table, d in diff_config(
            config_of(preview.working_url), config_of(production.working_url)
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
        content=content_diff(preview, production),
        config=config,
        imports=pending_replays(preview, production) if ok["preview-database"] else [],
        payment_from=params.get("mode"),
        portal_from="live" if production.spec.live else "coming soon",
        integrations=diff_integrations(
            list(preview.spec.integrations), list(production.spec.integrations)
        ),
    )


def promoted_release(
    preview: StackHandle,
    production: StackHandle,
    files: Mapping[str, str],
    production_defaults: Mapping[str, str] | None = None,
) -> PromotedContent:
    """What production would serve for preview release *files* (see infra.core.promotion)."""
    return promoted_content(
        files,
        preview.content.defaults_manifest(),
        production_defaults or production.content.defaults_manifest(),
    )
