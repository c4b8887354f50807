"""``tenantctl preflight`` on the local target: every check passes on an account set up as the
README's "Real deployment" says, and each prerequisite that is missing names its check.

The emulator is moto with the account APIs it lacks (``infra.devtools.emulator``); each
broken state below is made through the same APIs a platform engineer would use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import Result
from ruamel.yaml import YAML

from infra.core import limits
from infra.core import preflight as rules
from infra.core.errors import ExitCode
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS, PLATFORM_OUTPUTS
from infra.devtools import localtarget
from tests.helpers import cli, copy_demo_stack_files, validate

REGION = localtarget.LOCAL_REGION
EVERY_CHECK = [
    "ses-production-access",
    "ses-send-quota",
    "ssm-default-parameter-tier",
    *(f"quota:{q.key}" for q in limits.QUOTAS),
    "platform-outputs",
    "hosted-zone-records",
    "kms-key",
    "email-identity",
    "access-log-bucket",
    "connection-group",
    "scheduler-role:previewSchedulerRoleArn",
    "scheduler-role:productionSchedulerRoleArn",
    "ingest-endpoint",
    "pulumi-backend",
    "policy-pack",
]


@pytest.fixture
def folder(tmp_path: Path, aws_env: str) -> Path:
    """The demo client's stack files and the platform file; nothing deployed."""
    return copy_demo_stack_files(tmp_path)


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def preflight(folder: Path, *args: str) -> tuple[Result, dict[str, Any]]:
    result = cli(folder, "preflight", "--json", *args)
    return result, validate("preflight", json.loads(result.stdout))


def verdicts(document: dict[str, Any]) -> dict[str, str]:
    return {c["check"]: c["verdict"] for c in document["checks"]}


def test_preflight_passes_on_the_local_target_and_shows_each_check_with_its_evidence(
    folder: Path, aws_env: str
):
    localtarget.prepare_account(aws_env, REGION)

    result, document = preflight(folder)

    assert result.exit_code == 0, result.output
    assert [c["check"] for c in document["checks"]] == EVERY_CHECK
    assert set(verdicts(document).values()) == {"pass"}
    assert document["ok"] is True and document["notPassed"] == []
    assert all(c["evidence"] and c["fix"] is None for c in document["checks"])
    by_name = {c["check"]: c for c in document["checks"]}
    assert by_name["ses-production-access"]["evidence"]["productionAccessEnabled"] is True
    assert by_name["ssm-default-parameter-tier"]["evidence"]["value"] == "Intelligent-Tiering"
    rds = by_name["quota:rds-instances"]["evidence"]
    # The production's instance, and the preview's pool server counted once (shared).
    assert (rds["perClient"], rds["sharedByPoolServers"], rds["need"]) == (1, 1, 2)
    assert rds["limit"] == 40
    assert by_name["kms-key"]["evidence"]["kmsKeyArn"] == EXAMPLE_PLATFORM_OUTPUTS["kmsKeyArn"]
    assert by_name["platform-outputs"]["evidence"]["present"] == sorted(PLATFORM_OUTPUTS)
    assert by_name["pulumi-backend"]["evidence"]["deployer"] == "local"
    assert document["countedFrom"] == ["demo"] and document["clients"] == 1


def _sandboxed(endpoint: str, folder: Path) -> list[str]:
    localtarget.create_platform(endpoint, REGION)  # production access never requested
    localtarget.set_default_parameter_tier(endpoint, REGION)
    return []


def _standard_tier(endpoint: str, folder: Path) -> list[str]:
    localtarget.prepare_account(endpoint, REGION)
    client("ssm").reset_service_setting(SettingId=limits.SSM_DEFAULT_TIER_SETTING)
    return []


def _quota_below_need(endpoint: str, folder: Path) -> list[str]:
    localtarget.prepare_account(endpoint, REGION)
    # One instance a client (its production) and a pool server per 40 previews: 41 of 40.
    return ["--clients", "40"]


def _missing_output(endpoint: str, folder: Path) -> list[str]:
    localtarget.prepare_account(endpoint, REGION)
    path = folder / "platform-outputs.yaml"
    yaml = YAML()
    data = yaml.load(path.read_text())
    del data["acme/platform/prod"]["accessLogBucketName"]
    with path.open("w") as f:
        yaml.dump(data, f)
    return []


NEEDS_OUTPUTS = [
    *(f"quota:{q.key}" for q in limits.QUOTAS),
    "hosted-zone-records",
    "kms-key",
    "email-identity",
    "access-log-bucket",
    "connection-group",
    "ingest-endpoint",
]


@pytest.mark.parametrize(
    ("arrange", "failed", "cannot"),
    [
        (_sandboxed, ["ses-production-access", "ses-send-quota"], []),
        (_standard_tier, ["ssm-default-parameter-tier"], []),
        (_quota_below_need, ["quota:rds-instances"], []),
        (_missing_output, ["platform-outputs"], NEEDS_OUTPUTS),
    ],
    ids=["sandboxed-ses", "standard-tier-default", "quota-below-need", "missing-output"],
)
def test_preflight_names_the_check_that_fails_and_exits_3(
    folder: Path, aws_env: str, arrange: Any, failed: list[str], cannot: list[str]
):
    args = arrange(aws_env, folder)

    result, document = preflight(folder, *args)

    assert result.exit_code == ExitCode.PRECONDITION, result.output
    found = verdicts(document)
    assert sorted(n for n, v in found.items() if v == "fail") == sorted(failed)
    assert sorted(n for n, v in found.items() if v == "cannot-check") == sorted(cannot)
    assert document["ok"] is False
    assert document["notPassed"] == [n for n in found if n in failed + cannot]
    for check in document["checks"]:
        if check["verdict"] != "pass":
            assert check["fix"], check  # every check that did not pass says what to do
    assert result.stderr.count("\n") == 1 and all(n in result.stderr for n in failed)


