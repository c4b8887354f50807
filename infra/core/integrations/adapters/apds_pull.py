"""APDS pull: one page of ``GET /sessions?modified_since=`` (a PaginatedListMeta).

Sessions in ``data`` are NEW at version 1 and UPDATE after; ``deletedReferences`` of
class ``Session`` are CANCELs (version 1: a CANCEL beats every version anyway). The
next page is the offset after this one, until ``meta.total``; an empty page ends the
listing whatever ``total`` says (a vendor that keeps promising more is not followed)."""

from __future__ import annotations

from typing import Any

from infra.core.integrations.adapters.apds import session_record
from infra.core.integrations.adapters.base import (
    Adapter,
    AdapterContext,
    PayloadRefused,
    collect,
    items_of,
    load_json,
    refused,
    text,
)
from infra.core.integrations.record import (
    AdapterResult,
    EventKind,
    SessionRecord,
    payload_sha256,
)
from infra.core.integrations.times import parse_time


def _meta(body: Any) -> tuple[int, int]:
    meta = body.get("meta")
    if not isinstance(meta, dict):
        raise PayloadRefused("payload has no 'meta' object")
    offset, total = meta.get("offset"), meta.get("total")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (offset, total)):
        raise PayloadRefused("meta.offset and meta.total must be integers")
    return offset, total  # type: ignore[return-value]


def parse(payload: bytes, context: AdapterContext) -> AdapterResult:
    try:
        body = load_json(payload)
        data = items_of(body, "data")
        offset, total = _meta(body)
        deleted = body.get("deletedReferences") or []
        if not isinstance(deleted, list):
            raise PayloadRefused("deletedReferences must be a list")
    except PayloadRefused as exc:
        return refused(str(exc))
    digest = payload_sha256(payload)

    def build(session: Any) -> SessionRecord:
        version = session.get("version")
        kind = EventKind.UPDATE if isinstance(version, int) and version > 1 else EventKind.NEW
        return session_record(session, kind, context, digest)

    def cancel(reference: Any) -> SessionRecord:
        if reference.get("className") != "Session":
            raise ValueError(f"className {reference.get('className')!r} is not Session")
        return SessionRecord(
            integration=context.integration,
            source_id=text(reference, "id"),
            version=1,
            kind=EventKind.CANCEL,
            plate="",
            start=parse_time(reference.get("deleteTimestamp"), context.timezone),
            end=None,
            vendor_zone="",
            payload_sha256=digest,
        )

    records, rejections = collect(((f"data {i}", s) for i, s in enumerate(data)), build)
    cancels, bad = collect(((f"deletedReferences {i}", r) for i, r in enumerate(deleted)), cancel)
    after = offset + len(data)
    next_page = str(after) if data and after < total else None
    return AdapterResult(records + cancels, rejections + bad, next_page=next_page)


ADAPTER = Adapter(
    "apds", "pull", parse, "APDS GET /sessions?modified_since= page", page_param="offset"
)
