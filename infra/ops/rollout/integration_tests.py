"""The rollout's record of ``tenantctl integration test`` round trips, handed to the test
by the CLI (``infra.ops.lifecycle.integration_test.RoundTripRecorder``), and the
question the "integrations verified" task asks of it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from infra.core.integration_config import IntegrationSpec
from infra.core.integrations.roundtrip import config_hash
from infra.core.spec import TenantSpec
from infra.ops.adapters import control
from infra.ops.lifecycle.integration_test import RoundTrip
from infra.ops.rollout.store import find, record_fact

ACTION = "integration-test"


class RoundTripHistory:
    """Records passing round trips in the control database; without one it records
    nothing and says so."""

    def __init__(self, by: str | None = None) -> None:
        self.by = by

    def record(self, spec: TenantSpec, trip: RoundTrip) -> str:
        return record_fact(
            spec.slug,
            self.by,
            ACTION,
            trip.integration,
            {
                "stage": spec.stage,
                "runId": trip.run_id,
                "passed": trip.passed,
                "release": trip.release,
                "configHash": trip.config_hash,
            },
        )


@dataclass(frozen=True)
class Untested:
    """An integration without a passing round trip on its current configuration and the
    release preview serves; *last_release* is the release of its latest pass on that
    configuration, when there is one (so it passed on another release)."""

    integration: str
    last_release: str | None = None


def untested(
    slug: str, integrations: Iterable[IntegrationSpec], release: str | None
) -> list[Untested] | None:
    """Which of *integrations* have no passing round trip recorded on their current
    configuration (so since their last config change) and on *release* (the release
    preview serves, what promote would carry); ``None`` when no control database is set."""
    if not control.configured():
        return None
    wanted = {i.id: config_hash(i) for i in integrations}
    with control.connect() as conn:
        row = find(conn, slug)
        rows = conn.execute(
            "SELECT subject, detail FROM history WHERE rollout_id = %s AND action = %s "
            "ORDER BY id DESC",
            (row.id, ACTION),
        ).fetchall()
    latest: dict[str, str | None] = {}  # integration -> release of its latest pass, this config
    for subject, detail in rows:
        if not isinstance(detail, dict) or detail.get("passed") is not True:
            continue
        if detail.get("configHash") != wanted.get(subject):
            continue
        passed_on = detail.get("release")
        if passed_on == release:
            latest[subject] = release
        else:
            latest.setdefault(subject, passed_on if isinstance(passed_on, str) else None)
    missing = []
    for integration in wanted:
        if integration not in latest:
            missing.append(Untested(integration))
        elif latest[integration] != release:
            missing.append(Untested(integration, latest[integration] or "no release"))
    return missing
