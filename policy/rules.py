"""Security and durability rules as plain functions: one set of rules, two runners.

Each resource rule takes ``(type, inputs, options)`` and returns what is wrong, one
message per violation; stack rules take every resource of a stack and return
``(resource, message)`` pairs. ``policy/__main__.py`` runs them under ``pulumi
preview --policy-pack policy`` (``policy.pack`` adapts them to pulumi-policy); the
tests run them over the mock-runtime plan of every stack in ``stacks/`` and of
generated edge cases, sent through the same conversion the engine's requests go through.

Inputs are what the engine sends, as ``policy.pack.engine_inputs`` hands them over:

- camelCase property names; objects as dicts, arrays as lists;
- every number a ``float``: the engine sends a protobuf ``Struct`` and pulumi-policy
  converts it with ``json_format.MessageToDict``, so a priority of 12345 arrives as 12345.0;
- secrets in plaintext (pulumi-policy unwraps them for a policy), so a message quotes an
  input's value only where that input is never secret (enumerations, names, numbers);
- ``UNKNOWN`` where the engine does not know the value yet: a preview of anything that
  refers to a resource not yet created (a bucket's id, a pool's id, a random suffix).
  Each check decides what an unknown means: a reference that the update fills in (a
  key, a bucket, a snapshot name) counts as set; a flag or an enumerated value, which the
  program sets literally, does not; content that cannot be read yet (a bucket policy
  naming its bucket's ARN) is checked when it is known, by the pack under ``pulumi up``.

Options: ``protect`` and, where the runner knows it, ``retainOnDelete`` (the engine gives
no ``retainOnDelete`` to policies, so that half of the production rules runs in the tests
only). A resource's ``dependencies`` are the logical names of the resources it depends on:
stack rules fall back on them to find a setting's bucket when its ``bucket`` is unknown.

Imports only pure logic (``infra.core``).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.core import limits, naming, replacement

Inputs = Mapping[str, Any]
Options = Mapping[str, Any]


class Unknown(enum.Enum):
    """A value the engine does not know yet (pulumi-policy's unknown sentinels)."""

    UNKNOWN = "unknown"

    def __repr__(self) -> str:
        return "<unknown until the update>"


UNKNOWN = Unknown.UNKNOWN


def _s3(kind: str, *, v2: bool = False) -> frozenset[str]:
    """The type tokens of an S3 resource, with the deprecated ``V2`` alias the SDK still has."""
    tokens = {f"aws:s3/{kind[0].lower()}{kind[1:]}:{kind}"}
    if v2:
        tokens.add(f"aws:s3/{kind[0].lower()}{kind[1:]}V2:{kind}V2")
    return frozenset(tokens)


BUCKETS = _s3("Bucket", v2=True)
PUBLIC_ACCESS_BLOCKS = _s3("BucketPublicAccessBlock")
OWNERSHIP_CONTROLS = _s3("BucketOwnershipControls")
VERSIONINGS = _s3("BucketVersioning", v2=True)
ENCRYPTIONS = _s3("BucketServerSideEncryptionConfiguration", v2=True)
BUCKET_POLICIES = _s3("BucketPolicy")
LOGGINGS = _s3("BucketLogging", v2=True)
BUCKET_SETTINGS = (
    PUBLIC_ACCESS_BLOCKS
    | OWNERSHIP_CONTROLS
    | VERSIONINGS
    | ENCRYPTIONS
    | BUCKET_POLICIES
    | LOGGINGS
)
"""A bucket's children: everything that makes it private, durable and accountable."""

DATABASE = "aws:rds/instance:Instance"
USER_POOL = "aws:cognito/userPool:UserPool"
POOL_MEMBERS = frozenset(
    {
        "aws:cognito/userGroup:UserGroup",
        "aws:cognito/user:User",
        "aws:cognito/userInGroup:UserInGroup",
    }
)
"""A user pool's groups, administrator accounts and memberships."""

TAGGABLE = frozenset(
    {
        DATABASE,
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:acm/certificate:Certificate",
        "aws:cloudfront/distributionTenant:DistributionTenant",
        "aws:lb/listenerRule:ListenerRule",
        *BUCKETS,
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:secretsmanager/secret:Secret",
        "aws:ssm/parameter:Parameter",
        USER_POOL,
        "aws:sqs/queue:Queue",
        "aws:iam/role:Role",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
    }
)
"""Every resource type the program creates that AWS can tag (an EventBridge Scheduler
schedule cannot be tagged through the provider)."""

STATEFUL = frozenset({*replacement.STATEFUL, *BUCKETS})
"""What Pulumi cannot recreate (data, accounts, credentials): the types the replacement
check guards, with the bucket's deprecated alias."""

REQUIRED_TAGS = tuple(naming.tags("x", naming.PREVIEW))

SECRET_PATTERNS = (
    re.compile(r"\b(sk|rk|pk)_live_[0-9A-Za-z]{8,}"),
    re.compile(r"\bsk_test_[0-9A-Za-z]{8,}"),
    re.compile(r"\bwhsec_[0-9A-Za-z]{6,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
)
PLAINTEXT_SECRET_KEYS = frozenset({"password", "masterPassword", "secretString"})

ENUMS: dict[tuple[str, str], frozenset[str]] = {
    (USER_POOL, "mfaConfiguration"): frozenset({"OFF", "ON", "OPTIONAL"}),
    (USER_POOL, "deletionProtection"): frozenset({"ACTIVE", "INACTIVE"}),
    ("aws:ssm/parameter:Parameter", "tier"): frozenset(
        {"Standard", "Advanced", "Intelligent-Tiering"}
    ),
    ("aws:ssm/parameter:Parameter", "type"): frozenset({"String", "StringList", "SecureString"}),
    (DATABASE, "storageType"): frozenset({"gp2", "gp3", "io1", "io2"}),
    ("aws:scheduler/schedule:Schedule", "state"): frozenset({"ENABLED", "DISABLED"}),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "treatMissingData"): frozenset(
        {"missing", "ignore", "breaching", "notBreaching"}
    ),
}
"""String values the type checker cannot see but AWS enumerates."""

LISTENER_RULE_PRIORITIES = (1, 50000)
"""ELBv2 CreateRule: ``Priority`` is an integer from 1 to 50000."""


# ------------------------------------------------------------------ reading inputs


def _dict(value: Any) -> Mapping[str, Any]:
    """*value* if it is an object; ``{}`` if absent or unknown."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    """*value* if it is an array; ``[]`` if absent or unknown."""
    return value if isinstance(value, list) else []


def _set(value: Any) -> bool:
    """Whether a reference is given: a non-empty value, or one the update fills in."""
    return value is UNKNOWN or (value is not None and value != "")


def _integer(value: Any) -> int | None:
    """A number as the engine sends it (a float), if it is integral."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


def _tags(inputs: Inputs) -> Mapping[str, Any]:
    return _dict(inputs.get("tags"))


def _is_production(resource: Resource) -> bool:
    return _tags(resource.inputs).get("stage") == naming.PRODUCTION


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _kms_default(rule: Any) -> bool:
    """Whether one server-side encryption rule is aws:kms with a key."""
    default = _dict(_dict(rule).get("applyServerSideEncryptionByDefault"))
    return default.get("sseAlgorithm") == "aws:kms" and _set(default.get("kmsMasterKeyId"))


def _kms_encrypted(configuration: Inputs) -> bool:
    """Whether a server-side encryption configuration is aws:kms with a key throughout."""
    rules = _list(configuration.get("rules"))
    return bool(rules) and all(_kms_default(rule) for rule in rules)


# ------------------------------------------------------------------ resource rules


def encryption(type_: str, inputs: Inputs, options: Options) -> list[str]:
    """Databases, secrets and buckets are encrypted with the platform's KMS key."""
    if type_ == DATABASE:
        problems = []
        if inputs.get("storageEncrypted") is not True:
            problems.append("storage is not encrypted (storageEncrypted)")
        if not _set(inputs.get("kmsKeyId")):
            problems.append("storage is not encrypted with the platform KMS key (kmsKeyId)")
        return problems
    if type_ == "aws:secretsmanager/secret:Secret" and not _set(inputs.get("kmsKeyId")):
        return ["secret is not encrypted with the platform KMS key (kmsKeyId)"]
    if type_ == "aws:sqs/queue:Queue" and not (
        inputs.get("sqsManagedSseEnabled") is True or _set(inputs.get("kmsMasterKeyId"))
    ):
        return ["queue is not encrypted at rest (sqsManagedSseEnabled or kmsMasterKeyId)"]
    if type_ in ENCRYPTIONS and not _kms_encrypted(inputs):
        return ["bucket default encryption is not aws:kms with the platform key"]
    return []


def durable_databases(type_: str, inputs: Inputs, options: Options) -> list[str]:
    """Every database, preview too, refuses deletion and leaves a final snapshot when deleted."""
    if type_ != DATABASE:
        return []
    problems = []
    if inputs.get("deletionProtection") is not True:
        problems.append("deletion protection is off (deletionProtection)")
    if inputs.get("skipFinalSnapshot") not in (False, None):  # the provider's default is False
        problems.append("no final snapshot is taken when it is deleted (skipFinalSnapshot)")
    if not _set(inputs.get("finalSnapshotIdentifier")):
        problems.append("the final snapshot has no name (finalSnapshotIdentifier)")
    return problems


def durable_buckets(type_: str, inputs: Inputs, options: Options) -> list[str]:
    """No bucket, preview's included, is deleted with the content in it."""
    if type_ in BUCKETS and inputs.get("forceDestroy") not in (False, None):
        return ["bucket would be destroyed with its content (forceDestroy)"]
    return []


def production_protected(type_: str, inputs: Inputs, options: Options) -> list[str]:
    """Production's stateful resources are protected and retained on delete."""
    if type_ not in STATEFUL or _tags(inputs).get("stage") != naming.PRODUCTION:
        return []
    problems = []
    if not options.get("protect"):
        problems.append("production stateful resource is not protected (protect)")
    if "retainOnDelete" in options and not options["retainOnDelete"]:
        problems.append("production stateful resource is not retained on delete (retainOnDelete)")
    return problems


def tagged(type_: str, inputs: Inputs, options: Options) -> list[str]:
    """Every taggable resource carries the tenant, stage and managed-by tags."""
    if type_ not in TAGGABLE:
        return []
    missing = [key for key in REQUIRED_TAGS if not _set(_tags(inputs).get(key))]
    return [f"missing tags: {', '.join(missing)}"] if missing else []


def no_plaintext_secrets(type_: str, inputs: Inputs, options: Options) -> list[str]:
    """No secret passes through Pulumi, marked secret or not (the engine shows it to policies)."""
    problems = [
        f"input {key} holds a plaintext secret"
        for key in sorted(PLAINTEXT_SECRET_KEYS & set(inputs))
    ]
    if any(p.search(text) for text in _strings(inputs) for p in SECRET_PATTERNS):
        problems.append("an input holds something shaped like a credential")
    return problems


def certificate_names(type_: str, inputs: Inputs, options: Options) -> list[str]:
    """Certificate names fit ACM's limits."""
    if type_ != "aws:acm/certificate:Certificate":
        return []
    problems = []
    name = inputs.get("domainName")
    if isinstance(name, str) and limits.octets(name) > limits.ACM_COMMON_NAME_MAX_OCTETS:
        problems.append(
            f"domainName {name!r} is {limits.octets(name)} octets; ACM allows "
            f"{limits.ACM_COMMON_NAME_MAX_OCTETS}"
        )
    for san in _list(inputs.get("subjectAlternativeNames")):
        if isinstance(san, str) and limits.octets(san) > limits.DNS_NAME_MAX_OCTETS:
            problems.append(
                f"subject alternative name {san!r} is longer than "
                f"{limits.DNS_NAME_MAX_OCTETS} octets"
            )
    return problems


def enumerated_values(type_: str, inputs: Inputs, options: Options) -> list[str]:
    """Values AWS enumerates or bounds are among those it accepts."""
    problems = [
        f"{key} = {inputs[key]!r} is not one of {', '.join(sorted(allowed))}"
        for (rtype, key), allowed in ENUMS.items()
        if rtype == type_ and key in inputs and inputs[key] not in allowed
    ]
    if type_ == "aws:rds/parameterGroup:ParameterGroup":
        family = inputs.get("family")
        if not (isinstance(family, str) and re.fullmatch(r"postgres\d+", family)):
            problems.append(f"family {family!r} is not a PostgreSQL family")
    if type_ == "aws:lb/listenerRule:ListenerRule":
        low, high = LISTENER_RULE_PRIORITIES
        priority = _integer(inputs.get("priority"))
        if priority is None or not low <= priority <= high:
            problems.append(
                f"priority {inputs.get('priority')!r} is not an integer from {low} to {high}"
            )
        values = [
            v
            for condition in _list(inputs.get("conditions"))
            for v in _list(_dict(_dict(condition).get("hostHeader")).get("values"))
        ]
        if len(values) > limits.ALB_CONDITION_VALUES_PER_RULE:
            problems.append(
                f"{len(values)} condition values; a rule holds "
                f"{limits.ALB_CONDITION_VALUES_PER_RULE}"
            )
    return problems


ResourceRule = Callable[[str, Inputs, Options], list[str]]

RESOURCE_RULES: dict[str, ResourceRule] = {
    "encryption-everywhere": encryption,
    "durable-databases": durable_databases,
    "durable-buckets": durable_buckets,
    "production-stateful-protected": production_protected,
    "tagged": tagged,
    "no-plaintext-secrets": no_plaintext_secrets,
    "certificate-name-limits": certificate_names,
    "enumerated-values": enumerated_values,
}


# --------------------------------------------------------------------- stack rules


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    inputs: Inputs
    options: Options
    dependencies: tuple[str, ...] = ()
    """Logical names of the resources this one depends on."""


Problems = list[tuple[str, str]]
StackRule = Callable[[list[Resource]], Problems]


def _children(
    owner: Resource, resources: Iterable[Resource], types: frozenset[str], key: str
) -> list[Resource]:
    """The resources of *types* whose *key* input names *owner*.

    A child names its owner by the owner's physical name (its own input of the same
    *key*) or logical name. Where either is unknown (a preview of a new stack: a
    bucket's id is known only once it exists), the child's dependency on the owner
    says it instead.
    """
    physical = owner.inputs.get(key)
    names = {owner.name, physical} if isinstance(physical, str) else {owner.name}
    found = []
    for resource in resources:
        if resource.type not in types:
            continue
        target = resource.inputs.get(key)
        if target is UNKNOWN or physical is UNKNOWN:
            mine = owner.name in resource.dependencies
        else:
            mine = isinstance(target, str) and target in names
        if mine:
            found.append(resource)
    return found


def _buckets(resources: list[Resource]) -> list[Resource]:
    return [r for r in resources if r.type in BUCKETS]


def _denies_plain_http(policy: Any) -> bool | None:
    """Whether a bucket policy denies requests without TLS; None while it is unknown."""
    if policy is UNKNOWN:
        return None
    try:
        document = json.loads(policy) if isinstance(policy, str) else policy
    except ValueError:
        return False
    statements = _dict(document).get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    for statement in _list(statements):
        condition = _dict(_dict(_dict(statement).get("Condition")).get("Bool"))
        secure = condition.get("aws:SecureTransport")
        values = secure if isinstance(secure, list) else [secure]
        if _dict(statement).get("Effect") == "Deny" and any(v in ("false", False) for v in values):
            return True
    return False


def private_tls_only_buckets(resources: list[Resource]) -> Problems:
    """Every bucket has all four public-access blocks and a policy denying non-TLS requests."""
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    problems = []
    for bucket in _buckets(resources):
        blocks = _children(bucket, resources, PUBLIC_ACCESS_BLOCKS, "bucket")
        if not any(all(b.inputs.get(f) is True for f in flags) for b in blocks):
            problems.append(
                (bucket.name, "bucket is not private: public access is not fully blocked")
            )
        denies = [
            _denies_plain_http(p.inputs.get("policy"))
            for p in _children(bucket, resources, BUCKET_POLICIES, "bucket")
        ]
        # An unknown policy (it names the bucket's ARN) is read under `pulumi up`.
        if not any(d is not False for d in denies):
            problems.append((bucket.name, "bucket does not deny requests without TLS"))
    return problems


def encrypted_buckets(resources: list[Resource]) -> Problems:
    """Every bucket has a default encryption configuration: aws:kms with a key."""
    return [
        (b.name, "bucket has no default encryption with aws:kms and a key")
        for b in _buckets(resources)
        if not any(_kms_encrypted(c.inputs) for c in _children(b, resources, ENCRYPTIONS, "bucket"))
    ]


def versioned_buckets(resources: list[Resource]) -> Problems:
    """Every bucket keeps every version of every object (versioning Enabled)."""
    return [
        (b.name, "bucket versioning is not Enabled")
        for b in _buckets(resources)
        if not any(
            _dict(v.inputs.get("versioningConfiguration")).get("status") == "Enabled"
            for v in _children(b, resources, VERSIONINGS, "bucket")
        )
    ]


def logged_buckets(resources: list[Resource]) -> Problems:
    """Every bucket has server access logging to another bucket: who read, wrote or deleted."""
    problems = []
    for bucket in _buckets(resources):
        physical = bucket.inputs.get("bucket")
        targets = [
            c.inputs.get("targetBucket") for c in _children(bucket, resources, LOGGINGS, "bucket")
        ]
        itself = (physical, bucket.name)  # logging into the bucket itself logs its own logs
        if not any(t is UNKNOWN or (_set(t) and t not in itself) for t in targets):
            problems.append((bucket.name, "bucket has no server access logging to a log bucket"))
    return problems


def production_children_protected(resources: list[Resource]) -> Problems:
    """A production bucket's settings are protected and retained like the bucket; a
    production user pool's groups, accounts and memberships are retained like the pool.

    Retention is checked where the runner knows it (the tests over mock plans).
    """
    problems = []
    for bucket in filter(_is_production, _buckets(resources)):
        for child in _children(bucket, resources, BUCKET_SETTINGS, "bucket"):
            if not child.options.get("protect"):
                problems.append(
                    (child.name, f"setting of production bucket {bucket.name} is not protected")
                )
            if "retainOnDelete" in child.options and not child.options["retainOnDelete"]:
                problems.append(
                    (
                        child.name,
                        f"setting of production bucket {bucket.name} is not retained on delete",
                    )
                )
    pools = [r for r in resources if r.type == USER_POOL and _is_production(r)]
    for pool in pools:
        # A member names its pool by the id AWS gives it, never in the pool's inputs.
        for member in resources:
            if (
                member.type in POOL_MEMBERS
                and pool.name in member.dependencies
                and "retainOnDelete" in member.options
                and not member.options["retainOnDelete"]
            ):
                problems.append(
                    (member.name, f"member of production user pool {pool.name} is not retained")
                )
    return problems


STACK_RULES: dict[str, StackRule] = {
    "private-tls-only-buckets": private_tls_only_buckets,
    "encrypted-buckets": encrypted_buckets,
    "versioned-buckets": versioned_buckets,
    "logged-buckets": logged_buckets,
    "production-children-protected": production_children_protected,
}


def violations(resources: list[Resource]) -> list[str]:
    """``"<resource>: <rule>: <what>"`` for every rule every resource breaks."""
    found = [
        f"{r.name}: {rule}: {message}"
        for r in resources
        for rule, check in RESOURCE_RULES.items()
        for message in check(r.type, r.inputs, r.options)
    ]
    for rule, stack_check in STACK_RULES.items():
        found += [f"{name}: {rule}: {message}" for name, message in stack_check(resources)]
    return found
