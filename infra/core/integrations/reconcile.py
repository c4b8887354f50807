"""``tenantctl integration reconcile``, pure: what a vendor reports for a window against
what was ingested, by source id and version.

A vendor may report one session several times (NEW, EXTEND, a later UPDATE, a CANCEL);
what counts is what ingestion keeps: the latest version, a CANCEL above every version
(``vendor_view``). Then per source id: **missing** (the vendor has it, we do not),
**extra** (we have it, the vendor does not report it for the window) or **differs**
(both, another version or one side cancelled; NEW, EXTEND and UPDATE of one version
are the same session, as vendors name changes differently).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from infra.core.integrations.record import EventKind, SessionRecord

Difference = Literal["missing", "extra", "differs"]


@dataclass(frozen=True, order=True)
class Seen:
    """One session as one side has it."""

    version: int
    kind: str

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "kind": self.kind}


@dataclass(frozen=True)
class Mismatch:
    source_id: str
    difference: Difference
    vendor: Seen | None
    ingested: Seen | None

    def to_json(self) -> dict[str, Any]:
        return {
            "sourceId": self.source_id,
            "difference": self.difference,
            "vendor": self.vendor.to_json() if self.vendor else None,
            "ingested": self.ingested.to_json() if self.ingested else None,
        }

    def describe(self) -> str:
        def side(seen: Seen | None) -> str:
            return f"v{seen.version} {seen.kind}" if seen else "none"

        return (
            f"{self.difference:<8} {self.source_id}: vendor {side(self.vendor)}, "
            f"ingested {side(self.ingested)}"
        )


def _rank(seen: Seen) -> tuple[bool, int]:
    return (seen.kind == EventKind.CANCEL.value, seen.version)


def vendor_view(
    records: Iterable[SessionRecord], since: datetime, until: datetime
) -> dict[str, Seen]:
    """Per source id, the session ingestion would keep of *records* starting in
    [*since*, *until*); a CANCEL (which may carry no start) counts for its source id
    whenever that id is in the window."""
    kept: dict[str, Seen] = {}
    cancels: dict[str, Seen] = {}
    for r in records:
        seen = Seen(r.version, r.kind.value)
        if r.kind is EventKind.CANCEL:
            cancels[r.source_id] = max(cancels.get(r.source_id, seen), seen, key=_rank)
        elif since <= r.start < until:
            kept[r.source_id] = max(kept.get(r.source_id, seen), seen, key=_rank)
    for source_id, seen in cancels.items():
        if source_id in kept:
            kept[source_id] = max(kept[source_id], seen, key=_rank)
    return kept


def _agree(a: Seen, b: Seen) -> bool:
    """Same version, both live or both cancelled; two cancels agree whatever their version
    (a CANCEL beats every version)."""
    a_gone, b_gone = a.kind == EventKind.CANCEL.value, b.kind == EventKind.CANCEL.value
    return (a_gone and b_gone) or (a_gone == b_gone and a.version == b.version)


def compare(vendor: Mapping[str, Seen], ingested: Mapping[str, Seen]) -> list[Mismatch]:
    """The differences between the two sides, by source id (sorted)."""
    out: list[Mismatch] = []
    for source_id in sorted(vendor.keys() | ingested.keys()):
        v, i = vendor.get(source_id), ingested.get(source_id)
        if i is None:
            out.append(Mismatch(source_id, "missing", v, None))
        elif v is None:
            if i.kind != EventKind.CANCEL.value:  # cancelled here and gone there: agreed
                out.append(Mismatch(source_id, "extra", None, i))
        elif not _agree(v, i):
            out.append(Mismatch(source_id, "differs", v, i))
    return out
