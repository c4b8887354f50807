"""create: write a client's two stack files from one description, idempotently.

The description comes either from command-line options (``CreateOptions``) or
from a tenant file (``tenantctl create SLUG --from FILE.yaml``). A tenant file
uses the stack-config keys without the ``tenants:`` namespace: the fields both
stages share at the top level, and per-stage overrides under ``preview:`` and
``production:`` (mappings are merged key by key, anything else replaces)::

    slug: demo                    # optional; must equal SLUG when present
    displayName: Demo State University Parking
    platformStack: acme/platform/prod
    payment: {provider: stripe, merchantId: acct_1DemoStateUniv01}
    branding: {organizationName: Demo State University, supportEmail: parking@demo.edu}
    admins:
      - {email: pat.lee@demo.edu, name: Pat Lee, role: administrator}
    production:
      portalDomain: parking.demo.edu
      database: {instanceClass: db.t4g.medium, backupRetentionDays: 21}

A new preview is placed on the least-full of the platform's shared database pools
(``tenants:databasePool``, recorded in its stack file and never re-chosen; a file
may name one). ``stage`` is implied by the section and ``live`` belongs to ``tenantctl promote``
(create keeps whatever the production file says), so neither may appear.
``stacks/tenant.example.yaml`` is a complete example equal to the demo tenant.

Both specs are built and validated before anything is written. Running create
again with the same description changes nothing; with a different one it
refuses (``StackFilesDiffer``, carrying the diff) unless forced. Library code:
nothing here prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from infra import PROJECT_DIR
from infra.core import naming
from infra.core.errors import ConflictError, PreconditionFailed, UserInputError
from infra.core.platform import (
    POOL_OUTPUTS,
    DatabasePool,
    PlatformError,
    choose_pool,
    database_pools,
    find_pool,
)
from infra.core.spec import CustomDomainSpec, Problem, SpecError, TenantSpec, parse_spec
from infra.core.text_rules import first_of, shorten
from infra.ops.adapters import yamlfiles
from infra.ops.stacks import stackfiles
from infra.ops.stacks.handle import project_dir_of
from infra.ops.stacks.platformfile import platform_outputs
from infra.ops.stacks.projectconfig import check_stack_text

FileStatus = Literal["created", "updated", "unchanged"]
CreateStatus = Literal["created", "updated", "unchanged"]

_IMPLIED_KEYS = {
    "stage": "is implied by the preview:/production: section; remove it",
    "live": "is set by `tenantctl promote` at go-live, never by create; remove it",
}


# ------------------------------------------------------------------ the inputs


@dataclass(frozen=True)
class CreateField:
    """One command-line option of ``create`` and the spec key it fills."""

    option: str
    """The option, e.g. ``--display-name``; click names its parameter after it."""
    key: str
    """The spec key (camelCase, dotted for nested), e.g. ``payment.merchantId``."""
    production_only: bool = False

    @property
    def param(self) -> str:
        return self.option.removeprefix("--").replace("-", "_")


CREATE_FIELDS: tuple[CreateField, ...] = (
    CreateField("--display-name", "displayName"),
    CreateField("--platform-stack", "platformStack"),
    CreateField("--payment-provider", "payment.provider"),
    CreateField("--merchant-id", "payment.merchantId"),
    CreateField("--currency", "payment.currency"),
    CreateField("--organization", "branding.organizationName"),
    CreateField("--support-email", "branding.supportEmail"),
    CreateField("--support-phone", "branding.supportPhone"),
    CreateField("--primary-color", "branding.primaryColor"),
    CreateField("--accent-color", "branding.accentColor"),
    CreateField("--logo-url", "branding.logoUrl"),
    CreateField("--portal-domain", "portalDomain", production_only=True),
)
"""Every option ``create`` takes besides --admin; the CLI, the spec documents and the
"pass --x" hints are all derived from this one table."""

ADMIN_OPTION = "--admin"
ADMIN_FORMAT = "EMAIL:NAME:ROLE"


@dataclass(frozen=True)
class CreateOptions:
    """The options given on the command line; a field left out is absent from *values*."""

    values: Mapping[str, str] = field(default_factory=dict)
    """``CreateField.param`` -> value, for the options that were given."""
    admins: tuple[str, ...] = ()
    """Each ``EMAIL:NAME:ROLE``."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any], admins: tuple[str, ...]) -> CreateOptions:
        names = {f.param for f in CREATE_FIELDS}
        return cls({k: v for k, v in params.items() if k in names and v is not None}, admins)

    def given(self) -> list[str]:
        """The options (``--display-name``) that were set."""
        options = [f.option for f in CREATE_FIELDS if f.param in self.values]
        return [*options, ADMIN_OPTION] if self.admins else options


