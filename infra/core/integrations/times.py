"""Vendor times to aware datetimes: never a naive time stored.

A time with an offset (``2026-03-08T10:00:00-05:00``, ``...Z``) or a Unix epoch is
exact. A naive local time (``2026-03-08 10:00``) is read in the integration's IANA
timezone, with the rule for the two hours a year where the wall clock lies:

- **gap** (spring forward: ``02:30`` on a day clocks jump from 02:00 to 03:00) never
  happened, so it is refused: the vendor must send an offset;
- **fold** (fall back: ``01:30`` happens twice) is resolved in the driver's favour:
  a session's start takes the earlier instant and its end the later one, so the
  session covers everything the driver could have paid for. Refusing would drop an
  hour of real sessions every autumn.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Side = Literal["start", "end"]

_EPOCH_MIN = 946_684_800  # 2000-01-01: a smaller number is not a session time
_EPOCH_MAX = 4_102_444_800  # 2100-01-01


def timezone(name: str) -> ZoneInfo:
    """The IANA timezone *name*, or ``ValueError`` naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA timezone such as America/Toronto") from None


def localize(naive: datetime, tz: ZoneInfo, side: Side) -> datetime:
    """*naive* wall time in *tz*, by the module's gap and fold rule."""
    early = naive.replace(tzinfo=tz, fold=0)
    late = naive.replace(tzinfo=tz, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early
    # zoneinfo: in a gap, fold=0 uses the offset before the transition and fold=1 the one
    # after, so the round trip through UTC lands on a different wall time.
    if early.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise ValueError(
            f"{naive.isoformat()} does not exist in {tz.key} (clocks skipped it at a DST "
            "change); send the time with its UTC offset"
        )
    return early if side == "start" else late


def parse_time(value: object, tz: ZoneInfo, side: Side = "start") -> datetime:
    """A vendor time (ISO 8601 text or Unix seconds) as an aware datetime in UTC."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time")
    if isinstance(value, int | float):
        if not _EPOCH_MIN <= value < _EPOCH_MAX:
            raise ValueError(f"{value!r} is not a Unix time between 2000 and 2100")
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str) or not value.strip() or len(value) > 40:
        raise ValueError(f"{value!r} is not an ISO 8601 time")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 time such as 2026-05-01T09:30") from None
    if not 2000 <= parsed.year < 2100:
        raise ValueError(f"{value!r} is not between 2000 and 2100")
    if parsed.tzinfo is None:
        parsed = localize(parsed, tz, side)
    offset = parsed.utcoffset()
    if offset is None or abs(offset) > timedelta(hours=14):
        raise ValueError(f"{value!r} has no valid UTC offset")
    return parsed.astimezone(UTC)
