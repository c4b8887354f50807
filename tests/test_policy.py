"""The policy pack's rules over the mock-runtime plan of every stack and of edge cases.

Every plan reaches the rules as the engine sends it: its inputs marshalled into a
protobuf ``Struct`` and through pulumi-policy's own analyzer (``tests/policy_engine.py``),
so numbers are floats, secrets unwrapped and unknowns the engine's sentinels.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY

from infra.core import naming
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS
from infra.core.spec import ROLES, TenantSpec, parse_spec
from infra.ops.stacks.stackfiles import read_spec, tenants
from infra.program.plan import PlannedResource, StackPlan, plan_stack
from policy import rules
from tests import policy_engine
from tests.helpers import STACKS, demo_data

LONGEST_BASE = "b" * 20 + "." + "c" * 37 + ".edu"  # 62 octets: *.<base> is 64
LONGEST_PORTAL = "p" * 30 + "." + "q" * 29 + ".edu"  # 64 octets

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
COGNITO_USER = "aws:cognito/user:User"


def resources(
    plan: StackPlan, unknowns: policy_engine.Unknowns | None = None
) -> list[rules.Resource]:
    return policy_engine.sdk_resources(plan, unknowns)


def plan_of(spec: TenantSpec) -> StackPlan:
    return plan_stack(
        spec, platform_outputs={**EXAMPLE_PLATFORM_OUTPUTS, "zoneName": spec.base_domain}
    )


def stack_specs() -> list[TenantSpec]:
    specs = [
        read_spec(STACKS, slug, stage)
        for slug, stages in tenants(STACKS).items()
        for stage in stages
    ]
    return specs + [s.model_copy(update={"live": True}) for s in specs if s.stage == "production"]


def edge_specs() -> list[TenantSpec]:
    cases = []
    for stage in naming.STAGES:
        data: dict[str, Any] = {**demo_data(stage), "slug": "z" * naming.SLUG_MAX_LENGTH}
        data["baseDomain"] = LONGEST_BASE
        data["admins"] = [
            {"email": f"{role}@example.edu", "name": role.title(), "role": role} for role in ROLES
        ]
        if stage == naming.PRODUCTION:
            data["portalDomain"] = LONGEST_PORTAL
            cases.append(parse_spec({**data, "live": True}))
        else:
            data.pop("portalDomain", None)
        cases.append(parse_spec(data))
    return cases


@pytest.mark.parametrize(
    "spec", stack_specs() + edge_specs(), ids=lambda s: f"{s.stack_name}{'-live' if s.live else ''}"
)
def test_every_stack_and_edge_case_passes_the_policy_pack(spec: TenantSpec) -> None:
    assert rules.violations(resources(plan_of(spec))) == []


# ------------------------------------------------------------ changing a plan


@pytest.fixture(scope="module")
def production() -> StackPlan:
    return plan_of(read_spec(STACKS, "demo", "production"))


@pytest.fixture(scope="module")
def preview() -> StackPlan:
    return plan_of(read_spec(STACKS, "demo", "preview"))


def _broken(
    plan: StackPlan,
    type_: str,
    *,
    inputs: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    only: str | None = None,
    **options: bool,
) -> StackPlan:
    """*plan* with every resource of *type_* (or only the one named *only*) changed."""
    out = []
    for r in plan.resources:
        if r.type == type_ and only in (None, r.name):
            changed = {**r.inputs, **(inputs or {})}
            for key in drop:
                changed.pop(key, None)
            r = dataclasses.replace(r, inputs=changed, **options)
        out.append(r)
    return dataclasses.replace(plan, resources=out)


def _without(plan: StackPlan, type_: str) -> StackPlan:
    return dataclasses.replace(plan, resources=[r for r in plan.resources if r.type != type_])


def _bucket(plan: StackPlan) -> PlannedResource:
    (bucket,) = plan.of_type(BUCKET)
    return bucket


def _logged(plan: StackPlan, type_: str = LOGGING) -> StackPlan:
    """*plan* with server access logging of its bucket, as the program declares it."""
    bucket = _bucket(plan)
    logging = PlannedResource(
        type=type_,
        name=f"{bucket.name}-test-logging",
        parent=bucket.parent,
        inputs={
            "bucket": bucket.inputs["bucket"],
            "targetBucket": EXAMPLE_PLATFORM_OUTPUTS["accessLogBucketName"],
            "targetPrefix": f"{bucket.inputs['bucket']}/",
        },
        custom=True,
        protect=bucket.protect,
        retain_on_delete=bucket.retain_on_delete,
        dependencies=(bucket.name,),
    )
    return dataclasses.replace(plan, resources=[*_without(plan, LOGGING).resources, logging])


def _held(plan: StackPlan) -> StackPlan:
    """*plan* with its bucket's settings protected and retained and its pool's members
    retained, as production declares them."""
    for type_ in rules.BUCKET_SETTINGS:
        plan = _broken(plan, type_, protect=True, retain_on_delete=True)
    for type_ in rules.POOL_MEMBERS:
        plan = _broken(plan, type_, retain_on_delete=True)
    return plan


def _durable(plan: StackPlan) -> StackPlan:
    """*plan* with the settings the durability rules ask of every stack."""
    plan = _broken(
        plan,
        rules.DATABASE,
        inputs={
            "deletionProtection": True,
            "skipFinalSnapshot": False,
            "finalSnapshotIdentifier": "demo-db-final-0a1b2c3d",
        },
    )
    return _logged(_broken(plan, BUCKET, drop=("forceDestroy",)))


def introduced(base: StackPlan, broken: StackPlan) -> list[str]:
    """The violations *broken* has that *base* has not: what one change brought."""
    before = set(rules.violations(resources(base)))
    return [v for v in rules.violations(resources(broken)) if v not in before]


# ------------------------------------------------------- what the engine sends


def test_numbers_reach_the_rules_as_the_engine_sends_them(production: StackPlan) -> None:
    (db,) = [r for r in resources(production) if r.type == "aws:rds/instance:Instance"]

    assert type(db.inputs["allocatedStorage"]) is float


LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"


@pytest.fixture(scope="module")
def with_rule(production: StackPlan) -> StackPlan:
    """Production plus a host rule as a platform (or an older program) would add: tenant
    stacks have none since routing is by wildcard, but the rule stays checked."""
    rule = PlannedResource(
        type=LISTENER_RULE,
        name="demo-production-domains-rule",
        parent="demo-production-domains",
        inputs={
            "listenerArn": EXAMPLE_PLATFORM_OUTPUTS["httpsListenerArn"],
            "priority": 17746,
            "conditions": [{"hostHeader": {"values": ["demo.tenants.example.com"]}}],
            "actions": [{"type": "forward", "targetGroupArn": "arn:aws:elb:x"}],
            "tags": production.named("demo-production-portal-bucket").inputs["tags"],
        },
        custom=True,
    )
    return dataclasses.replace(production, resources=[*production.resources, rule])


@pytest.mark.parametrize("priority", [1, 50000, 17746])
def test_a_listener_rule_priority_in_range_passes(with_rule: StackPlan, priority: int) -> None:
    assert (
        introduced(with_rule, _broken(with_rule, LISTENER_RULE, inputs={"priority": priority}))
        == []
    )


@pytest.mark.parametrize(
    ("priority", "shown"), [(0, "0.0"), (50001, "50001.0"), (17.5, "17.5"), ("17", "'17'")]
)
def test_a_listener_rule_priority_out_of_range_or_not_whole_fails(
    with_rule: StackPlan, priority: Any, shown: str
) -> None:
    broken = _broken(with_rule, LISTENER_RULE, inputs={"priority": priority})

    assert introduced(with_rule, broken) == [
        f"demo-production-domains-rule: enumerated-values: priority {shown} is not "
        "an integer from 1 to 50000"
    ]


def test_a_credential_deep_in_a_list_fails(production: StackPlan) -> None:
    broken = _broken(
        production,
        "aws:sesv2/configurationSet:ConfigurationSet",
        inputs={"suppressionOptions": {"x": [{"name": "x", "tags": ["sk_live_abcdef123456"]}]}},
    )

    assert introduced(production, broken) == [
        "demo-production-email-configuration-set: no-plaintext-secrets: "
        "an input holds something shaped like a credential"
    ]


def test_a_credential_marked_secret_still_fails_and_is_never_quoted(
    production: StackPlan,
) -> None:
    # The engine marks a secret; pulumi-policy hands its plaintext to every policy.
    credential = "sk_live_abcdef123456"
    secret = {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": credential}
    broken = _broken(
        production, "aws:secretsmanager/secret:Secret", inputs={"secretString": secret}
    )

    found = introduced(production, broken)

    assert found == [
        "demo-production-payments-credentials: no-plaintext-secrets: "
        "input secretString holds a plaintext secret",
        "demo-production-payments-credentials: no-plaintext-secrets: "
        "an input holds something shaped like a credential",
    ]
    assert credential not in " ".join(found)


def unknown_until_created(resource: PlannedResource) -> set[str]:
    """What the first preview of a new stack cannot know: the ids and attributes AWS gives
    the resources this one refers to (a bucket's id and ARN, a pool's id, a random suffix)."""
    computed = {"bucket", "policy", "userPoolId", "finalSnapshotIdentifier"}
    if resource.type == BUCKET:
        computed -= {"bucket"}  # its own name, given
    return computed & set(resource.inputs)


@pytest.mark.parametrize("stage", naming.STAGES)
def test_what_a_first_preview_cannot_know_changes_no_verdict(stage: str) -> None:
    plan = plan_of(read_spec(STACKS, "demo", stage))
    first_preview = resources(plan, unknown_until_created)

    assert any(r.inputs.get("bucket") is rules.UNKNOWN for r in first_preview)
    assert rules.violations(first_preview) == rules.violations(resources(plan))


def test_a_setting_whose_bucket_is_unknown_still_counts_for_its_bucket(
    production: StackPlan,
) -> None:
    broken = _broken(production, PUBLIC_ACCESS, inputs={"restrictPublicBuckets": False})
    before = set(rules.violations(resources(production, unknown_until_created)))

    found = rules.violations(resources(broken, unknown_until_created))

    assert [v for v in found if v not in before] == [
        "demo-production-portal-bucket: private-tls-only-buckets: "
        "bucket is not private: public access is not fully blocked"
    ]


def test_a_flag_the_engine_does_not_know_fails(production: StackPlan) -> None:
    broken = _durable(production)
    found = rules.violations(
        resources(
            broken,
            lambda r: {"deletionProtection"} if r.type == rules.DATABASE else set(),
        )
    )

    assert (
        "demo-production-database-instance: durable-databases: "
        "deletion protection is off (deletionProtection)"
    ) in found


# ------------------------------------------------------------- broken cases


def test_an_unprotected_production_bucket_fails_naming_resource_and_rule(
    production: StackPlan,
) -> None:
    broken = _broken(production, BUCKET, protect=False)

    assert introduced(production, broken) == [
        "demo-production-portal-bucket: production-stateful-protected: "
        "production stateful resource is not protected (protect)"
    ]


def test_a_public_bucket_fails_naming_resource_and_rule(production: StackPlan) -> None:
    broken = _broken(production, PUBLIC_ACCESS, inputs={"restrictPublicBuckets": False})

    assert introduced(production, broken) == [
        "demo-production-portal-bucket: private-tls-only-buckets: "
        "bucket is not private: public access is not fully blocked"
    ]


def test_a_bucket_without_a_public_access_block_fails(production: StackPlan) -> None:
    assert introduced(production, _without(production, PUBLIC_ACCESS)) == [
        "demo-production-portal-bucket: private-tls-only-buckets: "
        "bucket is not private: public access is not fully blocked"
    ]


def test_a_bucket_policy_allowing_plain_http_fails(production: StackPlan) -> None:
    broken = _broken(production, BUCKET_POLICY, inputs={"policy": '{"Statement": []}'})

    assert introduced(production, broken) == [
        "demo-production-portal-bucket: private-tls-only-buckets: "
        "bucket does not deny requests without TLS"
    ]


def test_a_missing_tag_fails_naming_resource_and_rule(production: StackPlan) -> None:
    broken = _broken(production, rules.DATABASE, drop=("tags",))

    assert introduced(production, broken) == [
        "demo-production-database-instance: tagged: missing tags: tenant, stage, managed-by"
    ]


def test_a_plaintext_credential_in_an_input_fails(production: StackPlan) -> None:
    broken = _broken(
        production,
        "aws:secretsmanager/secret:Secret",
        inputs={"description": "key sk_live_abcdef123456"},
    )

    assert [v.split(": ")[1] for v in introduced(production, broken)] == ["no-plaintext-secrets"]


def test_an_unknown_mfa_setting_fails(production: StackPlan) -> None:
    broken = _broken(
        production, "aws:cognito/userPool:UserPool", inputs={"mfaConfiguration": "REQUIRED"}
    )

    assert [v.split(": ")[1] for v in introduced(production, broken)] == ["enumerated-values"]


DATABASE_BREAKS: list[tuple[dict[str, Any], str]] = [
    ({"drop": ("deletionProtection",)}, "deletion protection is off (deletionProtection)"),
    ({"inputs": {"deletionProtection": False}}, "deletion protection is off (deletionProtection)"),
    (
        {"inputs": {"skipFinalSnapshot": True}},
        "no final snapshot is taken when it is deleted (skipFinalSnapshot)",
    ),
    (
        {"drop": ("finalSnapshotIdentifier",)},
        "the final snapshot has no name (finalSnapshotIdentifier)",
    ),
]


@pytest.mark.parametrize("stage", naming.STAGES)
@pytest.mark.parametrize(("change", "message"), DATABASE_BREAKS)
def test_a_database_that_a_delete_would_lose_fails(
    stage: str, change: dict[str, Any], message: str
) -> None:
    # The preview as one created before pools (on an instance of its own): a pooled
    # preview's databases are on the platform's server, with no instance to check.
    spec = read_spec(STACKS, "demo", stage).model_copy(update={"database_pool": None})
    base = _durable(plan_of(spec))
    broken = _broken(base, rules.DATABASE, **change)

    assert introduced(base, broken) == [
        f"demo-{stage}-database-instance: durable-databases: {message}"
    ]


@pytest.mark.parametrize("stage", naming.STAGES)
def test_a_bucket_destroyed_with_its_content_fails(stage: str) -> None:
    base = _durable(plan_of(read_spec(STACKS, "demo", stage)))
    broken = _broken(base, BUCKET, inputs={"forceDestroy": True})

    assert introduced(base, broken) == [
        f"demo-{stage}-portal-bucket: durable-buckets: "
        "bucket would be destroyed with its content (forceDestroy)"
    ]


def test_a_bucket_without_default_encryption_fails(production: StackPlan) -> None:
    assert introduced(production, _without(production, ENCRYPTION)) == [
        "demo-production-portal-bucket: encrypted-buckets: "
        "bucket has no default encryption with aws:kms and a key"
    ]


def test_a_bucket_encrypted_without_kms_fails(production: StackPlan) -> None:
    aes = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    broken = _broken(production, ENCRYPTION, inputs={"rules": aes})

    assert introduced(production, broken) == [
        "demo-production-portal-encryption: encryption-everywhere: "
        "bucket default encryption is not aws:kms with the platform key",
        "demo-production-portal-bucket: encrypted-buckets: "
        "bucket has no default encryption with aws:kms and a key",
    ]


def test_an_encryption_configuration_without_rules_fails(production: StackPlan) -> None:
    broken = _broken(production, ENCRYPTION, inputs={"rules": []})

    assert introduced(production, broken) == [
        "demo-production-portal-encryption: encryption-everywhere: "
        "bucket default encryption is not aws:kms with the platform key",
        "demo-production-portal-bucket: encrypted-buckets: "
        "bucket has no default encryption with aws:kms and a key",
    ]


@pytest.mark.parametrize(
    "break_",
    [lambda p: _without(p, VERSIONING), lambda p: _suspended(p)],
    ids=["none", "suspended"],
)
def test_a_bucket_not_versioned_fails(
    production: StackPlan, break_: Callable[[StackPlan], StackPlan]
) -> None:
    assert introduced(production, break_(production)) == [
        "demo-production-portal-bucket: versioned-buckets: bucket versioning is not Enabled"
    ]


def _suspended(plan: StackPlan) -> StackPlan:
    return _broken(plan, VERSIONING, inputs={"versioningConfiguration": {"status": "Suspended"}})


@pytest.mark.parametrize("stage", naming.STAGES)
@pytest.mark.parametrize("token", sorted(rules.LOGGINGS))
def test_a_bucket_with_access_logging_to_the_log_bucket_passes_that_rule(
    stage: str, token: str
) -> None:
    plan = _logged(plan_of(read_spec(STACKS, "demo", stage)), token)

    assert not [v for v in rules.violations(resources(plan)) if ": logged-buckets: " in v]


@pytest.mark.parametrize("stage", naming.STAGES)
def test_a_bucket_without_access_logging_fails(stage: str) -> None:
    base = _logged(plan_of(read_spec(STACKS, "demo", stage)))

    assert introduced(base, _without(base, LOGGING)) == [
        f"demo-{stage}-portal-bucket: logged-buckets: "
        "bucket has no server access logging to a log bucket"
    ]


def test_a_bucket_logging_into_itself_fails(production: StackPlan) -> None:
    base = _logged(production)
    broken = _broken(base, LOGGING, inputs={"targetBucket": _bucket(base).inputs["bucket"]})

    assert introduced(base, broken) == [
        "demo-production-portal-bucket: logged-buckets: "
        "bucket has no server access logging to a log bucket"
    ]


@pytest.mark.parametrize("type_", [PUBLIC_ACCESS, BUCKET_POLICY])
def test_an_unprotected_setting_of_the_production_bucket_fails(
    production: StackPlan, type_: str
) -> None:
    base = _held(production)
    (setting,) = base.of_type(type_)

    assert introduced(base, _broken(base, type_, protect=False)) == [
        f"{setting.name}: production-children-protected: "
        "setting of production bucket demo-production-portal-bucket is not protected"
    ]
    assert introduced(base, _broken(base, type_, retain_on_delete=False)) == [
        f"{setting.name}: production-children-protected: "
        "setting of production bucket demo-production-portal-bucket is not retained on delete"
    ]


def test_every_setting_of_the_production_bucket_must_be_held(production: StackPlan) -> None:
    base = _held(_logged(production))
    held = [r.name for r in base.resources if r.type in rules.BUCKET_SETTINGS]

    loose = base
    for type_ in rules.BUCKET_SETTINGS:
        loose = _broken(loose, type_, protect=False)

    assert len(held) == 6
    assert sorted(v.split(": ")[0] for v in introduced(base, loose)) == sorted(held)


def test_a_production_account_not_retained_fails(production: StackPlan) -> None:
    base = _held(production)
    user = base.of_type(COGNITO_USER)[0].name

    assert introduced(base, _broken(base, COGNITO_USER, only=user, retain_on_delete=False)) == [
        f"{user}: production-children-protected: "
        "member of production user pool demo-production-access-user-pool is not retained"
    ]


def test_preview_accounts_and_settings_need_not_be_held(preview: StackPlan) -> None:
    assert not [v for v in rules.violations(resources(preview)) if "production-children" in v]


# ------------------------------------------------------- the pack as the engine runs it


def test_every_type_the_rules_name_is_one_the_sdk_has() -> None:
    named = (
        rules.BUCKET_SETTINGS
        | rules.BUCKETS
        | rules.POOL_MEMBERS
        | rules.TAGGABLE
        | rules.STATEFUL
        | {t for t, _ in rules.ENUMS}
    )

    def in_sdk(token: str) -> bool:
        # "aws:<module>/<name>:<Class>": the SDK's class of that name must carry the token
        # (pulumi-aws loads modules lazily, so look each one up rather than list them).
        module, cls = token.split(":")[1].split("/")[0], token.split(":")[2]
        found = getattr(getattr(aws, module, None), cls, None)
        return inspect.isclass(found) and pulumi.get_type_token(found) == token

    assert sorted(t for t in named if not in_sdk(t)) == []


def _messages(response: Any) -> list[str]:
    """A response's diagnostics, each the rule's own line (after the policy's description)."""
    return [d.message.split("\n")[-1] for d in response.diagnostics]


def test_the_pack_runs_as_the_engine_runs_it(production: StackPlan) -> None:
    sent = policy_engine.engine_resources(production)
    database = next(r for r in sent if r.type == rules.DATABASE)
    unprotected = analyzer_pb2.AnalyzerResource()
    unprotected.CopyFrom(database)
    unprotected.properties.update({"deletionProtection": False})
    unknown_key = analyzer_pb2.AnalyzerResource()
    unknown_key.CopyFrom(database)
    unknown_key.properties.update({"kmsKeyId": policy_engine.UNKNOWN_STRING_VALUE})

    with policy_engine.served_pack() as pack:
        info = pack.GetAnalyzerInfo(empty_pb2.Empty())
        per_resource = [
            m for r in sent for m in _messages(pack.Analyze(policy_engine.analyze_request(r)))
        ]
        stack = pack.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=sent))
        refused = pack.Analyze(policy_engine.analyze_request(unprotected))
        unknown = pack.Analyze(policy_engine.analyze_request(unknown_key))

    assert [(p.name, p.enforcementLevel) for p in info.policies] == [
        (name, analyzer_pb2.MANDATORY) for name in [*rules.RESOURCE_RULES, *rules.STACK_RULES]
    ]
    # Every resource of production passes every resource rule as the engine sends it.
    assert per_resource == []
    # An unknown key is a key the update fills in: no "can't run policy" note.
    assert list(unknown.diagnostics) == []
    assert [(d.policyName, d.enforcementLevel, d.urn) for d in refused.diagnostics] == [
        ("durable-databases", analyzer_pb2.MANDATORY, database.urn)
    ]
    assert _messages(refused) == [
        "demo-production-database-instance: durable-databases: "
        "deletion protection is off (deletionProtection)"
    ]
    # The engine knows no retainOnDelete; everything else it finds, the tests find.
    engine_view = [
        dataclasses.replace(r, options={"protect": r.options["protect"]})
        for r in resources(production)
    ]
    assert _messages(stack) == rules.violations(engine_view)