def _option_for_key(key: str) -> str | None:
    """Which option fills *key* (a leaf, or a section such as ``payment``)."""
    if key == "admins":
        return f"{ADMIN_OPTION} {ADMIN_FORMAT}"
    leaves = [f.option for f in CREATE_FIELDS if f.key == key]
    if leaves:
        return leaves[0]
    required = {
        "payment": ("provider", "merchantId"),
        "branding": ("organizationName", "supportEmail"),
    }
    if key in required:
        return " and ".join(o for k in required[key] if (o := _option_for_key(f"{key}.{k}")))
    return None


def parse_admin(text: str, index: int) -> dict[str, str]:
    """``EMAIL:NAME:ROLE`` as an admin mapping (the name may contain colons)."""
    email, _, rest = text.partition(":")
    name, _, role = rest.rpartition(":")
    if not (email and name and role):
        raise SpecError(
            [
                Problem(
                    f"{naming.CONFIG_NAMESPACE}admins[{index}]",
                    text,
                    "must be EMAIL:NAME:ROLE, e.g. pat@example.edu:Pat Lee:administrator",
                )
            ],
            "--admin",
        )
    # Nothing is trimmed: a part with surrounding whitespace is refused by the spec's
    # text rules, like every other value a user types.
    return {"email": email, "name": name, "role": role}


def documents_from_options(slug: str, options: CreateOptions) -> dict[naming.Stage, dict[str, Any]]:
    """Plain spec data (camelCase keys) for both stages from command-line options."""
    documents: dict[naming.Stage, dict[str, Any]] = {
        stage: {"slug": slug, "stage": stage} for stage in naming.STAGES
    }
    for spec_field in CREATE_FIELDS:
        value = options.values.get(spec_field.param)
        if value is None:
            continue
        stages = (naming.PRODUCTION,) if spec_field.production_only else naming.STAGES
        for stage in stages:
            *sections, leaf = spec_field.key.split(".")
            target = documents[stage]
            for section in sections:
                target = target.setdefault(section, {})
            target[leaf] = value
    if options.admins:
        admins = [parse_admin(a, i) for i, a in enumerate(options.admins)]
        for document in documents.values():
            document["admins"] = admins
    return documents


def read_tenant_file(path: Path) -> Mapping[str, Any]:
    """The plain mapping of a tenant file; ``MalformedFile`` (one line) when it is not one."""
    source = yamlfiles.display_path(path)
    try:
        text = yamlfiles.read_limited(path, source)
    except FileNotFoundError:
        raise stackfiles.MalformedFile(f"{source} does not exist") from None
    except OSError as exc:
        raise stackfiles.MalformedFile(f"{source}: cannot read it ({exc.strerror})") from None
    yamlfiles.check_structure(text, source)
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise stackfiles.MalformedFile(f"{source}: {yamlfiles.yaml_problem(exc)}") from None
    except ValueError as exc:  # e.g. an integer past Python's digit limit
        raise stackfiles.MalformedFile(f"{source}: invalid value ({exc})") from None
    if not isinstance(data, Mapping):
        raise stackfiles.MalformedFile(
            f"{source}: expected a mapping of tenant fields (see stacks/tenant.example.yaml)"
        )
    return data


