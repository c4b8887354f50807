"""``tenantctl integration``: a client's integrations, edited in its preview stack file.

An integration's configuration is ``tenants:integrations`` of the preview stack file
(``infra.core.integration_config``): validated with the spec, diffable, kept by
``reset-preview``, carried to production by ``promote``. Edits take the client's
lock and are safe to re-run: the same edit again changes nothing and says so.
Credentials go to one Secrets Manager secret per integration per stage, through
the helper payment credentials use (``payment_store.put_secret_document``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.core import naming
from infra.core.errors import PreconditionFailed, TenantctlError, UserInputError
from infra.core.integration_config import (
    VENDORS,
    IntegrationSpec,
    ZoneMapping,
    alarms_act,
    integration_names,
    schedule_state,
    zone_coverage,
)
from infra.core.integrations.ingest import INGEST_ENDPOINT_OUTPUT, push_url
from infra.core.integrations.zones import Lot, VendorZone, match_zones
from infra.core.integrations.zones import ZoneProposal as Proposal
from infra.core.spec import TenantSpec, parse_spec
from infra.core.steps import Progress, quiet
from infra.ops.adapters import aws
from infra.ops.adapters.database import connect
from infra.ops.adapters.payment_store import parse_credentials, put_secret_document
from infra.ops.stacks import stackfiles
from infra.ops.stacks.locking import client_lock, lock_place
from infra.ops.stacks.platformfile import platform_outputs
from infra.ops.stacks.stackfiles import stack_region


def _dump(integration: IntegrationSpec) -> dict[str, Any]:
    return integration.model_dump(by_alias=True, mode="json", exclude_defaults=True)


def find(spec: TenantSpec, integration_id: str) -> IntegrationSpec:
    for integration in spec.integrations:
        if integration.id == integration_id:
            return integration
    known = ", ".join(i.id for i in spec.integrations) or "none yet"
    raise UserInputError(
        f"{spec.stack_name} has no integration {integration_id!r} (has: {known}); "
        f"`{naming.TOOL} integration add {spec.slug} ...` first"
    )


def _validated(spec: TenantSpec, data: Mapping[str, Any]) -> IntegrationSpec:
    """*data* checked as one of *spec*'s integrations (every problem named with its key,
    ``tenants:integrations[N].field``, as a stack file's are)."""
    others = [_dump(i) for i in spec.integrations if i.id != data.get("id")]
    document = spec.model_dump(by_alias=True, mode="json", exclude_defaults=True)
    document.update(stage=spec.stage, integrations=[*others, dict(data)])
    checked = parse_spec(document, f"integration {data.get('id', '')}")
    return checked.integrations[-1]


@dataclass(frozen=True)
class Edited:
    """One edit of a client's integrations (``add``, ``remove``, ``map-zones --write``)."""

    stack: str
    integration: str
    action: str
    changed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "integration": self.integration,
            "action": self.action,
            "changed": self.changed,
        }


def _write(
    stacks_dir: Path,
    spec: TenantSpec,
    integrations: list[IntegrationSpec],
    operation: str,
    break_lock: str | None,
    progress: Progress,
) -> tuple[TenantSpec, bool]:
    with client_lock(
        spec.slug,
        operation,
        lock_place(stacks_dir, spec.slug),
        break_reason=break_lock,
        progress=progress,
    ):
        return stackfiles.set_integrations(
            stacks_dir, spec.slug, naming.PREVIEW, [_dump(i) for i in integrations]
        )


def add_integration(
    stacks_dir: Path,
    slug: str,
    integration: Mapping[str, Any],
    *,
    replace: bool = False,
    break_lock: str | None = None,
    progress: Progress = quiet,
) -> Edited:
    """Add *integration* (camelCase fields) to the client's preview. The same integration
    again changes nothing; a different one under an existing id needs *replace* (its zone
    map is kept unless the new one gives zones)."""
    spec = stackfiles.read_spec(stacks_dir, slug, naming.PREVIEW)
    ident = str(integration.get("id", ""))
    existing = next((i for i in spec.integrations if i.id == ident), None)
    data = dict(integration)
    if existing is not None and "zones" not in data and existing.zones:
        data["zones"] = [z.model_dump(by_alias=True, mode="json") for z in existing.zones]
    candidate = _validated(spec, data)
    if existing is not None and existing != candidate and not replace:
        raise PreconditionFailed(
            f"{spec.stack_name} already has integration {ident} with other settings; pass "
            "--replace to change it (its zone map is kept)"
        )
    others = [i for i in spec.integrations if i.id != ident]
    index = next((n for n, i in enumerate(spec.integrations) if i.id == ident), len(others))
    integrations = [*others[:index], candidate, *others[index:]]
    _, changed = _write(
        stacks_dir, spec, integrations, f"integration add {ident}", break_lock, progress
    )
    return Edited(spec.stack_name, ident, "add", changed)


