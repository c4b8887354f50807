"""The tenant spec: one typed model of a client's stack, and its validation.

Built from stack config (namespace ``tenants:``) inside the Pulumi program, and
from CLI options or a YAML file by ``tenantctl create``. Every field has a type,
a description and (where it has one) a default, here and only here: the
``config:`` block of ``Pulumi.yaml`` and the README's config reference are
generated from this model (``scripts/gen-config-reference``) and a test keeps
them in step.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from infra.core import limits, naming, text_rules
from infra.core.integration_config import (
    IntegrationSpec,
    integration_names,
    integrations_problem,
    names_problem,
)
from infra.core.platform import POOL_NAME_PATTERN
from infra.core.providers import PROVIDERS, PaymentMode
from infra.core.spec_errors import FieldError, Problem, SpecError, config_key, problems_from

# --------------------------------------------------------------------------- roles

ROLES: dict[str, str] = {
    "administrator": "Everything, including administrator accounts and roles.",
    "manager": "Configuration and content: lots, permit and violation options, portal "
    "messages and templates, data imports.",
    "enforcement": "Issues and voids violations; reads permits.",
    "cashier": "Sells permits, takes payments and issues refunds at the counter.",
    "viewer": "Read-only access to reports, permits, violations and payments.",
}
"""Admin-site roles: one Cognito group per role, each admin in exactly one."""

Role = Literal["administrator", "manager", "enforcement", "cashier", "viewer"]

# --------------------------------------------------------------- field-level rules


def _rule(check: Any, message: str) -> AfterValidator:
    """An ``AfterValidator`` whose failure message is the rule itself."""

    def validate(value: Any) -> Any:
        if not check(value):
            raise ValueError(message)
        return value

    return AfterValidator(validate)


def _slug_rule(value: str) -> str:
    problem = naming.slug_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _host_rule(value: str) -> str:
    problem = naming.hostname_problem(value)
    if problem:
        raise ValueError(problem)
    return value


_PHONE = re.compile(r"^\+?[0-9 ().-]{7,20}\Z")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}\Z")
_PLATFORM_STACK = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")
_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+\Z")

Slug = Annotated[str, AfterValidator(_slug_rule)]
Host = Annotated[str, AfterValidator(_host_rule)]


def _text_rule(problem_of: Any) -> AfterValidator:
    """An ``AfterValidator`` from a ``infra.core.text_rules`` function returning a problem."""

    def validate(value: Any) -> Any:
        problem = problem_of(value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(validate)


Email = Annotated[str, _text_rule(text_rules.email_problem)]
Phone = Annotated[
    str, _rule(_PHONE.match, "must be a phone number of 7-20 digits, e.g. +1 555 010 2000")
]
Colour = Annotated[str, _rule(_COLOUR.match, "must be a #RRGGBB hex colour such as #0b5394")]
HttpsUrl = Annotated[
    str,
    _rule(
        lambda v: v.startswith("https://") and len(v) > len("https://x.y"),
        "must be an https:// URL",
    ),
]
HttpsOrigin = Annotated[
    str,
    _rule(
        lambda v: re.fullmatch(r"https://[a-z0-9.-]+(:[0-9]{1,5})?", v) is not None,
        "must be an https:// origin without a path, e.g. https://cdn.example.edu",
    ),
]
Currency = Annotated[str, _text_rule(text_rules.currency_problem)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
    )


# ------------------------------------------------------------------------ sections


class DatabaseSpec(_Model):
    """Database sizing overrides; anything left out takes the stage's default."""

    instance_class: Annotated[
        str | None,
        _rule(
            lambda v: v is None or _INSTANCE_CLASS.match(v),
            "must be an RDS instance class such as db.t4g.micro",
        ),
    ] = Field(None, description="RDS instance class, e.g. db.t4g.medium.")
    allocated_storage_gb: int | None = Field(
        None,
        ge=limits.RDS_GP3_STORAGE_MIN_GIB,
        le=limits.RDS_GP3_STORAGE_MAX_GIB,
        description=f"Initial storage in GiB ({limits.RDS_GP3_STORAGE_MIN_GIB}-"
        f"{limits.RDS_GP3_STORAGE_MAX_GIB}).",
    )
    max_allocated_storage_gb: int | None = Field(
        None,
        ge=limits.RDS_GP3_STORAGE_MIN_GIB,
        le=limits.RDS_GP3_STORAGE_MAX_GIB,
        description="Storage autoscaling ceiling in GiB; at least "
        f"{limits.RDS_MAX_STORAGE_MIN_GROWTH_PERCENT}% above allocatedStorageGb.",
    )
    backup_retention_days: int | None = Field(
        None,
        ge=1,
        le=limits.RDS_BACKUP_RETENTION_MAX_DAYS,
        description="Automated backup retention in days "
        f"(1-{limits.RDS_BACKUP_RETENTION_MAX_DAYS}).",
    )


