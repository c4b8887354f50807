"""A handle on one stack: how the operations reach its content bucket, database and settings.

Resources are found by their deterministic names (``infra.core.naming``) and, for
the database in AWS, by stack outputs plus the RDS-managed master secret.
Locally, one documented setting, ``TENANTCTL_DATABASE_URL``, names the
PostgreSQL server instead.

``PreviewStack`` is the only handle the preview-only operations accept, and it
cannot be built for a production spec: that is what keeps ``reset-preview``
away from production, whatever arguments it is given.

This module knows nothing of deploying: a handle is built from a spec and the
outputs someone read (``infra.ops.stacks.opening`` reads them through this
machine's deployer), and after a deploy it is bound to the fresh outputs
(``StackHandle.bind``), never re-opened.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self
from urllib.parse import quote

from infra.core import naming
from infra.core.errors import EnvironmentProblem, ProductionRefused, UnknownTenant
from infra.core.platform import DatabasePool
from infra.core.spec import TenantSpec
from infra.ops.adapters import aws
from infra.ops.adapters.content_store import ContentStore
from infra.ops.adapters.database import (
    DATABASE_URL_ENV,
    StackDatabases,
    database_url,
    pool_url,
)


class OutputsSource(Protocol):
    """Where a stack's last deployed outputs are read (a deployer)."""

    def outputs(self, spec: TenantSpec, region: str | None) -> Mapping[str, Any] | None: ...


@dataclass
class StackHandle:
    """Clients and names for one stack. Holds a database URL: never print it."""

    spec: TenantSpec
    admin_url: str = field(repr=False)
    region: str | None = None
    outputs: Mapping[str, Any] | None = None
    """Stack outputs when they could be read (a real deployment through the Pulumi CLI)."""
    stacks_dir: Path | None = None
    """The stacks folder it was opened from, when it was: beside its stack files, the
    platform outputs file names the bucket the client's lock is kept in
    (``infra.ops.stacks.locking.preview_place``)."""

    def __post_init__(self) -> None:
        self.s3 = aws.client("s3", self.region)
        self.ssm = aws.client("ssm", self.region)
        self.secrets = aws.client("secretsmanager", self.region)
        self.acm = aws.client("acm", self.region)
        self.sesv2 = aws.client("sesv2", self.region)
        role = naming.database_role_name(self.spec.slug, self.spec.stage)
        self.database = StackDatabases(
            self.admin_url, self.spec.slug, self.spec.stage, role if self.spec.pooled else None
        )

    @property
    def content(self) -> ContentStore:
        """The content bucket, named by the stack's ``contentBucket`` output."""
        bucket = content_bucket_of(self.spec, self.outputs)
        store = self.__dict__.get("_content")
        if store is None or store.bucket != bucket:
            store = self.__dict__["_content"] = ContentStore(self.s3, bucket)
        return store

    @property
    def stack_name(self) -> str:
        return self.spec.stack_name

    def bind(self, spec: TenantSpec, outputs: Mapping[str, Any] | None) -> Self:
        """This stack after a deploy: the same kind of handle, in the same region, for *spec*
        (a deploy may have changed it, e.g. ``live``) with the deploy's fresh *outputs*.

        The outputs come from the deploy itself, so nothing is read again."""
        return type(self)(
            spec,
            database_admin_url(spec, outputs, self.region),
            self.region,
            outputs,
            self.stacks_dir,
        )

    @property
    def working_database(self) -> str:
        return naming.database_name(self.spec.slug, self.spec.stage)

    @property
    def working_url(self) -> str:
        return database_url(self.admin_url, self.working_database)


class PreviewStack(StackHandle):
    """A handle that can only ever point at a preview stack."""

    def __post_init__(self) -> None:
        if self.spec.stage != naming.PREVIEW:
            raise ProductionRefused(
                f"{self.spec.stack_name} is not a preview stack; this operation only "
                "ever acts on <slug>-preview"
            )
        super().__post_init__()


