"""The tenant's PostgreSQL server: a dedicated RDS instance (production, and previews
created before pools), or a place on one of the platform's shared pool servers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.core.platform import POOL_OUTPUTS, DatabasePool, database_pools, find_pool
from infra.core.spec import DatabaseSizing
from infra.program.options import stateful

POSTGRES_MAJOR_VERSION = "16"
"""Major version only: RDS picks the newest minor and applies minor upgrades in the
maintenance window, so the parameter-group family below never drifts from it."""
PARAMETER_GROUP_FAMILY = f"postgres{POSTGRES_MAJOR_VERSION}"
MASTER_USERNAME = "tenantctl"
SNAPSHOT_SUFFIX_BYTES = 4
POSTGRES_PORT = 5432


@dataclass(frozen=True)
class DatabaseArgs:
    identifier: str
    """RDS instance identifier (``naming.db_instance_identifier``)."""
    database_name: str
    """The working database created with the instance."""
    sizing: DatabaseSizing
    label: str
    """What descriptions call the stack (``<slug>-<stage>``)."""
    durable: bool
    """Production: protected, retained on delete (``options.stateful``). Every stage has
    deletion protection and a final snapshot: a preview holds weeks of a client's work."""
    subnet_group_name: pulumi.Input[str]
    """The platform's DB subnet group (private subnets in at least two availability zones)."""
    parameter_group_name: pulumi.Input[str]
    """The platform's DB parameter group: family ``PARAMETER_GROUP_FAMILY``, ``rds.force_ssl=1``."""
    security_group_ids: pulumi.Input[Sequence[str]]
    kms_key_arn: pulumi.Input[str]
    """Encrypts the storage, snapshots and the RDS-managed master-user secret."""
    tags: Mapping[str, str]


class Database(pulumi.ComponentResource):
    """An encrypted, private PostgreSQL instance whose master password RDS keeps in
    Secrets Manager, so it never appears in config or state."""

    endpoint: pulumi.Output[str]
    """``host:port`` of the instance."""
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    master_user_secret_arn: pulumi.Output[str]
    """Secrets Manager secret (managed by RDS) holding the master username and password."""
    identifier: pulumi.Output[str]

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenants:index:Database", name, None, opts)
        sizing = args.sizing
        identifier = args.identifier

        # The final snapshot's name is unique per instance: a fixed "<id>-final" would
        # make the next instance of that name (a re-created client, or a replacement
        # after a new KMS key) fail to delete. The suffix changes exactly when the
        # instance would be replaced (its keepers are the inputs that force that).
        snapshot_suffix = random.RandomId(
            f"{name}-final-snapshot-suffix",
            byte_length=SNAPSHOT_SUFFIX_BYTES,
            keepers={"identifier": identifier, "kmsKeyId": args.kms_key_arn},
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The parameter and subnet groups are the platform's, shared by every tenant:
        # they are identical for all, and one pair per stack would exhaust the RDS
        # quotas (50 each per region) at the 26th client (``tenantctl capacity``).
        instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=identifier,
            engine="postgres",
            engine_version=POSTGRES_MAJOR_VERSION,
            instance_class=sizing.instance_class,
            allocated_storage=sizing.allocated_storage_gb,
            max_allocated_storage=sizing.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            db_name=args.database_name,
            username=MASTER_USERNAME,
            # RDS generates and rotates the password in Secrets Manager: nothing
            # secret ever passes through Pulumi config or state.
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.kms_key_arn,
            port=POSTGRES_PORT,
            parameter_group_name=args.parameter_group_name,
            db_subnet_group_name=args.subnet_group_name,
            vpc_security_group_ids=args.security_group_ids,
            publicly_accessible=False,
            multi_az=sizing.multi_az,
            backup_retention_period=sizing.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=True,
            skip_final_snapshot=False,
            final_snapshot_identifier=snapshot_suffix.hex.apply(
                lambda suffix: final_snapshot_identifier(identifier, suffix)
            ),
            # Per stage (``DatabaseSizing.apply_immediately``), never the provider default.
            apply_immediately=sizing.apply_immediately,
            auto_minor_version_upgrade=True,
            # The major version is pinned above; a major upgrade is a deliberate change.
            allow_major_version_upgrade=False,
            enabled_cloudwatch_logs_exports=["postgresql"],
            tags=dict(args.tags),
            # Production data outlives mistakes: destroying or replacing it (a new
            # platform KMS key forces replacement) must be made deliberate.
            opts=stateful(self, args.durable),
        )

        self.endpoint = instance.endpoint
        self.address = instance.address
        self.port = instance.port
        self.identifier = instance.identifier
        self.master_user_secret_arn = instance.master_user_secrets.apply(_secret_arn)
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "address": self.address,
                "port": self.port,
                "identifier": self.identifier,
                "master_user_secret_arn": self.master_user_secret_arn,
            }
        )


