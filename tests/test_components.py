"""Security and stage properties of the tenant program, read from its offline plan.

Every test runs the real program (``infra.program.stack.define_stack``) under Pulumi's
mock runtime through ``infra.program.plan.plan_stack`` with the reference tenant's
stack files, and asserts on what it registered.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
from functools import cache
from typing import Any

import pulumi
import pytest

from infra.core import naming, rendering
from infra.core.content_model import content_hash
from infra.core.payment_settings import payment_parameters
from infra.core.platform import (
    EXAMPLE_PLATFORM_OUTPUTS,
    PLATFORM_OUTPUTS,
    PlatformError,
)
from infra.core.spec import PRODUCTION_MIN_BACKUP_DAYS, ROLES, TenantSpec, parse_spec
from infra.core.spec_errors import SpecError
from infra.program.database import PARAMETER_GROUP_FAMILY, POSTGRES_MAJOR_VERSION
from infra.program.plan import PlannedResource, StackPlan, plan_stack
from infra.program.plan_checks import ordering_problems
from tests.helpers import demo_bucket, demo_data, demo_spec

KMS_KEY = EXAMPLE_PLATFORM_OUTPUTS["kmsKeyArn"]
STAGES = list(naming.STAGES)

INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
BUCKET = "aws:s3/bucket:Bucket"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
SECRET = "aws:secretsmanager/secret:Secret"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
USER_POOL = "aws:cognito/userPool:UserPool"
RECORD = "aws:route53/record:Record"


OWN_INSTANCE = "preview-own-instance"
"""A preview still on its own RDS instance (created before pooled previews; the
migration path until ``tenantctl preview move``): the dedicated-instance rules hold
for it as for production."""
DEDICATED = [OWN_INSTANCE, naming.PRODUCTION]


@cache
def _plan(stage: str, live: bool = False) -> StackPlan:
    if stage == OWN_INSTANCE:
        return plan_stack(_own_instance_spec())
    if live:
        return plan_stack(parse_spec({**demo_data(stage), "live": True}))
    return plan_stack(demo_spec(stage))


def _own_instance_spec() -> TenantSpec:
    data = {k: v for k, v in demo_data(naming.PREVIEW).items() if k != "databasePool"}
    return parse_spec(data)


def _one(plan: StackPlan, type_: str) -> dict[str, Any]:
    found = plan.of_type(type_)
    assert len(found) == 1, f"expected one {type_}, got {[r.name for r in found]}"
    return found[0].inputs


def _walk_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for key, item in value.items() for k in (key, *_walk_keys(item))]
    if isinstance(value, list):
        return [k for item in value for k in _walk_keys(item)]
    return []


def _takes_tags(resource: PlannedResource) -> bool:
    """Whether the pulumi_aws class behind a type token has a ``tags`` argument."""
    package, module_path, class_name = resource.type.split(":")
    if package != "aws":
        return False
    module = importlib.import_module(f"pulumi_aws.{module_path.split('/')[0]}")
    cls = getattr(module, class_name)
    return "tags" in inspect.signature(cls._internal_init).parameters


# ------------------------------------------------------------------------ database


@pytest.mark.parametrize("stage", DEDICATED)
def test_database_is_encrypted_with_the_platform_key(stage: str) -> None:
    db = _one(_plan(stage), INSTANCE)
    assert db["storageEncrypted"] is True
    assert db["kmsKeyId"] == KMS_KEY


@pytest.mark.parametrize("stage", DEDICATED)
def test_database_is_not_publicly_accessible(stage: str) -> None:
    db = _one(_plan(stage), INSTANCE)
    assert db["publiclyAccessible"] is False
    assert db["vpcSecurityGroupIds"] == EXAMPLE_PLATFORM_OUTPUTS["databaseSecurityGroupIds"]


@pytest.mark.parametrize("stage", DEDICATED)
def test_database_master_password_is_managed_by_rds_with_the_platform_key(stage: str) -> None:
    db = _one(_plan(stage), INSTANCE)
    assert db["manageMasterUserPassword"] is True
    assert db["masterUserSecretKmsKeyId"] == KMS_KEY
    assert _plan(stage).outputs["databaseSecretArn"].startswith("arn:aws:secretsmanager:")


@pytest.mark.parametrize("stage", STAGES)
def test_no_resource_takes_a_password_or_secret_value(stage: str) -> None:
    forbidden = {"password", "passwordWo", "temporaryPassword", "secretString", "secretBinary"}
    for resource in _plan(stage).resources:
        assert not forbidden & set(_walk_keys(resource.inputs)), resource.name


@pytest.mark.parametrize("stage", DEDICATED)
def test_database_uses_the_platform_parameter_group_of_its_engine(stage: str) -> None:
    plan = _plan(stage)
    instance = _one(plan, INSTANCE)
    assert instance["parameterGroupName"] == EXAMPLE_PLATFORM_OUTPUTS["databaseParameterGroupName"]
    assert PARAMETER_GROUP_FAMILY in PLATFORM_OUTPUTS["databaseParameterGroupName"]
    assert instance["engineVersion"].split(".")[0] == POSTGRES_MAJOR_VERSION
    assert not plan.of_type(PARAMETER_GROUP)


@pytest.mark.parametrize("stage", DEDICATED)
def test_database_uses_the_platform_subnet_group(stage: str) -> None:
    plan = _plan(stage)
    assert (
        _one(plan, INSTANCE)["dbSubnetGroupName"]
        == EXAMPLE_PLATFORM_OUTPUTS["databaseSubnetGroupName"]
    )
    assert not plan.of_type("aws:rds/subnetGroup:SubnetGroup")


def test_a_preview_on_its_own_instance_is_small_but_keeps_the_clients_work() -> None:
    db = _one(_plan(OWN_INSTANCE), INSTANCE)
    spec = _own_instance_spec()
    assert db["identifier"] == naming.db_instance_identifier(spec.slug, spec.stage)
    assert db["instanceClass"] == spec.database_sizing.instance_class == "db.t4g.micro"
    assert db["multiAz"] is False
    # Weeks of phase-3 work: deleting it takes two deliberate steps and leaves a snapshot.
    assert db["deletionProtection"] is True
    assert db["skipFinalSnapshot"] is False
    assert db["finalSnapshotIdentifier"].startswith("demo-preview-db-final-")
    assert db["applyImmediately"] is True
    assert not _plan(OWN_INSTANCE).named("demo-preview-database-instance").protect
    assert not _plan("preview").of_type(INSTANCE)  # a pooled preview has none


@pytest.mark.parametrize("stage", DEDICATED)
def test_final_snapshot_names_are_unique_per_database_instance(stage: str) -> None:
    """A fixed ``<id>-final`` collides with the snapshot of the instance before it (a
    re-created client, or a replacement after a new KMS key): the second delete fails."""
    spec = _own_instance_spec() if stage == OWN_INSTANCE else demo_spec(stage)
    first = _one(_plan(stage), INSTANCE)["finalSnapshotIdentifier"]
    other_key = {**EXAMPLE_PLATFORM_OUTPUTS, "kmsKeyArn": KMS_KEY.replace("1234abcd", "9999ffff")}
    replaced = plan_stack(spec, platform_outputs=other_key)
    second = _one(replaced, INSTANCE)["finalSnapshotIdentifier"]
    assert first != second
    assert first != f"{naming.db_instance_identifier(spec.slug, spec.stage)}-final"
    for name in (first, second):  # RDS: a letter first, letters, digits, single hyphens
        assert re.fullmatch(r"[A-Za-z](?:-?[A-Za-z0-9])*", name) and len(name) <= 255


def test_production_database_is_multi_az_backed_up_and_protected() -> None:
    db = _one(_plan("production"), INSTANCE)
    sizing = demo_spec("production").database_sizing
    assert db["multiAz"] is True
    assert db["backupRetentionPeriod"] == sizing.backup_retention_days
    assert db["backupRetentionPeriod"] >= PRODUCTION_MIN_BACKUP_DAYS
    assert db["deletionProtection"] is True
    assert db["skipFinalSnapshot"] is False
    assert db["finalSnapshotIdentifier"].startswith("demo-production-db-final-")
    # Production serves the public: a resize waits for the maintenance window.
    assert db["applyImmediately"] is False
    assert db["copyTagsToSnapshot"] is True
    assert db["maxAllocatedStorage"] == sizing.max_allocated_storage_gb
    assert _plan("production").named("demo-production-database-instance").protect


# -------------------------------------------------------------------------- portal


@pytest.mark.parametrize("stage", STAGES)
def test_bucket_blocks_every_kind_of_public_access(stage: str) -> None:
    block = _one(_plan(stage), "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block[flag] is True, flag
    ownership = _one(_plan(stage), "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


@pytest.mark.parametrize("stage", STAGES)
def test_bucket_is_versioned_and_encrypted_with_the_platform_key(stage: str) -> None:
    plan = _plan(stage)
    versioning = _one(plan, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    sse = _one(
        plan,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    (rule,) = sse["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": KMS_KEY,
    }
    assert rule["bucketKeyEnabled"] is True


@pytest.mark.parametrize("stage", STAGES)
def test_bucket_policy_denies_requests_without_tls(stage: str) -> None:
    plan = _plan(stage)
    policy = json.loads(_one(plan, "aws:s3/bucketPolicy:BucketPolicy")["policy"])
    bucket = demo_bucket(stage)
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(statement["Resource"]) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}


@pytest.mark.parametrize("stage", STAGES)
def test_no_bucket_is_destroyed_with_its_content(stage: str) -> None:
    """A preview's bucket holds the client's releases and imports: weeks of work."""
    assert not _one(_plan(stage), BUCKET).get("forceDestroy")


@pytest.mark.parametrize("stage", STAGES)
def test_the_content_bucket_logs_every_access_to_the_platform_log_bucket(stage: str) -> None:
    logging = _one(_plan(stage), "aws:s3/bucketLogging:BucketLogging")
    bucket = demo_bucket(stage)
    assert logging["bucket"] == bucket
    assert logging["targetBucket"] == EXAMPLE_PLATFORM_OUTPUTS["accessLogBucketName"]
    assert logging["targetPrefix"] == f"{bucket}/"


BUCKET_SETTINGS = (
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketLogging:BucketLogging",
)
ACCOUNTS = (
    "aws:cognito/userGroup:UserGroup",
    "aws:cognito/user:User",
    "aws:cognito/userInGroup:UserInGroup",
)


def test_production_retains_the_buckets_settings_and_every_account() -> None:
    """Destroying production must not leave its retained bucket unversioned, unencrypted
    or public, nor delete every administrator's sign-in and MFA."""
    plan = _plan("production")
    for type_ in BUCKET_SETTINGS + ACCOUNTS:
        found = plan.of_type(type_)
        assert found, type_
        for resource in found:
            assert resource.retain_on_delete, resource.name
    for type_ in BUCKET_SETTINGS:
        assert all(r.protect for r in plan.of_type(type_)), type_
    # An administrator taken out of the stack file must still deploy: retained, not protected.
    assert not any(r.protect for t in ACCOUNTS for r in plan.of_type(t))


