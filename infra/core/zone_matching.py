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

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

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
    lots = list(lots)
    codes = {lot.code for lot in lots}
    exact: dict[str, str] = {}
    for lot in lots:
        exact.setdefault(lot.code, lot.code)
        exact.setdefault(lot.name, lot.code)
    loose: dict[str, set[str]] = {}
    for lot in lots:
        for text in (lot.code, lot.name):
            key = normalise(text)
            if key:
                loose.setdefault(key, set()).add(lot.code)
    existing = existing or {}
    proposals: list[Proposal] = []
    for zone in zones:
        lot, ignore = existing.get(zone.id, (None, False))
        if ignore or (lot is not None and lot in codes):
            proposals.append(Proposal(zone, "kept", lot, ignore=ignore))
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
