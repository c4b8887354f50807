"""Propose a vendor-zone -> lot map, and flag the near misses an exact match drops.

In the field a vendor's zone is imported only when a lot has exactly the same
name, so "Lot A " or "lot-a" silently loses every session in it. Here every
vendor zone gets one of:

- ``exact``: its id or name equals a lot's code or name exactly -> mapped;
- ``near-miss``: equal only once case, whitespace and punctuation are ignored
  (``normalise``) -> proposed, and flagged so a person confirms it;
- ``ambiguous``: the normalised form matches more than one lot -> left unmapped;
- ``unmatched``: nothing -> left unmapped (map it by hand or ``ignore`` it);
- ``kept``: the existing map already says (a lot or ignore) -> kept as it is.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from infra.core.errors import UserInputError

Match = Literal["exact", "near-miss", "ambiguous", "unmatched", "kept"]

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """*text* without case, accents' compatibility forms, whitespace or punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_WORD.sub("", folded)


@dataclass(frozen=True)
class VendorZone:
    id: str
    name: str


@dataclass(frozen=True)
class Lot:
    code: str
    name: str


@dataclass(frozen=True)
class Proposal:
    """What map-zones proposes for one vendor zone."""

    zone: VendorZone
    match: Match
    lot: str | None
    ignore: bool = False
    candidates: tuple[str, ...] = ()
    """Lot codes an ambiguous zone could be."""

    @property
    def why(self) -> str:
        if self.match == "exact":
            return f"exactly {self.lot}"
        if self.match == "near-miss":
            return (
                f"near miss: {self.zone.name or self.zone.id!r} differs from lot {self.lot} "
                "only in case, spaces or punctuation; confirm"
            )
        if self.match == "ambiguous":
            return f"ambiguous: could be {', '.join(self.candidates)}; map it by hand"
        if self.match == "kept":
            return "ignored (kept)" if self.ignore else f"kept: {self.lot}"
        return "no lot matches; map it by hand or ignore it"


def propose(
    zones: Iterable[VendorZone],
    lots: Iterable[Lot],
    existing: Mapping[str, tuple[str | None, bool]] | None = None,
) -> list[Proposal]:
    """A proposal per vendor zone, in the vendor's order.

    *existing* is the current map, ``{vendor zone id: (lot or None, ignore)}``; a zone it
    maps (to a lot that still exists) or ignores is kept, so re-running changes nothing.
    """
    known = list(lots)
    codes = {lot.code for lot in known}
    exact: dict[str, str] = {}
    for lot in known:
        exact.setdefault(lot.code, lot.code)
        exact.setdefault(lot.name, lot.code)
    loose: dict[str, set[str]] = {}
    for lot in known:
        for text in (lot.code, lot.name):
            key = normalise(text)
            if key:
                loose.setdefault(key, set()).add(lot.code)
    existing = existing or {}
    proposals: list[Proposal] = []
    for zone in zones:
        kept, ignore = existing.get(zone.id, (None, False))
        if ignore or (kept is not None and kept in codes):
            proposals.append(Proposal(zone, "kept", kept, ignore=ignore))
            continue
        hit = exact.get(zone.name) if zone.name else None
        hit = hit or exact.get(zone.id)
        if hit is not None:
            proposals.append(Proposal(zone, "exact", hit))
            continue
        found: set[str] = set()
        for text in (zone.name, zone.id):
            found |= loose.get(normalise(text), set()) if normalise(text) else set()
        if len(found) == 1:
            proposals.append(Proposal(zone, "near-miss", next(iter(found))))
        elif found:
            proposals.append(Proposal(zone, "ambiguous", None, candidates=tuple(sorted(found))))
        else:
            proposals.append(Proposal(zone, "unmatched", None))
    return proposals


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
