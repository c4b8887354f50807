"""Go-live on the client's own domain (CloudFront SaaS Manager): promote requires the
certificate ISSUED in us-east-1, the domain attached as a distribution tenant, and the
client's CNAME to the routing endpoint found by VerifyDnsConfiguration; request-certificate
replaces a certificate ACM gave up on and hands the new record over."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.acm.models import acm_backends
from moto.core import DEFAULT_ACCOUNT_ID

from infra.core.errors import ExitCode
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS
from tests.helpers import (
    LIVE,
    SLUG,
    cli,
    create_demo,
    ok,
    publish_client_cname,
    ready_for_go_live,
    validate,
)
from tests.snapshots import Steps

DOMAIN = "parking.demo-state.example.edu"
ENDPOINT = EXAMPLE_PLATFORM_OUTPUTS["connectionGroupRoutingEndpoint"]


def created(
    tmp_path: Path, wait_seconds: int, monkeypatch: pytest.MonkeyPatch, steps: Steps
) -> Path:
    folder = create_demo(tmp_path, monkeypatch, acm_wait=wait_seconds, steps=steps)
    steps.run(
        "stage live credentials",
        lambda: ok(
            cli(folder, "payment", "set-credentials", SLUG, "--stage", "production", input=LIVE)
        ),
        folder,
    )
    return folder


def checks(folder: Path) -> dict[str, dict[str, Any]]:
    result = cli(folder, "promote", SLUG, "--dry-run", "--json")
    return {c["check"]: c for c in json.loads(result.stdout)["preconditions"]}


def domain_status(folder: Path) -> dict[str, Any]:
    found: dict[str, Any] = validate(
        "domain-status", json.loads(ok(cli(folder, "domain", "status", SLUG, "--json")).stdout)
    )
    return found


def refused_to_promote(folder: Path) -> None:
    result = cli(folder, "promote", SLUG, "--yes")
    assert result.exit_code == ExitCode.PRECONDITION, result.output
    assert "tenants:live: true" not in (folder / "Pulumi.demo-production.yaml").read_text()


def force_status(arn: str, status: str) -> None:
    """What ACM does after 72 hours without the client's record (moto never does it)."""
    acm_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]._certificates[arn].status = status


def tenant_enabled(aws_env: str) -> bool:
    cloudfront = boto3.client("cloudfront", endpoint_url=aws_env, region_name="us-east-1")
    found = cloudfront.get_distribution_tenant(Identifier="tenantctl-demo")
    return bool(found["DistributionTenant"]["Enabled"])


def test_promote_refuses_before_a_certificate_is_requested(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch, steps: Steps
) -> None:
    folder = created(tmp_path, 0, monkeypatch, steps)

    found = checks(folder)

    assert found["custom-domain-certificate"]["ok"] is False
    assert f"domain request-certificate {SLUG}" in found["custom-domain-certificate"]["message"]
    assert found["custom-domain-attached"]["ok"] is False
    assert domain_status(folder)["certificate"]["status"] is None
    refused_to_promote(folder)


def test_promote_and_attach_refuse_while_the_certificate_is_pending(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch, steps: Steps
) -> None:
    # The client has not published its records.
    folder = created(tmp_path, 3600, monkeypatch, steps)
    requested = json.loads(ok(cli(folder, "domain", "request-certificate", SLUG, "--json")).stdout)
    validate("domain-request-certificate", requested)

    attach = cli(folder, "domain", "attach", SLUG)
    message = checks(folder)["custom-domain-certificate"]["message"]

    (record,) = requested["certificate"]["validationRecords"]
    assert requested["certificate"]["status"] == "PENDING_VALIDATION"
    assert requested["certificate"]["arn"].startswith("arn:aws:acm:us-east-1:")
    assert record["type"] == "CNAME" and record["name"].rstrip(".").endswith(DOMAIN)
    assert "PENDING_VALIDATION" in message and record["name"] in message
    assert attach.exit_code == ExitCode.PRECONDITION and "PENDING_VALIDATION" in attach.output
    assert "attached" not in (folder / "Pulumi.demo-production.yaml").read_text()
    refused_to_promote(folder)


def test_promote_refuses_an_issued_certificate_that_is_not_attached(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch, steps: Steps
) -> None:
    folder = created(tmp_path, 0, monkeypatch, steps)
    ok(cli(folder, "domain", "request-certificate", SLUG))

    found = checks(folder)

    assert found["custom-domain-certificate"] == {
        "check": "custom-domain-certificate",
        "ok": True,
        "message": f"certificate of {DOMAIN} issued (us-east-1)",
    }
    assert found["custom-domain-attached"]["ok"] is False
    assert f"tenantctl domain attach {SLUG}" in found["custom-domain-attached"]["message"]
    refused_to_promote(folder)


