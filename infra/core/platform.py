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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.core.integrations.ingest import INGEST_ENDPOINT_OUTPUT, ingest_endpoint_problem

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
    "previewDatabasePools": "List of the shared PostgreSQL servers previews live on, each "
    "{name, endpoint, masterSecretArn, capacity}: name (what tenants:databasePool records; "
    "1-32 of a-z, 0-9 and -), endpoint (host:port), masterSecretArn (the Secrets Manager "
    "secret with its master username and password, which creates roles and databases; "
    "SSL required) and capacity (how many previews it holds; about 40 on a db.t4g.medium). "
    "tenantctl create places each new preview on the least-full pool with room.",
    "productionDatabasePools": "List of the shared Multi-AZ PostgreSQL servers of the "
    "pooled production tier (a production with tenants:databaseTier pooled), each {name, "
    "endpoint, masterSecretArn, capacity} as in previewDatabasePools (capacity: about 5 "
    "productions on a Multi-AZ db.t4g.medium). tenantctl create places a pooled production "
    "on the least-full one with room.",
    "previewSchedulerRoleArn": "ARN of the IAM role EventBridge Scheduler assumes to deliver "
    "the poll messages of every preview's pulled integrations: trusted by "
    "scheduler.amazonaws.com (condition aws:SourceAccount), allowed sqs:SendMessage on the "
    'preview integration queues only (README, "Scheduler roles"). Read by a preview '
    "with a pulled integration.",
    "productionSchedulerRoleArn": "ARN of the same role for productions, allowed "
    "sqs:SendMessage on the production integration queues only. Read by a production "
    "with a pulled integration.",
    INGEST_ENDPOINT_OUTPUT: "Base URL (https://, scheme and host only) of the platform's "
    "one ingest endpoint for pushed integrations. One wildcard route on it (/v1/push/*) "
    "serves every client's pushes, so a push integration adds no route or rule "
    '(README, "Push ingest route"); each push integration\'s pushUrl is this URL followed '
    "by /v1/push/<client>/<stage>/<integration>. Read by a stack with a pushed integration.",
}
"""Output name -> description of every output a tenant stack reads from the platform."""

OPTIONAL_OUTPUTS = frozenset(
    {
        "productionDatabasePools",
        "previewSchedulerRoleArn",
        "productionSchedulerRoleArn",
        INGEST_ENDPOINT_OUTPUT,
    }
)
"""Outputs only some stacks read (a pooled production, a pulled or pushed integration): a
platform without them serves every other stack, and a stack that needs one fails its
plan naming it."""

LIST_OUTPUTS = frozenset({"databaseSecurityGroupIds"})
"""Outputs whose value is a list of strings."""

_POOL_FIELDS: dict[str, type] = {
    "name": str,
    "endpoint": str,
    "masterSecretArn": str,
    "capacity": int,
}
OBJECT_LIST_OUTPUTS: dict[str, dict[str, type]] = {
    "previewDatabasePools": _POOL_FIELDS,
    "productionDatabasePools": _POOL_FIELDS,
}
"""Outputs whose value is a list of objects: output -> each object's fields and their type.
Every other output (neither here nor in ``LIST_OUTPUTS``) is one string."""

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
    "previewDatabasePools": [
        {
            "name": "previews-1",
            "endpoint": "previews-1.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com:5432",
            "masterSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
            "rds!db-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9-AbCdEf",
            "capacity": 40,
        }
    ],
    "productionDatabasePools": [
        {
            "name": "production-1",
            "endpoint": "production-1.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com:5432",
            "masterSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
            "rds!db-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f9a0-BcDeFg",
            "capacity": 5,
        }
    ],
    "previewSchedulerRoleArn": "arn:aws:iam::123456789012:role/platform-scheduler-preview",
    "productionSchedulerRoleArn": "arn:aws:iam::123456789012:role/platform-scheduler-production",
    INGEST_ENDPOINT_OUTPUT: "https://ingest.tenants.example.com",
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
    if name == INGEST_ENDPOINT_OUTPUT and (problem := ingest_endpoint_problem(value)):
        raise PlatformError(f"platform stack {platform_stack}: output {name} {problem}")
    if name in OBJECT_LIST_OUTPUTS:
        problem = object_list_problem(value, OBJECT_LIST_OUTPUTS[name])
        if problem is not None:
            raise PlatformError(f"platform stack {platform_stack}: output {name} {problem}")
    return value


def object_list_problem(value: Any, fields: Mapping[str, type]) -> str | None:
    """Why *value* is not a list of objects with exactly *fields* (of their types), or None."""
    shape = "{" + ", ".join(fields) + "}"
    if not isinstance(value, list):
        return f"must be a list of {shape} objects, got {value!r}"
    for index, item in enumerate(value):
        if not isinstance(item, Mapping) or set(item) != set(fields):
            return f"[{index}] must be an object with exactly the fields {shape}, got {item!r}"
        for key, kind in fields.items():
            if _typed(item[key], kind) is None:
                return f"[{index}].{key} must be a {kind.__name__}, got {item[key]!r}"
    return None


