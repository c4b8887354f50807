"""Every name this project derives, in one place.

Stacks, files, hosts, buckets, databases, parameter paths and tags are all
computed here from a tenant's slug and stage, so that the Pulumi program and
the operations around it always agree on where things live. The operations
find resources by these names (or by stack outputs), never by listing an
account.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal, get_args

PROJECT = "tenants"
"""The Pulumi project name (``Pulumi.yaml``) and the stack-config namespace."""
CONFIG_NAMESPACE = f"{PROJECT}:"
"""Prefix of the stack-config keys that make up the tenant spec (``tenants:slug``)."""

TOOL = "tenantctl"
STACKS_DIR_ENV = "TENANTCTL_STACKS_DIR"
"""Where every command looks for the stack files when ``--stacks-dir`` is not given."""

Stage = Literal["preview", "production"]
STAGES: tuple[Stage, ...] = get_args(Stage)
PREVIEW: Stage = "preview"
PRODUCTION: Stage = "production"

SLUG_MIN_LENGTH = 3
SLUG_MAX_LENGTH = 24
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]\Z")
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "app",
        "assets",
        "auth",
        "cdn",
        "dev",
        "docs",
        "help",
        "mail",
        "platform",
        "portal",
        "preview",
        "production",
        "prod",
        "staging",
        "static",
        "status",
        "support",
        "test",
        "www",
    }
)

DEFAULT_REGION = "us-east-1"
"""AWS region of new stack files (``aws:region``) and of clients when nothing else says."""

DEFAULT_BASE_DOMAIN = "tenants.example.com"
"""The platform's public zone; a stack may override it with ``tenants:baseDomain``."""

# Content model (DESIGN.md, "Content and data model").
DEFAULTS_PREFIX = "defaults/"
RELEASES_PREFIX = "releases/"
CURRENT_KEY = "current.json"
MANIFEST_KEY = DEFAULTS_PREFIX + "manifest.json"
STATE_PREFIX = "tenantctl/"
"""Operational records (last reset, undo point, promotions) kept beside the content."""
BLOBS_PREFIX = "blobs/sha256/"
"""Immutable content blobs, each stored once under its SHA-256; releases point at them."""
RELEASE_MANIFEST_NAME = "manifest.json"
"""The one object a release is: ``releases/<id>/manifest.json``."""

MANAGED_BY_TAG = {"managed-by": TOOL}

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)\Z")


class NameError_(ValueError):
    """A name that cannot belong to any tenant stack."""


def slug_problem(slug: str) -> str | None:
    """Return why *slug* is not a valid tenant slug, or ``None`` when it is."""
    if not SLUG_MIN_LENGTH <= len(slug) <= SLUG_MAX_LENGTH:
        return f"must be {SLUG_MIN_LENGTH} to {SLUG_MAX_LENGTH} characters long"
    if not SLUG_PATTERN.fullmatch(slug):
        return (
            "must start with a lowercase letter, end with a letter or digit, "
            "and contain only lowercase letters, digits and hyphens"
        )
    if "--" in slug:
        return "must not contain two hyphens in a row"
    if slug in RESERVED_SLUGS:
        return f"is a reserved word ({', '.join(sorted(RESERVED_SLUGS))})"
    for stage in STAGES:
        if slug.endswith(f"-{stage}"):
            # Keeps stack names unambiguous: "<slug>-production" can never be read as a slug.
            return f"must not end in -{stage} (that is a stack name, not a client slug)"
        if f"-{stage}-{INTEGRATION_INFIX}-" in f"{slug}-":
            # The platform's scheduler role of a stage sends to "*-<stage>-int-*" queues:
            # no other stage's queue name may match it.
            return (
                f"must not contain -{stage}-{INTEGRATION_INFIX} (integration queues of "
                f"{stage} are named that way)"
            )
        for infix in (SWITCH_ON_INFIX, SWITCH_REARM_INFIX, SWITCH_OFF_INFIX):
            if f"-{stage}-{infix}-" in f"{slug}-":
                # Keeps the silence-alarm switch schedules of two clients apart.
                return f"must not contain -{stage}-{infix} (integration schedules use it)"
    return None


