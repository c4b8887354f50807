"""Opening a stack from its stack file: the file is read once, the outputs once.

Every operation that starts from ``(stacks_dir, slug)`` opens its handles here
and passes them down; nothing below re-reads the file or the outputs. The
outputs come from this machine's deployer (``infra.ops.stacks.deployers``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.core import naming
from infra.core.spec import TenantSpec
from infra.ops.stacks.deployers import current_deployer
from infra.ops.stacks.handle import PreviewStack, StackHandle, open_stack, refuse_stack_names
from infra.ops.stacks.stackfiles import StackFile, read_stack


def read_outputs(spec: TenantSpec, region: str | None = None) -> Mapping[str, Any] | None:
    """The stack's outputs through this machine's deployer, or ``None``."""
    deployer = current_deployer()
    return deployer.outputs(spec, region) if deployer is not None else None


def open_file(stack_file: StackFile, stacks_dir: Path | None = None) -> StackHandle:
    """A handle on the stack of a stack file already read (in *stacks_dir*); its outputs
    are read once."""
    return open_stack(
        stack_file.spec,
        region=stack_file.region,
        source=current_deployer(),
        stacks_dir=stacks_dir,
    )


def open_from_files(stacks_dir: Path, slug: str, stage: naming.Stage) -> StackHandle:
    """A handle on ``<slug>-<stage>``; its stack file is read once, its outputs once."""
    return open_file(read_stack(stacks_dir, slug, stage), stacks_dir)


def open_preview(stacks_dir: Path, slug: str, command: str) -> PreviewStack:
    """The preview of *slug*, refusing a stack name (``demo-production``) given as a slug."""
    refuse_stack_names(slug, command)
    stack_file = read_stack(stacks_dir, slug, naming.PREVIEW)
    stack = open_stack(
        stack_file.spec,
        region=stack_file.region,
        handle=PreviewStack,
        source=current_deployer(),
        stacks_dir=stacks_dir,
    )
    assert isinstance(stack, PreviewStack)
    return stack


def open_pair(stacks_dir: Path, slug: str, command: str) -> tuple[StackHandle, StackHandle]:
    """Both stacks of *slug*, preview first, each opened once."""
    refuse_stack_names(slug, command)
    return (
        open_from_files(stacks_dir, slug, naming.PREVIEW),
        open_from_files(stacks_dir, slug, naming.PRODUCTION),
    )
