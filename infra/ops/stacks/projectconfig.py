"""The Pulumi engine's project-config rules, applied to stack files before Pulumi sees them.

``Pulumi.yaml`` declares ``config:`` keys with a type and optionally a default.
The engine refuses to run a stack when (a) a declared key has no default and the
stack does not set it ("Stack '...' is missing configuration value '...'"), or
(b) a value (set or default) is not of the declared type. Nothing in the mock
runtime checks either, so ``check_stack_text`` does, for every file ``create``
writes (``infra.ops.lifecycle.create.create_tenant``, before writing), and
``check_stacks_dir`` for every file in ``stacks/`` (the tests).

Reference: https://www.pulumi.com/docs/iac/concepts/projects/project-file/#config-options
("If a default value is not provided, the configuration value is required").
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.core import naming
from infra.ops.stacks.stackfiles import parse_config

PULUMI_TYPES = ("string", "integer", "boolean", "array")


def declared_config(project_file: Path) -> dict[str, dict[str, Any]]:
    """``{fully qualified key: declaration}`` of a ``Pulumi.yaml``'s ``config:`` block."""
    from ruamel.yaml import YAML

    project = YAML(typ="safe").load(project_file.read_text(encoding="utf-8")) or {}
    name = str(project.get("name", naming.PROJECT))
    declared: dict[str, dict[str, Any]] = {}
    for key, entry in (project.get("config") or {}).items():
        # Keys of the project's own namespace may be written without it.
        full = key if ":" in key else f"{name}:{key}"
        declared[full] = entry if isinstance(entry, dict) else {"default": entry}
    return declared


def _type_ok(type_name: str, value: Any) -> bool:
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "array":
        return isinstance(value, list)
    return False


def config_problems(
    declared: Mapping[str, Mapping[str, Any]], config: Mapping[str, Any]
) -> list[str]:
    """Every way *config* (a stack file's ``config:``) breaks the engine's rules."""
    problems = []
    for key, entry in declared.items():
        type_name = entry.get("type")
        if type_name is not None and type_name not in PULUMI_TYPES:
            problems.append(f"{key}: Pulumi.yaml declares unknown type {type_name!r}")
            continue
        if "default" in entry and type_name and not _type_ok(type_name, entry["default"]):
            problems.append(f"{key}: default {entry['default']!r} is not of type {type_name}")
        if key not in config:
            if "default" not in entry and "value" not in entry:
                problems.append(
                    f"{key} is declared in Pulumi.yaml without a default, so Pulumi requires "
                    "it on every stack; this stack does not set it"
                )
            continue
        if type_name and not _type_ok(type_name, config[key]):
            problems.append(f"{key} = {config[key]!r} is not of the declared type {type_name}")
    return problems


def check_stack_text(project_file: Path, text: str, source: str) -> list[str]:
    """Problems of one stack file's text (``source`` names it in messages)."""
    config = parse_config(text, source)
    return [f"{source}: {p}" for p in config_problems(declared_config(project_file), config)]


def check_stacks_dir(project_file: Path, stacks_dir: Path) -> list[str]:
    """Problems of every ``Pulumi.<stack>.yaml`` in *stacks_dir*."""
    problems: list[str] = []
    for path in sorted(stacks_dir.glob("Pulumi.*.yaml")):
        problems += check_stack_text(project_file, path.read_text(encoding="utf-8"), path.name)
    return problems
