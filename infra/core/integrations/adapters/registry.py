"""Vendor name and transport → adapter. A new vendor: its module, and one line here."""

from __future__ import annotations

from infra.core.integrations.adapters import (
    apds_pull,
    apds_webhook,
    csv_drop,
    generic_push,
    parkmobile_pull,
)
from infra.core.integrations.adapters.base import Adapter

ADAPTERS: dict[tuple[str, str], Adapter] = {
    ("apds", "push"): apds_webhook.ADAPTER,
    ("apds", "pull"): apds_pull.ADAPTER,
    ("opscom", "push"): generic_push.ADAPTER,
    ("parknexus", "push"): generic_push.ADAPTER,
    ("parkmobile", "pull"): parkmobile_pull.ADAPTER,
    ("csv", "file"): csv_drop.ADAPTER,
}
"""(vendor, mode) → adapter; the vendor names integration config uses."""


def adapter_for(vendor: str, mode: str) -> Adapter:
    """The adapter for *vendor* in *mode*, or ``ValueError`` listing the known ones."""
    found = ADAPTERS.get((vendor, mode))
    if found is None:
        known = ", ".join(f"{v} ({m})" for v, m in sorted(ADAPTERS))
        raise ValueError(f"no adapter for vendor {vendor!r} in mode {mode!r}; known: {known}")
    return found
