"""One dropped CSV file of sessions: parsed, ingested, its failed rows written back.

The good rows are ingested in one transaction (``store.ingest``); the failed ones are
written beside the file as ``<name>.errors.csv`` (the csv adapter's error CSV: line,
reason, the row as sent) for the sender to fix and drop again. A file that cannot be
read at all is refused whole, with nothing stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.core.errors import LocalIOError, UserInputError
from infra.core.integrations.adapters import csv_drop
from infra.core.integrations.adapters.base import AdapterContext
from infra.core.integrations.record import AdapterResult, Rejection
from infra.core.integrations.zones import UnmatchedPolicy
from infra.ops.integrations.store import Connection, IngestResult, ingest


@dataclass(frozen=True)
class FileDropResult:
    file: Path
    ingest: IngestResult
    rejections: tuple[Rejection, ...]
    error_file: Path | None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "ingest": self.ingest.to_json(),
            "rejections": [r.to_json() for r in self.rejections],
            "errorFile": str(self.error_file) if self.error_file else None,
        }


def error_file_of(path: Path) -> Path:
    return path.with_name(f"{path.name}.errors.csv")


def parse_file(
    path: Path,
    parse: Callable[[bytes, AdapterContext], AdapterResult],
    context: AdapterContext,
    keep: Callable[[bytes], object] | None = None,
) -> AdapterResult:
    """*path* read and parsed by *parse*; a file that cannot be read (exit 7) or whose
    payload as a whole is refused (exit 2) is one line, and nothing is stored. *keep* is
    given the file as read, before it is parsed (the raw archive)."""
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise LocalIOError(f"cannot read {path}: {exc.strerror or exc}") from None
    if keep is not None:
        keep(payload)
    result = parse(payload, context)
    if result.rejections and result.rejections[0].item == "payload":
        raise UserInputError(f"{path.name}: {result.rejections[0].reason}; nothing was stored")
    return result


def process_file(
    conn: Connection,
    path: Path,
    context: AdapterContext,
    *,
    zone_map: Mapping[str, str],
    lots: Iterable[str],
    policy: UnmatchedPolicy = "quarantine",
    keep: Callable[[bytes], object] | None = None,
) -> FileDropResult:
    result = parse_file(path, csv_drop.parse, context, keep)
    ingested = ingest(conn, result.records, zone_map=zone_map, lots=lots, policy=policy)
    error_file = None
    if result.error_csv:
        error_file = error_file_of(path)
        try:
            error_file.write_text(result.error_csv, encoding="utf-8")
        except OSError as exc:
            raise LocalIOError(f"cannot write {error_file}: {exc.strerror or exc}") from None
    return FileDropResult(path, ingested, result.rejections, error_file)