class PaymentSpec(_Model):
    """Hosted payment configuration (non-secret). Credentials are set by
    ``tenantctl payment set-credentials`` and never appear in config."""

    provider: Literal["stripe", "square", "authorize_net"] = Field(
        description="Hosted payment provider: " + ", ".join(PROVIDERS) + "."
    )
    merchant_id: str = Field(min_length=1, description="The client's merchant/account id.")
    currency: Currency = Field("USD", description="ISO 4217 currency of all charges.")

    @model_validator(mode="after")
    def _merchant_id_matches_provider(self) -> PaymentSpec:
        provider = PROVIDERS[self.provider]
        if not provider.merchant_id_pattern.match(self.merchant_id):
            raise FieldError(
                ("merchantId",), self.merchant_id, f"must be {provider.merchant_id_hint}"
            )
        return self


class BrandingSpec(_Model):
    """How the portal and emails present the client."""

    organization_name: str = Field(
        min_length=2, max_length=120, description="Client organization shown to the public."
    )
    primary_color: Colour = Field("#0b5394", description="Main brand colour, #RRGGBB.")
    accent_color: Colour = Field("#f1c232", description="Accent colour, #RRGGBB.")
    logo_url: HttpsUrl | None = Field(None, description="https:// URL of the client's logo.")
    support_email: Email = Field(description="Where the public writes for help.")
    support_phone: Phone | None = Field(None, description="Public help line.")
    allowed_origins: list[HttpsOrigin] = Field(
        default_factory=list,
        description="https:// origins (scheme and host only) the portal may load scripts and "
        "stylesheets from; content pushes that load them from anywhere else are refused.",
    )


class AdminSpec(_Model):
    """An administrator account on the admin site."""

    email: Email = Field(description="Sign-in email; also where the invitation goes.")
    name: str = Field(min_length=1, max_length=120, description="Full name.")
    role: Role = Field(description="One of: " + ", ".join(ROLES) + ".")


class CustomDomainSpec(_Model):
    """The client's own portal domain on the platform's CloudFront distribution (production).

    Set by ``tenantctl domain request-certificate`` and ``tenantctl domain attach``; an
    operator never needs to edit it by hand."""

    certificate_generation: int | None = Field(
        None,
        ge=1,
        description="Which ACM certificate (us-east-1) the portal domain has: absent until "
        "the client's DNS team is ready (no certificate requested yet); each new generation "
        "replaces the certificate (ACM gives up validating after 72 hours).",
    )
    attached: bool = Field(
        False,
        description="The domain is a tenant of the platform's CloudFront distribution "
        "(disabled until live); needs an issued certificate.",
    )

    @model_validator(mode="after")
    def _attached_needs_certificate(self) -> CustomDomainSpec:
        if self.attached and self.certificate_generation is None:
            raise FieldError(
                ("attached",),
                self.attached,
                "needs a certificate first; run `tenantctl domain request-certificate`",
            )
        return self


@functools.cache
def _public_suffixes() -> Any:
    # The list bundled with the package (no network); loaded once, only for a portal domain.
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def apex_problem(domain: str) -> str | None:
    """Why *domain* cannot be a client's portal domain, or ``None``: a registrable domain
    (``example.edu``, ``example.co.uk``: its apex, per the Public Suffix List) or a public
    suffix cannot take the CNAME that points it at CloudFront."""
    registrable = _public_suffixes().privatesuffix(domain)
    if registrable is None or registrable == domain:
        return (
            "must be a subdomain such as parking." + domain + ": an apex domain cannot take "
            "the CNAME that points it at the platform (CloudFront)"
        )
    return None


# ------------------------------------------------------------------- stage defaults


@dataclass(frozen=True)
class DatabaseSizing:
    instance_class: str
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    backup_retention_days: int
    multi_az: bool
    apply_immediately: bool
    """Whether a class or storage change is made at once (a short outage) or waits for
    the weekly maintenance window (and shows as drift until then)."""


