"""The platform outputs a plan uses: the committed file beside the stacks, or the real stack.

``stacks/platform-outputs.yaml`` maps each platform stack name (org/project/stack)
to its outputs (``infra.core.platform.PLATFORM_OUTPUTS``). Platform engineers
refresh it with ``pulumi stack output -s <platform> --json`` after changing the
platform; the offline plan of every tenant reads it. When a tenant's platform is
not in the file and the Pulumi CLI is installed, the real platform stack is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.core.errors import UserInputError
from infra.core.platform import PLATFORM_OUTPUTS_FILE, platform_problem
from infra.ops.adapters import pulumi_cli as automation
from infra.ops.adapters.yamlfiles import check_structure, read_limited, yaml_problem
from infra.ops.stacks.stackfiles import MalformedFile, display_path, plain


def platform_outputs_file(stacks_dir: Path) -> Path:
    return stacks_dir / PLATFORM_OUTPUTS_FILE


def read_platform_file(stacks_dir: Path) -> dict[str, dict[str, Any]]:
    """Every platform stack's outputs in the file; empty when there is no file."""
    path = platform_outputs_file(stacks_dir)
    if not path.is_file():
        return {}
    from ruamel.yaml import YAML, YAMLError

    source = display_path(path)
    text = read_limited(path, source)  # the limits every file beside the stacks gets
    check_structure(text, source)
    try:
        data = plain(YAML(typ="rt").load(text))
    except YAMLError as exc:
        raise MalformedFile(f"{source}: {yaml_problem(exc)}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise UserInputError(
            f"{display_path(path)} must map each platform stack (org/project/stack) to its outputs"
        )
    return data


def platform_outputs(stacks_dir: Path, platform_stack: str) -> dict[str, Any]:
    """*platform_stack*'s outputs, checked against the platform contract.

    The one way every command resolves a tenant's platform (create before writing,
    plan, deploy, promote and its dry run, the local target's stand-in for ``pulumi
    up``): a platform one command does not know, none accepts, with this one message
    (``UserInputError``, exit 2)."""
    known = read_platform_file(stacks_dir)
    path = display_path(platform_outputs_file(stacks_dir))
    if platform_stack in known:
        outputs = known[platform_stack]
        source = path
    elif automation.pulumi_cli_path() is not None:
        outputs = automation.platform_outputs(platform_stack)
        source = f"platform stack {platform_stack}"
    else:
        raise UserInputError(
            f"no outputs known for platform stack {platform_stack}: add them to {path} "
            f"(`pulumi stack output -s {platform_stack} --json`) or install the Pulumi CLI"
        )
    problem = platform_problem(platform_stack, outputs)
    if problem is not None:
        raise UserInputError(f"{source}: {problem}")
    return outputs
