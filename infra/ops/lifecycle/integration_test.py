"""``tenantctl integration test SLUG ID``: one TEST transaction through a preview
integration's path, end to end, within a deadline; a passing round trip is recorded
through a ``RoundTripRecorder`` the CLI passes (the rollout history), so the rollout's
"integrations verified" task can see it. Preview only: there is no stage option.

Path per transport (``infra.core.integrations.roundtrip.TESTABLE``): push (generic,
APDS), the TEST event in the vendor's shape signed with the integration's secret, to
the receive handler; pull (ParkMobile, APDS), the TEST session posted to the vendor
sandbox (``endpoints.preview``) and pulled back from its API; file, a CSV dropped in a
folder and processed as a drop. A lookup integration has none (``NO_ROUND_TRIP``).
Then the adapter, the ingestion into the preview's working database and the
enforcement lookup. The deadline bounds each vendor request too.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from infra.core import naming
from infra.core.errors import DependencyUnreachable, PreconditionFailed
from infra.core.integration_config import VENDORS, IntegrationSpec, integration_names, is_loopback
from infra.core.integrations.adapters.registry import (
    adapter_for_integration,
    context_for_integration,
)
from infra.core.integrations.ingest import push_url
from infra.core.integrations.roundtrip import (
    SIGNATURE_HEADER,
    TEST_PLATE,
    TESTABLE,
    config_hash,
    no_round_trip,
    round_trip_payload,
    round_trip_transaction,
    sign,
)
from infra.core.spec import TenantSpec
from infra.core.steps import Progress, quiet
from infra.ops.adapters import aws
from infra.ops.adapters.database import connect
from infra.ops.integrations.archive import archive_raw
from infra.ops.integrations.filedrop import process_file
from infra.ops.integrations.lookup import LookupAnswer, lookup
from infra.ops.integrations.pull import post_session, pull
from infra.ops.integrations.receive import receive_push
from infra.ops.integrations.store import ingest, lots_and_zones
from infra.ops.lifecycle.integration_config import find, ingest_endpoint
from infra.ops.stacks.locking import client_lock, lock_place
from infra.ops.stacks.opening import open_from_files
from infra.ops.stacks.stackfiles import stack_region


@dataclass(frozen=True)
class RoundTrip:
    """One ``integration test`` run: what it sent, what the lookup said, whether it passed."""

    stack: str
    integration: str
    run_id: str
    via: str
    passed: bool
    config_hash: str
    release: str | None
    seconds: float
    answer: LookupAnswer | None
    problem: str | None = None
    recorded: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "integration": self.integration,
            "runId": self.run_id,
            "via": self.via,
            "passed": self.passed,
            "configHash": self.config_hash,
            "release": self.release,
            "seconds": round(self.seconds, 3),
            "lookup": self.answer.to_json() if self.answer else None,
            "problem": self.problem,
            "recorded": self.recorded,
        }


class RoundTripRecorder(Protocol):
    """Where a round trip is recorded (the rollout history); returns a note."""

    def record(self, spec: TenantSpec, trip: RoundTrip) -> str: ...


def credential(spec: TenantSpec, integration: IntegrationSpec, region: str | None) -> str:
    """The integration's first credential in *spec*'s stage: a push's signing key
    (``hmacSecret``), a pull's bearer token (``clientId``, ``apiKey``)."""
    name = integration_names(spec.slug, spec.stage, integration.id).secret
    field = VENDORS[integration.vendor].credential_fields[0]
    client = aws.client("secretsmanager", region)
    try:
        value = client.get_secret_value(SecretId=name)
        key = json.loads(value.get("SecretString") or "{}").get(field)
    except json.JSONDecodeError:
        key = None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code != "ResourceNotFoundException":
            raise PreconditionFailed(f"could not read the secret {name}: {code}") from None
        try:  # the secret, or only its value, is missing?
            client.describe_secret(SecretId=name)
        except ClientError:
            raise PreconditionFailed(
                f"secret {name} does not exist yet; deploy the {spec.stage} first "
                f"(`tenantctl deploy {spec.stack_name}`)"
            ) from None
        key = None
    if not isinstance(key, str) or not key:
        raise PreconditionFailed(
            f"{integration.id} has no {field} stored in the {spec.stage}; run `tenantctl "
            f"integration set-credentials {spec.slug} {integration.id} --stage {spec.stage}` first"
        )
    return key