STAGE_DATABASE_DEFAULTS: dict[naming.Stage, DatabaseSizing] = {
    "preview": DatabaseSizing(
        instance_class="db.t4g.micro",
        allocated_storage_gb=20,
        max_allocated_storage_gb=50,
        backup_retention_days=1,
        multi_az=False,
        # Preview is for testing and training: a resize happens when it is asked for.
        apply_immediately=True,
    ),
    "production": DatabaseSizing(
        # A small client's production: about $52 a month Multi-AZ (`tenantctl cost`); a
        # larger client sets tenants:database.instanceClass (the demo does).
        instance_class="db.t4g.small",
        allocated_storage_gb=20,
        max_allocated_storage_gb=200,
        backup_retention_days=14,
        multi_az=True,
        # Production serves the public: a resize waits for the maintenance window, and
        # drift reports it pending until then.
        apply_immediately=False,
    ),
}
PRODUCTION_MIN_BACKUP_DAYS = STAGE_DATABASE_DEFAULTS["production"].backup_retention_days


# ---------------------------------------------------------------------- the spec


class TenantSpec(_Model):
    """One client's stack for one stage."""

    slug: Slug = Field(
        description=f"Client id: {naming.SLUG_MIN_LENGTH}-{naming.SLUG_MAX_LENGTH} lowercase "
        "letters, digits and single hyphens; names every stack, host and resource."
    )
    stage: naming.Stage = Field(description="preview or production; must match the stack name.")
    display_name: str = Field(
        min_length=2, max_length=80, description="Client name shown in consoles and emails."
    )
    base_domain: Host = Field(
        naming.DEFAULT_BASE_DOMAIN,
        description="The platform's public zone; hosts are <slug>[-preview].<baseDomain> and "
        "<slug>[-preview].admin.<baseDomain>. Must equal the platform stack's zoneName.",
    )
    portal_domain: Host | None = Field(
        None,
        description="Production only: the client's own portal domain, e.g. parking.example.edu.",
    )
    custom_domain: CustomDomainSpec = Field(
        default_factory=CustomDomainSpec,
        description="Production only, with portalDomain: its certificate generation and "
        "whether it is attached (set by `tenantctl domain`).",
    )
    platform_stack: Annotated[
        str,
        _rule(_PLATFORM_STACK.match, "must be a fully qualified stack name org/project/stack"),
    ] = Field(description="The shared platform stack to read (org/project/stack).")
    database: DatabaseSpec = Field(
        default_factory=DatabaseSpec, description="Database sizing overrides."
    )
    payment: PaymentSpec = Field(description="Hosted payment configuration (non-secret).")
    branding: BrandingSpec = Field(description="Portal and email branding.")
    admins: list[AdminSpec] = Field(
        min_length=1, description="Administrator accounts: email, name and role."
    )
    live: bool = Field(
        False, description="Production only: true once launched (set by tenantctl promote)."
    )
    database_pool: Annotated[
        str | None,
        _rule(
            lambda v: v is None or POOL_NAME_PATTERN.match(v),
            "must be a pool name: 1-32 of a-z, 0-9 and -",
        ),
    ] = Field(
        None,
        description="The platform's shared PostgreSQL server the stack's databases and role "
        "live on: for a preview a name in its previewDatabasePools, for a pooled production "
        "(databaseTier: pooled) one in productionDatabasePools; recorded by tenantctl create "
        "and changed only by tenantctl preview move (previews). Absent on a preview created "
        "before pools: it keeps a dedicated instance until moved.",
    )
    database_tier: Literal["dedicated", "pooled"] | None = Field(
        None,
        description="Production only: pooled puts a small client's production on one of the "
        "platform's shared Multi-AZ servers (productionDatabasePools, about 5 a server; a "
        "fraction of a dedicated instance's cost), with its own role as a pooled preview "
        "has; dedicated (the default) gives it an instance of its own. Chosen when the "
        "production is created: an existing production does not change tier.",
    )
    integrations: list[IntegrationSpec] = Field(
        default_factory=list,
        description="Vendor feeds (mobile-parking apps, meters): `tenantctl integration add`; "
        "a production's are carried from preview by promote.",
    )
    nightly_reset: bool = Field(
        False,
        description="Preview only: true lets a scheduled `tenantctl fleet run reset-preview` "
        "reset this preview to defaults (a person's reset-preview needs no opt-in).",
    )

    @model_validator(mode="after")
    def _stage_rules(self) -> TenantSpec:
        if self.stage == naming.PREVIEW:
            if self.portal_domain is not None:
                raise FieldError(
                    ("portalDomain",),
                    self.portal_domain,
                    "is production only; remove it from the preview stack",
                )
            if self.live:
                raise FieldError(
                    ("live",), self.live, "is production only; a preview is never live"
                )
            if self.database_tier is not None:
                raise FieldError(
                    ("databaseTier",),
                    self.database_tier,
                    "is production only; a preview lives on a pool server",
                )
        elif self.nightly_reset:
            raise FieldError(
                ("nightlyReset",), True, "is preview only; a production stack is never reset"
            )
        if self.database_pool is not None and self.database.model_dump(exclude_none=True):
            raise FieldError(
                ("database",),
                self.database.model_dump(by_alias=True, exclude_none=True),
                f"sizes a dedicated instance; a pooled {self.stage} runs on its pool server "
                f"({self.database_pool}): remove it",
            )
        if (
            self.stage == naming.PRODUCTION
            and self.database_pool is not None
            and self.database_tier != "pooled"
        ):
            raise FieldError(
                ("databasePool",),
                self.database_pool,
                "places a production on a pool server only with databaseTier: pooled",
            )
        if self.database_tier == "pooled" and self.database.model_dump(exclude_none=True):
            raise FieldError(
                ("database",),
                self.database.model_dump(by_alias=True, exclude_none=True),
                "sizes a dedicated instance; databaseTier pooled runs on a shared server: "
                "remove one of them",
            )
        if self.custom_domain != CustomDomainSpec() and self.portal_domain is None:
            raise FieldError(
                ("customDomain",),
                self.custom_domain.model_dump(by_alias=True, exclude_defaults=True),
                "needs portalDomain (production only); remove it",
            )
        if self.portal_domain is not None and not self.portal_domain.endswith(
            "." + self.base_domain
        ):
            apex = apex_problem(self.portal_domain)
            if apex:
                raise FieldError(("portalDomain",), self.portal_domain, apex)
        if self.portal_domain is not None and self.portal_domain.endswith("." + self.base_domain):
            raise FieldError(
                ("portalDomain",),
                self.portal_domain,
                f"must be the client's own domain, not a name under {self.base_domain}",
            )
        if (
            self.stage == naming.PRODUCTION
            and self.database.backup_retention_days is not None
            and self.database.backup_retention_days < PRODUCTION_MIN_BACKUP_DAYS
        ):
            raise FieldError(
                ("database", "backupRetentionDays"),
                self.database.backup_retention_days,
                f"must be at least {PRODUCTION_MIN_BACKUP_DAYS} days in production",
            )
        problem = integrations_problem(self.integrations)
        if problem:
            raise FieldError(("integrations",), [i.id for i in self.integrations], problem)
        for index, integration in enumerate(self.integrations):
            too_long = names_problem(integration_names(self.slug, self.stage, integration.id))
            if too_long:
                raise FieldError(("integrations", index, "id"), integration.id, too_long)
        emails = [a.email.lower() for a in self.admins]
        for index, email in enumerate(emails):
            if email in emails[:index]:
                raise FieldError(
                    ("admins", index, "email"), email, "is listed twice; each admin once"
                )
        if not any(a.role == "administrator" for a in self.admins):
            raise FieldError(
                ("admins",),
                [a.email for a in self.admins],
                "must include at least one admin with role administrator",
            )
        return self

    @model_validator(mode="after")
    def _aws_limits(self) -> TenantSpec:
        """Every AWS limit a value reaches (``infra.core.limits``), named with key and limit."""
        sizing = self.database_sizing
        least = limits.min_max_allocated_storage(sizing.allocated_storage_gb)
        if sizing.max_allocated_storage_gb < least:
            raise FieldError(
                ("database", "maxAllocatedStorageGb"),
                sizing.max_allocated_storage_gb,
                f"must be at least {least}: RDS storage autoscaling needs the ceiling "
                f"{limits.RDS_MAX_STORAGE_MIN_GROWTH_PERCENT}% above allocatedStorageGb "
                f"({sizing.allocated_storage_gb})",
            )
        prefix = limits.ssm_reserved_prefix(naming.settings_parameter(self.slug, self.stage))
        if prefix is not None:
            raise FieldError(
                ("slug",),
                self.slug,
                f"must not begin with {prefix!r}: SSM refuses parameter names prefixed with "
                f"{' or '.join(limits.SSM_RESERVED_NAME_PREFIXES)}",
            )
        # The platform's wildcard certificate is named *.<baseDomain> (its common name).
        wildcard = f"*.{self.base_domain}"
        if limits.octets(wildcard) > limits.ACM_COMMON_NAME_MAX_OCTETS:
            raise FieldError(
                ("baseDomain",),
                self.base_domain,
                f"makes the platform certificate name {wildcard!r} {limits.octets(wildcard)} "
                f"octets long; an ACM certificate name is at most "
                f"{limits.ACM_COMMON_NAME_MAX_OCTETS}",
            )
        if (
            self.portal_domain is not None
            and limits.octets(self.portal_domain) > limits.ACM_COMMON_NAME_MAX_OCTETS
        ):
            raise FieldError(
                ("portalDomain",),
                self.portal_domain,
                f"is {limits.octets(self.portal_domain)} octets long; its ACM certificate "
                f"name may be at most {limits.ACM_COMMON_NAME_MAX_OCTETS}",
            )
        return self

    # ---- derived facts (names live in infra.core.naming; this just binds them)

    @property
    def stack_name(self) -> str:
        return naming.stack_name(self.slug, self.stage)

    @property
    def admin_host(self) -> str:
        return naming.admin_host(self.slug, self.stage, self.base_domain)

    @property
    def portal_host(self) -> str:
        return naming.portal_host(self.slug, self.stage, self.base_domain)

    @property
    def public_portal_host(self) -> str:
        """Where the public reaches the portal: the client's own domain when it has one."""
        return self.portal_domain or self.portal_host

    @property
    def tags(self) -> dict[str, str]:
        return naming.tags(self.slug, self.stage)

    @property
    def payment_mode(self) -> PaymentMode:
        return "live" if self.stage == naming.PRODUCTION and self.live else "sandbox"

    @property
    def pooled(self) -> bool:
        """Whether the stack's databases live on a shared pool server (no instance of its own)."""
        return self.database_pool is not None

    @property
    def database_sizing(self) -> DatabaseSizing:
        base = STAGE_DATABASE_DEFAULTS[self.stage]
        overrides = {k: v for k, v in self.database.model_dump().items() if v is not None}
        return DatabaseSizing(**{**base.__dict__, **overrides})

    def to_config(self) -> dict[str, Any]:
        """The ``tenants:`` keys of a stack file for this spec (defaults left out)."""
        data = self.model_dump(by_alias=True, exclude_defaults=True, mode="json")
        data["stage"] = self.stage
        return {f"{naming.CONFIG_NAMESPACE}{key}": value for key, value in data.items()}