INTEGRATION_INFIX = "int"
"""The word between a stack's name and an integration id in the integration's AWS names."""
SWITCH_ON_INFIX = "on"
SWITCH_OFF_INFIX = "off"
SWITCH_REARM_INFIX = "arm"
"""The words in place of ``int`` in the names of the schedules that switch an
integration's silence alarm on and off, and re-arm it a minute after it is switched on
(enforcement hours)."""


def hostname_problem(host: str) -> str | None:
    """Return why *host* is not a valid DNS host name, or ``None`` when it is."""
    if len(host) > 253:
        return "must be at most 253 characters long"
    labels = host.split(".")
    if len(labels) < 2:
        return "must be a fully qualified name such as parking.example.edu"
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return (
            "must be lowercase labels of letters, digits and inner hyphens separated by dots, "
            "such as parking.example.edu"
        )
    if labels[-1].isdigit():
        return "must end in a top-level domain, not a number"
    return None


def stack_name(slug: str, stage: Stage) -> str:
    return f"{slug}-{stage}"


def parse_stack_name(name: str) -> tuple[str, Stage]:
    """Split ``<slug>-<stage>`` into its parts; raise ``NameError_`` when it is not one."""
    for stage in STAGES:
        suffix = f"-{stage}"
        if name.endswith(suffix):
            slug = name[: -len(suffix)]
            problem = slug_problem(slug)
            if problem is None:
                return slug, stage
            raise NameError_(f"stack {name!r}: slug {slug!r} {problem}")
    raise NameError_(
        f"stack {name!r} is not a tenant stack; expected <slug>-preview or <slug>-production"
    )


def qualified_stack_name(platform_stack: str, slug: str, stage: Stage) -> str:
    """``<org>/tenants/<slug>-<stage>``: tenant stacks live in their platform stack's organisation.

    The Automation API resolves a bare name against whatever backend and default
    organisation the machine happens to have; a fully qualified name cannot land
    anywhere else.
    """
    org = platform_stack.split("/", 1)[0]
    return f"{org}/{PROJECT}/{stack_name(slug, stage)}"


def stack_file(stacks_dir: Path, slug: str, stage: Stage) -> Path:
    return stacks_dir / f"Pulumi.{stack_name(slug, stage)}.yaml"


STACK_FILE_PATTERN = re.compile(r"^Pulumi\.(?P<stack>.+)\.yaml\Z")


def host_slug(slug: str, stage: Stage) -> str:
    """The first host label: preview inserts ``-preview`` after the slug."""
    return f"{slug}-preview" if stage == PREVIEW else slug


def admin_host(slug: str, stage: Stage, base_domain: str) -> str:
    return f"{host_slug(slug, stage)}.admin.{base_domain}"


def portal_host(slug: str, stage: Stage, base_domain: str) -> str:
    return f"{host_slug(slug, stage)}.{base_domain}"


def resource_prefix(slug: str, stage: Stage) -> str:
    """Prefix for the logical names of every resource in a tenant stack."""
    return stack_name(slug, stage)


def installation_id(kms_key_arn: str, platform_stack: str) -> str:
    """8 hex digits naming one installation: the platform's account, region and stack.

    S3 bucket names are global across all AWS accounts; a name made only of the
    slug would collide with the same client on another installation (a staging
    platform, another vendor running tenantctl). The account and region come
    from the platform's KMS key ARN (``arn:aws:kms:<region>:<account>:key/...``).
    """
    parts = kms_key_arn.split(":")
    region, account = (parts[3], parts[4]) if len(parts) > 4 else ("", kms_key_arn)
    digest = hashlib.sha256(f"{account}:{region}:{platform_stack}".encode()).hexdigest()
    return digest[:8]


