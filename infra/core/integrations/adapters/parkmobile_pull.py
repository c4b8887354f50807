"""ParkMobile-style pull: one page of ``parkingRights`` with a ``nextPage`` cursor.

``{"parkingRights": [{"parkingActionId", "lpn", "lpnState", "zoneCode", "spaceNumber",
"startTimeLocal", "endTimeLocal", "parkingPrice", "currency", "lastModifiedUtc",
"status"}], "nextPage": "<cursor>" | null}``. The vendor has no version number, so the
version is ``lastModifiedUtc`` in Unix seconds (it only grows); ``status`` is
``active`` (NEW), ``extended`` (EXTEND), ``cancelled`` (CANCEL) or ``test`` (TEST).
Local times are naive (read in the integration's timezone)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from infra.core.integrations.adapters.generic_push import region_of
from infra.core.integrations.record import (
    AdapterResult,
    EventKind,
    SessionRecord,
    minor_units,
    normalize_plate,
    payload_sha256,
)
from infra.core.integrations.times import parse_time

STATUSES = {
    "active": EventKind.NEW,
    "extended": EventKind.EXTEND,
    "cancelled": EventKind.CANCEL,
    "test": EventKind.TEST,
}


def build(item: Mapping[str, Any], context: AdapterContext, digest: str) -> SessionRecord:
    status = text(item, "status")
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    modified = parse_time(item.get("lastModifiedUtc"), context.timezone)
    price = item.get("parkingPrice")
    currency = text(item, "currency", required=False, limit=3).upper() or context.currency
    amount = None if price in (None, "") else minor_units(price, currency)
    return SessionRecord(
        integration=context.integration,
        source_id=text(item, "parkingActionId"),
        version=int(modified.timestamp()),
        kind=STATUSES[status],
        plate=normalize_plate(text(item, "lpn", limit=20)),
        region=region_of(text(item, "lpnState", required=False, limit=3)),
        vendor_zone=text(item, "zoneCode", limit=120),
        space=text(item, "spaceNumber", required=False, limit=40) or None,
        start=parse_time(item.get("startTimeLocal"), context.timezone, "start"),
        end=parse_time(item.get("endTimeLocal"), context.timezone, "end"),
        amount_minor=amount,
        currency=currency if amount is not None else None,
        payload_sha256=digest,
    )


def parse(payload: bytes, context: AdapterContext) -> AdapterResult:
    try:
        body = load_json(payload)
        items = items_of(body, "parkingRights")
        cursor = body.get("nextPage")
        if cursor is not None and (not isinstance(cursor, str) or len(cursor) > 500):
            raise PayloadRefused("nextPage must be a cursor string (or null)")
    except PayloadRefused as exc:
        return refused(str(exc))
    digest = payload_sha256(payload)
    records, rejections = collect(
        ((f"parkingRights {i}", item) for i, item in enumerate(items)),
        lambda item: build(item, context, digest),
    )
    return AdapterResult(records, rejections, next_page=cursor or None)


ADAPTER = Adapter("parkmobile", "pull", parse, "ParkMobile-style parkingRights page")
