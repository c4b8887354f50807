"""APDS webhook: ``EventData`` batches, one topic each (``SessionCreated``/``Updated``/
``Deleted``), posted singly or as a JSON list. Topics map to NEW / UPDATE / CANCEL;
other topics (places, rights) are rejected, not ignored, so a misrouted subscription
shows up."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
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
)
from infra.core.integrations.record import (
    MAX_ITEMS,
    AdapterResult,
    EventKind,
    Rejection,
    SessionRecord,
    payload_sha256,
)

TOPICS = {
    "SessionCreated": EventKind.NEW,
    "SessionUpdated": EventKind.UPDATE,
    "SessionDeleted": EventKind.CANCEL,
}


def _build(session: Any, *, kind: EventKind, context: AdapterContext, digest: str) -> SessionRecord:
    return session_record(session, kind, context, digest)


def parse(payload: bytes, context: AdapterContext) -> AdapterResult:
    try:
        body: Any = load_json(payload)
        events = body if isinstance(body, list) else [body]
        if len(events) > MAX_ITEMS:
            raise PayloadRefused(f"{len(events)} events, more than the {MAX_ITEMS} accepted")
        digest = payload_sha256(payload)
        records: list[SessionRecord] = []
        rejections: list[Rejection] = []
        count = 0
        for n, event in enumerate(events):
            topic = event.get("topic") if isinstance(event, Mapping) else None
            if not isinstance(topic, str) or topic not in TOPICS:
                rejections.append(
                    Rejection(f"event {n}", f"topic {topic!r} is not a session topic")
                )
                continue
            data = items_of(event, "data")
            count += len(data)
            if count > MAX_ITEMS:
                raise PayloadRefused(f"more than {MAX_ITEMS} sessions in one delivery")
            kind = TOPICS[topic]
            built, failed = collect(
                ((f"event {n} data {i}", s) for i, s in enumerate(data)),
                partial(_build, kind=kind, context=context, digest=digest),
            )
            records.extend(built)
            rejections.extend(failed)
    except PayloadRefused as exc:
        return refused(str(exc))
    return AdapterResult(tuple(records), tuple(rejections))


ADAPTER = Adapter("apds", "push", parse, "APDS EventData webhook (SessionCreated/Updated/Deleted)")
