"""CSV file drop: a file of sessions, one per row; failed rows come back as an error CSV.

Header (any order; ``region``, ``country``, ``space``, ``amount``, ``currency`` optional):
``session_id,version,kind,plate,region,country,zone,space,start,end,amount,currency``.
UTF-8 with or without a BOM; the delimiter (comma, semicolon or tab) and quoting are
sniffed by the csv module. The error CSV is the failed rows as sent, with two columns in
front: ``line`` (the row's line in the file) and ``reason``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from infra.core.integrations.adapters.base import Adapter, AdapterContext, refused
from infra.core.integrations.adapters.generic_push import build as build_push
from infra.core.integrations.record import (
    MAX_FILE_ROWS,
    MAX_PAYLOAD_BYTES,
    AdapterResult,
    Rejection,
    SessionRecord,
    payload_sha256,
)

COLUMNS = (
    "session_id", "version", "kind", "plate", "region", "country",
    "zone", "space", "start", "end", "amount", "currency",
)  # fmt: skip
REQUIRED = ("session_id", "version", "kind", "plate", "zone", "start")
MAX_FILE_BYTES = 64 * MAX_PAYLOAD_BYTES
"""A dropped file may be much bigger than one webhook body (a day of meter sessions)."""

# The generic push names the same facts differently; a row is read through it so the
# two agree on every rule (kinds, countries, amounts, times).
_AS_PUSH = {
    "session_id": "transactionId",
    "version": "version",
    "kind": "action",
    "plate": "plate",
    "region": "state",
    "country": "country",
    "zone": "zone",
    "space": "space",
    "start": "startTime",
    "end": "endTime",
    "amount": "amount",
    "currency": "currency",
}


def _dialect(sample: str) -> Any:
    try:
        return csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        return csv.excel


def parse(payload: bytes, context: AdapterContext) -> AdapterResult:
    if len(payload) > MAX_FILE_BYTES:
        return refused(f"file is {len(payload)} bytes, more than the {MAX_FILE_BYTES} accepted")
    try:
        content = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        return refused("file is not UTF-8 text")
    dialect = _dialect(content[:8192])
    reader = csv.reader(io.StringIO(content, newline=""), dialect)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return refused("file is empty; it needs the header line")
    except csv.Error as exc:
        return refused(f"header is not CSV: {exc}")
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"unknown {', '.join(unknown)}"] if unknown else []
        problems += ["a column named twice"] if len(set(header)) != len(header) else []
        return refused(f"header: {'; '.join(problems)}; columns are {','.join(COLUMNS)}")
    digest = payload_sha256(payload)
    records: list[SessionRecord] = []
    rejections: list[Rejection] = []
    failed: list[tuple[int, str, list[str]]] = []
    line = reader.line_num
    rows = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            number = reader.line_num
            rejections.append(Rejection(f"line {number}", f"not CSV: {exc}"))
            failed.append((number, f"not CSV: {exc}", []))
            break  # the reader cannot resynchronise after a broken quote
        number, line = line + 1, reader.line_num
        if not row or all(not v.strip() for v in row):
            continue
        rows += 1
        if rows > MAX_FILE_ROWS:
            return refused(f"more than {MAX_FILE_ROWS} rows; split the file")
        if len(row) != len(header):
            reason = f"{len(row)} fields; the header has {len(header)}"
        else:
            item = {_AS_PUSH[h]: v for h, v in zip(header, row, strict=True)}
            try:
                records.append(build_push(item, context, digest))
                continue
            except (ValueError, TypeError) as exc:
                reason = str(exc)
        rejections.append(Rejection(f"line {number}", reason, row[0] if row else None))
        failed.append((number, reason, row))
    return AdapterResult(tuple(records), tuple(rejections), error_csv=_error_csv(header, failed))


def _error_csv(header: list[str], failed: list[tuple[int, str, list[str]]]) -> str | None:
    if not failed:
        return None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["line", "reason", *header])
    for number, reason, row in failed:
        writer.writerow([number, reason, *row])
    return out.getvalue()


ADAPTER = Adapter("csv-drop", "file", parse, "CSV file drop with an error CSV back")
