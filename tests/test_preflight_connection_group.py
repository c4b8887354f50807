"""``tenantctl preflight`` checks the platform's CloudFront connection group (SaaS Manager):
it exists on the target account, is enabled, and routes at the endpoint the platform
outputs give clients for their CNAME.

On the local target the group is the emulator's (``infra.devtools.emulator``: moto lacks
CloudFront SaaS Manager), made through the same ``CreateConnectionGroup`` a platform
engineer calls. The adapter is also run against responses in the shape AWS returns,
at the boto3 Stubber level (which checks them against botocore's service model)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from ruamel.yaml import YAML

from infra.core.errors import ExitCode
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS
from infra.devtools import emulator, localtarget
from infra.ops.adapters import aws
from infra.ops.preflight import platform
from tests.helpers import cli, copy_demo_stack_files, validate

REGION = localtarget.LOCAL_REGION
GROUP = str(EXAMPLE_PLATFORM_OUTPUTS["connectionGroupId"])
ENDPOINT = str(EXAMPLE_PLATFORM_OUTPUTS["connectionGroupRoutingEndpoint"])


@pytest.fixture
def folder(tmp_path: Path, aws_env: str) -> Path:
    return copy_demo_stack_files(tmp_path)


def _check(folder: Path) -> tuple[int, dict[str, Any], str]:
    result = cli(folder, "preflight", "--json")
    document = validate("preflight", json.loads(result.stdout))
    found = next(c for c in document["checks"] if c["check"] == "connection-group")
    return result.exit_code, found, result.stderr


def _set_output(folder: Path, name: str, value: str) -> None:
    path = folder / "platform-outputs.yaml"
    yaml = YAML()
    data = yaml.load(path.read_text())
    data["acme/platform/prod"][name] = value
    with path.open("w") as f:
        yaml.dump(data, f)


def test_the_platforms_enabled_connection_group_passes(folder: Path, aws_env: str) -> None:
    localtarget.prepare_account(aws_env, REGION)

    code, check, _ = _check(folder)

    assert code == 0
    assert check["verdict"] == "pass"
    assert check["evidence"]["enabled"] is True
    assert check["evidence"]["routingEndpoint"] == ENDPOINT


def test_a_disabled_connection_group_fails_with_how_to_enable_it(
    folder: Path, aws_env: str
) -> None:
    cloudfront = boto3.client("cloudfront", region_name=REGION)
    chosen = {emulator.CUSTOM_ID: GROUP, emulator.CUSTOM_ROUTING_ENDPOINT: ENDPOINT}
    cloudfront.create_connection_group(
        Name="platform",
        Enabled=False,
        Tags={"Items": [{"Key": k, "Value": v} for k, v in chosen.items()]},
    )
    localtarget.prepare_account(aws_env, REGION)  # keeps the group that is there

    code, check, stderr = _check(folder)

    assert code == ExitCode.PRECONDITION
    assert check["verdict"] == "fail" and "is disabled" in check["summary"]
    assert f"update-connection-group --id {GROUP} --enabled" in check["fix"]
    assert stderr.count("\n") == 1 and "connection-group" in stderr


def test_a_connection_group_the_account_does_not_have_fails_in_one_line(
    folder: Path, aws_env: str
) -> None:
    localtarget.prepare_account(aws_env, REGION)
    _set_output(folder, "connectionGroupId", "cg_0000000000000000000000000000")

    code, check, stderr = _check(folder)

    assert code == ExitCode.PRECONDITION
    assert check["verdict"] == "fail"
    assert check["summary"].startswith("no CloudFront connection group cg_0000")
    assert "EntityNotFound" in check["summary"]
    assert "create the platform's connection group" in check["fix"]
    assert "Traceback" not in stderr and stderr.count("\n") == 1


def test_a_routing_endpoint_other_than_the_outputs_say_fails(folder: Path, aws_env: str) -> None:
    localtarget.prepare_account(aws_env, REGION)
    _set_output(folder, "connectionGroupRoutingEndpoint", "d999999abcdef9.cloudfront.net")

    code, check, _ = _check(folder)

    assert code == ExitCode.PRECONDITION
    assert check["verdict"] == "fail"
    assert f"routes at {ENDPOINT}, not at d999999abcdef9.cloudfront.net" in check["summary"]
    assert (
        f"set connectionGroupRoutingEndpoint in the platform outputs to {ENDPOINT}"
        in (check["fix"])
    )


# ------------------------------------------------ the adapter, on AWS's response shape


def _group(enabled: bool, status: str = "Deployed") -> dict[str, Any]:
    """``GetConnectionGroup``'s ConnectionGroup as AWS returns it (every member the
    service model lists for a group without Anycast IPs)."""
    moment = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    return {
        "Id": GROUP,
        "Name": "tenants-platform",
        "Arn": f"arn:aws:cloudfront::123456789012:connection-group/{GROUP}",
        "CreatedTime": moment,
        "LastModifiedTime": moment,
        "Tags": {"Items": []},
        "Ipv6Enabled": True,
        "RoutingEndpoint": ENDPOINT,
        "Status": status,
        "Enabled": enabled,
        "IsDefault": False,
    }


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    client = boto3.client(
        "cloudfront", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    monkeypatch.setattr(aws, "client", lambda service, region=None: client)
    return stubber


@pytest.mark.parametrize(
    ("enabled", "verdict"), [(True, "pass"), (False, "fail")], ids=["enabled", "disabled"]
)
def test_the_adapter_reads_awss_response_shape(stubbed: Stubber, enabled: bool, verdict: str):
    stubbed.add_response(
        "get_connection_group",
        {"ConnectionGroup": _group(enabled), "ETag": "E2QWRUHAPOMQZL"},
        {"Identifier": GROUP},
    )
    with stubbed:
        check = platform.connection_group(GROUP, ENDPOINT, "us-east-1")

    assert check.verdict == verdict
    assert check.evidence["status"] == "Deployed" and check.evidence["enabled"] is enabled


def test_the_adapter_turns_awss_not_found_into_a_failed_check(stubbed: Stubber) -> None:
    stubbed.add_client_error(
        "get_connection_group",
        service_error_code="EntityNotFound",
        service_message="The specified connection group does not exist.",
        http_status_code=404,
        expected_params={"Identifier": GROUP},
    )
    with stubbed:
        check = platform.connection_group(GROUP, ENDPOINT, "us-east-1")

    assert check.verdict == "fail"
    assert check.summary == (
        f"no CloudFront connection group {GROUP} "
        "(EntityNotFound: The specified connection group does not exist.)"
    )