def _typed(value: Any, kind: type) -> Any:
    """*value* as *kind*, or ``None``. A whole float is an int: Pulumi carries numbers as
    floats (protobuf ``Struct``), so a stack reference reads ``40`` as ``40.0``; a bool is
    never a number (a capacity of ``true`` is a mistake, not 1)."""
    if isinstance(value, bool):
        return None
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, kind) else None


PLATFORM_OUTPUTS_FILE = "platform-outputs.yaml"
"""Beside the stack files: each platform stack's outputs, for the offline plan."""


def platform_problem(platform_stack: str, outputs: Mapping[str, Any]) -> str | None:
    """Why *outputs* cannot serve as *platform_stack*'s outputs, or ``None``."""
    for name in PLATFORM_OUTPUTS:
        if name in OPTIONAL_OUTPUTS and outputs.get(name) is None:
            continue
        try:
            require_output(platform_stack, outputs, name)
        except PlatformError as exc:
            return str(exc)
    return None


# ----------------------------------------------------------- pooled preview databases

POOL_NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?\Z")
"""A pool's name: 1-32 of a-z, 0-9 and -, not starting or ending with -."""


@dataclass(frozen=True)
class PoolServer:
    """What one pool server is, for cost and capacity: the platform owns it, so the
    contract names only its endpoint and capacity, and the model assumes this."""

    instance_class: str
    multi_az: bool
    storage_gb: int
    managed_master_secret: bool = True
    """RDS keeps its master password in a secret (``masterSecretArn``)."""


REFERENCE_POOL_SERVERS: dict[str, PoolServer] = {
    "preview": PoolServer("db.t4g.medium", multi_az=False, storage_gb=100),
    "production": PoolServer("db.t4g.medium", multi_az=True, storage_gb=100),
}
"""Stage -> the server a pool's ``capacity`` is sized for. Previews: a db.t4g.medium,
Single-AZ (previews need no standby), 100 GB gp3 (about 40 previews of a few hundred MB,
three databases each, with room to grow). The pooled production tier: a Multi-AZ
db.t4g.medium, 100 GB (about 5 small productions, each with its standby and the
server's automated backups)."""

POOL_OUTPUTS: dict[str, str] = {
    "preview": "previewDatabasePools",
    "production": "productionDatabasePools",
}
"""Stage -> the platform output listing that stage's pool servers."""

SCHEDULER_ROLE_OUTPUTS: dict[str, str] = {
    "preview": "previewSchedulerRoleArn",
    "production": "productionSchedulerRoleArn",
}
"""Stage -> the platform output naming the role that stage's integration schedules use:
one role per stage, so a preview's schedule can never send to a production queue."""


@dataclass(frozen=True)
class DatabasePool:
    """One shared PostgreSQL server previews live on (an item of ``previewDatabasePools``)."""

    name: str
    endpoint: str
    """``host:port``."""
    master_secret_arn: str
    capacity: int

    @property
    def address(self) -> str:
        return self.endpoint.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])


def database_pools(
    platform_stack: str, outputs: Mapping[str, Any], stage: str = "preview"
) -> list[DatabasePool]:
    """The platform's database pools for *stage* (``POOL_OUTPUTS``), checked: names unique
    and well formed, endpoints ``host:port``, capacities positive; a ``PlatformError``
    otherwise."""
    output = POOL_OUTPUTS[stage]
    items = require_output(platform_stack, outputs, output)
    pools: list[DatabasePool] = []
    for index, item in enumerate(items):
        where = f"platform stack {platform_stack}: {output}[{index}]"
        name, endpoint, capacity = item["name"], item["endpoint"], _typed(item["capacity"], int)
        if not POOL_NAME_PATTERN.match(name):
            raise PlatformError(f"{where}.name {name!r} must be 1-32 of a-z, 0-9 and -")
        if any(p.name == name for p in pools):
            raise PlatformError(f"{where}.name {name!r} is listed twice; each pool once")
        host, _, port = endpoint.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise PlatformError(f"{where}.endpoint {endpoint!r} must be host:port")
        if capacity < 1:
            raise PlatformError(f"{where}.capacity must be at least 1, got {capacity}")
        pools.append(DatabasePool(name, endpoint, item["masterSecretArn"], capacity))
    return pools


def find_pool(platform_stack: str, pools: list[DatabasePool], name: str) -> DatabasePool:
    """The pool called *name*; a ``PlatformError`` listing the pools there are otherwise."""
    for pool in pools:
        if pool.name == name:
            return pool
    known = ", ".join(p.name for p in pools)
    raise PlatformError(
        f"platform stack {platform_stack} has no preview database pool {name!r} "
        f"(its pools: {known})"
    )


def choose_pool(pools: list[DatabasePool], placed: Mapping[str, int]) -> DatabasePool | None:
    """Where a new preview goes: the least-full pool with room (by share of capacity, then
    name, so the choice is deterministic), or ``None`` when every pool is full.

    *placed* counts the previews recorded on each pool (``tenants:databasePool``)."""
    with_room = [p for p in pools if placed.get(p.name, 0) < p.capacity]
    if not with_room:
        return None
    return min(with_room, key=lambda p: (placed.get(p.name, 0) / p.capacity, p.name))