def documents_from_file(
    slug: str, data: Mapping[str, Any], source: str
) -> dict[naming.Stage, dict[str, Any]]:
    """Plain spec data for both stages from a tenant file's mapping."""
    problems: list[Problem] = []
    common = {k: v for k, v in data.items() if k not in naming.STAGES}
    if "slug" in common and common["slug"] != slug:
        problems.append(Problem("slug", common["slug"], f"must match the SLUG argument {slug!r}"))
    sections: dict[str, Mapping[str, Any]] = {}
    for stage in naming.STAGES:
        section = data.get(stage) or {}
        if not isinstance(section, Mapping):
            problems.append(Problem(stage, section, "must be a mapping of per-stage overrides"))
            section = {}
        sections[stage] = section
    for where, mapping in (("", common), *((f"{s}.", sections[s]) for s in naming.STAGES)):
        for key, rule in _IMPLIED_KEYS.items():
            if key in mapping:
                problems.append(Problem(where + key, mapping[key], rule))
    if problems:
        raise SpecError(problems, source)
    return {
        stage: {**_deep_merge(common, sections[stage]), "slug": slug, "stage": stage}
        for stage in naming.STAGES
    }


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def build_specs(
    documents: Mapping[naming.Stage, Mapping[str, Any]],
    source: str,
    from_file: bool,
) -> dict[naming.Stage, TenantSpec]:
    """Validate both stages; ``SpecError`` names the stage, key, value and rule."""
    specs: dict[naming.Stage, TenantSpec] = {}
    for stage in naming.STAGES:
        where = f"{source} ({stage})" if source else stage
        try:
            specs[stage] = parse_spec(documents[stage], where)
        except SpecError as exc:
            raise SpecError([_restate(p, source, from_file) for p in exc.problems], where) from None
    return specs


def _restate(problem: Problem, source: str, from_file: bool) -> Problem:
    """Say how to fix a missing field in the user's terms (option or file), not config's."""
    if problem.rule != "add it to the stack config":
        return problem
    key = problem.key.removeprefix(naming.CONFIG_NAMESPACE)
    if from_file:
        rule = f"add {key} to {source}"
    else:
        option = _option_for_key(key)
        rule = f"pass {option}" if option else "add it with --from FILE.yaml"
    return Problem(problem.key, problem.value, rule)


def _check_slug(slug: str) -> None:
    """The SLUG argument first: every other message would name a client that cannot exist."""
    problem = naming.slug_problem(slug)
    if problem is not None:
        raise UserInputError(f"client slug {shorten(slug)} {problem}; nothing was changed")


def specs_from_options(slug: str, options: CreateOptions) -> dict[naming.Stage, TenantSpec]:
    _check_slug(slug)
    source = f"{naming.TOOL} create {slug}"
    return build_specs(documents_from_options(slug, options), source, from_file=False)


def specs_from_file(slug: str, path: Path) -> dict[naming.Stage, TenantSpec]:
    _check_slug(slug)
    source = yamlfiles.display_path(path)
    documents = documents_from_file(slug, read_tenant_file(path), source)
    return build_specs(documents, source, from_file=True)


# ------------------------------------------------------------------ the result


@dataclass(frozen=True)
class FileChange:
    """One stack file: what it says now, what it would say, and the difference."""

    stage: naming.Stage
    path: Path
    old_text: str | None
    new_text: str

    @property
    def status(self) -> FileStatus:
        if self.old_text is None:
            return "created"
        return "unchanged" if self.old_text == self.new_text else "updated"

    @property
    def diff(self) -> list[str]:
        if self.status == "unchanged":
            return []
        return stackfiles.diff_stack_file(
            self.old_text or "", self.new_text, yamlfiles.display_path(self.path)
        )

    def changed_keys(self) -> list[str]:
        """Dotted ``tenants:`` keys whose values differ (all of them for a new file)."""
        new = stackfiles.parse_config(self.new_text, str(self.path))
        old = (
            stackfiles.parse_config(self.old_text, str(self.path))
            if self.old_text is not None
            else {}
        )
        return _changed_keys(old, new)


@dataclass(frozen=True)
class CreateResult:
    slug: str
    specs: dict[naming.Stage, TenantSpec]
    files: list[FileChange] = field(default_factory=list)
    written: bool = False

    @property
    def status(self) -> CreateStatus:
        statuses = {f.status for f in self.files}
        if statuses == {"unchanged"}:
            return "unchanged"
        if statuses == {"created"}:
            return "created"
        return "updated"

    @property
    def diff(self) -> list[str]:
        return [line for f in self.files for line in f.diff]

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "status": self.status,
            "written": self.written,
            "files": [
                {
                    "stack": naming.stack_name(self.slug, f.stage),
                    "path": str(f.path),
                    "status": f.status,
                }
                for f in self.files
            ],
            "diff": self.diff,
        }


class StackFilesDiffer(ConflictError):
    """Existing stack files say something else; nothing was written. Carries the diff."""

    def __init__(self, message: str, result: CreateResult) -> None:
        super().__init__(message)
        self.result = result

    @property
    def diff(self) -> list[str]:
        return self.result.diff