# ------------------------------------------------------------------------ loading


def parse_spec(data: Mapping[str, Any], source: str = "") -> TenantSpec:
    """Validate plain data (camelCase keys, no namespace) into a ``TenantSpec``.

    Every problem is collected: the rules every string follows
    (``infra.core.text_rules``) and each field's own; a key with a broken
    string is reported once, for the string.
    """
    problems = [
        Problem(config_key(path), value, rule)
        for path, value, rule in text_rules.string_problems(data)
    ]
    try:
        spec = TenantSpec.model_validate(dict(data))
    except ValidationError as exc:
        flagged = {p.key for p in problems}
        problems += [p for p in problems_from(exc, data) if p.key not in flagged]
    if problems:
        raise SpecError(problems, source)
    return spec


def spec_from_config(
    config: Mapping[str, Any], expected_stack: str | None = None, source: str = ""
) -> TenantSpec:
    """Build a spec from a stack file's ``config:`` mapping (keys ``tenants:<key>``).

    Keys of other namespaces (``aws:region``) are ignored. When *expected_stack*
    is given, slug and stage must agree with it.
    """
    prefix = naming.CONFIG_NAMESPACE
    data = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    spec = parse_spec(data, source)
    if expected_stack is not None and spec.stack_name != expected_stack:
        raise SpecError(
            [
                Problem(
                    config_key(("stage",)) + "/" + config_key(("slug",)),
                    f"{spec.slug}-{spec.stage}",
                    f"must match the stack name {expected_stack!r}",
                )
            ],
            source,
        )
    return spec
