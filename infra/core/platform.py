"""The shared-platform contract: what a tenant stack reads from the platform stack.

Tenants run on a shared platform (VPC, load balancer, hosted zone, KMS key, the
control database, the billing event bus) that
this project does not create. Each tenant stack reads it through a Pulumi
StackReference named by ``tenants:platformStack``. ``PLATFORM_OUTPUTS`` is the
one list of outputs that stack must export; the README's platform section is
generated from it, the program checks it, and the offline plan mocks it with
``EXAMPLE_PLATFORM_OUTPUTS``.

None of these outputs may be secret: a tenant stack mixes them into names and
tags, and a secret would make everything derived from it secret too.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PLATFORM_OUTPUTS: dict[str, str] = {
    "vpcId": "Id of the VPC the tenant databases live in.",
    "databaseSubnetGroupName": "Name of the RDS DB subnet group (private subnets in at least "
    "two availability zones) every tenant database uses.",
    "databaseParameterGroupName": "Name of the RDS DB parameter group every tenant database "
    "uses: family postgres16 (the program's major version) with rds.force_ssl=1.",
    "databaseSecurityGroupIds": "List of security group ids attached to tenant databases; "
    "they admit PostgreSQL (5432) from the application tier only.",
    "httpsListenerArn": "ARN of the shared load balancer's HTTPS (443) listener. Its "
    "certificate is wildcardCertificateArn, and the platform's own wildcard host rules "
    "(*.<zoneName>, *.admin.<zoneName>) forward every tenant host to appTargetGroupArn; a "
    "tenant stack adds no rule and no certificate (a client's own domain is served by "
    "CloudFront, multitenantDistributionId).",
    "wildcardCertificateArn": "ARN of the platform's issued ACM certificate for *.<zoneName> "
    "(common name, so zoneName is at most 62 octets) and *.admin.<zoneName>, attached to the "
    "HTTPS listener; it serves every tenant's platform hosts.",
    "loadBalancerDnsName": "DNS name of the shared load balancer; alias target of the "
    "platform's wildcard host records and the origin of multitenantDistributionId.",
    "loadBalancerZoneId": "Canonical hosted zone id of the shared load balancer (for alias "
    "records).",
    "appTargetGroupArn": "ARN of the target group of the multi-tenant application; the "
    "wildcard host rules forward to it, and the application finds each host's tenant in the "
    'routing table (README, "Host routing").',
    "zoneId": "Id of the public Route 53 hosted zone of zoneName; its wildcard records "
    "(*.<zoneName>, *.admin.<zoneName>) alias the load balancer, so tenants add no host "
    "record.",
    "zoneName": "Name of that zone, without a trailing dot; must equal each tenant's "
    "tenants:baseDomain.",
    "kmsKeyArn": "ARN of the customer-managed KMS key that encrypts tenant databases, "
    "buckets, secrets and database master-user secrets.",
    "emailIdentityArn": "ARN of the platform's SES domain identity for zoneName, verified "
    "(DKIM) before any tenant deploys. Every admin user pool sends its invitations and "
    "password resets through it (Cognito refuses an identity that is not yet verified), "
    "except a live production on the client's own domain, whose own identity promote has "
    "found verified.",
    "accessLogBucketName": "Name of the S3 bucket that receives the server access logs of "
    "every tenant content bucket (same account and region; SSE-S3 encryption, since S3 "
    "cannot deliver logs to an SSE-KMS bucket; a bucket policy admitting "
    "logging.s3.amazonaws.com).",
    "operationsBucketName": "Name of the platform's S3 bucket for what tenantctl keeps across "
    "clients: each client's lock (locks/<slug>.json, taken and released with conditional "
    "writes) and the host routing table the application reads (routing/). Versioned, "
    "encrypted with kmsKeyArn, private; tenantctl and the application may read and write it.",
    "multitenantDistributionId": "Id of the platform's CloudFront multi-tenant distribution "
    "(aws.cloudfront.MultitenantDistribution) that serves clients' own portal domains: origin "
    "the load balancer over HTTPS (Host stays the origin's name, which its certificate "
    "covers), a cache policy, and a viewer-request CloudFront Function that copies the "
    "viewer's Host into the X-Tenant-Host header, which the application uses for the "
    "routing-table lookup instead of Host. Each production stack with an attached domain adds "
    "one distribution tenant to it.",
    "connectionGroupId": "Id of the platform's CloudFront connection group "
    "(aws.cloudfront.ConnectionGroup) every distribution tenant joins.",
    "connectionGroupRoutingEndpoint": "The connection group's routing endpoint (e.g. "
    "d111111abcdef8.cloudfront.net): the CNAME target a client points its portal domain at "
    "when it goes live.",
    "controlDatabaseEndpoint": "host:port of the control database (PostgreSQL) holding "
    "rollouts, their history, billing milestones and the outbox; read by tenantctl, which "
    "reaches it through TENANTCTL_CONTROL_DATABASE_URL, not by tenant stacks.",
    "billingEventBusName": "Name of the billing system's EventBridge bus that tenantctl "
    "publishes billing milestones to (TENANTCTL_BILLING_BUS); not read by tenant stacks.",
}
"""Output name -> description of every output a tenant stack reads from the platform."""

LIST_OUTPUTS = frozenset({"databaseSecurityGroupIds"})
"""Outputs whose value is a list of strings; every other output is one string."""

EXAMPLE_PLATFORM_OUTPUTS: dict[str, Any] = {
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "databaseSubnetGroupName": "platform-tenant-databases",
    "databaseParameterGroupName": "platform-postgres16-tls",
    "databaseSecurityGroupIds": ["sg-0d4e5f60718293a4b"],
    "httpsListenerArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
    "listener/app/platform/50dc6c495c0c9188/f2f7dc8efc522ab2",
    "loadBalancerDnsName": "platform-1234567890.us-east-1.elb.amazonaws.com",
    "loadBalancerZoneId": "Z35SXDOTRQ7X7K",
    "appTargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
    "targetgroup/platform-app/73e2d6bc24d8a067",
    "zoneId": "Z0123456789ABCDEFGHIJ",
    "zoneName": "tenants.example.com",
    "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "emailIdentityArn": "arn:aws:ses:us-east-1:123456789012:identity/tenants.example.com",
    "accessLogBucketName": "platform-access-logs-123456789012",
    "operationsBucketName": "platform-tenantctl-operations-123456789012",
    "multitenantDistributionId": "E1A2B3C4D5E6F7",
    "connectionGroupId": "cg_2oHf5JkLmN0pQrStUvWxYz1AbCd",
    "connectionGroupRoutingEndpoint": "d111111abcdef8.cloudfront.net",
    "controlDatabaseEndpoint": "control.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com:5432",
    "billingEventBusName": "billing",
    "wildcardCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/"
    "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
}
"""Plausible platform outputs: what the mocks and the offline plan read."""


class PlatformError(ValueError):
    """The platform stack does not provide what a tenant stack needs."""


def check_zone_name(platform_stack: str, zone_name: Any, base_domain: str) -> str:
    """Return *zone_name* when it is *base_domain*; raise ``PlatformError`` otherwise."""
    if zone_name is None:
        raise PlatformError(
            f"platform stack {platform_stack} has no output zoneName; "
            "it must export every output listed in the README's platform section"
        )
    if str(zone_name).rstrip(".") != base_domain:
        raise PlatformError(
            f"platform stack {platform_stack} serves zone {zone_name!r} but this tenant's "
            f"tenants:baseDomain is {base_domain!r}; set tenants:baseDomain to {zone_name!r} "
            "or point tenants:platformStack at the platform that serves "
            f"{base_domain!r}"
        )
    return base_domain


def require_output(platform_stack: str, outputs: Mapping[str, Any], name: str) -> Any:
    """The platform output *name*, or a ``PlatformError`` naming what is missing."""
    value = outputs.get(name)
    if value is None or value == "" or value == []:
        raise PlatformError(
            f"platform stack {platform_stack} has no output {name} "
            f"({PLATFORM_OUTPUTS.get(name, 'unknown output')})"
        )
    if name in LIST_OUTPUTS and not isinstance(value, list):
        raise PlatformError(
            f"platform stack {platform_stack}: output {name} must be a list, got {value!r}"
        )
    return value


PLATFORM_OUTPUTS_FILE = "platform-outputs.yaml"
"""Beside the stack files: each platform stack's outputs, for the offline plan."""


def platform_problem(platform_stack: str, outputs: Mapping[str, Any]) -> str | None:
    """Why *outputs* cannot serve as *platform_stack*'s outputs, or ``None``."""
    for name in PLATFORM_OUTPUTS:
        try:
            require_output(platform_stack, outputs, name)
        except PlatformError as exc:
            return str(exc)
    return None