# ------------------------------------------------------------------ the operation


def plan_create(stacks_dir: Path, specs: Mapping[naming.Stage, TenantSpec]) -> CreateResult:
    """What create would write: each file's current and new text. Reads only.

    The production file's ``tenants:live`` is carried over: it belongs to
    ``promote``, and re-running create must never take a live client offline.
    """
    slugs = {spec.slug for spec in specs.values()}
    if len(slugs) != 1 or set(specs) != set(naming.STAGES):
        raise ValueError("create needs one spec per stage for one slug")  # programming error
    slug = slugs.pop()
    changes: list[FileChange] = []
    final_specs: dict[naming.Stage, TenantSpec] = {}
    for stage in naming.STAGES:
        spec = specs[stage]
        path = naming.stack_file(stacks_dir, slug, stage)
        old_text = yamlfiles.read_limited(path) if path.is_file() else None
        source = yamlfiles.display_path(path)
        if old_text is not None:
            config = stackfiles.parse_config(old_text, source)  # MalformedFile: nothing written
            if stage == naming.PRODUCTION and config.get(stackfiles.LIVE_KEY) is True:
                spec = TenantSpec.model_validate({**spec.model_dump(), "live": True})
            # What `tenantctl domain` recorded is tenantctl's state, like `live`: kept.
            recorded = config.get(f"{naming.CONFIG_NAMESPACE}customDomain")
            if stage == naming.PRODUCTION and recorded and spec.custom_domain == CustomDomainSpec():
                spec = spec.model_copy(
                    update={"custom_domain": CustomDomainSpec.model_validate(recorded)}
                )
            # So are the integrations `tenantctl integration` (and promote) recorded.
            integrations = config.get(f"{naming.CONFIG_NAMESPACE}integrations")
            if integrations and not spec.integrations:
                spec = TenantSpec.model_validate(
                    {**spec.model_dump(), "integrations": integrations}
                )
            if _wants_pool(spec) and spec.database_pool is None:
                # Stable: the stack's databases are there (or, absent, on its own
                # instance); only `preview move` changes where a preview's live.
                spec = _with_pool(spec, config.get(POOL_KEY), source)
                if spec.database_pool is None and stage == naming.PRODUCTION:
                    raise UserInputError(
                        f"{source}: this production has an instance of its own; moving an "
                        "existing production to databaseTier pooled is a data move tenantctl "
                        "does not make; nothing was changed (remove databaseTier, or create "
                        "the client as pooled from the start)"
                    )
        elif _wants_pool(spec) and spec.database_pool is None:
            spec = _with_pool(spec, _choose_pool(stacks_dir, spec).name, source)
        elif _wants_pool(spec) and spec.database_pool is not None:
            pools = platform_pools(stacks_dir, spec.platform_stack, stage)
            try:  # named by the tenant file: it must be one of the platform's
                find_pool(spec.platform_stack, pools, spec.database_pool)
            except PlatformError as exc:
                raise UserInputError(f"{exc}; nothing was changed") from None
        new_text = stackfiles.render_stack_file(spec, old_text, source)
        changes.append(FileChange(stage, path, old_text, new_text))
        final_specs[stage] = spec
    return CreateResult(slug, final_specs, changes)


POOL_KEY = f"{naming.PROJECT}:databasePool"


def _wants_pool(spec: TenantSpec) -> bool:
    """A preview lives on a pool server; a production only with databaseTier pooled."""
    return spec.stage == naming.PREVIEW or spec.database_tier == "pooled"


def _with_pool(spec: TenantSpec, pool: Any, source: str) -> TenantSpec:
    if pool is None:
        return spec
    data = spec.model_dump(by_alias=True, exclude_none=True)
    return parse_spec({**data, "databasePool": pool}, source)


def pool_placements(
    stacks_dir: Path, platform_stack: str, stage: naming.Stage = naming.PREVIEW
) -> dict[str, int]:
    """How many *stage* stacks of *platform_stack* each of that stage's pools holds, as
    their stack files record."""
    placed: dict[str, int] = {}
    for slug, stages in stackfiles.tenants(stacks_dir).items():
        if stage not in stages:
            continue
        spec = stackfiles.read_spec(stacks_dir, slug, stage)
        if spec.platform_stack == platform_stack and spec.database_pool is not None:
            placed[spec.database_pool] = placed.get(spec.database_pool, 0) + 1
    return placed


