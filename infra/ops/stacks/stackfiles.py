"""Reading and writing the stack files ``stacks/Pulumi.<slug>-<stage>.yaml``.

A stack file is Pulumi's own stack config: a ``config:`` mapping whose
``tenants:<key>`` entries are the tenant spec (``infra.core.spec``) and whose other
keys (``aws:region``) belong to providers. People edit these files, so writing
one goes through a ruamel.yaml round trip that keeps comments, key order,
quoting and untouched keys, and changes only the values that differ.

Pure logic except file I/O: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from infra.core import naming
from infra.core.errors import TenantctlError, UnknownTenant
from infra.core.spec import TenantSpec, spec_from_config
from infra.core.text_rules import shorten
from infra.ops.adapters.yamlfiles import (
    check_structure,
    display_path,
    merge_map,
    new_node,
    plain,
    read_limited,
    round_trip_yaml,
    write_atomically,
    yaml_problem,
)

CONFIG_KEY = "config"
"""The top-level key of a Pulumi stack file."""

NAMESPACE = naming.CONFIG_NAMESPACE
"""Prefix of the stack-config keys that make up the tenant spec."""

LIVE_KEY = f"{NAMESPACE}live"


class MalformedFile(TenantctlError):
    """A YAML file that cannot be read at all (syntax, or not the expected shape)."""


@dataclass(frozen=True)
class StrayFile:
    """A file that looks like a stack file but belongs to no tenant stage."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{display_path(self.path)}: {self.reason}"


# ------------------------------------------------------------------------ YAML


def load_document(text: str, source: str) -> CommentedMap:
    """Parse a stack file's text; raise ``MalformedFile`` (one line) unless it has ``config:``."""
    check_structure(text, source)
    try:
        data = round_trip_yaml().load(text)
    except YAMLError as exc:
        raise MalformedFile(f"{source}: {yaml_problem(exc)}") from None
    except ValueError as exc:  # e.g. an integer past Python's digit limit
        raise MalformedFile(f"{source}: invalid value ({exc})") from None
    if not isinstance(data, CommentedMap) or not isinstance(data.get(CONFIG_KEY), CommentedMap):
        raise MalformedFile(
            f"{source}: expected a top-level `{CONFIG_KEY}:` mapping of "
            f"{NAMESPACE}<key> entries (see stacks/Pulumi.demo-preview.yaml)"
        )
    return data


def parse_config(text: str, source: str) -> dict[str, Any]:
    """The plain ``config:`` mapping of a stack file's text."""
    config: dict[str, Any] = plain(load_document(text, source)[CONFIG_KEY])
    return config


def read_config(path: Path) -> dict[str, Any]:
    """The plain ``config:`` mapping of the stack file at *path*."""
    return parse_config(read_limited(path), display_path(path))


# ---------------------------------------------------------------------- reading


def _existing_stack_file(stacks_dir: Path, slug: str, stage: naming.Stage) -> Path:
    problem = naming.slug_problem(slug)
    if problem is not None:
        raise UnknownTenant(f"no tenant {slug!r}: a client slug {problem}")
    path = naming.stack_file(stacks_dir, slug, stage)
    if not path.is_file():
        raise UnknownTenant(
            f"no tenant {slug!r}: {display_path(path)} does not exist; "
            f"create it with `{naming.TOOL} create {slug}`"
        )
    return path


@dataclass(frozen=True)
class StackFile:
    """What one read of a stack file yields: the tenant spec and the provider region."""

    spec: TenantSpec
    region: str | None
    """``aws:region`` when the file sets one."""


def read_stack(stacks_dir: Path, slug: str, stage: naming.Stage) -> StackFile:
    """``<slug>-<stage>``'s stack file, read and validated once.

    Raises ``UnknownTenant`` when the file is missing, ``MalformedFile`` when it
    is not YAML of the right shape and ``SpecError`` (naming the file, key,
    value and rule) when the spec does not validate.
    """
    path = _existing_stack_file(stacks_dir, slug, stage)
    config = read_config(path)
    region = _region(config, display_path(path))
    spec = spec_from_config(
        config,
        expected_stack=naming.stack_name(slug, stage),
        source=display_path(path),
    )
    return StackFile(spec, region)


def read_spec(stacks_dir: Path, slug: str, stage: naming.Stage) -> TenantSpec:
    """The validated spec of ``<slug>-<stage>`` from its stack file (see ``read_stack``)."""
    return read_stack(stacks_dir, slug, stage).spec


def stack_region(stacks_dir: Path, slug: str, stage: naming.Stage) -> str | None:
    """The stack's ``aws:region`` when its file sets one."""
    path = _existing_stack_file(stacks_dir, slug, stage)
    return _region(read_config(path), display_path(path))