def test_preview_retains_nothing_pulumi_deletes() -> None:
    plan = _plan("preview")
    assert not any(r.retain_on_delete for r in plan.resources)


@pytest.mark.parametrize("stage", STAGES)
def test_bucket_has_one_defaults_object_per_rendered_file(stage: str) -> None:
    files = rendering.render_content(demo_spec(stage))
    objects = {r.inputs["key"]: r.inputs for r in _plan(stage).of_type(OBJECT)}
    expected = {naming.DEFAULTS_PREFIX + key for key in files} | {naming.MANIFEST_KEY}
    assert set(objects) == expected
    for key, data in files.items():
        planned = objects[naming.DEFAULTS_PREFIX + key]
        assert planned["content"].encode("utf-8") == data
        assert planned["bucket"] == demo_bucket(stage)
    assert objects["defaults/portal/home.html"]["contentType"] == "text/html; charset=utf-8"
    assert objects["defaults/portal/styles.css"]["contentType"] == "text/css; charset=utf-8"
    assert objects[naming.MANIFEST_KEY]["contentType"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("stage", STAGES)
def test_manifest_object_hashes_match_the_defaults_objects(stage: str) -> None:
    objects = {r.inputs["key"]: r.inputs["content"] for r in _plan(stage).of_type(OBJECT)}
    manifest = json.loads(objects.pop(naming.MANIFEST_KEY))
    assert manifest == {
        key.removeprefix(naming.DEFAULTS_PREFIX): content_hash(content.encode("utf-8"))
        for key, content in objects.items()
    }


# ------------------------------------------------------------------------ payments


@pytest.mark.parametrize("stage", STAGES)
def test_payment_secret_is_kms_encrypted_and_gets_no_value_from_pulumi(stage: str) -> None:
    plan = _plan(stage)
    secret = plan.named(f"demo-{stage}-payments-credentials").inputs
    assert secret["name"] == naming.payment_secret_name("demo", stage)
    assert secret["kmsKeyId"] == KMS_KEY
    assert not [r for r in plan.resources if "secretVersion" in r.type]


@pytest.mark.parametrize("stage", STAGES)
def test_each_stack_has_one_standard_parameter_holding_its_settings(stage: str) -> None:
    spec = demo_spec(stage)
    (parameter,) = _plan(stage).of_type(SSM_PARAMETER)
    assert parameter.inputs["name"] == f"/demo/{stage}/settings"
    assert parameter.inputs["tier"] == "Standard"  # named, never the account's default
    assert parameter.inputs["type"] == "String"
    document = json.loads(parameter.inputs["insecureValue"])
    assert document["payment"] == payment_parameters(spec)
    if stage == "preview":
        assert document["allowedRecipients"] == sorted(a.email.lower() for a in spec.admins)
    else:
        assert "allowedRecipients" not in document


def test_the_program_leaves_the_settings_value_to_tenantctl() -> None:
    """Staff's allow-list is in the value, and Pulumi cannot ignore part of one."""
    (parameter,) = _plan("preview").of_type(SSM_PARAMETER)
    assert parameter.ignore_changes == ("insecureValue",)


@pytest.mark.parametrize(
    ("stage", "live", "mode"),
    [("preview", False, "sandbox"), ("production", False, "sandbox"), ("production", True, "live")],
)
def test_payment_mode_is_live_only_for_a_live_production(stage: str, live: bool, mode: str) -> None:
    plan = _plan(stage, live)
    (parameter,) = plan.of_type(SSM_PARAMETER)
    assert json.loads(parameter.inputs["insecureValue"])["payment"]["mode"] == mode
    assert plan.outputs["paymentMode"] == mode


# ------------------------------------------------------------------------- domains


@pytest.mark.parametrize("live", [False, True])
@pytest.mark.parametrize("stage", STAGES)
def test_no_stack_adds_a_listener_rule_or_a_host_record(stage: str, live: bool) -> None:
    """Platform hosts are routed by the platform's wildcard rules, certificate and records:
    a rule per stack bound at the 51st preview (100 rules per ALB) and its priority raced
    between parallel deploys; a record per host filled the zone at the 715th client."""
    if stage == "preview" and live:
        return
    plan = _plan(stage, live)
    assert plan.of_type(LISTENER_RULE) == []
    hosts = {demo_spec(stage).admin_host, demo_spec(stage).portal_host}
    assert not [r for r in plan.of_type(RECORD) if r.inputs["name"].rstrip(".") in hosts]
    assert "listenerRulePriority" not in plan.outputs
    assert plan.outputs["operationsBucket"] == EXAMPLE_PLATFORM_OUTPUTS["operationsBucketName"]


CERTIFICATE = "aws:acm/certificate:Certificate"
TENANT = "aws:cloudfront/distributionTenant:DistributionTenant"
LISTENER_CERTIFICATE = "aws:lb/listenerCertificate:ListenerCertificate"


def _domain_plan(live: bool = False, **custom_domain: Any) -> StackPlan:
    return plan_stack(
        parse_spec({**demo_data("production"), "live": live, "customDomain": custom_domain})
    )


def test_no_certificate_is_requested_before_the_client_dns_team_is_ready() -> None:
    plan = _domain_plan()
    assert plan.of_type(CERTIFICATE) == [] and plan.of_type(TENANT) == []
    assert plan.outputs["customDomainValidationRecords"] == []
    assert plan.outputs["customDomainCertificateArn"] is None
    assert (
        plan.outputs["customDomainCnameTarget"]
        == (EXAMPLE_PLATFORM_OUTPUTS["connectionGroupRoutingEndpoint"])
    )


def test_custom_domain_certificate_is_requested_in_us_east_1_and_its_records_exported() -> None:
    plan = _domain_plan(certificateGeneration=1)
    (certificate,) = plan.of_type(CERTIFICATE)
    provider = plan.named(str(certificate.provider))
    assert provider.type == "pulumi:providers:aws" and provider.inputs["region"] == "us-east-1"
    assert certificate.inputs["domainName"] == demo_spec("production").portal_domain
    (record,) = plan.outputs["customDomainValidationRecords"]
    assert record["type"] == "CNAME" and record["value"]
    assert record["name"].rstrip(".").endswith(str(demo_spec("production").portal_domain))
    assert _plan("preview").outputs["customDomainValidationRecords"] == []


def test_a_new_certificate_generation_names_a_new_certificate() -> None:
    first = _domain_plan(certificateGeneration=1).of_type(CERTIFICATE)[0]
    second = _domain_plan(certificateGeneration=2).of_type(CERTIFICATE)[0]
    assert first.name != second.name and second.name.endswith("-2")


@pytest.mark.parametrize("live", [False, True])
def test_an_attached_domain_is_a_distribution_tenant_enabled_only_when_live(live: bool) -> None:
    plan = _domain_plan(live=live, certificateGeneration=3, attached=True)
    tenant = _one(plan, TENANT)
    (certificate,) = plan.of_type(CERTIFICATE)
    assert tenant["enabled"] is live
    assert tenant["distributionId"] == EXAMPLE_PLATFORM_OUTPUTS["multitenantDistributionId"]
    assert tenant["connectionGroupId"] == EXAMPLE_PLATFORM_OUTPUTS["connectionGroupId"]
    assert tenant["domains"] == [{"domain": demo_spec("production").portal_domain}]
    assert tenant["customizations"]["certificate"]["arn"].startswith("arn:aws:acm:us-east-1:")
    assert tenant["name"] == naming.distribution_tenant_name("demo")
    assert tenant["tags"] == naming.tags("demo", "production")
    assert plan.outputs["distributionTenantId"]
    validation = plan.of_type("aws:acm/certificateValidation:CertificateValidation")
    assert [v.provider for v in validation] == [certificate.provider]


@pytest.mark.parametrize("live", [False, True])
def test_a_production_plan_has_no_listener_certificate_or_rule(live: bool) -> None:
    """The load balancer holds no client certificate (25 per ALB bound at the 26th
    go-live): the client's domain is a CloudFront distribution tenant."""
    plan = _domain_plan(live=live, certificateGeneration=1, attached=True)
    assert plan.of_type(LISTENER_CERTIFICATE) == [] and plan.of_type(LISTENER_RULE) == []
    assert len(plan.of_type(TENANT)) == 1


def test_a_custom_domain_is_refused_without_a_portal_domain_or_attached_without_certificate() -> (
    None
):
    data = {**demo_data("production"), "customDomain": {"attached": True}}
    with pytest.raises(SpecError, match="request-certificate"):
        parse_spec(data)
    data = {**demo_data("preview"), "customDomain": {"certificateGeneration": 1}}
    with pytest.raises(SpecError, match="portalDomain"):
        parse_spec(data)


@pytest.mark.parametrize("apex", ["example.edu", "client.co.uk", "co.uk"])
def test_an_apex_portal_domain_is_refused(apex: str) -> None:
    with pytest.raises(SpecError, match=r"subdomain .*cannot take the CNAME"):
        parse_spec({**demo_data("production"), "portalDomain": apex})


# -------------------------------------------------------------------------- access


def test_production_user_pool_requires_software_token_mfa() -> None:
    pool = _one(_plan("production"), USER_POOL)
    assert pool["mfaConfiguration"] == "ON"
    assert pool["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert pool["deletionProtection"] == "ACTIVE"


def test_preview_user_pool_offers_mfa_and_may_be_deleted() -> None:
    pool = _one(_plan("preview"), USER_POOL)
    assert pool["mfaConfiguration"] == "OPTIONAL"
    assert pool["deletionProtection"] == "INACTIVE"


@pytest.mark.parametrize("stage", STAGES)
def test_user_pool_admits_only_admin_created_users_with_strong_passwords(stage: str) -> None:
    pool = _one(_plan(stage), USER_POOL)
    assert pool["name"] == naming.user_pool_name("demo", stage)
    assert pool["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
    assert pool["usernameAttributes"] == ["email"]
    policy = pool["passwordPolicy"]
    assert policy["minimumLength"] >= 12
    for flag in ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols"):
        assert policy[flag] is True, flag
    assert policy["temporaryPasswordValidityDays"] <= 7


@pytest.mark.parametrize("stage", STAGES)
def test_user_pool_has_one_group_per_role(stage: str) -> None:
    groups = _plan(stage).of_type("aws:cognito/userGroup:UserGroup")
    assert {g.inputs["name"]: g.inputs["description"] for g in groups} == ROLES


@pytest.mark.parametrize("stage", STAGES)
def test_each_admin_is_one_user_in_the_group_of_their_role(stage: str) -> None:
    plan, spec = _plan(stage), demo_spec(stage)
    users = [r.inputs for r in plan.of_type("aws:cognito/user:User")]
    memberships = [r.inputs for r in plan.of_type("aws:cognito/userInGroup:UserInGroup")]
    assert sorted(u["username"] for u in users) == sorted(a.email.lower() for a in spec.admins)
    assert sorted((m["username"], m["groupName"]) for m in memberships) == sorted(
        (a.email.lower(), a.role) for a in spec.admins
    )
    for user in users:
        assert user["attributes"]["email_verified"] == "true"


@pytest.mark.parametrize("stage", STAGES)
def test_an_admin_typed_in_mixed_case_gets_one_normalized_address(stage: str) -> None:
    """The sign-in name was lower-cased and the email attribute was not: two values
    for one person, and the invitation went to the one the user name does not match."""
    data = demo_data(stage)
    data["admins"] = [
        {"email": "Pat.Lee@Demo-State.Example.EDU", "name": "Pat", "role": "administrator"}
    ]
    plan = plan_stack(parse_spec(data), platform_outputs=EXAMPLE_PLATFORM_OUTPUTS)
    (user,) = [r.inputs for r in plan.of_type("aws:cognito/user:User")]
    assert user["username"] == user["attributes"]["email"] == "pat.lee@demo-state.example.edu"


# ---------------------------------------------------------------------- everything


@pytest.mark.parametrize("stage", STAGES)
def test_every_taggable_resource_carries_exactly_the_spec_tags(stage: str) -> None:
    spec: TenantSpec = demo_spec(stage)
    taggable = [r for r in _plan(stage).resources if r.custom and _takes_tags(r)]
    assert len(taggable) > 20
    for resource in taggable:
        assert resource.inputs.get("tags") == spec.tags, resource.name
    assert spec.tags == {"tenant": "demo", "stage": stage, "managed-by": "tenantctl"}


def test_a_platform_serving_another_zone_fails_clearly() -> None:
    spec = parse_spec({**demo_data("preview"), "baseDomain": "other.example.org"})
    with pytest.raises(
        PlatformError, match=r"serves zone 'tenants.example.com'.*other.example.org"
    ):
        plan_stack(spec)


def test_a_platform_missing_an_output_names_it() -> None:
    outputs = {k: v for k, v in EXAMPLE_PLATFORM_OUTPUTS.items() if k != "connectionGroupId"}
    with pytest.raises(PlatformError, match="has no output connectionGroupId"):
        plan_stack(demo_spec("preview"), platform_outputs=outputs)


def test_every_component_type_token_names_its_class() -> None:
    from infra.program import (
        access,
        database,
        domains,
        email,
        integrations,
        payments,
        portal,
        settings,
        tenant,
    )

    modules = (access, database, domains, email, integrations, payments, portal, settings, tenant)
    classes = {
        cls.__name__
        for module in modules
        for cls in vars(module).values()
        if inspect.isclass(cls)
        and issubclass(cls, pulumi.ComponentResource)
        and cls.__module__ == module.__name__
    }
    used = {
        stage: {r.type for r in _plan(stage).resources if not r.custom}
        for stage in (*STAGES, OWN_INSTANCE)
    }
    assert set().union(*used.values()) == {f"tenants:index:{name}" for name in classes}
    assert len(classes) == 10
    # A stack's database is one of the two: on a pool server, or an instance of its own.
    assert "tenants:index:PooledDatabase" in used["preview"]
    assert "tenants:index:Database" not in used["preview"]
    assert {"tenants:index:Database"} <= used["production"] & used[OWN_INSTANCE]


@pytest.mark.parametrize("stage", STAGES)
def test_every_resource_is_named_from_its_parent(stage: str) -> None:
    plan = _plan(stage)
    for resource in plan.resources:
        if resource.parent is None:
            assert resource.name == plan.stack
        else:
            assert resource.name.startswith(resource.parent + "-"), resource.name


def test_plan_is_identical_when_run_twice() -> None:
    spec = demo_spec("production")
    assert plan_stack(spec).to_json() == plan_stack(spec).to_json()


# ------------------------------------------------------------------ email


def test_production_sends_from_the_client_domain_and_exports_its_records() -> None:
    spec = demo_spec("production")
    plan = _plan("production")
    identity = _one(plan, "aws:sesv2/emailIdentity:EmailIdentity")
    records = plan.outputs["emailDnsRecords"]

    assert identity["emailIdentity"] == spec.portal_domain
    assert [r["type"] for r in records] == ["CNAME", "CNAME", "CNAME", "MX", "TXT"]
    assert all(r["name"].endswith("." + str(spec.portal_domain)) for r in records)
    assert not plan.of_type("aws:route53/record:Record") or all(
        not str(r.inputs["name"]).endswith(str(spec.portal_domain))
        for r in plan.of_type("aws:route53/record:Record")
    )


def test_preview_sends_from_the_platform_identity_and_adds_nothing_to_the_zone() -> None:
    """One verified platform identity covers every address in its domain: a stack on the
    platform's names needs no identity, no DKIM or MAIL FROM records (5 per stack filled
    the zone at 1,000 clients)."""
    spec = demo_spec("preview")
    plan = _plan("preview")
    assert plan.of_type("aws:sesv2/emailIdentity:EmailIdentity") == []
    assert plan.of_type("aws:route53/record:Record") == []
    assert plan.outputs["emailSendingDomain"] == spec.base_domain
    assert plan.outputs["emailDnsRecords"] == []
    assert plan.outputs["emailFromAddress"].endswith(f"<no-reply@{spec.base_domain}>")


def _live_own_domain() -> TenantSpec:
    return parse_spec(
        {
            **demo_data("production"),
            "live": True,
            "customDomain": {"certificateGeneration": 1, "attached": True},
        }
    )


@pytest.mark.parametrize("stage", STAGES)
def test_user_pool_sends_through_the_platforms_verified_identity(stage: str) -> None:
    """Cognito refuses an identity that is not verified yet, and the stack's own verifies
    only once the DKIM records this very update exports are published: the first `up`
    would fail at the pool, and a production on the client's domain could never exist."""
    plan = _plan(stage)
    pool = _one(plan, USER_POOL)
    config_set = _one(plan, "aws:sesv2/configurationSet:ConfigurationSet")
    sending = pool["emailConfiguration"]
    own = plan.of_type("aws:sesv2/emailIdentity:EmailIdentity")  # production's own domain

    assert sending["emailSendingAccount"] == "DEVELOPER"
    assert sending["sourceArn"] == EXAMPLE_PLATFORM_OUTPUTS["emailIdentityArn"]
    assert sending["fromEmailAddress"].endswith(f"@{EXAMPLE_PLATFORM_OUTPUTS['zoneName']}>")
    assert not {i.name for i in own} & set(
        plan.named(f"demo-{stage}-access-user-pool").dependencies
    )
    # The pool waits for the configuration set it names (Cognito checks it exists).
    assert sending["configurationSet"] == config_set["configurationSetName"]
    assert (
        f"demo-{stage}-email-configuration-set"
        in plan.named(f"demo-{stage}-access-user-pool").dependencies
    )
    # A client domain's DKIM records reach the client from the first update, whatever the
    # pool does.
    dkim = [r for r in plan.outputs["emailDnsRecords"] if r["type"] == "CNAME"]
    assert len(dkim) == (3 if own else 0)
    assert config_set["suppressionOptions"]["suppressedReasons"] == ["BOUNCE", "COMPLAINT"]


def test_a_live_production_on_its_own_domain_sends_through_its_own_identity() -> None:
    spec = _live_own_domain()
    plan = plan_stack(spec, platform_outputs=EXAMPLE_PLATFORM_OUTPUTS)
    sending = _one(plan, USER_POOL)["emailConfiguration"]
    assert sending["sourceArn"].endswith(f":identity/{spec.portal_domain}")
    assert sending["fromEmailAddress"].endswith(f"@{spec.portal_domain}>")
    assert ordering_problems(plan, spec) == []


def test_the_ordering_check_refuses_a_pool_on_an_identity_the_update_creates() -> None:
    stage = "production"  # the stage with an identity of its own (the client's domain)
    spec = demo_spec(stage)
    plan = _plan(stage)
    assert ordering_problems(plan, spec) == []
    identity = _one(plan, "aws:sesv2/emailIdentity:EmailIdentity")["emailIdentity"]
    own_arn = f"arn:aws:ses:us-east-1:123456789012:identity/{identity}"
    broken = _with_inputs(plan, USER_POOL, emailConfiguration={"sourceArn": own_arn})
    (problem,) = ordering_problems(broken, spec)
    assert "not verified" in problem and identity in problem


def test_the_ordering_check_refuses_a_distribution_tenant_that_does_not_wait_for_issue() -> None:
    spec = _live_own_domain()
    plan = plan_stack(spec, platform_outputs=EXAMPLE_PLATFORM_OUTPUTS)
    attachment = plan.of_type(TENANT)[0]
    certificate = plan.of_type("aws:acm/certificate:Certificate")[-1]
    assert ordering_problems(plan, spec) == []
    early = dataclasses.replace(attachment, dependencies=(certificate.name,))
    broken = dataclasses.replace(
        plan, resources=[early if r is attachment else r for r in plan.resources]
    )
    (problem,) = ordering_problems(broken, spec)
    assert "not ISSUED" in problem


def _with_inputs(plan: StackPlan, type_: str, **inputs: Any) -> StackPlan:
    resources = [
        dataclasses.replace(r, inputs={**r.inputs, **inputs}) if r.type == type_ else r
        for r in plan.resources
    ]
    return dataclasses.replace(plan, resources=resources)


STATEFUL = {
    "aws:rds/instance:Instance",
    "aws:s3/bucket:Bucket",
    "aws:cognito/userPool:UserPool",
    "aws:secretsmanager/secret:Secret",
}


def test_production_stateful_resources_are_protected_and_retained_on_delete() -> None:
    plan = _plan("production")
    stateful = [r for r in plan.resources if r.type in STATEFUL]

    assert sorted(r.type for r in stateful) == sorted(STATEFUL)
    for resource in stateful:
        assert resource.protect, f"{resource.name} is not protected"
        assert resource.retain_on_delete, f"{resource.name} is not retained on delete"


def test_preview_stateful_resources_can_be_destroyed() -> None:
    plan = _plan("preview")

    assert not any(r.protect or r.retain_on_delete for r in plan.resources)


def test_plan_json_shows_protect_and_retain_on_delete_of_every_resource() -> None:
    resources = _plan("production").to_json()["resources"]

    assert all({"protect", "retainOnDelete"} <= set(r) for r in resources)
    bucket = next(r for r in resources if r["type"] == "aws:s3/bucket:Bucket")
    assert bucket["protect"] is True and bucket["retainOnDelete"] is True


def test_the_client_domain_certificate_is_a_stack_output() -> None:
    plan = _domain_plan(certificateGeneration=4)

    certificate = plan.named("demo-production-domains-custom-certificate-4")
    assert plan.outputs["customDomainCertificateArn"].startswith("arn:aws:acm:")
    assert certificate.inputs["domainName"] == "parking.demo-state.example.edu"


def test_a_destroyed_preview_frees_its_secret_name_and_production_keeps_a_recovery_window():
    """A deleted secret's name stays taken for its recovery window: a preview destroyed on
    purpose and created again under the same slug would fail at its payment secret."""
    windows = {
        (stage, secret.name): secret.inputs["recoveryWindowInDays"]
        for stage in STAGES
        for secret in _plan(stage).of_type(SECRET)
    }
    assert windows == {
        ("preview", "demo-preview-payments-credentials"): 0,
        ("preview", "demo-preview-database-role-secret"): 0,  # the pooled preview's role
        ("production", "demo-production-payments-credentials"): 30,
    }