def remove_integration(
    stacks_dir: Path,
    slug: str,
    integration_id: str,
    *,
    break_lock: str | None = None,
    progress: Progress = quiet,
) -> Edited:
    """Remove an integration from the preview; removing one that is not there changes
    nothing (a re-run after lost output)."""
    spec = stackfiles.read_spec(stacks_dir, slug, naming.PREVIEW)
    if all(i.id != integration_id for i in spec.integrations):
        return Edited(spec.stack_name, integration_id, "remove", False)
    integrations = [i for i in spec.integrations if i.id != integration_id]
    _, changed = _write(
        stacks_dir, spec, integrations, f"integration remove {integration_id}", break_lock, progress
    )
    return Edited(spec.stack_name, integration_id, "remove", changed)


# ------------------------------------------------------------------ listing


def ingest_endpoint(stacks_dir: Path, spec: TenantSpec) -> str | None:
    """The platform's ingest endpoint of *spec*'s stack, or ``None`` when its platform
    names none (or is not known here: listing never needs the platform)."""
    try:
        outputs = platform_outputs(stacks_dir, spec.platform_stack)
    except TenantctlError:
        return None
    value = outputs.get(INGEST_ENDPOINT_OUTPUT)
    return str(value) if value else None


def describe(
    spec: TenantSpec, integration: IntegrationSpec, endpoint: str | None = None
) -> dict[str, Any]:
    """*integration* of *spec*'s stack as ``integration list`` shows it; *endpoint* is the
    platform's ingest endpoint, which a push integration's ``pushUrl`` is made from."""
    names = integration_names(spec.slug, spec.stage, integration.id)
    coverage = zone_coverage(integration, integration.lots())
    return {
        "id": integration.id,
        "vendor": integration.vendor,
        "mode": integration.mode,
        "scheduleMinutes": integration.schedule_minutes,
        "timezone": integration.timezone,
        "graceMinutes": integration.grace_minutes,
        "unmatchedZones": integration.unmatched_zones,
        "endpoint": integration.endpoint(spec.stage, spec.live),
        "schedule": (schedule_state(spec.stage, spec.live) if integration.mode == "pull" else None),
        "alarmsAct": alarms_act(spec.stage, spec.live),
        "secret": names.secret,
        "queue": names.queue,
        "pushUrl": (
            push_url(endpoint, spec.slug, spec.stage, integration.id)
            if integration.mode == "push" and endpoint
            else None
        ),
        "zones": coverage.zones,
        "zonesMapped": coverage.mapped,
        "zonesIgnored": coverage.ignored,
        "zonesUnmapped": len(coverage.unmapped),
    }


def list_integrations(stacks_dir: Path, slug: str, stage: naming.Stage) -> dict[str, Any]:
    spec = stackfiles.read_spec(stacks_dir, slug, stage)
    pushes = any(i.mode == "push" for i in spec.integrations)
    endpoint = ingest_endpoint(stacks_dir, spec) if pushes else None
    return {
        "stack": spec.stack_name,
        "live": spec.live,
        "integrations": [describe(spec, i, endpoint) for i in spec.integrations],
    }


# ---------------------------------------------------------------- map-zones


def read_lots(url: str) -> list[Lot]:
    """The client's lots (``config.lots``: code and name) in the database at *url*."""
    with connect(url) as conn:
        rows = conn.execute("SELECT code, name FROM config.lots ORDER BY code").fetchall()
    return [Lot(str(code), str(name or "")) for code, name in rows]


@dataclass(frozen=True)
class ZoneProposal:
    """``integration map-zones``: a proposed map and, with ``write``, whether it was saved."""

    stack: str
    integration: str
    proposals: list[Proposal]
    written: bool = False
    changed: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "integration": self.integration,
            "written": self.written,
            "changed": self.changed,
            "counts": self.counts,
            "zones": [
                {
                    "vendorZoneId": p.zone.id,
                    "vendorZoneName": p.zone.name,
                    "match": p.match,
                    "lot": p.lot,
                    "ignore": p.ignore,
                    "candidates": list(p.candidates),
                    "why": p.why,
                }
                for p in self.proposals
            ],
        }


