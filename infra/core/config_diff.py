"""What promotion would change in the configuration tables, as plain data.

Configuration is read as ``{table: {primary_key: row}}`` (see
``infra.ops.adapters.config_tables.read_config``); comparing two such snapshots says which
rows promotion would add, change or remove in each table.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ConfigRows = Mapping[Hashable, tuple[Any, ...]]
ConfigSnapshot = Mapping[str, ConfigRows]


@dataclass(frozen=True)
class TableDiff:
    """Primary keys of rows added, changed and removed going from one snapshot to another."""

    added: list[Any]
    changed: list[Any]
    removed: list[Any]

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


def _sorted(keys: Iterable[Any]) -> list[Any]:
    keys = list(keys)
    try:
        return sorted(keys)
    except TypeError:  # mixed key types: still deterministic
        return sorted(keys, key=lambda k: (type(k).__name__, repr(k)))


def diff_table(src: ConfigRows, dst: ConfigRows) -> TableDiff:
    return TableDiff(
        added=_sorted(k for k in src if k not in dst),
        changed=_sorted(k for k in src if k in dst and src[k] != dst[k]),
        removed=_sorted(k for k in dst if k not in src),
    )


def diff_config(src: ConfigSnapshot, dst: ConfigSnapshot) -> dict[str, TableDiff]:
    """Per table (source order, then tables only *dst* has): what copying *src* over *dst* does."""
    tables = list(src) + [t for t in dst if t not in src]
    return {t: diff_table(src.get(t, {}), dst.get(t, {})) for t in tables}
