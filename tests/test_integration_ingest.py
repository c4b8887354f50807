"""The push receive path (issue 19, fifth slice): one ingest endpoint for the platform,
one push path per integration, resolved back to its integration by the platform's one
wildcard route, served on the local target by an HTTP ingest server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from ruamel.yaml import YAML

from infra.core import naming
from infra.core.errors import ExitCode
from infra.core.integration_config import IntegrationSpec
from infra.core.integrations.archive import RAW_RETENTION_DAYS, raw_key
from infra.core.integrations.ingest import (
    INGEST_ENDPOINT_OUTPUT,
    MalformedPushPath,
    PushTarget,
    ingest_endpoint_problem,
    push_path,
    push_url,
    resolve_push_path,
)
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS, PlatformError, require_output
from infra.devtools.ingestserver import IngestServer
from infra.devtools.mockvendors import MockPullAPI, enforcement_data, push
from infra.ops.adapters import aws
from infra.ops.adapters.database import DATABASE_URL_ENV
from infra.ops.lifecycle.integration_ingest import RETRY_LATER
from infra.ops.planning.capacity import consumption
from infra.ops.stacks.opening import open_from_files
from infra.program.plan import plan_stack
from tests.helpers import SLUG, cli, create_demo, demo_spec, ok, validate

# ------------------------------------------------------------------ pure


def test_a_push_path_resolves_back_to_its_integration() -> None:
    path = push_path("demo", "preview", "meters")
    assert path == "/v1/push/demo/preview/meters"
    assert resolve_push_path(path) == PushTarget("demo", "preview", "meters")
    assert push_url("https://ingest.example.com/", "demo", "production", "meters") == (
        "https://ingest.example.com/v1/push/demo/production/meters"
    )


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/v1/other/demo/preview/meters", "must start with /v1/push/"),
        ("/v1/push/demo/preview", "must be /v1/push/<client>/<stage>/<integration>"),
        ("/v1/push/demo/preview/meters/", "must be /v1/push/<client>/<stage>/<integration>"),
        ("/v1/push/demo/preview/meters/x", "must be /v1/push/<client>/<stage>/<integration>"),
        ("/v1/push/Demo/preview/meters", "names client 'Demo', which must start"),
        ("/v1/push/admin/preview/meters", "names client 'admin', which is a reserved word"),
        ("/v1/push/demo/staging/meters", "names stage 'staging'; it must be preview or"),
        ("/v1/push/demo/preview/m%2Fx", "names integration 'm%2Fx', which must be 2-24"),
        ("/v1/push/demo/preview/" + "a" * 200, "longer than 128 characters"),
    ],
)
def test_a_malformed_push_path_is_refused_with_its_reason(path: str, reason: str) -> None:
    with pytest.raises(MalformedPushPath, match=reason.replace("(", r"\(").replace(")", r"\)")):
        resolve_push_path(path)


def test_the_ingest_endpoint_is_an_https_base_url() -> None:
    assert ingest_endpoint_problem("https://ingest.tenants.example.com") is None
    assert ingest_endpoint_problem("http://127.0.0.1:8123") is None  # the local target
    assert "https://" in str(ingest_endpoint_problem("http://ingest.tenants.example.com"))
    assert "no path" in str(ingest_endpoint_problem("https://ingest.example.com/v1"))
    assert ingest_endpoint_problem(None) is not None
    with pytest.raises(PlatformError, match="output ingestEndpoint must be an https:// URL"):
        require_output(
            "acme/platform/prod",
            {INGEST_ENDPOINT_OUTPUT: "http://x.example"},
            INGEST_ENDPOINT_OUTPUT,
        )


# ------------------------------------------------------------------ program


def _with(stage: naming.Stage, mode: str) -> object:
    spec = demo_spec(stage)
    vendor = {"push": "generic-push", "file": "csv-drop"}[mode]
    feed = IntegrationSpec.model_validate(
        {"id": "meters", "vendor": vendor, "mode": mode, "timezone": "America/New_York"}
    )
    return spec.model_copy(update={"integrations": [feed]})


def test_a_push_integration_exports_its_push_url_and_adds_no_route_or_rule() -> None:
    pushed = plan_stack(_with("preview", "push"))  # type: ignore[arg-type]
    dropped = plan_stack(_with("preview", "file"))  # type: ignore[arg-type]
    bare = plan_stack(demo_spec("preview"))

    assert pushed.outputs["integrations"]["meters"]["pushUrl"] == (
        f"{EXAMPLE_PLATFORM_OUTPUTS[INGEST_ENDPOINT_OUTPUT]}/v1/push/demo/preview/meters"
    )
    assert "pushUrl" not in dropped.outputs["integrations"]["meters"]
    # the receive path is the platform's one wildcard route: a push integration costs
    # exactly what a file integration does (its secret, queues, alarms), no more
    assert consumption([pushed]) == consumption([dropped])
    assert consumption([pushed])["alb-rules"] == consumption([bare])["alb-rules"]
    kinds = {r.type for r in pushed.resources} - {r.type for r in dropped.resources}
    assert kinds == set()


@pytest.mark.parametrize("stage", ["preview", "production"])
def test_the_raw_archive_of_each_integration_expires_by_its_stages_rule(
    stage: naming.Stage,
) -> None:
    plan = plan_stack(_with(stage, "push"))  # type: ignore[arg-type]
    (rule_set,) = [
        r
        for r in plan.resources
        if r.type == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    ]
    (rule,) = rule_set.inputs["rules"]
    assert rule["filter"]["prefix"] == "integrations/meters/raw/"
    assert rule["expiration"]["days"] == RAW_RETENTION_DAYS[stage]
    assert rule_set.inputs["bucket"] == plan.outputs["contentBucket"]
    assert plan.outputs["integrations"]["meters"]["rawPrefix"] == "integrations/meters/raw/"
    assert RAW_RETENTION_DAYS["preview"] < RAW_RETENTION_DAYS["production"]
    assert not any(
        r.type.startswith("aws:s3/bucketLifecycle") for r in plan_stack(demo_spec(stage)).resources
    )


def test_a_push_integration_needs_the_platforms_ingest_endpoint() -> None:
    outputs = {k: v for k, v in EXAMPLE_PLATFORM_OUTPUTS.items() if k != INGEST_ENDPOINT_OUTPUT}
    plan_stack(_with("preview", "file"), platform_outputs=outputs)  # type: ignore[arg-type]
    with pytest.raises(Exception, match="has no output ingestEndpoint"):
        plan_stack(_with("preview", "push"), platform_outputs=outputs)  # type: ignore[arg-type]


# ------------------------------------------------------------- local target

PUSH = (
    "integration", "add", SLUG, "meters", "--vendor", "generic-push", "--mode", "push",
    "--timezone", "America/New_York",
)  # fmt: skip
HMAC = b"meters-hmac-DO-NOT-PRINT"


def _point_platform_at(stacks: Path, url: str) -> None:
    path = stacks / "platform-outputs.yaml"
    yaml = YAML()
    data = yaml.load(path.read_text())
    for outputs in data.values():
        outputs[INGEST_ENDPOINT_OUTPUT] = url
    with path.open("w") as out:
        yaml.dump(data, out)


def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _archive(bucket: str) -> dict[str, list[bytes]]:
    """Every version of every object under integrations/ of *bucket*, by key."""
    s3 = aws.client("s3", None)
    found: dict[str, list[bytes]] = {}
    listing = s3.list_object_versions(Bucket=bucket, Prefix="integrations/")
    for version in listing.get("Versions", []):
        body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        found.setdefault(version["Key"], []).append(body["Body"].read())
    return found


def _payload_hashes(stacks: Path) -> list[str]:
    handle = open_from_files(stacks, SLUG, "preview")
    with psycopg.connect(handle.working_url) as conn:
        return [r[0] for r in conn.execute("SELECT payload_sha256 FROM activity.sessions")]


def _sessions(stacks: Path) -> list[tuple[str, str, str]]:
    handle = open_from_files(stacks, SLUG, "preview")
    with psycopg.connect(handle.working_url) as conn:
        rows = conn.execute(
            "SELECT source_id, kind, plate FROM activity.sessions ORDER BY 1"
        ).fetchall()
    return [tuple(r) for r in rows]


def test_a_push_reaches_the_preview_over_http_through_its_push_url(
    tmp_path: Path, control_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stacks = create_demo(tmp_path, monkeypatch, "--contract", "C-1")
    with IngestServer(stacks) as server:
        _point_platform_at(stacks, server.url)
        ok(cli(stacks, *PUSH))
        zones = tmp_path / "zones.csv"
        zones.write_text("id,name\nM-N1,North Garage\n")
        ok(
            cli(
                stacks, "integration", "map-zones", SLUG, "meters", "--zones", str(zones), "--write"
            )
        )
        ok(cli(stacks, "deploy", "demo-preview", "--yes"))
        ok(cli(stacks, "integration", "set-credentials", SLUG, "meters", "--stage", "preview",
               input=json.dumps({"hmacSecret": HMAC.decode()})))  # fmt: skip

        listing = validate(
            "integration-list",
            json.loads(ok(cli(stacks, "integration", "list", SLUG, "--json")).stdout),
        )
        url = listing["integrations"][0]["pushUrl"]
        assert url == f"{server.url}/v1/push/demo/preview/meters"
        assert f"push to {url}" in ok(cli(stacks, "integration", "list", SLUG)).stdout

        event = {
            "transactionId": "h-1", "version": 1, "action": "NEW", "plate": "HT 1",
            "zone": "M-N1", "startTime": "2026-05-01T09:00:00",
            "endTime": "2026-05-01T11:00:00",
        }  # fmt: skip
        body = enforcement_data([event])
        assert push(url, body, b"wrong") == 401
        assert push(url, b"{nope", HMAC) == 400
        assert push(url.replace("/meters", "/nope"), body, HMAC) == 404
        assert push(url.replace("/demo/", "/nobody/"), body, HMAC) == 404
        assert push(f"{server.url}/v1/push/demo", body, HMAC) == 404
        assert _sessions(stacks) == []
        reasons = [o.reason for o in server.outcomes]
        assert "does not match the integration's secret" in reasons[0]
        # an unknown client or integration gets one answer: a stranger learns nothing
        assert reasons[2] == reasons[3] == "no push integration at this path; nothing stored"
        assert "has no integration 'nope'" in server.outcomes[2].detail
        assert "/tmp" not in reasons[3] and "demo" not in reasons[3]
        assert all("DO-NOT-PRINT" not in r for r in reasons)

        # a signed push is archived as received before it is parsed, malformed or not;
        # an unsigned one is not (the URL is public): a stranger writes nothing
        bucket = open_from_files(stacks, SLUG, "preview").content.bucket
        assert raw_key("meters", sha256(body)) not in _archive(bucket)
        assert server.outcomes[0].archived is None
        assert _archive(bucket)[raw_key("meters", sha256(b"{nope"))] == [b"{nope"]
        assert server.outcomes[1].archived is not None and server.outcomes[1].archived.written
        assert server.outcomes[2].archived is None  # no such integration: no archive

        assert push(url, body, HMAC) == 202
        assert push(url, body, HMAC) == 202  # redelivered: stored once
        assert _sessions(stacks) == [("h-1", "NEW", "HT1")]
        assert server.outcomes[-1].ingest is not None
        assert server.outcomes[-1].ingest.ignored == 1
        # the same signed bytes twice (accepted, redelivered): one object version
        assert _archive(bucket)[raw_key("meters", sha256(body))] == [body]
        first, again = server.outcomes[-2].archived, server.outcomes[-1].archived
        assert first is not None and again is not None and first.key == again.key
        assert first.written and not again.written
        stored_hash = _payload_hashes(stacks)
        assert stored_hash == [sha256(body)]  # a session leads to its archived payload

        trip = cli(stacks, "integration", "test", SLUG, "meters", "--json")
        result = validate("integration-test", json.loads(ok(trip).stdout))
        assert result["passed"] and result["via"].endswith(f"over HTTP to {url}")
        assert server.outcomes[-1].status == 202

        # a negative length is refused unread, not read to the end of the connection
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.putrequest("POST", parts.path)
        conn.putheader("Content-Length", "-1")
        conn.endheaders()
        assert conn.getresponse().status == 400
        conn.close()

        # the stage's database unreachable: 503 (the vendor redelivers), a fixed reason,
        # what went wrong in the detail for the log, and no traceback anywhere
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(DATABASE_URL_ENV, f"postgresql://nobody@127.0.0.1:{dead}/postgres")
            later = enforcement_data([{**event, "transactionId": "h-2"}])
            assert push(url, later, HMAC) == 503
            assert server.outcomes[-1].reason == RETRY_LATER
            assert "PostgreSQL" in server.outcomes[-1].detail

    down = cli(stacks, "integration", "test", SLUG, "meters", "--timeout", "2")
    assert down.exit_code == ExitCode.UNREACHABLE, down.output
    assert "did not answer" in down.output and "Traceback" not in down.output


def test_preflight_needs_an_https_ingest_endpoint() -> None:
    from infra.core.preflight import ingest_endpoint

    assert ingest_endpoint("https://ingest.tenants.example.com").passed
    missing = ingest_endpoint(None)
    assert not missing.passed and missing.summary == "platform output ingestEndpoint is missing"
    assert "Push ingest route" in missing.fix
    plain = ingest_endpoint("http://ingest.tenants.example.com")
    assert not plain.passed and "must be an https:// URL" in plain.summary


def test_a_dropped_file_and_a_pulled_page_are_archived_as_received(
    tmp_path: Path, control_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stacks = create_demo(tmp_path, monkeypatch, "--contract", "C-1")
    zones = tmp_path / "zones.csv"
    zones.write_text("id,name\nM-N1,North Garage\n")
    with MockPullAPI([], token="pm-client") as api:
        ok(cli(stacks, "integration", "add", SLUG, "drops", "--vendor", "csv-drop", "--mode",
               "file", "--timezone", "America/New_York"))  # fmt: skip
        ok(cli(stacks, "integration", "add", SLUG, "parkmobile", "--vendor", "parkmobile",
               "--mode", "pull", "--schedule-minutes", "5", "--timezone", "America/Chicago",
               "--preview-endpoint", f"{api.url}/parkmobile/parkingRights"))  # fmt: skip
        for integration in ("drops", "parkmobile"):
            ok(cli(stacks, "integration", "map-zones", SLUG, integration, "--zones", str(zones),
                   "--write"))  # fmt: skip
        ok(cli(stacks, "deploy", "demo-preview", "--yes"))
        creds = '{"clientId": "pm-client", "clientSecret": "pm-secret"}'
        ok(cli(stacks, "integration", "set-credentials", SLUG, "parkmobile", "--stage",
               "preview", input=creds))  # fmt: skip
        runs = {
            i: json.loads(ok(cli(stacks, "integration", "test", SLUG, i, "--json")).stdout)
            for i in ("drops", "parkmobile")
        }
    archive = _archive(open_from_files(stacks, SLUG, "preview").content.bucket)
    for integration, run in runs.items():
        (key,) = [k for k in archive if k.startswith(f"integrations/{integration}/raw/")]
        (payload,) = archive[key]
        assert key == raw_key(integration, sha256(payload))
        assert run["runId"].encode() in payload
