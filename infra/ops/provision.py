"""After a stack is deployed: the data-plane steps ``create`` finishes with.

``post_provision`` seeds the defaults template database from ``templates/db``,
creates the working database from it and publishes the first content release
from ``defaults/``. Every step checks what is already there, so running it
again changes nothing.

``apply_local`` stands in for ``pulumi up`` on the local target (no Pulumi
CLI): it evaluates the real Pulumi program under the mock runtime
(``infra.plan``) and materializes the planned resources the data steps need —
the content bucket and its ``defaults/`` objects, the payment parameters and
the payment secret — on the AWS API emulator. No second description of the
infrastructure exists: what is created is exactly what the program planned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra.core import naming, rendering
from infra.core.content_model import ContentError
from infra.core.errors import EnvironmentProblem
from infra.core.spec import TenantSpec
from infra.ops.stack import StackHandle, deploy_mode, open_stack, project_dir_of
from infra.program.plan import plan_stack

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class StepLog:
    """What each step did and how long it took (seconds)."""

    steps: list[dict[str, Any]] = field(default_factory=list)

    def run(self, name: str, action: Callable[[], str], progress: Progress) -> None:
        started = time.perf_counter()
        detail = action()
        seconds = round(time.perf_counter() - started, 3)
        self.steps.append({"step": name, "detail": detail, "seconds": seconds})
        progress(f"  {name}: {detail} ({seconds:.2f}s)")


def post_provision(handle: StackHandle, progress: Progress = _quiet) -> list[dict[str, Any]]:
    """Defaults database, working database and first release; idempotent."""
    spec, log = handle.spec, StepLog()
    slug, stage = spec.slug, spec.stage

    def defaults_db() -> str:
        name = naming.defaults_database_name(slug, stage)
        if handle.database.exists(name):
            return f"{name} already seeded"
        handle.database.seed_defaults(
            slug, stage, rendering.render_db_schema(), rendering.render_db_seed(spec)
        )
        return f"{name} seeded from templates/db"

    def working_db() -> str:
        name = naming.database_name(slug, stage)
        if handle.database.exists(name):
            return f"{name} already exists"
        handle.database.create_working(slug, stage)
        return f"{name} created from the defaults"

    def first_release() -> str:
        current = handle.content.current()
        if current is not None:
            return f"portal already serves release {current.release}"
        release = handle.content.publish_from_defaults(source="create")
        handle.content.switch(release.id)
        return f"release {release.id} published from defaults/ ({len(release.files)} files)"

    log.run("defaults-database", defaults_db, progress)
    log.run("working-database", working_db, progress)
    log.run("first-release", first_release, progress)
    return log.steps


# ------------------------------------------------------------------ local target

_OBJECT_TYPES = ("aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/bucketObject:BucketObject")
_PARAMETER = "aws:ssm/parameter:Parameter"
_SECRET = "aws:secretsmanager/secret:Secret"
_CERTIFICATE = "aws:acm/certificate:Certificate"
LOCAL_OUTPUTS_RECORD = "local-outputs"


def local_outputs(handle: StackHandle) -> dict[str, Any] | None:
    """The outputs ``apply_local`` recorded for a stack on the local target."""
    return handle.content.get_record(LOCAL_OUTPUTS_RECORD) if deploy_mode() == "local" else None


def deploy_stack(
    spec: TenantSpec, stacks_dir: Path, handle: StackHandle | None, progress: Progress = _quiet
) -> tuple[StackHandle, str]:
    """Deploy one stack the way this machine can: ``pulumi up`` or the local target.

    Returns a handle on the deployed stack (with fresh outputs) and what was done.
    """
    mode = deploy_mode()
    if mode == "pulumi":
        from infra.ops.deploy import deploy

        project_dir = project_dir_of(stacks_dir)
        if project_dir is None:
            raise EnvironmentProblem(
                f"{stacks_dir} is not the stacks/ folder of a Pulumi project, so "
                f"{spec.stack_name} cannot be deployed from it; use the project's stacks/"
            )
        outputs = deploy(spec.stack_name, project_dir, progress)
        region = handle.region if handle else None
        return open_stack(spec, outputs, region), f"deployed with pulumi up -s {spec.stack_name}"
    if mode == "local":
        handle = handle or open_stack(spec)
        apply_local(spec, handle, progress)
        return handle, "applied on the local target (no Pulumi CLI)"
    raise EnvironmentProblem(
        f"deploying {spec.stack_name} needs the Pulumi CLI, which is not installed; run "
        f"`pulumi up -s {spec.stack_name}` where it is, then re-run this command"
    )


def deploy_new_stack(
    spec: TenantSpec, stacks_dir: Path, progress: Progress = _quiet
) -> dict[str, Any]:
    """``create``'s deployment of one stack: deploy, then the post-provision step."""
    handle, how = deploy_stack(spec, stacks_dir, None, progress)
    progress(f"post-provision {spec.stack_name} ...")
    return {
        "how": how,
        "outputs": dict(handle.outputs or {}),
        "postProvision": post_provision(handle, progress),
    }