def _region(config: dict[str, Any], source: str) -> str | None:
    region = config.get("aws:region")
    if region is None:
        return None
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise MalformedFile(
            f"{source}: aws:region = {shorten(region)} is not an AWS region such as us-east-1"
        )
    return region


_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}\Z")


_NEAR_MISS = re.compile(r"^Pulumi\..+\.ya?ml\Z", re.IGNORECASE)


def tenants(
    stacks_dir: Path, on_stray: Callable[[StrayFile], None] | None = None
) -> dict[str, list[naming.Stage]]:
    """``{slug: [stage, ...]}`` of every stack file in *stacks_dir*, slugs sorted.

    Files that are not stack files (``tenant.example.yaml``, READMEs) are
    ignored. Files that look like stack files but name no tenant stage
    (``Pulumi.acme-staging.yaml``, ``Pulumi.Acme-preview.yaml``,
    ``Pulumi.acme-preview.yml``) are skipped and passed to *on_stray*.
    """
    found: dict[str, list[naming.Stage]] = {}
    if not stacks_dir.is_dir():
        return found
    for path in sorted(stacks_dir.iterdir()):
        stray = _stray_reason(path)
        if stray is None:
            match = naming.STACK_FILE_PATTERN.match(path.name)
            if match is None or not path.is_file():
                continue
            slug, stage = naming.parse_stack_name(match["stack"])
            found.setdefault(slug, []).append(stage)
        elif stray and on_stray is not None:
            on_stray(StrayFile(path, stray))
    return {slug: sorted(stages, key=naming.STAGES.index) for slug, stages in sorted(found.items())}


def stray_files(stacks_dir: Path) -> list[StrayFile]:
    """Files in *stacks_dir* that look like stack files but belong to no tenant stage."""
    strays: list[StrayFile] = []
    tenants(stacks_dir, strays.append)
    return strays


def _stray_reason(path: Path) -> str | None:
    """``None`` for a tenant stack file, ``""`` for an unrelated file, else why it is stray."""
    if not _NEAR_MISS.match(path.name):
        return ""
    if not path.is_file():
        return "is not a file"
    match = naming.STACK_FILE_PATTERN.match(path.name)
    if match is None:
        return "Pulumi reads only Pulumi.<stack>.yaml; rename it to end in .yaml"
    try:
        naming.parse_stack_name(match["stack"])
    except naming.NameError_ as exc:
        return f"ignored: {exc}"
    return None


# ---------------------------------------------------------------------- writing


def render_stack_file(spec: TenantSpec, existing_text: str | None, source: str = "") -> str:
    """The text of *spec*'s stack file, written over *existing_text* when there is one.

    Comments, key order, quoting and keys of other namespaces (``aws:region``)
    are kept; only values that differ change. ``tenants:`` keys the spec does
    not set are dropped unless they state the spec's value explicitly (e.g.
    ``tenants:live: false``, a default spelled out). New keys are appended. A
    new file gets a short header comment and the spec's keys without defaults
    (``TenantSpec.to_config``).
    """
    desired = spec.to_config()
    full = {f"{NAMESPACE}{k}": v for k, v in spec.model_dump(by_alias=True, mode="json").items()}
    if existing_text is None:
        document = CommentedMap()
        # The AWS provider needs a region; the spec does not choose one (yet), so new files
        # get the default and keep whatever a platform engineer sets afterwards.
        document[CONFIG_KEY] = new_node({"aws:region": naming.DEFAULT_REGION, **desired})
        document.yaml_set_start_comment(
            f'Tenant "{spec.slug}": {spec.stage} stack, written by `{naming.TOOL} create`.\n'
            f"Keys are documented in README.md; defaults are left out."
        )
    else:
        document = load_document(existing_text, source or "existing stack file")
        merge_map(document[CONFIG_KEY], desired, full, only_prefix=NAMESPACE)
    out = io.StringIO()
    round_trip_yaml().dump(document, out)
    return out.getvalue()


def diff_stack_file(old_text: str, new_text: str, path: str = "") -> list[str]:
    """Unified diff lines (without line endings) from *old_text* to *new_text*."""
    name = path or "stack file"
    return list(
        difflib.unified_diff(
            old_text.splitlines(),
            new_text.splitlines(),
            fromfile=f"a/{name}" if old_text else "/dev/null",
            tofile=f"b/{name}",
            lineterm="",
        )
    )


_LIVE_LINE = re.compile(
    rf"^[ \t]+{re.escape(LIVE_KEY)}[ \t]*:[ \t]*(?P<value>[^\s#]+)[ \t]*(#.*)?$", re.MULTILINE
)