@pytest.mark.parametrize("cname", [None, "elsewhere.example.net"])
def test_promote_refuses_until_the_client_points_its_cname_at_the_routing_endpoint(
    tmp_path: Path,
    aws_env: str,
    pg_env: str,
    monkeypatch: pytest.MonkeyPatch,
    steps: Steps,
    cname: str | None,
) -> None:
    folder = created(tmp_path, 0, monkeypatch, steps)
    ok(cli(folder, "domain", "request-certificate", SLUG))
    attached = json.loads(ok(cli(folder, "domain", "attach", SLUG, "--json")).stdout)
    if cname:
        publish_client_cname(DOMAIN, cname)

    found = checks(folder)["custom-domain-dns"]

    assert attached["attached"] is True and attached["distributionTenantId"]
    assert found["ok"] is False
    assert f"ask the client to point {DOMAIN} (CNAME) at {ENDPOINT}" in found["message"]
    assert "invalid-configuration" in found["message"]
    assert tenant_enabled(aws_env) is False
    refused_to_promote(folder)


def test_go_live_enables_the_distribution_tenant(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch, steps: Steps
) -> None:
    folder = created(tmp_path, 0, monkeypatch, steps)
    ready_for_go_live(folder)
    before = tenant_enabled(aws_env)

    ready = all(c["ok"] for c in checks(folder).values())
    ok(cli(folder, "promote", SLUG, "--yes"))

    assert ready and before is False and tenant_enabled(aws_env) is True
    assert domain_status(folder)["dns"]["status"] == "valid-configuration"


def test_a_timed_out_certificate_is_replaced_and_its_new_record_handed_over(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch, steps: Steps
) -> None:
    folder = created(tmp_path, 3600, monkeypatch, steps)
    first = json.loads(ok(cli(folder, "domain", "request-certificate", SLUG, "--json")).stdout)
    again = cli(folder, "domain", "request-certificate", SLUG)  # still pending: kept
    force_status(first["certificate"]["arn"], "VALIDATION_TIMED_OUT")
    timed_out = domain_status(folder)

    second = json.loads(ok(cli(folder, "domain", "request-certificate", SLUG, "--json")).stdout)

    assert again.exit_code == ExitCode.PRECONDITION and "--replace" in again.output
    assert timed_out["certificate"]["status"] == "VALIDATION_TIMED_OUT"
    assert "replaces it" in timed_out["next"]
    assert second["certificate"]["generation"] == first["certificate"]["generation"] + 1
    assert second["certificate"]["arn"] != first["certificate"]["arn"]
    assert second["certificate"]["status"] == "PENDING_VALIDATION"
    assert second["certificate"]["validationRecords"]
    # (ACM gives one domain the same validation CNAME in an account: the record may repeat)
    assert "certificateGeneration: 2" in (folder / "Pulumi.demo-production.yaml").read_text()


def test_request_certificate_replaces_a_pending_one_only_when_told(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch, steps: Steps
) -> None:
    folder = created(tmp_path, 3600, monkeypatch, steps)
    first = json.loads(ok(cli(folder, "domain", "request-certificate", SLUG, "--json")).stdout)

    replaced = json.loads(
        ok(cli(folder, "domain", "request-certificate", SLUG, "--replace", "--json")).stdout
    )

    assert replaced["certificate"]["arn"] != first["certificate"]["arn"]
    assert replaced["changed"] is True


def test_domain_commands_refuse_a_production_without_a_portal_domain(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch, steps: Steps
) -> None:
    folder = created(tmp_path, 0, monkeypatch, steps)
    path = folder / "Pulumi.demo-production.yaml"
    path.write_text(
        "\n".join(line for line in path.read_text().splitlines() if "portalDomain" not in line)
        + "\n"
    )

    result = cli(folder, "domain", "request-certificate", SLUG)

    assert result.exit_code == ExitCode.BAD_INPUT
    assert "has no tenants:portalDomain" in result.output and "Traceback" not in result.output


def test_promote_refuses_while_the_client_domain_email_identity_is_unverified(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch, steps: Steps
) -> None:
    """Going live moves the user pool onto the client's own identity: Cognito refuses an
    unverified one, so the deploy that opens the portal would fail half-way."""
    folder = created(tmp_path, 0, monkeypatch, steps)
    ready_for_go_live(folder)
    ready = checks(folder)["custom-domain-email"]
    sesv2 = boto3.client("sesv2", endpoint_url=aws_env, region_name="us-east-1")
    sesv2.delete_email_identity(EmailIdentity=DOMAIN)
    sesv2.create_email_identity(EmailIdentity=DOMAIN)  # no DKIM found yet: not verified

    pending = checks(folder)["custom-domain-email"]

    assert ready == {
        "check": "custom-domain-email",
        "ok": True,
        "message": f"email identity {DOMAIN} verified",
    }
    assert pending["ok"] is False and "not verified" in str(pending["message"])
    assert "emailDnsRecords" in str(pending["message"])
    refused_to_promote(folder)