def content_bucket(slug: str, stage: Stage, installation: str) -> str:
    """At most 62 characters (S3 allows 63): ``tenantctl-<slug>-<stage>-content-<installation>``.

    The operations never recompute it: they read the ``contentBucket`` stack output
    (``infra.ops.stacks.handle.content_bucket_of``)."""
    return f"{TOOL}-{slug}-{stage}-content-{installation}"


def database_name(slug: str, stage: Stage) -> str:
    """The working database the application uses."""
    return f"{slug.replace('-', '_')}_{stage}"


def defaults_database_name(slug: str, stage: Stage) -> str:
    """The template database seeded from ``templates/db``."""
    return f"{database_name(slug, stage)}_defaults"


def undo_database_name(slug: str, stage: Stage) -> str:
    """The working database as it was before the last reset (one undo)."""
    return f"{database_name(slug, stage)}_undo"


def database_role_name(slug: str, stage: Stage) -> str:
    """A pooled stack's own PostgreSQL login role: the only one that may connect to its
    databases (role names are per server, so the stack's name makes it unique there)."""
    return f"{database_name(slug, stage)}_app"


def database_role_secret_name(slug: str, stage: Stage) -> str:
    """The Secrets Manager secret holding that role's username and password (set by
    tenantctl, never by Pulumi)."""
    return f"{TOOL}/{slug}/{stage}/database-role"


def db_instance_identifier(slug: str, stage: Stage) -> str:
    return f"{slug}-{stage}-db"


def settings_parameter(slug: str, stage: Stage) -> str:
    """The stack's one SSM parameter: its non-secret settings as JSON (``stack_settings``)."""
    return f"/{slug}/{stage}/settings"


def payment_secret_name(slug: str, stage: Stage) -> str:
    return f"{TOOL}/{slug}/{stage}/payment-credentials"


def distribution_tenant_name(slug: str) -> str:
    """The CloudFront distribution tenant of a production's own portal domain (unique in the
    account, as CloudFront requires; production only, so no stage in it)."""
    return f"{TOOL}-{slug}"


def user_pool_name(slug: str, stage: Stage) -> str:
    return f"{slug}-{stage}-admins"


def lock_key(slug: str) -> str:
    """The object in the platform's operations bucket (``operationsBucketName``) that holds
    a client's operation lock (one per client, both stages)."""
    return f"locks/{slug}.json"


def tags(slug: str, stage: Stage) -> dict[str, str]:
    """The tags every taggable AWS resource of a tenant stack carries."""
    return {"tenant": slug, "stage": stage, **MANAGED_BY_TAG}


def release_prefix(release_id: str) -> str:
    return f"{RELEASES_PREFIX}{release_id}/"


def release_manifest_key(release_id: str) -> str:
    return f"{release_prefix(release_id)}{RELEASE_MANIFEST_NAME}"


_SHA256_HEX = re.compile(r"^[0-9a-f]{64}\Z")


def blob_key(digest: str) -> str:
    """Where the blob with this lowercase hex SHA-256 lives."""
    if not _SHA256_HEX.match(digest):
        raise NameError_(f"{digest!r} is not a lowercase hex SHA-256 digest")
    return f"{BLOBS_PREFIX}{digest}"


def record_key(name: str) -> str:
    """An operational record (JSON) under ``tenantctl/``: ``record_key("last-reset")``."""
    if not name or name.startswith("/") or ".." in name.split("/"):
        raise NameError_(f"{name!r} is not a record name")
    return f"{STATE_PREFIX}{name}.json"


IMPORTS_PREFIX = STATE_PREFIX + "imports/"
"""Files loaded by ``tenantctl import``, kept so promote can replay old-system data."""


def import_file_key(kind: str, digest: str) -> str:
    """Where an imported file is kept: ``tenantctl/imports/<kind>/<sha256>.csv``."""
    if not _SHA256_HEX.match(digest) or not re.fullmatch(r"[a-z][a-z-]*", kind):
        raise NameError_(f"{kind!r}/{digest!r} does not name an imported file")
    return f"{IMPORTS_PREFIX}{kind}/{digest}.csv"