def test_preflight_fails_a_disabled_key_an_unverified_identity_and_a_kms_log_bucket(
    folder: Path, aws_env: str
):
    localtarget.prepare_account(aws_env, REGION)
    client("kms").disable_key(KeyId=EXAMPLE_PLATFORM_OUTPUTS["kmsKeyArn"].rsplit("/", 1)[-1])
    sesv2 = client("sesv2")
    sesv2.delete_email_identity(EmailIdentity="tenants.example.com")
    sesv2.create_email_identity(EmailIdentity="tenants.example.com")  # DKIM not found yet
    client("s3").put_bucket_encryption(
        Bucket=EXAMPLE_PLATFORM_OUTPUTS["accessLogBucketName"],
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    role = "arn:aws:iam::123456789012:role/tenants-deploy"

    result = cli(folder, "preflight", "--role", role)

    assert result.exit_code == ExitCode.PRECONDITION, result.output
    lines = {line.split()[1]: line for line in result.stdout.splitlines()[1:] if line[:1] != " "}
    assert lines["kms-key"].startswith("FAIL") and "state Disabled" in lines["kms-key"]
    assert lines["email-identity"].startswith("FAIL") and "not verified" in lines["email-identity"]
    assert lines["access-log-bucket"].startswith("FAIL") and "SSE-KMS" in lines["access-log-bucket"]
    # moto cannot simulate IAM policies: the role's access is unknown, never passed
    assert lines[f"kms-key-role:{role}"].startswith("CANNOT-CHECK")
    assert "-> " in result.stdout  # what to do, under each check that did not pass
    failed = [n for n, line in lines.items() if not line.startswith("PASS")]
    assert sorted(failed) == sorted(
        ["kms-key", f"kms-key-role:{role}", "email-identity", "access-log-bucket"]
    )


def test_preflight_with_the_endpoint_unreachable_says_so_in_one_line_and_exits_5(
    folder: Path, aws_env: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{localtarget.free_port()}")

    result = cli(folder, "preflight")

    assert result.exit_code == ExitCode.UNREACHABLE, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "could not reach AWS" in result.stderr


def test_without_the_pulumi_cli_the_backend_cannot_be_checked(monkeypatch: pytest.MonkeyPatch):
    from infra.ops.preflight import tooling

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")

    check = tooling.backend("acme/platform/prod", REGION)

    assert check.verdict == "cannot-check"
    assert "Pulumi CLI is not on PATH" in check.summary and "pulumi login" in check.fix


# ------------------------------------------------------------------ the rules alone


def test_a_quota_whose_applied_value_cannot_be_read_passes_only_within_its_default():
    quota = next(q for q in limits.QUOTAS if q.key == "rds-instances")
    unreadable = rules.AppliedQuota(None, "AccessDeniedException", readable=False)

    within = rules.quota_use(quota, 2, 20, unreadable)
    above = rules.quota_use(quota, 2, 21, unreadable)
    raised = rules.quota_use(quota, 2, 21, rules.AppliedQuota(100.0, "Service Quotas"))

    assert (within.verdict, above.verdict, raised.verdict) == ("pass", "cannot-check", "pass")
    refused = rules.quota_use(quota, 2, 51, rules.AppliedQuota(100.0, "Service Quotas"))
    assert refused.verdict == "fail"
    assert "--quota-code L-7B6409FD --desired-value 102" in refused.fix


def test_ses_with_its_daily_quota_used_up_fails_the_send_quota():
    account = {
        "ProductionAccessEnabled": True,
        "SendingEnabled": True,
        "EnforcementStatus": "HEALTHY",
        "SendQuota": {"Max24HourSend": 50_000.0, "MaxSendRate": 14.0, "SentLast24Hours": 50_000.0},
    }

    access, send = rules.ses_account(account)

    assert access.verdict == "pass" and send.verdict == "fail" and "none left" in send.summary


def test_platform_outputs_of_the_wrong_type_are_each_named():
    outputs = {**EXAMPLE_PLATFORM_OUTPUTS, "databaseSecurityGroupIds": "sg-1", "zoneId": 7}
    del outputs["emailIdentityArn"]

    check = rules.platform_outputs("acme/platform/prod", "platform-outputs.yaml", outputs, None)

    assert check.verdict == "fail"
    assert check.evidence["problems"] == {
        "databaseSecurityGroupIds": "must be a list of strings, got str",
        "zoneId": "must be a string, got int",
        "emailIdentityArn": "missing",
    }


def test_a_log_bucket_policy_must_admit_the_logging_service_to_put_objects():
    def policy(principal: Any, action: Any) -> str:
        return json.dumps(
            {"Statement": [{"Effect": "Allow", "Principal": principal, "Action": action}]}
        )

    def verdict(text: str | None) -> str:
        return rules.access_log_bucket("logs", REGION, REGION, None, ["AES256"], text).verdict

    assert verdict(policy({"Service": "logging.s3.amazonaws.com"}, "s3:PutObject")) == "pass"
    assert verdict(policy({"Service": ["logging.s3.amazonaws.com"]}, ["s3:*"])) == "pass"
    assert verdict(policy({"AWS": "*"}, "s3:PutObject")) == "fail"
    assert verdict(policy({"Service": "logging.s3.amazonaws.com"}, "s3:GetObject")) == "fail"
    assert verdict(None) == "fail"