def set_live(stacks_dir: Path, slug: str, live: bool) -> tuple[TenantSpec, bool]:
    """Set ``tenants:live`` of the production file; return its validated spec and whether
    the file changed.

    Only that one line is rewritten (or one line appended when the key is
    absent); every other byte stays as it was. The result is validated before
    it is written.
    """
    path = _existing_stack_file(stacks_dir, slug, naming.PRODUCTION)
    source = display_path(path)
    old_text = read_limited(path, source)
    value = "true" if live else "false"
    matches = list(_LIVE_LINE.finditer(old_text))
    if len(matches) > 1:
        raise MalformedFile(f"{source}: {LIVE_KEY} is set {len(matches)} times; keep one")
    if matches:
        match = matches[0]
        new_text = old_text[: match.start("value")] + value + old_text[match.end("value") :]
    else:
        document = load_document(old_text, source)
        indent = _key_indent(old_text) or "  "
        body = old_text if old_text.endswith("\n") else old_text + "\n"
        if list(document) == [CONFIG_KEY]:
            new_text = f"{body}{indent}{LIVE_KEY}: {value}\n"
        else:  # other top-level keys follow config: go through the round trip
            document[CONFIG_KEY][LIVE_KEY] = live
            out = io.StringIO()
            round_trip_yaml().dump(document, out)
            new_text = out.getvalue()
    spec = spec_from_config(
        parse_config(new_text, source),
        expected_stack=naming.stack_name(slug, naming.PRODUCTION),
        source=source,
    )
    if spec.live is not live:  # pragma: no cover - guards the line edit above
        raise MalformedFile(f"{source}: could not set {LIVE_KEY}; edit it by hand")
    if new_text == old_text:
        return spec, False
    write_atomically(path, new_text)
    return spec, True


def set_custom_domain(stacks_dir: Path, slug: str, **changes: Any) -> TenantSpec:
    """Set fields of ``tenants:customDomain`` (``certificate_generation``, ``attached``) in
    the production file; return its validated spec. Every other key, comment and byte of
    formatting stays as it was (``render_stack_file``)."""
    path = _existing_stack_file(stacks_dir, slug, naming.PRODUCTION)
    source = display_path(path)
    old_text = read_limited(path, source)
    spec = spec_from_config(
        parse_config(old_text, source),
        expected_stack=naming.stack_name(slug, naming.PRODUCTION),
        source=source,
    )
    custom = {**spec.custom_domain.model_dump(), **changes}
    data = {**spec.model_dump(by_alias=True, mode="json", exclude_defaults=True)}
    data["customDomain"] = {
        k: v for k, v in type(spec.custom_domain)(**custom).model_dump(by_alias=True).items()
    }
    data["stage"] = spec.stage
    new_spec = spec_from_config(
        {f"{NAMESPACE}{k}": v for k, v in data.items()},
        expected_stack=spec.stack_name,
        source=source,
    )
    new_text = render_stack_file(new_spec, old_text, source)
    if new_text != old_text:
        write_atomically(path, new_text)
    return new_spec


def _key_indent(text: str) -> str | None:
    match = re.search(rf"^([ \t]+){re.escape(NAMESPACE)}", text, re.MULTILINE)
    return match.group(1) if match else None


# ------------------------------------------------------------- round-trip merge


# Comments in a ruamel document hang on the node *before* them: the lines above
# a key are stored after the previous key's value. Deleting or appending a key
# would therefore drop or misplace the comment about its neighbour; these
# helpers move the "following lines" so each comment stays above its key.


def set_integrations(
    stacks_dir: Path, slug: str, stage: naming.Stage, integrations: list[dict[str, Any]]
) -> tuple[TenantSpec, bool]:
    """Replace ``tenants:integrations`` of one stack file with *integrations* (camelCase
    dicts); return the validated spec and whether the file changed. Validated before it is
    written; every other key, comment and byte of formatting stays (``render_stack_file``)."""
    path = _existing_stack_file(stacks_dir, slug, stage)
    source = display_path(path)
    old_text = read_limited(path, source)
    config = parse_config(old_text, source)
    config[f"{NAMESPACE}integrations"] = integrations
    if not integrations:
        config.pop(f"{NAMESPACE}integrations")
    new_spec = spec_from_config(
        config, expected_stack=naming.stack_name(slug, stage), source=source
    )
    new_text = render_stack_file(new_spec, old_text, source)
    if new_text == old_text:
        return new_spec, False
    write_atomically(path, new_text)
    return new_spec, True
