"""Propose a vendor-zone → lot mapping, and flag the near misses an exact match drops.

The field's most common integration failure is a zone named almost like its lot
(``"Lot N1 "``, ``"lot n1"``, ``"Lot N-1"``, ``"Lót N1"``): an exact-name import skips
it without a word. ``match_zones`` pairs each vendor zone with a lot:

- **exact**: the zone's id or name equals a lot's code or name, character for character;
- **near miss**: they are equal only once case, whitespace, punctuation and diacritics
  are ignored; proposed, but flagged with what differs, for a person to confirm;
- **unmatched**: neither (or several lots fit equally: *ambiguous*, none proposed);
- **kept**: the existing map already decides (a lot that still exists, or ignore), so
  re-running ``tenantctl integration map-zones`` changes nothing.

This is the one matcher: ``map-zones`` proposes with it and ingestion places sessions
with the map it writes (``assign_lots``). Pure logic: no Pulumi, boto3 or database.
"""

from __future__ import annotations

import csv
import io
import json
import string
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from infra.core.errors import UserInputError
from infra.core.integrations.record import EventKind, SessionRecord

Match = Literal["exact", "near-miss", "ambiguous", "unmatched", "kept"]


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
    ignore: bool = False
    """For a kept zone: the existing map ignores it."""

    @property
    def why(self) -> str:
        """One line for a person: why this proposal."""
        if self.match == "exact":
            return f"exactly {self.lot}"
        if self.match == "near-miss":
            return (
                f"near miss: {self.zone.name or self.zone.id!r} differs from lot {self.lot} "
                f"only in {', '.join(self.differences) or 'form'}; confirm"
            )
        if self.match == "ambiguous":
            return f"ambiguous: could be {', '.join(self.candidates)}; map it by hand"
        if self.match == "kept":
            return "ignored (kept)" if self.ignore else f"kept: {self.lot}"
        return "no lot matches; map it by hand or ignore it"

    def to_json(self) -> dict[str, Any]:
        return {
            "zoneId": self.zone.id,
            "zoneName": self.zone.name,
            "match": self.match,
            "lot": self.lot,
            "differences": list(self.differences),
            "candidates": list(self.candidates),
            "ignore": self.ignore,
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
        allowed = ("exact", "kept", "near-miss") if accept_near_misses else ("exact", "kept")
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


def match_zones(
    zones: Iterable[VendorZone],
    lots: Iterable[Lot],
    existing: Mapping[str, tuple[str | None, bool]] | None = None,
) -> ZoneMatch:
    """One proposal per vendor zone, in the order given.

    *existing* is the current map, ``{vendor zone id: (lot or None, ignore)}``; a zone it
    maps (to a lot that still exists) or ignores is kept; one mapped to a lot that is
    gone is matched again."""
    lot_list = list(lots)
    existing = existing or {}
    exact: dict[str, set[str]] = {}
    near: dict[str, set[str]] = {}
    for lot in lot_list:
        for key in (lot.code, lot.name):
            exact.setdefault(key, set()).add(lot.code)
            near.setdefault(fold(key), set()).add(lot.code)
    names = {lot.code: lot for lot in lot_list}
    proposals = []
    for zone in zones:
        kept, ignore = existing.get(zone.id, (None, False))
        if ignore or (kept is not None and kept in names):
            proposals.append(ZoneProposal(zone, "kept", None if ignore else kept, ignore=ignore))
            continue
        hits = exact.get(zone.id, set()) | (exact.get(zone.name, set()) if zone.name else set())
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


ZONE_FILE_MAX_BYTES = 1024 * 1024
_ID_COLUMNS = ("id", "zone_id", "zoneid", "vendor_zone_id", "zone")
_NAME_COLUMNS = ("name", "zone_name", "zonename", "vendor_zone_name", "description")


class ZoneListError(UserInputError):
    """A vendor zone list that cannot be read; the message says where and why."""


def parse_zone_list(data: bytes, source: str) -> list[VendorZone]:
    """The vendor's zones from a JSON file (a list of ``{"id", "name"}`` objects, or an
    object whose ``zones`` is one) or a CSV file with a header (an id column: id, zone_id,
    zone; a name column: name, zone_name). At most ``ZONE_FILE_MAX_BYTES``; ids unique."""
    if len(data) > ZONE_FILE_MAX_BYTES:
        raise ZoneListError(f"{source} is over {ZONE_FILE_MAX_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ZoneListError(f"{source} is not UTF-8 text") from None
    zones: list[VendorZone] = []
    if text.lstrip().startswith(("[", "{")):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ZoneListError(f"{source}: not valid JSON (line {exc.lineno})") from None
        items = document.get("zones") if isinstance(document, dict) else document
        if not isinstance(items, list):
            raise ZoneListError(f"{source}: expected a list of zones or {{'zones': [...]}}")
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise ZoneListError(f"{source}: zone #{number} is not an object")
            lowered = {str(k).lower(): v for k, v in item.items()}
            ident = next((lowered[c] for c in _ID_COLUMNS if c in lowered), None)
            name = next((lowered[c] for c in _NAME_COLUMNS if c in lowered), "")
            if ident is None or str(ident).strip() == "":
                raise ZoneListError(f"{source}: zone #{number} has no id")
            zones.append(VendorZone(str(ident).strip(), str(name or "")))
    else:
        reader = csv.reader(io.StringIO(text))
        header = [h.strip().lower() for h in next(reader, [])]
        id_col = next((header.index(c) for c in _ID_COLUMNS if c in header), None)
        name_col = next((header.index(c) for c in _NAME_COLUMNS if c in header), None)
        if id_col is None:
            raise ZoneListError(
                f"{source}: the header needs an id column ({', '.join(_ID_COLUMNS[:3])})"
            )
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            ident = row[id_col].strip() if id_col < len(row) else ""
            if not ident:
                raise ZoneListError(f"{source}:{number}: no zone id")
            name = row[name_col] if name_col is not None and name_col < len(row) else ""
            zones.append(VendorZone(ident, name))
    seen: set[str] = set()
    for zone in zones:
        if zone.id in seen:
            raise ZoneListError(f"{source}: zone id {zone.id!r} is listed twice")
        seen.add(zone.id)
    if not zones:
        raise ZoneListError(f"{source} lists no zones")
    return zones


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
