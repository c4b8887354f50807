"""The platform's side of preflight: its outputs, KMS key, SES identity, log bucket and
CloudFront connection group.

The outputs are the platform as every command resolves it
(``infra.ops.stacks.platformfile.platform_outputs``); when that refuses them, the raw
entry of the platform file (if any) is read again only to list every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from infra.core import limits
from infra.core import preflight as rules
from infra.core.errors import UserInputError
from infra.core.platform import SCHEDULER_ROLE_OUTPUTS
from infra.core.preflight import Check
from infra.ops.adapters import aws
from infra.ops.adapters.service_quotas import client_error
from infra.ops.stacks.platformfile import (
    platform_outputs,
    platform_outputs_file,
    read_platform_file,
)
from infra.ops.stacks.stackfiles import display_path


def outputs(stacks_dir: Path, platform_stack: str) -> tuple[Check, Mapping[str, Any] | None]:
    """The platform-outputs check, and the outputs when they passed."""
    source = display_path(platform_outputs_file(stacks_dir))
    try:
        found = platform_outputs(stacks_dir, platform_stack)
    except UserInputError as exc:
        raw = read_platform_file(stacks_dir).get(platform_stack)
        return rules.platform_outputs(platform_stack, source, raw, str(exc)), None
    check = rules.platform_outputs(platform_stack, source, found, None)
    return check, found if check.passed else None


def kms_key(arn: str, region: str, caller: str | None) -> Check:
    kms = aws.client("kms", rules.arn_region(arn) or region)
    try:
        metadata = kms.describe_key(KeyId=arn)["KeyMetadata"]
    except ClientError as exc:
        return rules.kms_key(arn, region, None, client_error(exc), caller)
    try:
        # Read-only in effect: a data key is made and thrown away, nothing is stored.
        kms.generate_data_key(KeyId=arn, KeySpec="AES_256")
        error = None
    except ClientError as exc:
        error = client_error(exc)
    return rules.kms_key(arn, region, metadata, error, caller)


def kms_roles(arn: str, region: str, roles: Sequence[str]) -> list[Check]:
    """Each role's access to the key, by IAM policy simulation with the key policy."""
    if not roles:
        return []
    try:
        policy = aws.client("kms", rules.arn_region(arn) or region).get_key_policy(
            KeyId=arn, PolicyName="default"
        )["Policy"]
    except ClientError as exc:
        return [rules.kms_role(role, arn, None, client_error(exc)) for role in roles]
    iam = aws.client("iam", region)
    checks = []
    for role in roles:
        try:
            results = iam.simulate_principal_policy(
                PolicySourceArn=role,
                ActionNames=list(limits.KMS_ACTIONS_FOR_TENANTS),
                ResourceArns=[arn],
                ResourcePolicy=policy,
            )["EvaluationResults"]
        except ClientError as exc:
            checks.append(rules.kms_role(role, arn, None, client_error(exc)))
            continue
        except ResponseParserError:  # an endpoint without the API answers an HTML page
            checks.append(rules.kms_role(role, arn, None, "not implemented by this endpoint"))
            continue
        decisions = {r["EvalActionName"]: str(r["EvalDecision"]) for r in results}
        checks.append(rules.kms_role(role, arn, decisions, None))
    return checks


def email_identity(arn: str, zone_name: str | None, region: str) -> Check:
    name = arn.rsplit("/", 1)[-1]
    try:
        identity = aws.client("sesv2", rules.arn_region(arn) or region).get_email_identity(
            EmailIdentity=name
        )
    except ClientError as exc:
        return rules.email_identity(arn, zone_name, None, client_error(exc))
    return rules.email_identity(arn, zone_name, identity, None)


def access_log_bucket(name: str, region: str) -> Check:
    s3 = aws.client("s3", region)
    try:
        head = s3.head_bucket(Bucket=name)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        why = {404: "does not exist", 403: "not this account's (403)"}.get(
            status, client_error(exc)
        )
        return rules.access_log_bucket(name, region, None, why, (), None)
    bucket_region = head.get("BucketRegion") or head.get("ResponseMetadata", {}).get(
        "HTTPHeaders", {}
    ).get("x-amz-bucket-region")
    try:
        configured = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
        encryption = [
            str(r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"])
            for r in configured.get("Rules", [])
            if "ApplyServerSideEncryptionByDefault" in r
        ]
    except ClientError:
        encryption = []  # no configuration: S3 encrypts with SSE-S3 by default
    try:
        policy: str | None = s3.get_bucket_policy(Bucket=name)["Policy"]
    except ClientError:
        policy = None
    return rules.access_log_bucket(name, region, bucket_region, None, encryption, policy)


def connection_group(group_id: str, routing_endpoint: str, region: str) -> Check:
    """``GetConnectionGroup`` (CloudFront is global: any region's client reaches it)."""
    try:
        found = aws.client("cloudfront", region).get_connection_group(Identifier=group_id)
    except ClientError as exc:
        return rules.connection_group(group_id, routing_endpoint, None, client_error(exc))
    return rules.connection_group(group_id, routing_endpoint, found["ConnectionGroup"], None)


def scheduler_roles(outputs: Mapping[str, Any], region: str) -> list[Check]:
    """``iam GetRole`` of each stage's scheduler role the platform outputs name."""
    checks = []
    for output in SCHEDULER_ROLE_OUTPUTS.values():
        arn = outputs.get(output)
        if not arn:
            continue
        try:
            role = aws.client("iam", region).get_role(RoleName=str(arn).rsplit("/", 1)[-1])
        except ClientError as exc:
            checks.append(rules.scheduler_role(output, str(arn), None, client_error(exc)))
            continue
        checks.append(rules.scheduler_role(output, str(arn), role["Role"], None))
    return checks
