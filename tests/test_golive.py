"""Go-live waits for the client's own domain: promote requires its certificate ISSUED."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from infra.core.errors import ExitCode
from tests.helpers import LIVE, SLUG, cli, create_demo, ok


def created(tmp_path: Path, wait_seconds: int, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = create_demo(tmp_path, monkeypatch, acm_wait=wait_seconds)
    ok(cli(folder, "payment", "set-credentials", SLUG, "--stage", "production", input=LIVE))
    return folder


def custom_check(folder: Path) -> dict[str, object]:
    result = cli(folder, "promote", SLUG, "--dry-run", "--json")
    checks = json.loads(result.stdout)["preconditions"]
    return next(c for c in checks if c["check"] == "custom-domain-certificate")


def test_promote_refuses_while_the_client_domain_certificate_is_pending(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = created(tmp_path, 3600, monkeypatch)  # the client has not published its records

    check = custom_check(folder)
    result = cli(folder, "promote", SLUG, "--yes")

    assert check["ok"] is False
    message = str(check["message"])
    assert "parking.demo-state.example.edu is PENDING_VALIDATION" in message
    assert "send the client these DNS records" in message and "CNAME" in message
    assert result.exit_code == ExitCode.PRECONDITION, result.output
    assert "tenants:live: true" not in (folder / "Pulumi.demo-production.yaml").read_text()


def test_promote_accepts_an_issued_client_domain_certificate(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = created(tmp_path, 0, monkeypatch)

    assert custom_check(folder) == {
        "check": "custom-domain-certificate",
        "ok": True,
        "message": "certificate of parking.demo-state.example.edu issued",
    }


def test_promote_refuses_while_the_client_domain_email_identity_is_unverified(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Going live moves the user pool onto the client's own identity: Cognito refuses an
    unverified one, so the deploy that opens the portal would fail half-way."""
    folder = created(tmp_path, 0, monkeypatch)
    ready = email_check(folder)
    sesv2 = boto3.client("sesv2", endpoint_url=aws_env, region_name="us-east-1")
    sesv2.delete_email_identity(EmailIdentity=DOMAIN)
    sesv2.create_email_identity(EmailIdentity=DOMAIN)  # no DKIM found yet: not verified

    pending = email_check(folder)
    result = cli(folder, "promote", SLUG, "--yes")

    assert ready == {
        "check": "custom-domain-email",
        "ok": True,
        "message": f"email identity {DOMAIN} verified",
    }
    assert pending["ok"] is False and "not verified" in str(pending["message"])
    assert "emailDnsRecords" in str(pending["message"])
    assert result.exit_code == ExitCode.PRECONDITION, result.output
    assert "tenants:live: true" not in (folder / "Pulumi.demo-production.yaml").read_text()


DOMAIN = "parking.demo-state.example.edu"


def email_check(folder: Path) -> dict[str, object]:
    result = cli(folder, "promote", SLUG, "--dry-run", "--json")
    checks = json.loads(result.stdout)["preconditions"]
    return next(c for c in checks if c["check"] == "custom-domain-email")
