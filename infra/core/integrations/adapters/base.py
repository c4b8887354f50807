"""What every adapter shares: its context, the payload limits, typed field readers.

An adapter is a function ``parse(payload: bytes, context) -> AdapterResult``: it never
raises for bad input; a payload it cannot read at all is one rejection (item
``payload``), an item it cannot map is one rejection naming the item and the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from infra.core.integrations.record import (
    MAX_ITEMS,
    MAX_PAYLOAD_BYTES,
    AdapterResult,
    Rejection,
    SessionRecord,
)

Transport = str  # "push" | "pull" | "file"


@dataclass(frozen=True)
class AdapterContext:
    """What an adapter needs to know about the integration it reads for."""

    integration: str
    timezone: ZoneInfo
    """Where the vendor's naive local times are read (the integration's IANA zone)."""
    currency: str = "USD"
    """The currency of amounts the vendor sends without one (the client's currency)."""


Parse = Callable[[bytes, AdapterContext], AdapterResult]


@dataclass(frozen=True)
class Adapter:
    """One vendor shape: its name, its transport and its parser."""

    name: str
    transport: Transport
    parse: Parse
    summary: str
    page_param: str = "page"
    """Pull adapters: the query parameter that carries ``AdapterResult.next_page``."""


class PayloadRefused(ValueError):
    """The whole payload is unreadable (too big, not JSON, wrong shape)."""


def refused(reason: str) -> AdapterResult:
    return AdapterResult(rejections=(Rejection("payload", reason),))


def load_json(payload: bytes) -> Any:
    """*payload* as JSON, refusing one bigger than ``MAX_PAYLOAD_BYTES`` before parsing."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadRefused(
            f"payload is {len(payload)} bytes, more than the {MAX_PAYLOAD_BYTES} accepted; "
            "send smaller batches"
        )
    try:
        return json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadRefused("payload is not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PayloadRefused(f"payload is not JSON: {str(exc)[:80]}") from None


def items_of(value: Any, key: str) -> list[Any]:
    """``value[key]`` as a list of at most ``MAX_ITEMS`` items."""
    if not isinstance(value, Mapping) or not isinstance(value.get(key), list):
        raise PayloadRefused(f"payload has no {key!r} list")
    found: list[Any] = value[key]
    if len(found) > MAX_ITEMS:
        raise PayloadRefused(f"{len(found)} items in {key!r}, more than the {MAX_ITEMS} accepted")
    return found


def text(item: Mapping[str, Any], key: str, *, required: bool = True, limit: int = 200) -> str:
    value = item.get(key)
    if value is None or value == "":
        if required:
            raise ValueError(f"{key} is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{key} must be text")
    out = str(value).strip()
    if len(out) > limit:
        raise ValueError(f"{key} is longer than {limit} characters")
    return out


def positive_int(item: Mapping[str, Any], key: str) -> int:
    value = item.get(key)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**62:
        raise ValueError(f"{key} must be a positive integer, got {value!r}")
    return value


def collect(
    items: Iterable[tuple[str, Any]], build: Callable[[Any], SessionRecord]
) -> tuple[tuple[SessionRecord, ...], tuple[Rejection, ...]]:
    """Each ``(label, item)`` built into a record, or rejected with the reason."""
    records: list[SessionRecord] = []
    rejections: list[Rejection] = []
    for label, item in items:
        if not isinstance(item, Mapping):
            rejections.append(Rejection(label, "is not an object"))
            continue
        try:
            records.append(build(item))
        except (ValueError, KeyError, TypeError) as exc:
            source = item.get("id") or item.get("transactionId") or item.get("parkingActionId")
            rejections.append(
                Rejection(label, str(exc), str(source)[:200] if source is not None else None)
            )
    return tuple(records), tuple(rejections)
