"""Generic push (the OPS-COM / Parknexus ``enforcementData`` shape).

``{"enforcementData": [{"transactionId", "version", "action", "plate", "state",
"country", "zone", "space", "startTime", "endTime", "amount", "currency"}, ...]}``:
``action`` is NEW / EXTEND / UPDATE / CANCEL / TEST; ``amount`` is in major units
(``"2.50"``); times may be naive local times (read in the integration's timezone).
``version`` is required: without it a redelivered EXTEND could not be told from a new one.
"""

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
    positive_int,
    refused,
    text,
)
from infra.core.integrations.record import (
    AdapterResult,
    EventKind,
    SessionRecord,
    minor_units,
    normalize_plate,
    payload_sha256,
)
from infra.core.integrations.times import parse_time


def kind_of(value: str) -> EventKind:
    try:
        return EventKind(value.upper())
    except ValueError:
        names = ", ".join(k.value for k in EventKind)
        raise ValueError(f"action {value!r} is not one of {names}") from None


def country_of(value: str) -> str | None:
    """An ISO 3166 alpha-2 country (``CA``), or ``None`` for none given."""
    import pycountry  # here for the CLI's start-up time (~35 ms), as in text_rules

    if not value:
        return None
    if pycountry.countries.get(alpha_2=value.upper()) is None:
        raise ValueError(f"country {value!r} is not an ISO 3166 alpha-2 code such as CA or US")
    return value.upper()


def region_of(value: str) -> str | None:
    if not value:
        return None
    if not (value.isascii() and value.isalpha() and 2 <= len(value) <= 3):
        raise ValueError(f"state {value!r} is not a 2-3 letter region code such as ON or NY")
    return value.upper()


def build(item: Mapping[str, Any], context: AdapterContext, digest: str) -> SessionRecord:
    kind = kind_of(text(item, "action"))
    amount_value = item.get("amount")
    currency = text(item, "currency", required=False, limit=3).upper() or context.currency
    amount = None if amount_value in (None, "") else minor_units(amount_value, currency)
    end_value = item.get("endTime")
    return SessionRecord(
        integration=context.integration,
        source_id=text(item, "transactionId"),
        version=positive_int(item, "version"),
        kind=kind,
        plate=normalize_plate(text(item, "plate", limit=20)),
        region=region_of(text(item, "state", required=False, limit=3)),
        country=country_of(text(item, "country", required=False, limit=2)),
        space=text(item, "space", required=False, limit=40) or None,
        vendor_zone=text(item, "zone", limit=120),
        start=parse_time(item.get("startTime"), context.timezone, "start"),
        end=None if end_value in (None, "") else parse_time(end_value, context.timezone, "end"),
        amount_minor=amount,
        currency=currency if amount is not None else None,
        payload_sha256=digest,
    )


def parse(payload: bytes, context: AdapterContext) -> AdapterResult:
    try:
        items = items_of(load_json(payload), "enforcementData")
    except PayloadRefused as exc:
        return refused(str(exc))
    digest = payload_sha256(payload)
    records, rejections = collect(
        ((f"enforcementData {i}", item) for i, item in enumerate(items)),
        lambda item: build(item, context, digest),
    )
    return AdapterResult(records, rejections)


ADAPTER = Adapter("generic-push", "push", parse, "OPS-COM / Parknexus enforcementData push")
