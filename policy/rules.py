"""Security and durability rules as plain functions: one set of rules, two runners.

Each resource rule takes ``(type, inputs, options)`` in the engine's wire form
(camelCase property names; options ``protect`` and, where the runner knows it,
``retainOnDelete``) and returns what is wrong, one message per violation. Stack
rules take every resource of a stack. ``policy/__main__.py`` runs them under
``pulumi preview --policy-pack policy``; the tests run them over the
mock-runtime plan of every stack in ``stacks/`` and of generated edge cases.

Imports only pure logic (``infra.core``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.core import limits, naming

Inputs = Mapping[str, Any]
Options = Mapping[str, Any]

TAGGABLE = frozenset(
    {
        "aws:rds/instance:Instance",
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:acm/certificate:Certificate",
        "aws:lb/listenerRule:ListenerRule",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:secretsmanager/secret:Secret",
        "aws:ssm/parameter:Parameter",
        "aws:cognito/userPool:UserPool",
    }
)
"""Every resource type the program creates that AWS can tag."""

STATEFUL = frozenset(
    {
        "aws:rds/instance:Instance",
        "aws:s3/bucket:Bucket",
        "aws:cognito/userPool:UserPool",
        "aws:secretsmanager/secret:Secret",
    }
)
"""What Pulumi cannot recreate: data, accounts, credentials."""

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
    ("aws:cognito/userPool:UserPool", "mfaConfiguration"): frozenset({"OFF", "ON", "OPTIONAL"}),
    ("aws:cognito/userPool:UserPool", "deletionProtection"): frozenset({"ACTIVE", "INACTIVE"}),
    ("aws:ssm/parameter:Parameter", "tier"): frozenset(
        {"Standard", "Advanced", "Intelligent-Tiering"}
    ),
    ("aws:ssm/parameter:Parameter", "type"): frozenset({"String", "StringList", "SecureString"}),
    ("aws:rds/instance:Instance", "storageType"): frozenset({"gp2", "gp3", "io1", "io2"}),
}
"""String values the type checker cannot see but AWS enumerates."""


def _tags(inputs: Inputs) -> Mapping[str, Any]:
    tags = inputs.get("tags")
    return tags if isinstance(tags, Mapping) else {}


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


# ------------------------------------------------------------------ resource rules


def encryption(type_: str, inputs: Inputs, options: Options) -> list[str]:
    if type_ == "aws:rds/instance:Instance":
        problems = []
        if inputs.get("storageEncrypted") is not True:
            problems.append("storage is not encrypted (storageEncrypted)")
        if not inputs.get("kmsKeyId"):
            problems.append("storage is not encrypted with the platform KMS key (kmsKeyId)")
        return problems
    if type_ == "aws:secretsmanager/secret:Secret" and not inputs.get("kmsKeyId"):
        return ["secret is not encrypted with the platform KMS key (kmsKeyId)"]
    if (
        type_
        == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ):
        for rule in inputs.get("rules") or []:
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            if default.get("sseAlgorithm") != "aws:kms" or not default.get("kmsMasterKeyId"):
                return ["bucket default encryption is not aws:kms with the platform key"]
    return []


def production_protected(type_: str, inputs: Inputs, options: Options) -> list[str]:
    if type_ not in STATEFUL or _tags(inputs).get("stage") != naming.PRODUCTION:
        return []
    problems = []
    if not options.get("protect"):
        problems.append("production stateful resource is not protected (protect)")
    if "retainOnDelete" in options and not options["retainOnDelete"]:
        problems.append("production stateful resource is not retained on delete (retainOnDelete)")
    return problems


def tagged(type_: str, inputs: Inputs, options: Options) -> list[str]:
    if type_ not in TAGGABLE:
        return []
    missing = [key for key in REQUIRED_TAGS if not _tags(inputs).get(key)]
    return [f"missing tags: {', '.join(missing)}"] if missing else []


def no_plaintext_secrets(type_: str, inputs: Inputs, options: Options) -> list[str]:
    problems = [
        f"input {key} holds a plaintext secret" for key in PLAINTEXT_SECRET_KEYS & set(inputs)
    ]
    if any(p.search(text) for text in _strings(inputs) for p in SECRET_PATTERNS):
        problems.append("an input holds something shaped like a credential")
    return problems


def certificate_names(type_: str, inputs: Inputs, options: Options) -> list[str]:
    if type_ != "aws:acm/certificate:Certificate":
        return []
    problems = []
    name = str(inputs.get("domainName", ""))
    if limits.octets(name) > limits.ACM_COMMON_NAME_MAX_OCTETS:
        problems.append(
            f"domainName {name!r} is {limits.octets(name)} octets; ACM allows "
            f"{limits.ACM_COMMON_NAME_MAX_OCTETS}"
        )
    for san in inputs.get("subjectAlternativeNames") or []:
        if limits.octets(str(san)) > limits.DNS_NAME_MAX_OCTETS:
            problems.append(f"subject alternative name {san!r} is longer than 253 octets")
    return problems


def enumerated_values(type_: str, inputs: Inputs, options: Options) -> list[str]:
    problems = [
        f"{key} = {inputs[key]!r} is not one of {', '.join(sorted(allowed))}"
        for (rtype, key), allowed in ENUMS.items()
        if rtype == type_ and key in inputs and inputs[key] not in allowed
    ]
    if type_ == "aws:rds/parameterGroup:ParameterGroup" and not re.fullmatch(
        r"postgres\d+", str(inputs.get("family", ""))
    ):
        problems.append(f"family {inputs.get('family')!r} is not a PostgreSQL family")
    if type_ == "aws:lb/listenerRule:ListenerRule":
        priority = inputs.get("priority")
        if not isinstance(priority, int) or not 1 <= priority <= 50000:
            problems.append(f"priority {priority!r} is outside 1-50000")
        values = [
            v
            for condition in inputs.get("conditions") or []
            for v in (condition.get("hostHeader") or {}).get("values") or []
        ]
        if len(values) > limits.ALB_CONDITION_VALUES_PER_RULE:
            problems.append(f"{len(values)} condition values; a rule holds 5")
    return problems


ResourceRule = Callable[[str, Inputs, Options], list[str]]

RESOURCE_RULES: dict[str, ResourceRule] = {
    "encryption-everywhere": encryption,
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


def private_tls_only_buckets(resources: list[Resource]) -> list[tuple[str, str]]:
    """Every bucket has all four public-access blocks and a policy denying non-TLS requests."""
    buckets = {r.name: r for r in resources if r.type == "aws:s3/bucket:Bucket"}
    blocks = [r for r in resources if r.type.endswith("BucketPublicAccessBlock")]
    policies = [r for r in resources if r.type == "aws:s3/bucketPolicy:BucketPolicy"]
    problems = []
    for name, bucket in buckets.items():
        physical = bucket.inputs.get("bucket")
        mine = [b for b in blocks if b.inputs.get("bucket") in (physical, name)]
        flags = (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
        if not mine or not all(mine[0].inputs.get(f) is True for f in flags):
            problems.append((name, "bucket is not private: public access is not fully blocked"))
        texts = [
            str(p.inputs.get("policy", ""))
            for p in policies
            if p.inputs.get("bucket") in (physical, name)
        ]
        if not any('"aws:SecureTransport": "false"' in t and '"Deny"' in t for t in texts):
            problems.append((name, "bucket does not deny requests without TLS"))
    return problems


STACK_RULES = {"private-tls-only-buckets": private_tls_only_buckets}


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
