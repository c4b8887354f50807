"""The account's side of preflight: SES, the SSM default tier, each quota, the zone's records.

Every read is read-only. A ``ClientError`` (access denied, an API the endpoint does not
implement) makes its check ``cannot-check`` with the error as evidence; an endpoint that
cannot be reached at all propagates (exit 5, ``infra.ops.adapters.faults``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from infra.core import limits
from infra.core import preflight as rules
from infra.core.preflight import AppliedQuota, Check
from infra.ops.adapters import aws
from infra.ops.adapters.service_quotas import applied_quotas, client_error
from infra.ops.planning.capacity import QuotaUse


def ses(region: str) -> list[Check]:
    try:
        account = aws.client("sesv2", region).get_account()
    except ClientError as exc:
        why = client_error(exc)
        fix = "allow ses:GetAccount to this caller and re-run"
        return [
            rules.cannot("ses-production-access", f"sesv2 GetAccount failed ({why})", fix),
            rules.cannot("ses-send-quota", f"sesv2 GetAccount failed ({why})", fix),
        ]
    return rules.ses_account(account)


def ssm_tier(region: str, account: str | None) -> Check:
    try:
        found = aws.client("ssm", region).get_service_setting(
            SettingId=limits.SSM_DEFAULT_TIER_SETTING
        )
    except ClientError as exc:
        return rules.cannot(
            "ssm-default-parameter-tier",
            f"ssm GetServiceSetting failed ({client_error(exc)})",
            "allow ssm:GetServiceSetting to this caller and re-run",
        )
    return rules.ssm_default_tier(found.get("ServiceSetting") or {}, region, account)


def quotas(uses: list[QuotaUse], region: str) -> tuple[list[Check], dict[str, AppliedQuota]]:
    """One check per quota the capacity model counts (its total for the clients, the
    platform's shared pool servers included), and what was read for each."""
    applied = applied_quotas(region)
    checks = [
        rules.quota_use(use.quota, use.per_client, use.clients, applied[use.quota.key], use.shared)
        for use in uses
    ]
    return checks, applied


def zone_records(
    outputs: Mapping[str, Any], per_client: int, clients: int, records_quota: AppliedQuota
) -> Check:
    zone_id = str(outputs["zoneId"])
    try:
        zone = aws.client("route53").get_hosted_zone(Id=zone_id)["HostedZone"]
    except ClientError as exc:
        return Check(
            "hosted-zone-records",
            rules.FAIL,
            f"hosted zone {zone_id}: {client_error(exc)}",
            {"zoneId": zone_id},
            "point zoneId at the platform's public hosted zone (and allow route53:GetHostedZone)",
        )
    default = next(q.default for q in limits.QUOTAS if q.key == "route53-records")
    limit = int(records_quota.value) if records_quota.value is not None else default
    return rules.zone_records(
        zone_id, int(zone.get("ResourceRecordSetCount") or 0), limit, per_client, clients
    )