def apply_local(spec: TenantSpec, handle: StackHandle, progress: Progress = _quiet) -> str:
    """Materialize the program's content bucket, defaults, parameters and secret locally."""
    plan = plan_stack(spec)
    bucket = naming.content_bucket(spec.slug, spec.stage)
    created: dict[str, int] = {"bucket": 0, "objects": 0, "parameters": 0, "secret": 0}
    try:
        handle.s3.head_bucket(Bucket=bucket)
    except ClientError:
        handle.s3.create_bucket(Bucket=bucket)
        handle.s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        created["bucket"] = 1

    files: dict[str, bytes] = {}
    for resource in plan.resources:
        inputs = resource.inputs
        if resource.type in _OBJECT_TYPES:
            key = str(inputs["key"])
            if key.startswith(naming.DEFAULTS_PREFIX) and key != naming.MANIFEST_KEY:
                files[key[len(naming.DEFAULTS_PREFIX) :]] = str(inputs["content"]).encode()
        elif resource.type == _PARAMETER:
            handle.ssm.put_parameter(
                Name=inputs["name"],
                # pulumi-aws marks `value` secret; the program sets plain settings as insecureValue.
                Value=str(inputs.get("insecureValue", inputs.get("value"))),
                Type="String",
                Overwrite=True,
            )
            created["parameters"] += 1
        elif resource.type == _SECRET:
            name = inputs["name"]
            try:
                handle.secrets.describe_secret(SecretId=name)
            except ClientError:
                handle.secrets.create_secret(
                    Name=name, Description=inputs.get("description", ""), Tags=_tags(inputs)
                )
                created["secret"] = 1
    certificate = next((r for r in plan.resources if r.type == _CERTIFICATE), None)
    outputs = handle.content.get_record(LOCAL_OUTPUTS_RECORD) or {}
    if certificate is not None and "certificateArn" not in outputs:
        request: dict[str, Any] = {
            "DomainName": certificate.inputs["domainName"],
            "ValidationMethod": "DNS",
        }
        if certificate.inputs.get("subjectAlternativeNames"):
            request["SubjectAlternativeNames"] = list(certificate.inputs["subjectAlternativeNames"])
        outputs["certificateArn"] = handle.acm.request_certificate(**request)["CertificateArn"]
    outputs.update({k: v for k, v in plan.outputs.items() if k in _LOCAL_OUTPUT_KEYS})
    handle.content.put_record(LOCAL_OUTPUTS_RECORD, outputs)
    if files:
        existing = _safe_manifest(handle)
        if existing != rendering.content_manifest(files):
            handle.content.upload_defaults(files)
            created["objects"] = len(files)
    summary = (
        f"bucket {bucket} ({'created' if created['bucket'] else 'exists'}), "
        f"{created['objects']} defaults objects written, "
        f"{created['parameters']} payment parameters, "
        f"payment secret {'created' if created['secret'] else 'exists'}"
    )
    progress(f"  local apply {spec.stack_name}: {summary}")
    return summary


_LOCAL_OUTPUT_KEYS = (
    "slug",
    "stage",
    "live",
    "adminUrl",
    "portalUrl",
    "contentBucket",
    "databaseName",
    "paymentParameterPath",
    "customDomainValidationRecords",
)


def _safe_manifest(handle: StackHandle) -> dict[str, str] | None:
    try:
        return handle.content.defaults_manifest()
    except ContentError:  # no manifest yet: write the defaults
        return None


def _tags(inputs: Mapping[str, Any]) -> list[Any]:
    return [{"Key": k, "Value": str(v)} for k, v in (inputs.get("tags") or {}).items()]