def platform_pools(
    stacks_dir: Path, platform_stack: str, stage: naming.Stage = naming.PREVIEW
) -> list[DatabasePool]:
    """The platform's database pools for *stage* (``UserInputError`` when it lists none
    usable)."""
    try:
        outputs = platform_outputs(stacks_dir, platform_stack)
        return database_pools(platform_stack, outputs, stage)
    except PlatformError as exc:
        raise UserInputError(str(exc)) from None


def _choose_pool(stacks_dir: Path, spec: TenantSpec) -> DatabasePool:
    """Where a new pooled stack's databases go: the least-full pool of its stage with room."""
    pools = platform_pools(stacks_dir, spec.platform_stack, spec.stage)
    placed = pool_placements(stacks_dir, spec.platform_stack, spec.stage)
    chosen = choose_pool(pools, placed)
    if chosen is None:
        full = ", ".join(f"{p.name} {placed.get(p.name, 0)}/{p.capacity}" for p in pools)
        raise PreconditionFailed(
            f"every {spec.stage} database pool of {spec.platform_stack} is full ({full}); "
            f"nothing was changed: the platform must add a pool server to "
            f"{POOL_OUTPUTS[spec.stage]}"
        )
    return chosen


def create_tenant(
    stacks_dir: Path, specs: Mapping[naming.Stage, TenantSpec], force: bool = False
) -> CreateResult:
    """Write both stack files for *specs* (one per stage), or refuse.

    Unchanged files: nothing is written, status ``unchanged``. A missing file is
    created. The tenant's platform must be known to every command
    (``infra.ops.stacks.platformfile.platform_outputs``) and the new texts must be
    what Pulumi accepts, or nothing is written. An existing file that would change:
    ``StackFilesDiffer`` (first line says what differs and to re-run with ``--force``)
    unless *force*. Both new
    texts are prepared before either file is replaced (preview first).
    """
    # A folder that cannot be made is the first thing to say (exit 7): before the
    # platform file inside it is read to place a pooled stack.
    stacks_dir.mkdir(parents=True, exist_ok=True)
    result = plan_create(stacks_dir, specs)
    differing = [f for f in result.files if f.status == "updated"]
    if differing and not force:
        raise StackFilesDiffer(_conflict_message(result.slug, differing), result)
    pending = [f for f in result.files if f.status != "unchanged"]
    for platform_stack in sorted({spec.platform_stack for spec in specs.values()}):
        platform_outputs(stacks_dir, platform_stack)  # a platform plan would refuse: refused
    if not pending:
        return result
    # What `pulumi up` would refuse (a declared key missing, a value of the wrong type),
    # refused here, before anything is written: the mock runtime checks neither.
    project = (project_dir_of(stacks_dir) or PROJECT_DIR) / "Pulumi.yaml"
    problems = [
        problem
        for f in pending
        for problem in check_stack_text(project, f.new_text, yamlfiles.display_path(f.path))
    ]
    if problems:
        raise PreconditionFailed(
            f"Pulumi would refuse the new stack file: {first_of(problems)}; fix the tenant "
            f"description or the config declared in {yamlfiles.display_path(project)}"
        )
    yamlfiles.stage_writes([(f.path, f.new_text) for f in pending])()
    return CreateResult(result.slug, result.specs, result.files, written=True)


_MAX_KEYS_NAMED = 4


def _conflict_message(slug: str, differing: list[FileChange]) -> str:
    parts = []
    for change in differing:
        keys = change.changed_keys()
        named = ", ".join(keys[:_MAX_KEYS_NAMED])
        if len(keys) > _MAX_KEYS_NAMED:
            named += f" and {len(keys) - _MAX_KEYS_NAMED} more"
        parts.append(f"{yamlfiles.display_path(change.path)} ({named or 'formatting'})")
    return (
        f"tenant {slug!r} exists and differs: {'; '.join(parts)}; re-run with --force to overwrite"
    )


def _changed_keys(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key in [*old, *(k for k in new if k not in old)]:
        if not prefix and not str(key).startswith(stackfiles.NAMESPACE):
            continue
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        name = f"{prefix}{key}"
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            keys.extend(_changed_keys(before, after, name + "."))
        else:
            keys.append(name)
    return keys