@dataclass(frozen=True)
class PooledDatabaseArgs:
    pool_name: str
    """The pool server the stack's databases live on (``tenants:databasePool``)."""
    pool_output: str
    """The platform output listing the stage's pools (``POOL_OUTPUTS``)."""
    pools: pulumi.Input[Sequence[Mapping[str, object]]]
    """That output's value."""
    platform_stack: str
    role_secret_name: str
    """``naming.database_role_secret_name``: tenantctl sets its value, Pulumi never sees it."""
    label: str
    kms_key_arn: pulumi.Input[str]
    recovery_days: int
    durable: bool
    """A pooled production's role secret is protected and retained like its other secrets."""
    tags: Mapping[str, str]


class PooledDatabase(pulumi.ComponentResource):
    """A stack's place on a shared PostgreSQL server: no instance, only the secret of the
    stack's own role. The role, its three databases and who may connect to them are
    made by ``tenantctl`` after deploy (post-provision): they are PostgreSQL objects,
    not AWS resources, and the password must never pass through Pulumi."""

    endpoint: pulumi.Output[str]
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    master_user_secret_arn: pulumi.Output[str]
    """The pool server's master secret (the platform's): what creates roles and databases."""
    role_secret_arn: pulumi.Output[str]
    """The stack's own role's credentials (username and password; the application's)."""

    def __init__(
        self, name: str, args: PooledDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenants:index:PooledDatabase", name, None, opts)
        pool = pulumi.Output.from_input(args.pools).apply(
            lambda pools: _pool(args.platform_stack, args.pool_output, pools, args.pool_name)
        )
        role_secret = aws.secretsmanager.Secret(
            f"{name}-role-secret",
            name=args.role_secret_name,
            description=f"PostgreSQL role of {args.label} on pool {args.pool_name} "
            "(username, password); set by tenantctl",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=args.recovery_days,
            tags=dict(args.tags),
            # A preview's is deleted at once with the preview, like its payment secret, so
            # a client re-created under the slug can make it again; a production's stays.
            opts=stateful(self, args.durable),
        )
        self.endpoint = pool.apply(lambda p: p.endpoint)
        self.address = pool.apply(lambda p: p.address)
        self.port = pool.apply(lambda p: p.port)
        self.master_user_secret_arn = pool.apply(lambda p: p.master_secret_arn)
        self.role_secret_arn = role_secret.arn
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "address": self.address,
                "port": self.port,
                "master_user_secret_arn": self.master_user_secret_arn,
                "role_secret_arn": self.role_secret_arn,
            }
        )


def _pool(
    platform_stack: str, output: str, pools: Sequence[Mapping[str, object]], name: str
) -> DatabasePool:
    stage = next(stage for stage, name_ in POOL_OUTPUTS.items() if name_ == output)
    checked = database_pools(platform_stack, {output: list(pools)}, stage)
    return find_pool(platform_stack, checked, name)


def _secret_arn(secrets: Sequence[aws.rds.outputs.InstanceMasterUserSecret] | None) -> str:
    if not secrets or not secrets[0].secret_arn:
        raise ValueError("RDS reported no master-user secret although it manages the password")
    return secrets[0].secret_arn


def final_snapshot_identifier(identifier: str, suffix: str) -> str:
    """``<identifier>-final-<hex>``: RDS snapshot ids start with a letter, hold letters,
    digits and single hyphens, and are at most 255 characters (the identifier is 63)."""
    return f"{identifier}-final-{suffix}"
