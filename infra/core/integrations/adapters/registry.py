"""Vendor name and transport → adapter. A new vendor: its module, one line here, and its
entry in ``infra.core.integration_config.VENDORS`` (the one vendor list; a test holds the
two together: every vendor mode but ``lookup`` has exactly one adapter here)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from infra.core.integration_config import VENDORS, IntegrationSpec
from infra.core.integrations.adapters import (
    apds_pull,
    apds_webhook,
    csv_drop,
    generic_push,
    parkmobile_pull,
)
from infra.core.integrations.adapters.base import Adapter, AdapterContext

ADAPTERS: dict[tuple[str, str], Adapter] = {
    ("apds", "push"): apds_webhook.ADAPTER,
    ("apds", "pull"): apds_pull.ADAPTER,
    ("generic-push", "push"): generic_push.ADAPTER,
    ("parkmobile", "pull"): parkmobile_pull.ADAPTER,
    ("csv-drop", "file"): csv_drop.ADAPTER,
}
"""(vendor, mode) → adapter, keyed by the vendor names of ``VENDORS`` (integration config).
``lookup`` has no adapter: the vendor is asked a plate, it sends us no sessions."""


def adapter_for(vendor: str, mode: str) -> Adapter:
    """The adapter for *vendor* in *mode*, or ``ValueError`` listing the known ones."""
    found = ADAPTERS.get((vendor, mode))
    if found is None:
        known = ", ".join(f"{v} ({m})" for v, m in sorted(ADAPTERS))
        raise ValueError(f"no adapter for vendor {vendor!r} in mode {mode!r}; known: {known}")
    return found


def adapter_for_integration(integration: IntegrationSpec) -> Adapter:
    """The adapter that reads *integration*'s sessions (its config entry's vendor and mode);
    ``ValueError`` for a lookup integration, which ingests nothing."""
    if integration.vendor not in VENDORS:  # the spec validates it; a guard for callers
        raise ValueError(f"vendor {integration.vendor!r} is not one of {', '.join(VENDORS)}")
    return adapter_for(integration.vendor, integration.mode)


def context_for_integration(integration: IntegrationSpec) -> AdapterContext:
    """What *integration*'s adapter reads with: its id and its IANA timezone."""
    return AdapterContext(integration.id, ZoneInfo(integration.timezone))
