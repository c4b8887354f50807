"""The canonical parking session every adapter produces (aligned with APDS ``Session``).

APDS (``parkingdata/spec``) identifies a session as ``{id, version}`` and describes it by
``actualStart``/``actualEnd``, ``identifiedCredentials`` (the plate), the place it is in
and priced ``segments``. ``SessionRecord`` keeps what enforcement needs of that, flat:
one row per (integration, source id), the highest version winning (see
``supersedes``). Times are always aware (UTC offset known); amounts are integers in
the currency's minor unit, so no float ever reaches the database.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from infra.core.text_rules import currency_problem

MAX_PAYLOAD_BYTES = 1_000_000
"""Largest payload (one webhook body, one pull page, one dropped file's row count
aside) an adapter accepts; anything bigger is refused whole, unparsed."""

MAX_ITEMS = 5_000
"""Most sessions in one payload (webhook batch or pull page)."""

MAX_FILE_ROWS = 200_000
"""Most data rows in one dropped CSV file."""

MAX_SESSION_HOURS = 24 * 31
"""Longest session accepted; a longer one is a vendor bug (or a permit, not a session)."""

_PLATE_DROP = re.compile(r"[\s\-.·]")
_PLATE_OK = re.compile(r"^[A-Z0-9]{1,10}$")


class EventKind(StrEnum):
    """What the vendor says happened (Parknexus-style kinds; APDS topics map onto them).

    ``TEST`` sessions are stored, flagged by their kind, and never authorize a plate:
    they exist so that a round-trip can be proven without creating a real right."""

    NEW = "NEW"
    EXTEND = "EXTEND"
    UPDATE = "UPDATE"
    CANCEL = "CANCEL"
    TEST = "TEST"


AUTHORIZING_KINDS = (EventKind.NEW, EventKind.EXTEND, EventKind.UPDATE)
"""The kinds whose stored session can authorize a plate (never CANCEL, never TEST)."""


@dataclass(frozen=True)
class SessionRecord:
    """One parking session as a vendor reported it, in one integration's terms."""

    integration: str
    source_id: str
    version: int
    kind: EventKind
    plate: str
    start: datetime
    end: datetime | None
    vendor_zone: str
    amount_minor: int | None = None
    currency: str | None = None
    region: str | None = None
    country: str | None = None
    space: str | None = None
    lot: str | None = None
    payload_sha256: str = ""

    def __post_init__(self) -> None:
        # The record is the one place its invariants are kept: adapters cannot build
        # a record that would violate them, so the store need not re-check.
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("start must carry a UTC offset")
        if self.end is not None:
            if self.end.tzinfo is None or self.end.utcoffset() is None:
                raise ValueError("end must carry a UTC offset")
            if self.end < self.start:
                raise ValueError("end is before start")
            if (self.end - self.start).total_seconds() > MAX_SESSION_HOURS * 3600:
                raise ValueError(f"the session lasts more than {MAX_SESSION_HOURS} hours")
        if self.version < 1:
            raise ValueError("version must be a positive integer")
        if not self.source_id or len(self.source_id) > 200:
            raise ValueError("source id must be 1-200 characters")
        # A CANCEL may name only the session (APDS deletedReferences carry no plate).
        if not (self.kind is EventKind.CANCEL and not self.plate) and not _PLATE_OK.fullmatch(
            self.plate
        ):
            raise ValueError(f"plate {self.plate!r} is not 1-10 letters and digits")
        if (self.amount_minor is None) != (self.currency is None):
            raise ValueError("an amount needs its currency (and a currency its amount)")
        if self.currency is not None and currency_problem(self.currency):
            raise ValueError(f"currency {self.currency!r} is not an ISO 4217 code")
        if self.amount_minor is not None and self.amount_minor < 0:
            raise ValueError("amount must not be negative")
        if self.kind not in (EventKind.CANCEL,) and self.end is None:
            raise ValueError("a session that is not cancelled needs an end time")

    @property
    def is_test(self) -> bool:
        return self.kind is EventKind.TEST

    def to_json(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "sourceId": self.source_id,
            "version": self.version,
            "kind": self.kind.value,
            "plate": self.plate,
            "region": self.region,
            "country": self.country,
            "space": self.space,
            "vendorZone": self.vendor_zone,
            "lot": self.lot,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "amountMinor": self.amount_minor,
            "currency": self.currency,
            "payloadSha256": self.payload_sha256,
        }


@dataclass(frozen=True)
class Rejection:
    """One item an adapter refused: where it was, and why (for the vendor or the DLQ)."""

    item: str
    reason: str
    source_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"item": self.item, "sourceId": self.source_id, "reason": self.reason}


@dataclass(frozen=True)
class AdapterResult:
    """What an adapter made of one payload: the records and the per-item rejections."""

    records: tuple[SessionRecord, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    next_page: str | None = None
    """Pull adapters: the vendor's cursor or offset for the next page, ``None`` at the end."""
    error_csv: str | None = None
    """File drops: the failed rows as CSV, each with its reason, to hand back to the sender."""


def supersede_key(kind: EventKind, version: int) -> tuple[bool, int]:
    """The order in which deliveries of one session win: the stored one has the largest.

    A CANCEL is final (it beats every version, even later ones, so a late UPDATE cannot
    revive a cancelled session); otherwise the higher version wins. Taking the maximum
    is order-independent and idempotent, which is what makes redelivery and reordering
    harmless; the database applies the same rule (``infra.ops.integrations.store``).
    """
    return (kind is EventKind.CANCEL, version)


def payload_sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def normalize_plate(value: str) -> str:
    """A plate as enforcement compares it: capitals and digits, no spaces, dashes or dots."""
    return _PLATE_DROP.sub("", unicodedata.normalize("NFKC", value)).upper()


def minor_units(amount: Any, currency: str) -> int:
    """*amount* (major units: ``2.5`` or ``"2.50"``) in *currency*'s minor unit (250).

    Refuses a float's binary noise beyond the currency's precision (``2.505`` USD), a
    negative amount and a currency that is not ISO 4217 (checked with pycountry)."""
    from babel.numbers import get_currency_precision  # CLDR's digits: JPY 0, KWD 3

    problem = currency_problem(currency)
    if problem:
        raise ValueError(f"currency {currency!r}: {problem}")
    if isinstance(amount, bool) or not isinstance(amount, int | float | str | Decimal):
        raise ValueError(f"amount {amount!r} is not a number")
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"amount {amount!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"amount {amount!r} must be a finite number, not negative")
    scaled = value.scaleb(get_currency_precision(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount {amount!r} has more decimals than {currency} allows")
    if scaled > 10**12:
        raise ValueError(f"amount {amount!r} is implausibly large")
    return int(scaled)
