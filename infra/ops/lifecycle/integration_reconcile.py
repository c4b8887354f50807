"""``tenantctl integration reconcile SLUG ID --since --until``: what the vendor reports for
a window against what the stage ingested (``infra.core.integrations.reconcile``).
Read-only: no lock, nothing stored, nothing sent but GETs.

The vendor's side: for a **pull** integration, its API (the stage's endpoint, the
stage's credential) asked for every session changed since ``--since`` less ``LOOKBACK``
(a day; a session booked further ahead shows as extra), all pages
(``infra.ops.integrations.pull``: timeouts, retries and the page cap as for a pull);
for a **file** integration, the CSV files of a drop folder (``--drop-folder``; error
files ``*.errors.csv`` are skipped), read by its adapter. Sessions starting in
[since, until) are compared with the stage's ``activity.sessions`` of that
integration starting in the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from infra.core import naming
from infra.core.errors import LocalIOError, PreconditionFailed, UserInputError
from infra.core.integrations.adapters.registry import (
    adapter_for_integration,
    context_for_integration,
)
from infra.core.integrations.reconcile import Mismatch, Seen, compare, vendor_view
from infra.core.integrations.record import SessionRecord
from infra.ops.adapters.database import connect
from infra.ops.integrations.filedrop import parse_file
from infra.ops.integrations.pull import pull
from infra.ops.integrations.store import database_errors
from infra.ops.lifecycle.integration_config import find
from infra.ops.lifecycle.integration_test import credential
from infra.ops.stacks.opening import open_from_files
from infra.ops.stacks.stackfiles import stack_region

RECONCILABLE = ("pull", "file")
LOOKBACK = timedelta(hours=24)
"""A pull asks the vendor for sessions changed since this long before ``--since``: a
session booked ahead starts in the window but was last changed before it."""

_INGESTED_SQL = """
SELECT source_id, version, kind FROM activity.sessions
WHERE integration = %s AND starts_at >= %s AND starts_at < %s
"""


@dataclass(frozen=True)
class Reconciliation:
    stack: str
    integration: str
    since: datetime
    until: datetime
    source: str
    vendor_sessions: int
    ingested_sessions: int
    mismatches: list[Mismatch]

    def counts(self) -> dict[str, int]:
        return {
            kind: sum(m.difference == kind for m in self.mismatches)
            for kind in ("missing", "extra", "differs")
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "integration": self.integration,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "source": self.source,
            "vendorSessions": self.vendor_sessions,
            "ingestedSessions": self.ingested_sessions,
            **self.counts(),
            "differences": [m.to_json() for m in self.mismatches],
        }


def _drop_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UserInputError(f"--drop-folder {folder} is not a folder; give the drop folder")
    try:
        return sorted(
            p for p in folder.glob("*.csv") if p.is_file() and not p.name.endswith(".errors.csv")
        )
    except OSError as exc:
        raise LocalIOError(f"cannot list {folder}: {exc.strerror or exc}") from None


def run_reconcile(
    stacks_dir: Path,
    slug: str,
    integration_id: str,
    stage: naming.Stage,
    since: datetime,
    until: datetime,
    *,
    drop_folder: Path | None = None,
) -> Reconciliation:
    if until <= since:
        raise UserInputError(f"--until {until.isoformat()} is not after --since; nothing read")
    handle = open_from_files(stacks_dir, slug, stage)
    spec = handle.spec
    integration = find(spec, integration_id)
    if integration.mode not in RECONCILABLE:
        raise PreconditionFailed(
            f"{integration.id} is a {integration.mode} integration: reconcile compares what a "
            f"vendor reports for a window, which only {' and '.join(RECONCILABLE)} "
            "integrations can be asked"
        )
    adapter = adapter_for_integration(integration)
    context = context_for_integration(integration)
    records: list[SessionRecord] = []
    if integration.mode == "pull":
        if drop_folder is not None:
            raise UserInputError("--drop-folder is for file integrations; a pull asks the API")
        url = integration.endpoint(spec.stage, spec.live)
        if url is None:
            raise PreconditionFailed(f"{integration.id} has no endpoint for {spec.stack_name}")
        token = credential(spec, integration, stack_region(stacks_dir, slug, stage))
        pulled = pull(url, adapter, context, int((since - LOOKBACK).timestamp()), token=token)
        records.extend(pulled.records)
        source = f"{pulled.pages} page(s) from the vendor API"
    else:
        if drop_folder is None:
            raise UserInputError(
                f"{integration.id} is a file integration: give its drop folder (--drop-folder)"
            )
        files = _drop_files(drop_folder)
        for path in files:
            records.extend(parse_file(path, adapter.parse, context).records)
        source = f"{len(files)} file(s) in {drop_folder}"
    vendor = vendor_view(records, since, until)
    with database_errors("reading the ingested sessions"), connect(handle.working_url) as conn:
        rows = conn.execute(_INGESTED_SQL, (integration.id, since, until)).fetchall()
    ingested = {str(r[0]): Seen(int(r[1]), str(r[2])) for r in rows}
    return Reconciliation(
        spec.stack_name,
        integration.id,
        since,
        until,
        source,
        len(vendor),
        len(ingested),
        compare(vendor, ingested),
    )
