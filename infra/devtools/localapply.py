"""The local target's stand-in for ``pulumi up``: the real program's plan, applied to moto.

``apply_local`` evaluates the real Pulumi program under the mock runtime
(``infra.program.plan``) and materializes the planned resources the data steps
need — the content bucket and its ``defaults/`` objects, the payment
parameters and the payment secret, the sending identity, the admin site's user
pool with its role groups and administrators, the client domain's certificate
(us-east-1) and its CloudFront distribution tenant — on the AWS API emulator. No second
description of the infrastructure exists: what is created is exactly what the
program planned. ``LocalDeployer`` plugs this into the operations through the
``tenantctl.deployers`` entry point.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra.core import naming, replacement
from infra.core.content_model import ContentError, content_manifest
from infra.core.errors import DeployFailed
from infra.core.spec import TenantSpec
from infra.core.steps import Progress, quiet
from infra.devtools import localtarget
from infra.ops.adapters import aws
from infra.ops.adapters.content_store import ContentStore
from infra.ops.stacks.handle import StackHandle, open_stack
from infra.ops.stacks.platformfile import platform_outputs


class LocalDeployer:
    """Deploys to the local target's emulator from the program's plan."""

    name = "local"

    def up(
        self,
        spec: TenantSpec,
        stacks_dir: Path,
        handle: StackHandle | None,
        progress: Progress,
        create: bool = False,
    ) -> tuple[Mapping[str, Any] | None, str]:
        handle = handle or open_stack(spec, source=self)
        # The platform as every command resolves it: the stacks folder's platform file.
        platform = platform_outputs(stacks_dir, spec.platform_stack)
        # The platform stack's stand-in: what it would own, on the emulator (idempotent;
        # moto forgets it on every reset).
        region = handle.region or os.environ.get("AWS_DEFAULT_REGION", localtarget.LOCAL_REGION)
        localtarget.create_platform(os.environ["AWS_ENDPOINT_URL"], region, dict(platform))
        apply_local(spec, handle, progress, platform)  # leaves the outputs it wrote on the handle
        return handle.outputs, "applied on the local target (no Pulumi CLI)"

    def outputs(self, spec: TenantSpec, region: str | None) -> Mapping[str, Any] | None:
        try:
            value = aws.client("ssm", region).get_parameter(Name=local_outputs_parameter(spec))
        except ClientError:  # never deployed here
            return None
        outputs: dict[str, Any] = json.loads(value["Parameter"]["Value"])
        return outputs

    def changes(self, spec: TenantSpec, stacks_dir: Path, progress: Progress) -> list[str]:
        """Each resource whose inputs as last applied (their digests) differ from what the
        program plans now, or that only one of them has; empty when nothing was recorded."""
        from infra.program.plan import plan_stack

        try:
            value = aws.client("ssm", None).get_parameter(Name=local_inputs_parameter(spec))
        except ClientError:  # never deployed here, or before inputs were recorded
            return []
        before: dict[str, str] = json.loads(value["Parameter"]["Value"])
        plan = plan_stack(spec, platform_outputs=platform_outputs(stacks_dir, spec.platform_stack))
        return replacement.changed_resources(before, input_digests(_resources(plan)))

    def stateful_changes(
        self, spec: TenantSpec, stacks_dir: Path, progress: Progress
    ) -> list[replacement.StatefulChange]:
        """The last applied stateful resources against what the program plans now."""
        from infra.program.plan import plan_stack

        try:
            value = aws.client("ssm", None).get_parameter(Name=local_state_parameter(spec))
        except ClientError:  # never deployed here: nothing to replace
            return []
        before = {k: (t, i) for k, (t, i) in json.loads(value["Parameter"]["Value"]).items()}
        plan = plan_stack(spec, platform_outputs=platform_outputs(stacks_dir, spec.platform_stack))
        return replacement.changes_between(before, replacement.stateful_inputs(_resources(plan)))


_OBJECT_TYPES = ("aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/bucketObject:BucketObject")
_PARAMETER = "aws:ssm/parameter:Parameter"
_SECRET = "aws:secretsmanager/secret:Secret"
_QUEUE = "aws:sqs/queue:Queue"
_CERTIFICATE = "aws:acm/certificate:Certificate"
_EMAIL_IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
_USER_POOL = "aws:cognito/userPool:UserPool"
_USER_GROUP = "aws:cognito/userGroup:UserGroup"
_USER = "aws:cognito/user:User"
_USER_IN_GROUP = "aws:cognito/userInGroup:UserInGroup"
_CONFIGURATION_SET = "aws:sesv2/configurationSet:ConfigurationSet"
_VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
_TENANT = "aws:cloudfront/distributionTenant:DistributionTenant"
_PROVIDER = "pulumi:providers:aws"


def local_state_parameter(spec: TenantSpec) -> str:
    """Where the local target keeps the stateful resources it last applied (Pulumi's state)."""
    return f"/{naming.TOOL}/local-state/{spec.stack_name}"


def local_inputs_parameter(spec: TenantSpec) -> str:
    """Where the local target keeps a digest of each resource's inputs as last applied
    (what ``tenantctl drift`` compares the program's plan against)."""
    return f"/{naming.TOOL}/local-inputs/{spec.stack_name}"


def input_digests(resources: replacement.Resources) -> dict[str, str]:
    """Logical name -> a short digest of its type and inputs (never the inputs themselves:
    a plan's inputs may hold secrets)."""
    return {
        name: hashlib.sha256(
            json.dumps([type_, inputs], sort_keys=True, default=str).encode()
        ).hexdigest()[:12]
        for name, (type_, inputs) in resources.items()
    }


def _resources(plan: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    return {r.name: (r.type, r.inputs) for r in plan.resources if r.custom}


def local_ids_parameter(spec: TenantSpec) -> str:
    """Where the local target keeps the ids of what it created by logical name (certificates,
    the distribution tenant): Pulumi's state of them."""
    return f"/{naming.TOOL}/local-ids/{spec.stack_name}"


def local_outputs_parameter(spec: TenantSpec) -> str:
    """Where the local target keeps a stack's outputs (the Pulumi backend's stand-in)."""
    return f"/{naming.TOOL}/local-outputs/{spec.stack_name}"


def _apply_queue(inputs: Mapping[str, Any], region: str | None) -> int:
    """An integration's queue in the emulator's SQS, once (1 when created). The program's
    redrive policy names its dead-letter queue by a plan ARN ending in the queue's name
    (the dead-letter queue comes first in the plan): it is pointed at the real one."""
    sqs = aws.client("sqs", region)
    name = str(inputs["name"])
    try:
        sqs.get_queue_url(QueueName=name)
        return 0
    except ClientError:
        pass
    attributes = {"MessageRetentionPeriod": str(inputs.get("messageRetentionSeconds", 345600))}
    if "visibilityTimeoutSeconds" in inputs:
        attributes["VisibilityTimeout"] = str(inputs["visibilityTimeoutSeconds"])
    if inputs.get("redrivePolicy"):
        policy = json.loads(str(inputs["redrivePolicy"]))
        target = sqs.get_queue_url(QueueName=str(policy["deadLetterTargetArn"]).rsplit(":", 1)[1])
        arn = sqs.get_queue_attributes(QueueUrl=target["QueueUrl"], AttributeNames=["QueueArn"])
        policy["deadLetterTargetArn"] = arn["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps(policy)
    sqs.create_queue(QueueName=name, Attributes=attributes)
    return 1


def apply_local(
    spec: TenantSpec,
    handle: StackHandle,
    progress: Progress = quiet,
    platform: Mapping[str, Any] | None = None,
) -> str:
    """Materialize the program's content bucket, defaults, parameters and secret locally."""
    # The program (Pulumi and pulumi-aws, about 0.7 s to import) only when applying:
    # every other command reads outputs through this deployer and needs none of it.
    from infra.program.plan import plan_stack
    from infra.program.tenant import STACK_OUTPUTS

    local_keys = {o.name for o in STACK_OUTPUTS if o.local}
    plan = plan_stack(spec, platform_outputs=platform)
    bucket = str(plan.outputs["contentBucket"])
    content = ContentStore(handle.s3, bucket)
    created: dict[str, int] = {
        "bucket": 0, "objects": 0, "parameters": 0, "secret": 0, "queues": 0
    }  # fmt: skip
    try:
        handle.s3.head_bucket(Bucket=bucket)
    except ClientError:
        handle.s3.create_bucket(Bucket=bucket)
        handle.s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        created["bucket"] = 1

    # First, as in Pulumi's order: live payment waits for the client domain's tenant.
    custom_domain = _apply_custom_domain(spec, plan, handle)
    files: dict[str, bytes] = {}
    for resource in plan.resources:
        inputs = resource.inputs
        if resource.type in _OBJECT_TYPES:
            key = str(inputs["key"])
            if key.startswith(naming.DEFAULTS_PREFIX) and key != naming.MANIFEST_KEY:
                files[key[len(naming.DEFAULTS_PREFIX) :]] = str(inputs["content"]).encode()
        elif resource.type == _PARAMETER:
            # Created once, as ``pulumi up`` does: the program ignores later changes to
            # the settings parameter's value (tenantctl and staff write it afterwards).
            try:
                handle.ssm.put_parameter(
                    Name=inputs["name"],
                    # pulumi-aws marks `value` secret; the program sets plain settings as
                    # insecureValue.
                    Value=str(inputs.get("insecureValue", inputs.get("value"))),
                    Type=inputs.get("type", "String"),
                    Tier=inputs["tier"],
                    Overwrite=False,
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ParameterAlreadyExists":
                    raise
            else:
                created["parameters"] += 1
        elif resource.type == _SECRET:
            name = inputs["name"]
            try:
                handle.secrets.describe_secret(SecretId=name)
            except ClientError:
                handle.secrets.create_secret(
                    Name=name, Description=inputs.get("description", ""), Tags=_tags(inputs)
                )
                created["secret"] += 1
        elif resource.type == _QUEUE:
            created["queues"] += _apply_queue(inputs, handle.region)
    _apply_email(plan.resources, handle.region)
    outputs = dict(handle.outputs or {})  # as last deployed (None before the first deploy)
    outputs.update(custom_domain)
    outputs.update({k: v for k, v in plan.outputs.items() if k in local_keys})
    outputs["userPoolId"] = _apply_access(plan.resources, handle.region, outputs.get("userPoolId"))
    handle.ssm.put_parameter(
        Name=local_outputs_parameter(spec),
        Value=json.dumps(outputs, sort_keys=True),
        Type="String",
        Overwrite=True,
    )
    handle.outputs = outputs
    # What the next deploy compares against (``stateful_changes``): Pulumi's state here.
    handle.ssm.put_parameter(
        Name=local_state_parameter(spec),
        Value=json.dumps(replacement.stateful_inputs(_resources(plan)), sort_keys=True),
        Type="String",
        Overwrite=True,
    )
    handle.ssm.put_parameter(
        Name=local_inputs_parameter(spec),
        Value=json.dumps(input_digests(_resources(plan)), sort_keys=True),
        Type="String",
        Tier="Advanced",  # about 60 resources' digests: more than the standard 4 KB
        Overwrite=True,
    )
    if files:
        existing = _safe_manifest(content)
        if existing != content_manifest(files):
            content.upload_defaults(files)
            created["objects"] = len(files)
    summary = (
        f"bucket {bucket} ({'created' if created['bucket'] else 'exists'}), "
        f"{created['objects']} defaults objects written, "
        f"{created['parameters']} settings parameter(s) created, "
        f"{created['secret']} secret(s) created"
        + (f", {created['queues']} queue(s) created" if created["queues"] else "")
    )
    progress(f"  local apply {spec.stack_name}: {summary}")
    return summary


def _apply_custom_domain(spec: TenantSpec, plan: Any, handle: StackHandle) -> dict[str, Any]:
    """The client domain's certificate (in its provider's region, us-east-1) and, attached,
    its distribution tenant, as planned; their outputs. A certificate is requested once per
    logical name (a new generation is a new one); a validation fails, as Pulumi's would
    after its wait, when the certificate is not ISSUED; the tenant is created, or updated to
    the planned certificate and ``enabled``."""
    try:
        value = handle.ssm.get_parameter(Name=local_ids_parameter(spec))["Parameter"]["Value"]
        ids: dict[str, str] = json.loads(value)
    except ClientError:  # nothing created yet
        ids = {}
    regions = {r.name: r.inputs.get("region") for r in plan.of_type(_PROVIDER)}
    found: dict[str, Any] = {"customDomainCertificateArn": None, "distributionTenantId": None}
    for certificate in plan.of_type(_CERTIFICATE):
        acm = aws.client("acm", regions.get(certificate.provider or "") or handle.region)
        if certificate.name not in ids:
            ids[certificate.name] = acm.request_certificate(
                DomainName=certificate.inputs["domainName"],
                ValidationMethod="DNS",
                Tags=_tags(certificate.inputs),
            )["CertificateArn"]
        arn = found["customDomainCertificateArn"] = ids[certificate.name]
        for _ in plan.of_type(_VALIDATION):
            status = acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"]
            if status != "ISSUED":
                raise DeployFailed(
                    f"{spec.stack_name}: certificate of {spec.portal_domain} is {status}, not "
                    "ISSUED; the deploy waited for its validation and failed (check it with "
                    f"`tenantctl domain status {spec.slug}`)"
                )
    cloudfront = aws.client("cloudfront")
    for tenant in plan.of_type(_TENANT):
        inputs = tenant.inputs
        customizations = {"Certificate": {"Arn": found["customDomainCertificateArn"]}}
        existing = None
        if tenant.name in ids:
            try:
                existing = cloudfront.get_distribution_tenant(Identifier=ids[tenant.name])
            except ClientError:  # gone (the emulator was reset): make it again
                existing = None
        if existing is None:
            created = cloudfront.create_distribution_tenant(
                DistributionId=inputs["distributionId"],
                Name=inputs["name"],
                Domains=[{"Domain": d["domain"]} for d in inputs["domains"]],
                ConnectionGroupId=inputs["connectionGroupId"],
                Customizations=customizations,
                Enabled=bool(inputs["enabled"]),
                Tags={"Items": _tags(inputs)},
            )
            ids[tenant.name] = created["DistributionTenant"]["Id"]
        elif (
            existing["DistributionTenant"]["Enabled"] is not bool(inputs["enabled"])
            or existing["DistributionTenant"].get("Customizations") != customizations
        ):
            cloudfront.update_distribution_tenant(
                Id=ids[tenant.name],
                IfMatch=existing["ETag"],
                Customizations=customizations,
                Enabled=bool(inputs["enabled"]),
            )
        found["distributionTenantId"] = ids[tenant.name]
    handle.ssm.put_parameter(
        Name=local_ids_parameter(spec), Value=json.dumps(ids), Type="String", Overwrite=True
    )
    return found


def _apply_email(resources: Any, region: str | None) -> None:
    """The SES configuration set and identity the program planned (moto finds Easy DKIM's
    records at once, so the identity is verified as soon as it exists)."""
    sesv2 = aws.client("sesv2", region)
    for resource in resources:
        try:
            if resource.type == _CONFIGURATION_SET:
                sesv2.create_configuration_set(
                    ConfigurationSetName=resource.inputs["configurationSetName"]
                )
            elif resource.type == _EMAIL_IDENTITY:
                dkim = resource.inputs.get("dkimSigningAttributes") or {}
                sesv2.create_email_identity(
                    EmailIdentity=resource.inputs["emailIdentity"],
                    DkimSigningAttributes={
                        "NextSigningKeyLength": dkim.get("nextSigningKeyLength", "RSA_2048_BIT")
                    },
                )
        except ClientError as exc:
            if "AlreadyExists" not in exc.response.get("Error", {}).get("Code", ""):
                raise


def _apply_access(resources: Any, region: str | None, pool_id: str | None) -> str:
    """The admin site's user pool, its role groups and the administrators (invitations
    suppressed: the emulator sends nothing), as planned; the pool's id. Idempotent."""
    idp = aws.client("cognito-idp", region)
    if pool_id is not None:
        try:
            idp.describe_user_pool(UserPoolId=pool_id)
        except ClientError:  # gone (the emulator was reset): make it again
            pool_id = None
    for pool in (r for r in resources if r.type == _USER_POOL):
        if pool_id is None:
            created = idp.create_user_pool(
                PoolName=pool.inputs["name"],
                UsernameAttributes=list(pool.inputs.get("usernameAttributes", [])),
                AutoVerifiedAttributes=list(pool.inputs.get("autoVerifiedAttributes", [])),
                UserPoolTags={k: str(v) for k, v in (pool.inputs.get("tags") or {}).items()},
            )
            pool_id = str(created["UserPool"]["Id"])
    if pool_id is None:
        raise RuntimeError("the program planned no user pool")  # a bug in the program
    for resource in resources:
        inputs = resource.inputs
        try:
            if resource.type == _USER_GROUP:
                idp.create_group(
                    UserPoolId=pool_id,
                    GroupName=inputs["name"],
                    Description=inputs.get("description", ""),
                    Precedence=int(inputs.get("precedence", 0)),
                )
            elif resource.type == _USER:
                idp.admin_create_user(
                    UserPoolId=pool_id,
                    Username=inputs["username"],
                    UserAttributes=[
                        {"Name": k, "Value": str(v)}
                        for k, v in (inputs.get("attributes") or {}).items()
                    ],
                    MessageAction="SUPPRESS",
                )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("GroupExistsException", "UsernameExistsException"):
                raise
    for resource in resources:  # users and groups exist now
        if resource.type == _USER_IN_GROUP:
            idp.admin_add_user_to_group(
                UserPoolId=pool_id,
                Username=resource.inputs["username"],
                GroupName=resource.inputs["groupName"],
            )
    return pool_id


def _safe_manifest(content: ContentStore) -> dict[str, str] | None:
    try:
        return content.defaults_manifest()
    except ContentError:  # no manifest yet: write the defaults
        return None


def _tags(inputs: Mapping[str, Any]) -> list[Any]:
    return [{"Key": k, "Value": str(v)} for k, v in (inputs.get("tags") or {}).items()]
