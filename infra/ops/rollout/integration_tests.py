"""The rollout's record of ``tenantctl integration test`` round trips, handed to the test
by the CLI (``infra.ops.lifecycle.integration_test.RoundTripRecorder``), and the
question the "integrations verified" task asks of it."""

from __future__ import annotations

from collections.abc import Iterable

from infra.core.integration_config import IntegrationSpec
from infra.core.integrations.roundtrip import config_hash
from infra.core.spec import TenantSpec
from infra.ops.adapters import control
from infra.ops.lifecycle.integration_test import RoundTrip
from infra.ops.rollout.store import actor, append_history, find

ACTION = "integration-test"


class RoundTripHistory:
    """Records passing round trips in the control database; without one it records
    nothing and says so."""

    def __init__(self, by: str | None = None) -> None:
        self.by = by

    def record(self, spec: TenantSpec, trip: RoundTrip) -> str:
        if not control.configured():
            return (
                f"not recorded in the rollout history ({control.CONTROL_DATABASE_URL_ENV} not set)"
            )
        with control.connect() as conn:
            row = find(conn, spec.slug)
            append_history(
                conn,
                row.id,
                actor(self.by),
                ACTION,
                subject=trip.integration,
                detail={
                    "stage": spec.stage,
                    "runId": trip.run_id,
                    "passed": trip.passed,
                    "release": trip.release,
                    "configHash": trip.config_hash,
                },
            )
        return f"recorded in the rollout history of {spec.slug} (rollout {row.id})"


def untested(slug: str, integrations: Iterable[IntegrationSpec]) -> list[str] | None:
    """The ids of *integrations* with no passing round trip on their current configuration
    (so since their last config change); ``None`` when no control database is set."""
    if not control.configured():
        return None
    wanted = {i.id: config_hash(i) for i in integrations}
    with control.connect() as conn:
        row = find(conn, slug)
        passed = {
            (subject, detail.get("configHash"))
            for subject, detail in conn.execute(
                "SELECT subject, detail FROM history WHERE rollout_id = %s AND action = %s",
                (row.id, ACTION),
            )
            if isinstance(detail, dict) and detail.get("passed") is True
        }
    return [i for i, h in wanted.items() if (i, h) not in passed]
