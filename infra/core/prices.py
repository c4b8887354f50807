"""AWS on-demand prices the cost model uses (``tenantctl cost``): one table, one file.

Region us-east-1, USD. Each price names its source and when it was read; ``checked``
is False where only a third-party or unconfirmed figure was available from here
(re-read the live page before quoting it to a client). Usage-based charges
(requests, data transfer, emails sent) are not in a client's fixed monthly cost and
are left out on purpose; the platform's shared resources (load balancer, KMS key,
hosted zone, pool servers' own fixed part) count once, not per client.

Pure data: no Pulumi, boto3, database or YAML imports.
"""

from __future__ import annotations

from dataclasses import dataclass

REGION = "us-east-1"
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    as_of: str
    checked: bool = True


_RDS = "https://aws.amazon.com/rds/postgresql/pricing/"

RDS_INSTANCE_HOUR: dict[tuple[str, bool], Price] = {
    ("db.t4g.micro", False): Price(0.016, "instance-hour", _RDS, "2026"),
    ("db.t4g.micro", True): Price(0.032, "instance-hour", _RDS, "2026"),
    ("db.t4g.small", False): Price(0.032, "instance-hour", _RDS, "2026"),
    ("db.t4g.small", True): Price(0.064, "instance-hour", _RDS, "2026"),
    ("db.t4g.medium", False): Price(0.065, "instance-hour", _RDS, "2026"),
    ("db.t4g.medium", True): Price(0.130, "instance-hour", _RDS, "2026"),
    ("db.t4g.large", False): Price(0.129, "instance-hour", _RDS, "undated", checked=False),
    ("db.t4g.large", True): Price(0.258, "instance-hour", _RDS, "undated", checked=False),
    ("db.m7g.large", False): Price(0.168, "instance-hour", _RDS, "2026-09-23", checked=False),
    ("db.m7g.large", True): Price(0.336, "instance-hour", _RDS, "2026-09-23", checked=False),
}
"""RDS for PostgreSQL, (instance class, Multi-AZ) -> price per instance-hour."""

RDS_GP3_GB_MONTH: dict[bool, Price] = {
    False: Price(0.115, "GB-month", _RDS, "2026-09-11"),
    True: Price(0.230, "GB-month", _RDS, "2026-09-11"),
}
"""gp3 storage per provisioned GB-month, Single-AZ / Multi-AZ. Backups up to the
provisioned size are free."""

SECRET_MONTH = Price(
    0.40, "secret-month", "https://aws.amazon.com/secrets-manager/pricing/", "2026-09-20"
)
SSM_ADVANCED_PARAMETER_MONTH = Price(
    0.05,
    "parameter-month",
    "https://aws.amazon.com/systems-manager/pricing/",
    "undated",
    checked=False,
)
"""Standard parameters are free; Intelligent-Tiering makes a parameter advanced only
once the account's 10,000 standard ones are used."""

COGNITO_ESSENTIALS_MAU = Price(
    0.015, "monthly active user", "https://aws.amazon.com/cognito/pricing/", "2026-09-20"
)
COGNITO_FREE_MAU = 10_000
"""Essentials (the default tier of a new pool): the first 10,000 MAU a month are free,
per account."""

CLOUDFRONT_TENANT_MONTH = Price(
    0.10,
    "distribution tenant-month",
    "https://aws.amazon.com/cloudfront/pricing/",
    "unconfirmed",
    checked=False,
)
"""CloudFront SaaS Manager bills per distribution tenant; the rate could not be read from
here (a small free allowance, then about $0.10 per tenant-month, is reported): confirm
on the pricing page."""

CLOUDWATCH_ALARM_MONTH = Price(
    0.10,
    "standard-resolution alarm metric-month",
    "https://aws.amazon.com/cloudwatch/pricing/",
    "undated",
    checked=False,
)
"""A standard-resolution metric alarm (an integration has two: dead-letter queue not empty,
no message for N minutes); the first 10 alarms of an account are free, ignored here. SQS
requests are usage (mostly within their free tier), left out like other usage; EventBridge
Scheduler invocations are priced below (``SCHEDULER_INVOCATION``)."""

SCHEDULER_INVOCATION = Price(
    1.00 / 1_000_000,
    "invocation",
    "https://aws.amazon.com/eventbridge/pricing/",
    "undated",
    checked=False,
)
"""EventBridge Scheduler: a schedule costs nothing, an invocation $1.00 per million after
the account's 14 million free a month (ignored here, like the alarms' free ten)."""

S3_STANDARD_GB_MONTH = Price(
    0.023, "GB-month", "https://aws.amazon.com/s3/pricing/", "undated", checked=False
)
