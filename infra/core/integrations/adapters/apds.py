"""An APDS ``Session`` (parkingdata/spec, ``models/session/Session.yaml``) as a record.

Read: ``id`` and ``version`` (VersionedIdentity); ``actualStart``, ``actualEnd`` (else
the latest segment end); the plate from the first ``identifiedCredentials`` entry of
type ``licensePlate``/``vehicleplate`` (``identifier.id``); the vendor zone from
``hierarchyElement.id`` (the spec spells it ``hierachyElement``; both are read); the space
from the first segment's ``spaceId.id``; the amount as the sum of the segments'
``financialTransaction.segmentValue`` in ``financialTransaction.currencyType`` (else the
integration's currency). APDS has no test flag: a session carrying ``"x-test": true``
(an OpenAPI extension field) is a TEST event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from infra.core.integrations.adapters.base import AdapterContext, positive_int, text
from infra.core.integrations.record import (
    EventKind,
    SessionRecord,
    minor_units,
    normalize_plate,
)
from infra.core.integrations.times import parse_time

PLATE_TYPES = ("licensePlate", "vehicleplate")


def _plate(session: Mapping[str, Any]) -> str:
    credentials = session.get("identifiedCredentials")
    if not isinstance(credentials, list) or not credentials:
        raise ValueError("identifiedCredentials is missing")
    for credential in credentials:
        if isinstance(credential, Mapping) and credential.get("type") in PLATE_TYPES:
            identifier = credential.get("identifier")
            if isinstance(identifier, Mapping):
                return normalize_plate(text(identifier, "id", limit=20))
    raise ValueError("no licensePlate credential among identifiedCredentials")


def _zone(session: Mapping[str, Any]) -> str:
    for key in ("hierarchyElement", "hierachyElement"):
        element = session.get(key)
        if isinstance(element, Mapping):
            return text(element, "id", limit=120)
    raise ValueError("hierarchyElement.id (the vendor zone) is missing")


def _segments(session: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    segments = session.get("segments") or []
    if not isinstance(segments, list) or len(segments) > 100:
        raise ValueError("segments must be a list of at most 100")
    return [s for s in segments if isinstance(s, Mapping)]


def session_record(
    session: Mapping[str, Any], kind: EventKind, context: AdapterContext, digest: str
) -> SessionRecord:
    """One APDS session as the canonical record, or ``ValueError`` naming the field."""
    if session.get("x-test") is True:
        kind = EventKind.TEST
    segments = _segments(session)
    start = parse_time(session.get("actualStart"), context.timezone, "start")
    end_value = session.get("actualEnd")
    if end_value is None:
        ends = [s.get("actualEnd") for s in segments if s.get("actualEnd") is not None]
        end = max((parse_time(e, context.timezone, "end") for e in ends), default=None)
    else:
        end = parse_time(end_value, context.timezone, "end")
    amount: int | None = None
    currency: str | None = None
    for segment in segments:
        money = segment.get("financialTransaction")
        if not isinstance(money, Mapping) or money.get("segmentValue") is None:
            continue
        this = text(money, "currencyType", required=False, limit=3) or context.currency
        if currency is not None and this != currency:
            raise ValueError("segments are priced in different currencies")
        currency = this
        amount = (amount or 0) + minor_units(money["segmentValue"], this)
    space = ""
    if segments and isinstance(segments[0].get("spaceId"), Mapping):
        space = text(segments[0]["spaceId"], "id", required=False, limit=40)
    cancelled = kind is EventKind.CANCEL
    return SessionRecord(
        integration=context.integration,
        source_id=text(session, "id"),
        version=positive_int(session, "version"),
        kind=kind,
        # A deletion may name only the session: plate and zone are then not needed.
        plate=_or_empty(_plate, session) if cancelled else _plate(session),
        start=start,
        end=end,
        vendor_zone=_or_empty(_zone, session) if cancelled else _zone(session),
        amount_minor=amount,
        currency=currency,
        space=space or None,
        payload_sha256=digest,
    )


def _or_empty(read: Callable[[Mapping[str, Any]], str], session: Mapping[str, Any]) -> str:
    try:
        return read(session)
    except ValueError:
        return ""
