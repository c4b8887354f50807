"""What the account's Service Quotas say each capacity quota is.

One read per quota (``get_service_quota``), used by ``tenantctl capacity --account``
and ``tenantctl preflight`` alike, so both compare the same model with the same
limits. A quota AWS keeps no applied value for is at its documented default; one the
caller may not read is ``readable=False`` with the error (the caller decides what an
unknown limit means). An endpoint that cannot be reached propagates (exit 5).
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from infra.core import limits
from infra.core.limits import Quota
from infra.core.preflight import AppliedQuota
from infra.ops.adapters import aws


def client_error(exc: ClientError) -> str:
    """``Code: message`` of an AWS error, one short line."""
    error = exc.response.get("Error", {})
    code = error.get("Code") or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    message = " ".join(str(error.get("Message") or "").split())
    if message.startswith("<"):  # an HTML error page: the endpoint does not implement it
        message = "not implemented by this endpoint"
    return f"{code}: {message[:160]}" if message else str(code)


def applied_quota(quota: Quota, region: str) -> AppliedQuota:
    """The quota's applied value from Service Quotas, or why the documented default stands."""
    code = limits.SERVICE_QUOTA_CODES.get(quota.key)
    if code is None:
        return AppliedQuota(None, "documented default, not in Service Quotas")
    service, quota_code = code
    where = limits.quota_region(quota, region)
    try:
        found = aws.client("service-quotas", where).get_service_quota(
            ServiceCode=service, QuotaCode=quota_code
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchResourceException":
            # AWS keeps no applied value for this quota here: it is at its default.
            return AppliedQuota(None, "documented default, Service Quotas has no applied value")
        return AppliedQuota(None, f"service-quotas: {client_error(exc)}", readable=False)
    value = (found.get("Quota") or {}).get("Value")
    if value is None:
        return AppliedQuota(None, "documented default, Service Quotas gave no value")
    return AppliedQuota(float(value), f"Service Quotas {service}/{quota_code}")


def applied_quotas(region: str) -> dict[str, AppliedQuota]:
    """``applied_quota`` of every quota the capacity model counts."""
    return {quota.key: applied_quota(quota, region) for quota in limits.QUOTAS}
