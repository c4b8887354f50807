"""AWS limits a tenant's values can reach, each written once with where it comes from.

Spec validation (``infra.core.spec``) checks every limit a spec value can
reach, so ``pulumi up`` never meets one in a client's account; the policy pack
and ``tenantctl capacity`` read the same numbers.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

from dataclasses import dataclass

# ------------------------------------------------------------ per-value limits

ACM_COMMON_NAME_MAX_OCTETS = 64
"""An ACM certificate's domain name (its common name) is at most 64 octets; SANs may be 253.
Source: ACM API RequestCertificate, DomainName ("cannot exceed 64 octets ... including
periods"), https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html"""

DNS_NAME_MAX_OCTETS = 253
DNS_LABEL_MAX_OCTETS = 63
"""RFC 1035 section 2.3.4, as ACM RequestCertificate restates it (253 octets, labels of 63)."""

ALB_HOST_HEADER_VALUE_MAX = 128
"""Each host-header condition value is at most 128 characters.
Source: pulumi-aws ``lb.ListenerRuleConditionHostHeaderArgs.values`` docstring (terraform
provider ``aws_lb_listener_rule``), ELB API HostHeaderConditionConfig."""

ALB_CONDITION_VALUES_PER_RULE = 5
"""Condition values per listener rule (not adjustable). Source: "Quotas for your Application
Load Balancers", Rules, https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html"""

ALB_FIXED_RESPONSE_BODY_MAX_BYTES = 1024
"""A fixed-response action's message body is at most 1,024 bytes. Source: ELB API
FixedResponseActionConfig.MessageBody ("Maximum length of 1024"),
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_FixedResponseActionConfig.html"""

SSM_STANDARD_VALUE_MAX_CHARS = 4096
"""A standard-tier SSM parameter's value is at most 4,096 characters (advanced: 8 KB).
Source: PutParameter's ValidationException, "Standard tier parameters support a maximum
parameter value of 4096 characters", and "Managing parameter tiers",
https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"""

SSM_RESERVED_NAME_PREFIXES = ("aws", "ssm")
"""A parameter name can't be prefixed with "aws" or "ssm" (case-insensitive); the service
reads a leading "/" as part of the hierarchy, so "/aws..." is refused too. Source: SSM API
PutParameter, Name, https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html"""

RDS_MAX_STORAGE_MIN_GROWTH_PERCENT = 10
"""Storage autoscaling: MaxAllocatedStorage must be at least 10% above AllocatedStorage
(RDS answers "InvalidParameterCombination: The maximum allocated storage must be increased
by at least 10 percent"). Source: RDS User Guide, "Managing capacity automatically with
Amazon RDS storage autoscaling",
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html"""

RDS_GP3_STORAGE_MIN_GIB = 20
RDS_GP3_STORAGE_MAX_GIB = 65536
"""gp3 storage for RDS for PostgreSQL: 20-65,536 GiB. Source: RDS User Guide, "Amazon RDS DB
instance storage", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html"""

RDS_IDENTIFIER_MAX = 63
"""DB instance identifier: 1-63 letters, digits or hyphens. Source: RDS API CreateDBInstance,
DBInstanceIdentifier."""

RDS_BACKUP_RETENTION_MAX_DAYS = 35
"""Source: RDS API CreateDBInstance, BackupRetentionPeriod (0-35)."""

S3_BUCKET_NAME_MAX = 63
"""Bucket names are 3-63 characters. Source: S3 User Guide, "General purpose bucket naming
rules", https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"""

COGNITO_INVITE_SUBJECT_MAX = 140
"""Invitation email subject, 1-140 characters.
Source: Cognito API MessageTemplateType.EmailSubject."""

COGNITO_USER_POOL_NAME_MAX = 128
"""Source: Cognito API CreateUserPool, PoolName (1-128)."""

SECRETS_MANAGER_NAME_MAX = 512
"""Source: Secrets Manager API CreateSecret, Name (1-512)."""

TAG_VALUE_MAX = 256

SQS_QUEUE_NAME_MAX = 80
"""SQS queue names: 1-80 letters, digits, hyphens and underscores (``CreateQueue``)."""

SCHEDULER_NAME_MAX = 64
"""EventBridge Scheduler schedule names: 1-64 of ``[0-9a-zA-Z-_.]`` (``CreateSchedule``)."""

CLOUDWATCH_ALARM_NAME_MAX = 255
"""CloudWatch alarm names (``PutMetricAlarm`` AlarmName: 1-255 characters)."""

SQS_MAX_RECEIVE_COUNT_MAX = 1000
"""A redrive policy's maxReceiveCount: 1-1,000 (SQS dead-letter queues)."""
"""Source: AWS tagging best practices, "Tag naming limits and requirements" (values up to 256)."""


# ------------------------------------------------------------ checks over plain values


def octets(text: str) -> int:
    return len(text.encode("utf-8"))


def min_max_allocated_storage(allocated_gib: int) -> int:
    """The smallest MaxAllocatedStorage RDS accepts above *allocated_gib* (10% more, rounded up)."""
    return -(-allocated_gib * (100 + RDS_MAX_STORAGE_MIN_GROWTH_PERCENT) // 100)


def ssm_reserved_prefix(name: str) -> str | None:
    """The reserved prefix *name* starts with (ignoring a leading "/"), or ``None``."""
    bare = name.lstrip("/").lower()
    return next((p for p in SSM_RESERVED_NAME_PREFIXES if bare.startswith(p)), None)


@dataclass(frozen=True)
class Quota:
    """An account or resource quota a tenant consumes (``tenantctl capacity``)."""

    key: str
    name: str
    scope: str
    """What the quota is counted over: ``region``, ``account``, ``load balancer``, ``zone``."""
    default: int
    adjustable: bool
    source: str


# ------------------------------------------------------------ account and resource quotas

_ALB = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html"
)
_RDS = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html"

QUOTAS: tuple[Quota, ...] = (
    Quota("alb-certificates", "Certificates per Application Load Balancer (excluding default)",
          "load balancer", 25, True, _ALB),
    Quota("alb-rules", "Rules per Application Load Balancer (excluding default rules)",
          "load balancer", 100, True, _ALB),
    Quota("route53-records", "Records per hosted zone", "zone", 10_000, True,
          "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html"),
    Quota("acm-certificates", "ACM certificates", "account and region", 2_500, True,
          "https://docs.aws.amazon.com/acm/latest/userguide/acm-limits.html"),
    Quota("cognito-user-pools", "User pools", "account and region", 1_000, True,
          "https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html"),
    Quota("rds-instances", "DB instances", "account and region", 40, True, _RDS),
    Quota("rds-parameter-groups", "DB parameter groups", "account and region", 50, True, _RDS),
    Quota("rds-subnet-groups", "DB subnet groups", "account and region", 50, True, _RDS),
    # "The maximum total storage (in GB) on EBS volumes for all Amazon RDS DB instances
    # added together" (_RDS); the used value is "the total allocated storage in the
    # account" (RDS API Reference, AccountQuota: AllocatedStorage). So it counts allocated
    # storage, not maxAllocatedStorage; autoscaling's growth counts once it is allocated.
    Quota("rds-storage-gib", "Total storage for all DB instances (GiB allocated)",
          "account and region", 100_000, True, _RDS),
    Quota("s3-buckets", "General purpose buckets", "account", 10_000, True,
          "https://docs.aws.amazon.com/AmazonS3/latest/userguide/BucketRestrictions.html"),
    Quota("secrets", "Secrets (including RDS-managed master-user secrets)", "account and region",
          500_000, False, "https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html"),
    Quota("ses-identities", "Verified identities (domains and addresses)", "account and region",
          10_000, False, "https://docs.aws.amazon.com/ses/latest/dg/quotas.html"),
    Quota("ses-configuration-sets", "Configuration sets", "account and region", 10_000, False,
          "https://docs.aws.amazon.com/ses/latest/dg/quotas.html"),
    Quota("cloudfront-tenants", "Distribution tenants (CloudFront SaaS Manager)", "account",
          10_000, True,
          "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html"),
    Quota("iam-roles", "IAM roles (none per stack: schedules use the platform's scheduler roles)",
          "account", 1_000, True,
          "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"),
    Quota("scheduler-schedules", "EventBridge Scheduler schedules", "account and region",
          10_000_000, True,
          "https://docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html"),
    Quota("ssm-parameters", "Standard parameters (one per stack, the tier named on every write)",
          "account and region", 10_000, False, "https://docs.aws.amazon.com/general/latest/gr/ssm.html"),
)  # fmt: skip
"""Default quotas a tenant stack consumes (``tenantctl capacity``); ``adjustable`` says whether
AWS raises it on request (Service Quotas)."""

SERVICE_QUOTA_CODES: dict[str, tuple[str, str]] = {
    "alb-certificates": ("elasticloadbalancing", "L-9365A611"),
    "alb-rules": ("elasticloadbalancing", "L-7EED9B64"),
    "route53-records": ("route53", "L-E209CC9F"),
    "acm-certificates": ("acm", "L-F141DD1D"),
    "cognito-user-pools": ("cognito-idp", "L-66E6DF30"),
    "rds-instances": ("rds", "L-7B6409FD"),
    "rds-parameter-groups": ("rds", "L-DE55804A"),
    "rds-subnet-groups": ("rds", "L-48C6BF61"),
    "rds-storage-gib": ("rds", "L-7ADDB58A"),
    "s3-buckets": ("s3", "L-DC2B2D3D"),
    "secrets": ("secretsmanager", "L-2F66C23C"),
}
"""Quota key -> (service code, quota code) in Service Quotas, where AWS exposes the quota
there (``tenantctl preflight`` reads the applied value); a quota without one is checked
against its documented default: SSM's parameter count (no code is published for it) and
CloudFront SaaS Manager's tenants (AWS raises those through Support, not Service Quotas).
Each code is paired with its quota's name by the Service Quotas links of "Quotas for your
Application Load Balancers" and "Quotas and constraints for Amazon RDS" (AWS
documentation) and by a generated list of adjustable quotas (gruntwork-io
terraform-aws-utilities, docs/quotas.md, 2024); Secrets Manager's by aws-eks-best-practices'
quotas page ("Secrets per Region"). Not checked against an account from here (`aws
service-quotas list-service-quotas --service-code <code>` shows them); a wrong code reads
as "not exposed" and falls back to the documented default."""

GLOBAL_QUOTA_REGION = "us-east-1"
"""Service Quotas answers for account-wide quotas (Route 53's, S3's buckets, IAM's) in
us-east-1 only."""

GLOBAL_SCOPES = frozenset({"zone", "account"})
"""The scopes of quotas that are not per region (``Quota.scope``)."""


def quota_region(quota: Quota, region: str) -> str:
    """Where Service Quotas answers for *quota* of an account working in *region*."""
    return GLOBAL_QUOTA_REGION if quota.scope in GLOBAL_SCOPES else region


SES_SANDBOX_MAX_24_HOUR_SEND = 200
SES_SANDBOX_MAX_SEND_RATE = 1
"""An SES account in the sandbox sends at most 200 messages a day, 1 a second, and only to
verified addresses. Source: "Request production access (Moving out of the Amazon SES
sandbox)", https://docs.aws.amazon.com/ses/latest/dg/request-production-access.html"""

SSM_DEFAULT_TIER_SETTING = "/ssm/parameter-store/default-parameter-tier"
SSM_TIERS = ("Standard", "Advanced", "Intelligent-Tiering")
SSM_STANDARD_PARAMETERS_PER_REGION = 10_000
"""The default tier applies to every parameter created without one (tenantctl names the
Standard tier on every write of its one settings parameter per stack, and its locks are S3
objects); Standard holds 10,000 parameters per account and region and cannot be raised,
Intelligent-Tiering moves a parameter to Advanced only when needed.
Source: "Managing parameter tiers" and "Changing the default parameter tier",
https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"""

KMS_ACTIONS_FOR_TENANTS = (
    "kms:DescribeKey",
    "kms:GenerateDataKey",
    "kms:Decrypt",
    "kms:CreateGrant",
)
"""What a role that deploys or operates tenants does with the platform key: S3 objects and
Secrets Manager values (GenerateDataKey, Decrypt), RDS storage encryption (DescribeKey,
CreateGrant). Source: "AWS KMS key policy for S3 SSE-KMS", "How Amazon RDS uses AWS KMS"."""

CLOUDFRONT_CERTIFICATE_REGION = "us-east-1"
"""CloudFront (a distribution tenant too) uses ACM certificates of US East (N. Virginia)
only (CloudFront Developer Guide, "Requirements for using SSL/TLS certificates")."""

ACM_VALIDATION_TIMEOUT_HOURS = 72
"""ACM retries DNS validation for 72 hours, then the certificate is VALIDATION_TIMED_OUT
(ACM API, CertificateDetail.Status)."""
