"""Propose a vendor-zone → lot mapping, and flag the near misses an exact match drops.

The field's most common integration failure is a zone named almost like its lot
(``"Lot N1 "``, ``"lot n1"``, ``"Lot N-1"``, ``"Lót N1"``): an exact-name import skips
it without a word. ``match_zones`` pairs each vendor zone with a lot:

- **exact**: the zone's id or name equals a lot's code or name, character for character;
- **near miss**: they are equal only once case, whitespace, punctuation and diacritics
  are ignored; proposed, but flagged with what differs, for a person to confirm;
- **unmatched**: neither (or several lots fit equally: *ambiguous*, none proposed).
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from infra.core.integrations.record import EventKind, SessionRecord

Match = Literal["exact", "near-miss", "ambiguous", "unmatched"]


@dataclass(frozen=True)
class VendorZone:
    id: str
    name: str


@dataclass(frozen=True)
class Lot:
    code: str
    name: str


@dataclass(frozen=True)
class ZoneProposal:
    """What to map one vendor zone to, and how sure the matcher is."""

    zone: VendorZone
    match: Match
    lot: str | None
    """The proposed lot code (``None`` when unmatched or ambiguous)."""
    differences: tuple[str, ...] = ()
    """For a near miss: what an exact match tripped on (``case``, ``whitespace``, ...)."""
    candidates: tuple[str, ...] = ()
    """For an ambiguous zone: the lot codes that fit equally."""

    def to_json(self) -> dict[str, Any]:
        return {
            "zoneId": self.zone.id,
            "zoneName": self.zone.name,
            "match": self.match,
            "lot": self.lot,
            "differences": list(self.differences),
            "candidates": list(self.candidates),
        }


@dataclass(frozen=True)
class ZoneMatch:
    proposals: tuple[ZoneProposal, ...]

    @property
    def near_misses(self) -> tuple[ZoneProposal, ...]:
        return tuple(p for p in self.proposals if p.match == "near-miss")

    @property
    def unmatched(self) -> tuple[ZoneProposal, ...]:
        return tuple(p for p in self.proposals if p.match in ("unmatched", "ambiguous"))

    def mapping(self, *, accept_near_misses: bool = False) -> dict[str, str]:
        """Vendor zone id → lot code: the exact matches (and near misses if accepted)."""
        allowed = ("exact", "near-miss") if accept_near_misses else ("exact",)
        return {p.zone.id: p.lot for p in self.proposals if p.match in allowed and p.lot}

    def to_json(self) -> dict[str, Any]:
        return {"proposals": [p.to_json() for p in self.proposals]}


_PUNCTUATION = set(string.punctuation) | {"\u2013", "\u2014", "\u2019", "\u00b7"}


def fold(value: str) -> str:
    """*value* with case, whitespace, punctuation and diacritics removed."""
    for f in _FOLDS.values():
        value = f(value)
    return value


def _no_space(s: str) -> str:
    return "".join(s.split())


def _no_punctuation(s: str) -> str:
    return "".join(c for c in s if c not in _PUNCTUATION)


def _no_diacritics(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


_FOLDS = {
    "case": str.casefold,
    "whitespace": _no_space,
    "punctuation": _no_punctuation,
    "diacritics": _no_diacritics,
}


def differences(a: str, b: str) -> tuple[str, ...]:
    """Which of case, whitespace, punctuation, diacritics keep *a* and *b* apart: each
    one that, left alone while all the others are ignored, still tells them apart."""
    found = []
    for name in _FOLDS:
        others = [f for other, f in _FOLDS.items() if other != name]
        x, y = a, b
        for f in others:
            x, y = f(x), f(y)
        if x != y:
            found.append(name)
    return tuple(found)


def match_zones(zones: Iterable[VendorZone], lots: Iterable[Lot]) -> ZoneMatch:
    """One proposal per vendor zone, in the order given."""
    lot_list = list(lots)
    exact: dict[str, set[str]] = {}
    near: dict[str, set[str]] = {}
    for lot in lot_list:
        for key in (lot.code, lot.name):
            exact.setdefault(key, set()).add(lot.code)
            near.setdefault(fold(key), set()).add(lot.code)
    names = {lot.code: lot for lot in lot_list}
    proposals = []
    for zone in zones:
        hits = exact.get(zone.id, set()) | exact.get(zone.name, set())
        if len(hits) == 1:
            proposals.append(ZoneProposal(zone, "exact", next(iter(hits))))
            continue
        if len(hits) > 1:
            proposals.append(ZoneProposal(zone, "ambiguous", None, candidates=tuple(sorted(hits))))
            continue
        folded = {fold(zone.id), fold(zone.name)} - {""}
        fits = set().union(*(near.get(f, set()) for f in folded)) if folded else set()
        if len(fits) == 1:
            code = next(iter(fits))
            lot = names[code]
            against = lot.name if fold(lot.name) in folded else lot.code
            mine = zone.name if fold(zone.name) == fold(against) else zone.id
            proposals.append(
                ZoneProposal(zone, "near-miss", code, differences=differences(mine, against))
            )
        elif len(fits) > 1:
            proposals.append(ZoneProposal(zone, "ambiguous", None, candidates=tuple(sorted(fits))))
        else:
            proposals.append(ZoneProposal(zone, "unmatched", None))
    return ZoneMatch(tuple(proposals))


UnmatchedPolicy = Literal["quarantine", "drop"]


def assign_lots(
    records: Iterable[SessionRecord], zone_map: Mapping[str, str], lots: Iterable[str]
) -> tuple[list[SessionRecord], list[tuple[SessionRecord, str]]]:
    """Each record with its lot (from *zone_map*: vendor zone → lot code), or held back.

    A record naming its lot already keeps it if the lot exists. A CANCEL needs no lot
    (it finds its session by source id; it gets one if its zone maps). Returns the
    placed records and, for the others, the reason (for the quarantine)."""
    known = set(lots)
    placed: list[SessionRecord] = []
    held: list[tuple[SessionRecord, str]] = []
    for record in records:
        lot = record.lot or zone_map.get(record.vendor_zone)
        if record.kind is EventKind.CANCEL:
            placed.append(record if lot is None or lot not in known else replace(record, lot=lot))
            continue
        if lot is None:
            held.append((record, f"vendor zone {record.vendor_zone!r} is mapped to no lot"))
        elif lot not in known:
            held.append((record, f"vendor zone {record.vendor_zone!r} maps to unknown lot {lot!r}"))
        else:
            placed.append(record if record.lot == lot else replace(record, lot=lot))
    return placed, held
