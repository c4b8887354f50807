"""``tenantctl integration test``, pure: the TEST transaction, its vendor shape, the
push signature and the hash of the configuration a round trip ran against.

A round trip sends one TEST session (it is stored and looked up, and never authorizes
a car) in the vendor's own shape through the integration's path. It passes when the
enforcement lookup of its plate in its lot answers from that very session.

A pull integration's TEST session starts at the vendor: it is posted to the vendor
sandbox's session endpoint (the preview endpoint; the local target's mock pull API
accepts it) and pulled back from there with ``modified_since`` just before it.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from infra.core.integration_config import IntegrationSpec

TEST_PLATE = "TESTRT"
"""The plate of every TEST transaction (TEST sessions never authorize, whatever the plate)."""
TEST_MINUTES = 30
SIGNATURE_HEADER = "X-Signature-SHA256"
"""The header a push carries its HMAC-SHA256 (hex, of the raw body) in."""
TESTABLE: dict[tuple[str, str], str] = {
    ("generic-push", "push"): "signed HMAC push to the receive handler",
    ("apds", "push"): "signed HMAC push (APDS SessionCreated) to the receive handler",
    ("csv-drop", "file"): "a dropped CSV file",
    ("parkmobile", "pull"): "posted to the vendor sandbox, pulled back from its API",
    ("apds", "pull"): "posted to the vendor sandbox (APDS session), pulled back from its API",
}
"""(vendor, mode) -> how ``integration test`` delivers its TEST transaction."""
NO_ROUND_TRIP: dict[str, str] = {
    "lookup": "a lookup integration is asked a plate by an officer or camera and sends no "
    "sessions, so a TEST session has no path to take",
}
"""Modes a round trip cannot exist for, and why: the "integrations verified" task counts
them as not applicable, by name, and ``integration test`` refuses them with this reason."""


def no_round_trip(integration: IntegrationSpec) -> str | None:
    """Why *integration* cannot have a round trip, or ``None`` when it can."""
    return NO_ROUND_TRIP.get(integration.mode)


DEFAULT_TIMEOUT_SECONDS = 30.0


def sign(body: bytes, secret: bytes) -> str:
    """The HMAC-SHA256 of *body* under *secret*, hex: what a push's signature header holds."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_ok(body: bytes, signature: str, secret: bytes) -> bool:
    """Whether *signature* is *body*'s HMAC under *secret* (constant-time compare)."""
    return hmac.compare_digest(signature.strip().lower(), sign(body, secret))


def config_hash(integration: IntegrationSpec) -> str:
    """A hash of *integration*'s configuration (vendor, mode, zones, endpoints, ...): a
    passing round trip counts only while the configuration is the one it ran against."""
    document = integration.model_dump(mode="json", by_alias=True)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RoundTripTransaction:
    """The TEST session a round trip sends."""

    source_id: str
    vendor_zone: str
    lot: str
    start: datetime
    end: datetime
    modified: int
    """Unix seconds the vendor stamps it with (a pull asks for changes since just before)."""

    @property
    def at(self) -> datetime:
        """When the lookup asks: the middle of the session."""
        return self.start + (self.end - self.start) / 2


def round_trip_transaction(
    integration: IntegrationSpec, run_id: str, now: datetime
) -> RoundTripTransaction:
    """A TEST session in the first mapped zone of *integration*; ``ValueError`` when no zone
    is mapped (a session would only be quarantined)."""
    zone = next((z for z in integration.zones if z.lot is not None), None)
    if zone is None or zone.lot is None:
        raise ValueError(
            f"integration {integration.id} maps no vendor zone to a lot; run "
            "`tenantctl integration map-zones ... --write` first"
        )
    start = now.replace(microsecond=0) - timedelta(minutes=TEST_MINUTES // 2)
    return RoundTripTransaction(
        f"tenantctl-test-{run_id}",
        zone.vendor_zone_id,
        zone.lot,
        start,
        start + timedelta(minutes=TEST_MINUTES),
        int(now.timestamp()),
    )


def round_trip_payload(integration: IntegrationSpec, tx: RoundTripTransaction) -> bytes:
    """*tx* in the vendor's shape (``TESTABLE``); ``ValueError`` for a vendor not there."""
    key = (integration.vendor, integration.mode)
    if key == ("generic-push", "push"):
        event = {
            "transactionId": tx.source_id,
            "version": 1,
            "action": "TEST",
            "plate": TEST_PLATE,
            "zone": tx.vendor_zone,
            "startTime": tx.start.isoformat(),
            "endTime": tx.end.isoformat(),
        }
        return json.dumps({"enforcementData": [event]}).encode()
    if key == ("csv-drop", "file"):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["session_id", "version", "kind", "plate", "zone", "start", "end"])
        writer.writerow(
            [
                tx.source_id,
                1,
                "TEST",
                TEST_PLATE,
                tx.vendor_zone,
                tx.start.isoformat(),
                tx.end.isoformat(),
            ]
        )
        return out.getvalue().encode()
    if key == ("parkmobile", "pull"):
        tz = ZoneInfo(integration.timezone)
        right = {  # the vendor's naive local times, in the integration's timezone
            "parkingActionId": tx.source_id,
            "lpn": TEST_PLATE,
            "zoneCode": tx.vendor_zone,
            "startTimeLocal": tx.start.astimezone(tz).replace(tzinfo=None).isoformat(),
            "endTimeLocal": tx.end.astimezone(tz).replace(tzinfo=None).isoformat(),
            "lastModifiedUtc": tx.modified,
            "status": "test",
        }
        return json.dumps({"parkingRights": [right]}).encode()
    if key in (("apds", "push"), ("apds", "pull")):
        session = _apds_session(tx)
        if integration.mode == "pull":  # the sandbox's "create a session" body
            return json.dumps(session).encode()
        return json.dumps({"topic": "SessionCreated", "data": [session]}).encode()
    why = no_round_trip(integration)
    if why is not None:
        raise ValueError(f"{integration.id} has no round trip (not applicable): {why}")
    known = ", ".join(f"{v} ({m})" for v, m in TESTABLE)
    raise ValueError(
        f"integration test does not drive {integration.vendor} ({integration.mode}) yet; "
        f"it drives: {known}"
    )


def _apds_session(tx: RoundTripTransaction) -> dict[str, object]:
    """*tx* as an APDS ``Session`` (UTC instants with offsets, as the spec has them), marked
    TEST with the ``x-test`` extension field the APDS adapter reads."""
    return {
        "id": tx.source_id,
        "version": 1,
        "x-test": True,
        "actualStart": tx.start.isoformat(),
        "actualEnd": tx.end.isoformat(),
        "identifiedCredentials": [
            {"type": "licensePlate", "identifier": {"className": "Plate", "id": TEST_PLATE}}
        ],
        "segments": [],
        "hierarchyElement": {"id": tx.vendor_zone, "version": 1},
    }
