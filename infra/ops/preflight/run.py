"""Run every preflight check for one platform and the clients it must hold.

The platform is ``--platform-stack``, else the one every stack file in the folder names,
else the only one in the platform file. N clients default to the clients in the folder
(at least one: the next client). What one client uses of each quota is the capacity
model's (``infra.ops.planning.capacity``), counted from the folder's clients, or from the
project's reference client when the folder has none yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from infra import PROJECT_DIR
from infra.core import limits, naming
from infra.core import preflight as rules
from infra.core.errors import UserInputError
from infra.core.integrations.ingest import INGEST_ENDPOINT_OUTPUT
from infra.core.preflight import Check, PreflightReport
from infra.ops.adapters import aws
from infra.ops.planning.capacity import capacity
from infra.ops.preflight import account, platform, tooling
from infra.ops.stacks.platformfile import read_platform_file
from infra.ops.stacks.stackfiles import read_spec, tenants

REFERENCE_STACKS = PROJECT_DIR / "stacks"
"""The project's own stacks folder, whose reference client stands in for a first one."""


def _fleet(stacks_dir: Path) -> tuple[list[str], set[str]]:
    """The clients with both stack files, and every platform the stack files name."""
    found = tenants(stacks_dir)
    complete = sorted(slug for slug, stages in found.items() if len(stages) == len(naming.STAGES))
    platforms = {
        read_spec(stacks_dir, slug, stage).platform_stack
        for slug, stages in found.items()
        for stage in stages
    }
    return complete, platforms


def choose_platform(stacks_dir: Path, given: str | None, named: set[str]) -> str:
    if given:
        return given
    if len(named) == 1:
        return next(iter(named))
    if not named:
        known = sorted(read_platform_file(stacks_dir))
        if len(known) == 1:
            return known[0]
    listed = ", ".join(sorted(named)) or "none"
    raise UserInputError(
        f"which platform? the stack files name {listed}; pass --platform-stack ORG/PROJECT/STACK"
    )


def preflight(
    stacks_dir: Path,
    clients: int | None = None,
    platform_stack: str | None = None,
    roles: Sequence[str] = (),
) -> PreflightReport:
    """Every check, in the README's order; nothing is changed."""
    slugs, named = _fleet(stacks_dir)
    chosen = choose_platform(stacks_dir, platform_stack, named)
    count = clients if clients is not None else max(len(slugs), 1)

    outputs_check, outputs = platform.outputs(stacks_dir, chosen)
    key_arn = str((outputs or {}).get("kmsKeyArn") or "")
    region = rules.arn_region(key_arn) or aws.region_name()
    identity = aws.client("sts", region).get_caller_identity()  # unreachable: exit 5 here
    account_id, caller = identity.get("Account"), identity.get("Arn")

    checks: list[Check] = [*account.ses(region), account.ssm_tier(region, account_id)]
    if outputs is None:  # the plans that count each quota need the platform's outputs
        checks += [rules.needs_platform(f"quota:{quota.key}") for quota in limits.QUOTAS]
        checks.append(outputs_check)
        names = [
            "hosted-zone-records",
            "kms-key",
            "email-identity",
            "access-log-bucket",
            "connection-group",
            "ingest-endpoint",
        ]
        checks += [rules.needs_platform(name) for name in names]
        counted_from: list[str] = []
    else:
        model = capacity(stacks_dir if slugs else REFERENCE_STACKS, count)
        # The client the shapes were derived from: the folder's, or the project's reference.
        counted_from = [f"{'' if slugs else 'reference client '}{model.reference}"]
        per_client = {use.quota.key: use.per_client for use in model.uses}
        quota_checks, applied = account.quotas(model.uses, region)
        checks += quota_checks
        checks.append(outputs_check)
        checks.append(
            account.zone_records(
                outputs, per_client["route53-records"], count, applied["route53-records"]
            )
        )
        checks.append(platform.kms_key(key_arn, region, caller))
        checks += platform.kms_roles(key_arn, region, roles)
        checks.append(
            platform.email_identity(
                str(outputs["emailIdentityArn"]), str(outputs["zoneName"]), region
            )
        )
        checks.append(platform.access_log_bucket(str(outputs["accessLogBucketName"]), region))
        checks.append(
            platform.connection_group(
                str(outputs["connectionGroupId"]),
                str(outputs["connectionGroupRoutingEndpoint"]),
                region,
            )
        )
        checks += platform.scheduler_roles(outputs, region)
        checks.append(rules.ingest_endpoint(outputs.get(INGEST_ENDPOINT_OUTPUT)))
    checks.append(tooling.backend(chosen, region))
    checks.append(tooling.policy_pack())
    return PreflightReport(
        platform_stack=chosen,
        region=region,
        account=account_id,
        caller=caller,
        clients=count,
        counted_from=counted_from,
        checks=checks,
    )
