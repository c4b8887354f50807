"""``tenantctl import``: configuration and old-system data from CSV into a preview.

Imports act on preview (``PreviewStack``), under the client's lock; the file is kept in
the content bucket (content-addressed) before the load commits, so a recorded import
always has its file. The load itself is ``infra.ops.content.import_engine``.
Configuration reaches production by promotion; old-system data is replayed into
production from the recorded files by ``replay_imports`` (a step of ``promote``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
from botocore.exceptions import ClientError

from infra.core import naming
from infra.core.errors import PreconditionFailed, UserInputError
from infra.core.import_kinds import (
    DATA_ORDER,
    KINDS,
    Kind,
)
from infra.core.steps import Progress, quiet
from infra.ops.content.import_engine import ImportResult, Problems, file_sha256, load
from infra.ops.stacks.handle import PreviewStack, StackHandle
from infra.ops.stacks.locking import client_lock, preview_place


def kind_named(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise UserInputError(f"unknown import kind {name!r}; one of: {', '.join(KINDS)}")
    return kind


def import_file(
    stack: PreviewStack,
    kind_name: str,
    path: Path,
    dry_run: bool = False,
    problems_out: IO[str] | None = None,
    progress: Progress = quiet,
) -> ImportResult:
    """Import *path* as *kind_name* into the preview; the file is kept for promote's replay."""
    if not isinstance(stack, PreviewStack):
        raise PreconditionFailed("imports act on preview; production gets them through promote")
    kind = kind_named(kind_name)
    if not path.is_file():
        raise UserInputError(f"{path} is not a file")
    digest = file_sha256(path)
    key = naming.import_file_key(kind.name, digest)
    problems = Problems(problems_out)
    progress(f"  {kind.name}: checking {path.name} (sha256 {digest[:12]}…)")

    def run() -> ImportResult:
        with psycopg.connect(stack.working_url) as conn:
            if not dry_run:
                # Kept before the commit, so a recorded import always has its file.
                _upload(stack, path, key)
            return load(
                conn, kind, path, digest, f"s3://{stack.content.bucket}/{key}", problems, dry_run
            )

    if dry_run:
        return run()
    with client_lock(stack.spec.slug, f"import {kind.name}", preview_place(stack)):
        return run()


def _upload(stack: StackHandle, path: Path, key: str) -> None:
    try:
        stack.s3.upload_file(str(path), stack.content.bucket, key)
    except ClientError as exc:
        raise PreconditionFailed(
            f"cannot keep {path.name} in {stack.content.bucket}: {exc}"
        ) from None


@dataclass(frozen=True)
class ImportRecord:
    """One file recorded in a stack's ``stack.imports`` (its rows are in that stack)."""

    kind: str
    sha256: str
    file_key: str
    """Where the file is kept (``s3://<content bucket>/imports/...``), for the replay."""
    file_name: str
    rows: int
    imported_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "sha256": self.sha256,
            "fileKey": self.file_key,
            "fileName": self.file_name,
            "rows": self.rows,
            "importedAt": self.imported_at,
        }


def recorded_imports(stack: StackHandle) -> list[ImportRecord]:
    """Every import recorded in *stack*'s working database, oldest first."""
    with psycopg.connect(stack.working_url) as conn:
        rows = conn.execute(
            "SELECT kind, sha256, file_key, file_name, rows, imported_at "
            "FROM stack.imports ORDER BY imported_at, kind"
        ).fetchall()
    return [ImportRecord(k, d, f, n, r, a.isoformat()) for k, d, f, n, r, a in rows]


def imports_recorded(stack: StackHandle, kinds: tuple[str, ...] | None = None) -> bool:
    """Whether any import (of *kinds*, default all) is recorded (rollout: "imports done")."""
    return any(kinds is None or r.kind in kinds for r in recorded_imports(stack))


def pending_replays(preview: StackHandle, production: StackHandle) -> list[ImportRecord]:
    """Old-system data files recorded in preview and not yet in production, in replay order."""
    done = set()
    if production.database.exists(production.working_database):
        done = {(r.kind, r.sha256) for r in recorded_imports(production)}
    data = [r for r in recorded_imports(preview) if r.kind in DATA_ORDER]
    data.sort(key=lambda r: (DATA_ORDER.index(r.kind), r.imported_at))
    return [r for r in data if (r.kind, r.sha256) not in done]


def replay_imports(
    preview: StackHandle, production: StackHandle, progress: Progress = quiet
) -> str:
    """Load into production every old-system file preview recorded; resumable file by file."""
    todo = pending_replays(preview, production)
    for record in todo:
        kind = KINDS[record.kind]
        key = naming.import_file_key(kind.name, record.sha256)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / record.file_name
            preview.s3.download_file(preview.content.bucket, key, str(path))
            if file_sha256(path) != record.sha256:
                raise PreconditionFailed(
                    f"s3://{preview.content.bucket}/{key} does not match its hash"
                )
            problems = Problems()
            with psycopg.connect(production.working_url) as conn:
                result = load(conn, kind, path, record.sha256, record.file_key, problems)
        if result.status == "rejected":
            first = problems.first[0] if problems.first else {}
            raise PreconditionFailed(
                f"replaying {kind.name} {record.file_name} into production failed: "
                f"{problems.count} problem(s); line {first.get('line')}: {first.get('reason')}"
            )
        progress(f"    {result.summary}")
    return f"{len(todo)} old-system file(s) replayed" if todo else "no old-system data to replay"