def refuse_stack_names(slug: str, command: str) -> None:
    """``reset-preview demo-production`` must fail loudly, not look for a client of that name."""
    for stage in naming.STAGES:
        if slug.endswith(f"-{stage}"):
            client = slug[: -len(stage) - 1]
            if stage == naming.PRODUCTION:
                raise ProductionRefused(
                    f"{command} never touches production: {slug!r} names a production stack; "
                    f"pass the client slug ({client!r}) to act on its preview"
                )
            raise UnknownTenant(
                f"{slug!r} is a stack name; pass the client slug ({client!r}) instead"
            )


def content_bucket_of(spec: TenantSpec, outputs: Mapping[str, Any] | None) -> str:
    """The content bucket of a stack, from its outputs: the one place operations learn it.

    The name is unique per installation (``naming.content_bucket``), so it is read,
    never recomputed."""
    bucket = (outputs or {}).get("contentBucket")
    if not bucket:
        raise EnvironmentProblem(
            f"cannot find the content bucket of {spec.stack_name}: its stack outputs cannot be "
            "read; deploy it first, or install the Pulumi CLI (or use the local target)"
        )
    return str(bucket)


def database_admin_url(
    spec: TenantSpec, outputs: Mapping[str, Any] | None, region: str | None = None
) -> str:
    """The URL of a stack's PostgreSQL server (maintenance database).

    A pooled stack's pool named in ``TENANTCTL_POOL_DATABASE_URLS`` wins, then
    ``TENANTCTL_DATABASE_URL`` (the local target, or a tunnel); otherwise the stack
    outputs name the server (its instance or its pool) and the master secret.
    """
    url = (pool_url(spec.database_pool) if spec.database_pool else None) or os.environ.get(
        DATABASE_URL_ENV
    )
    if url:
        return url
    if not outputs or "databaseEndpoint" not in outputs:
        raise EnvironmentProblem(
            f"cannot reach the database of {spec.stack_name}: set {DATABASE_URL_ENV} "
            "(the local target's `scripts/local-target up` prints it) or install the Pulumi "
            "CLI so the stack outputs can be read"
        )
    host = outputs["databaseEndpoint"].split(":")[0]
    return server_url(host, outputs.get("databasePort", 5432), outputs["databaseSecretArn"], region)


def pool_admin_url(pool: DatabasePool, region: str | None) -> str:
    """The admin URL of a pool server: ``TENANTCTL_POOL_DATABASE_URLS``, else
    ``TENANTCTL_DATABASE_URL`` (the local target's one server), else its endpoint and
    master secret from the platform's outputs."""
    url = pool_url(pool.name) or os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    return server_url(pool.address, pool.port, pool.master_secret_arn, region)


def server_url(host: str, port: int, master_secret_arn: str, region: str | None) -> str:
    """The admin URL of the server at *host*:*port* whose master credentials (username and
    password, as RDS keeps them) are in the secret *master_secret_arn*. Never print it."""
    secret = aws.client("secretsmanager", region).get_secret_value(SecretId=master_secret_arn)
    creds = json.loads(secret["SecretString"])
    return (
        f"postgresql://{quote(creds['username'], safe='')}:{quote(creds['password'], safe='')}"
        f"@{host}:{port}/postgres?sslmode=require"
    )


def project_dir_of(stacks_dir: Path) -> Path | None:
    """The Pulumi project whose stack folder is *stacks_dir*, if it is one.

    ``pulumi up`` reads stack config from the project's own ``stacks/``, so only
    stack files there can be deployed through the Pulumi CLI.
    """
    candidate = stacks_dir.resolve().parent
    return candidate if (candidate / "Pulumi.yaml").is_file() else None


def open_stack(
    spec: TenantSpec,
    outputs: Mapping[str, Any] | None = None,
    region: str | None = None,
    handle: type[StackHandle] = StackHandle,
    source: OutputsSource | None = None,
    stacks_dir: Path | None = None,
) -> StackHandle:
    """A handle on one stack with *outputs*, or with those *source* reads (once, here)."""
    if outputs is None and source is not None:
        outputs = source.outputs(spec, region)
    return handle(spec, database_admin_url(spec, outputs, region), region, outputs, stacks_dir)