def _post_push(url: str, body: bytes, signature: str, timeout: float) -> None:
    """POST a signed push to *url* as the vendor would; a refusal is one line."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read() or b"{}").get("reason") or exc.reason
        except (json.JSONDecodeError, AttributeError):
            reason = exc.reason
        raise PreconditionFailed(
            f"the ingest route refused the push ({exc.code}): {reason}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise DependencyUnreachable(
            f"the ingest endpoint {url} did not answer: {getattr(exc, 'reason', exc)}; is the "
            "platform's ingest server running?"
        ) from None


def run_test(
    stacks_dir: Path,
    slug: str,
    integration_id: str,
    *,
    timeout: float,
    recorder: RoundTripRecorder | None = None,
    now: datetime | None = None,
    break_lock: str | None = None,
    progress: Progress = quiet,
) -> RoundTrip:
    """Send one TEST transaction through *integration_id*'s preview path and look it up,
    under the client's lock (it writes a session and the rollout record); passes when the
    lookup answers from that TEST session within *timeout* seconds."""
    started = time.monotonic()
    with client_lock(
        slug,
        f"integration test {integration_id}",
        lock_place(stacks_dir, slug),
        break_reason=break_lock,
        progress=progress,
    ):
        return _run_test(stacks_dir, slug, integration_id, timeout, recorder, now, started)


def _run_test(
    stacks_dir: Path,
    slug: str,
    integration_id: str,
    timeout: float,
    recorder: RoundTripRecorder | None,
    now: datetime | None,
    started: float,
) -> RoundTrip:
    handle = open_from_files(stacks_dir, slug, naming.PREVIEW)
    spec = handle.spec
    integration = find(spec, integration_id)
    why = no_round_trip(integration)
    if why is not None:
        raise PreconditionFailed(
            f"{integration.id} has no round trip: {why}; the integrations-verified task "
            "counts it as not applicable and names it"
        )
    try:
        adapter = adapter_for_integration(integration)
        tx = round_trip_transaction(integration, secrets.token_hex(4), now or datetime.now(UTC))
        body = round_trip_payload(integration, tx)
    except ValueError as exc:
        raise PreconditionFailed(str(exc)) from None
    current = handle.content.current()
    release = current.release if current else None
    context = context_for_integration(integration)
    zone_map = integration.zone_map()
    policy = integration.unmatched_zones
    via = f"{integration.mode}: {TESTABLE[(integration.vendor, integration.mode)]}"
    bucket = handle.content.bucket

    def keep(payload: bytes) -> None:  # the raw archive, before anything parses it
        archive_raw(handle.s3, bucket, integration.id, payload)

    with connect(handle.working_url) as conn:
        lots, _ = lots_and_zones(conn)
        region = stack_region(stacks_dir, slug, naming.PREVIEW)
        endpoint = ingest_endpoint(stacks_dir, spec) if integration.mode == "push" else None
        if endpoint is not None and is_loopback(endpoint):
            # the local target: over HTTP to the pushUrl, through the ingest route
            key = credential(spec, integration, region).encode()
            to = push_url(endpoint, spec.slug, spec.stage, integration.id)
            left = max(timeout - (time.monotonic() - started), 0.001)
            _post_push(to, body, sign(body, key), left)
            via = f"{via}, over HTTP to {to}"
        elif integration.mode == "push":
            key = credential(spec, integration, region).encode()
            keep(body)
            receive_push(
                conn,
                body,
                sign(body, key),
                key,
                adapter,
                context,
                zone_map=zone_map,
                lots=lots,
                policy=policy,
            )
        elif integration.mode == "pull":
            token = credential(spec, integration, region)
            url = integration.endpoint(naming.PREVIEW, False)
            if url is None:  # the spec requires it for pull; a guard for hand-edited files
                raise PreconditionFailed(f"{integration.id} has no endpoints.preview to pull")
            left = max(timeout - (time.monotonic() - started), 0.001)
            post_session(url, body, token=token, timeout_s=left)
            left = max(timeout - (time.monotonic() - started), 0.001)
            pulled = pull(
                url, adapter, context, tx.modified - 1, token=token, timeout_s=left, keep=keep
            )
            mine = [r for r in pulled.records if r.source_id == tx.source_id]
            ingest(conn, mine, zone_map=zone_map, lots=lots, policy=policy)
        else:
            with tempfile.TemporaryDirectory(prefix="tenantctl-drop-") as folder:
                path = Path(folder) / f"{tx.source_id}.csv"
                path.write_bytes(body)
                process_file(
                    conn, path, context, zone_map=zone_map, lots=lots, policy=policy, keep=keep
                )
        conn.commit()
        answer = lookup(conn, TEST_PLATE, tx.lot, tx.at, grace_minutes=integration.grace_minutes)
    seconds = time.monotonic() - started
    reference = f"{integration.id}/{tx.source_id}"
    problem = None
    if reference not in answer.reason:
        problem = f"the lookup did not find the TEST session {reference}: {answer.reason}"
    elif answer.allowed:
        problem = f"the lookup allowed a TEST session: {answer.reason}"
    elif seconds > timeout:
        problem = f"took {seconds:.1f} s, more than the {timeout:g} s --timeout"
    trip = RoundTrip(
        spec.stack_name,
        integration.id,
        tx.source_id,
        via,
        problem is None,
        config_hash(integration),
        release,
        seconds,
        answer,
        problem,
    )
    if trip.passed and recorder is not None:
        trip = replace(trip, recorded=recorder.record(spec, trip))
    return trip