def map_zones(
    stacks_dir: Path,
    slug: str,
    integration_id: str,
    zones: Iterable[VendorZone],
    lots: list[Lot],
    *,
    choices: Mapping[str, str | None] | None = None,
    write: bool = False,
    break_lock: str | None = None,
    progress: Progress = quiet,
) -> ZoneProposal:
    """Propose a map of *zones* onto *lots* (the preview's ``config.lots``); with *write*,
    save it as the integration's zone map: exact and near-miss matches mapped, ignored
    zones kept, the rest recorded unmapped (the go-live gate names them).

    *choices* are a person's decisions, ``{vendor zone id: lot code, or None to ignore
    it}``; they win over the existing map and any match. Each names a zone of *zones*
    and an existing lot."""
    spec = stackfiles.read_spec(stacks_dir, slug, naming.PREVIEW)
    integration = find(spec, integration_id)
    zones = list(zones)
    existing = {z.vendor_zone_id: (z.lot, z.ignore) for z in integration.zones}
    ids = {z.id for z in zones}
    codes = {lot.code for lot in lots}
    for zone_id, lot in (choices or {}).items():
        if zone_id not in ids:
            raise UserInputError(f"zone {zone_id!r} is not in the vendor's zone list")
        if lot is not None and lot not in codes:
            raise UserInputError(
                f"lot {lot!r} does not exist in {spec.stack_name} "
                f"(lots: {', '.join(sorted(codes))})"
            )
        existing[zone_id] = (lot, lot is None)
    proposals = list(match_zones(zones, lots, existing).proposals)
    counts: dict[str, int] = {}
    for p in proposals:
        counts[p.match] = counts.get(p.match, 0) + 1
    if not write:
        return ZoneProposal(spec.stack_name, integration_id, proposals, counts=counts)
    mapping = [
        ZoneMapping(
            vendor_zone_id=p.zone.id,
            vendor_zone_name=p.zone.name,
            lot=p.lot,
            ignore=p.ignore,
        )
        for p in proposals
    ]
    updated = integration.model_copy(update={"zones": mapping})
    integrations = [updated if i.id == integration_id else i for i in spec.integrations]
    _, changed = _write(
        stacks_dir,
        spec,
        integrations,
        f"integration map-zones {integration_id}",
        break_lock,
        progress,
    )
    return ZoneProposal(
        spec.stack_name, integration_id, proposals, written=True, changed=changed, counts=counts
    )


# ------------------------------------------------------------- credentials


@dataclass(frozen=True)
class StoredIntegrationCredentials:
    """Credentials stored in an integration's secret (their values are never kept here)."""

    stack: str
    integration: str
    secret: str
    keys: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "integration": self.integration,
            "secret": self.secret,
            "keys": self.keys,
            "stored": True,
        }


def store_integration_credentials(
    stacks_dir: Path,
    slug: str,
    stage: naming.Stage,
    integration_id: str,
    text: str,
    *,
    break_lock: str | None = None,
    progress: Progress = quiet,
) -> StoredIntegrationCredentials:
    """Parse *text* (JSON object or KEY=value lines, the vendor's keys) and store it in the
    integration's secret of *stage*, under the client's lock. Values never leave here."""
    spec = stackfiles.read_spec(stacks_dir, slug, stage)
    integration = find(spec, integration_id)
    fields = VENDORS[integration.vendor].credential_fields
    credentials = parse_credentials(text, fields)
    name = integration_names(spec.slug, spec.stage, integration.id).secret
    region = stack_region(stacks_dir, spec.slug, spec.stage)
    with client_lock(
        spec.slug,
        f"integration set-credentials {integration_id} --stage {stage}",
        lock_place(stacks_dir, spec.slug),
        break_reason=break_lock,
        progress=progress,
    ):
        ordered = {k: credentials[k] for k in fields if k in credentials}
        put_secret_document(
            aws.client("secretsmanager", region), spec, name, ordered, "integration secret"
        )
    return StoredIntegrationCredentials(spec.stack_name, integration.id, name, sorted(ordered))
