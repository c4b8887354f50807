"""Run ``pulumi up`` for one stack through the Automation API.

The thinnest possible wrapper: it needs the Pulumi CLI on ``PATH``, and it is
the only code whose tests may skip when the CLI is absent. Everything it
deploys is described by the Pulumi program in ``infra/``; nothing here knows
what a tenant contains.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra import PROJECT_DIR
from infra.core import naming
from infra.core.errors import (
    DeployFailed,
    EnvironmentProblem,
    LockHeld,
    PreconditionFailed,
    TenantctlError,
)
from infra.core.replacement import Step

REDACTED = "[secret]"
"""What a secret stack output is reported as; its value never leaves Pulumi."""


def pulumi_cli_path() -> str | None:
    """Where the Pulumi CLI is, or ``None`` when it is not on ``PATH``."""
    return shutil.which("pulumi")


def cli_missing_message(stack_name: str) -> str:
    return (
        f"Pulumi CLI not found: cannot deploy {stack_name}; install it "
        f"(https://www.pulumi.com/docs/install/) and run `pulumi up -s {stack_name}`, "
        "or use the local target"
    )


def deploy(
    qualified_name: str,
    project_dir: Path,
    on_output: Callable[[str], None],
    *,
    create: bool = False,
) -> dict[str, Any]:
    """``pulumi up`` of the stack *qualified_name* (org/project/stack); its outputs as plain values.

    An existing stack is only ever selected; with *create* (``tenantctl create``
    only) a missing one is created first. Progress lines go to *on_output*;
    secret outputs are returned as ``REDACTED``. Raises ``EnvironmentProblem``
    when the CLI is absent, ``PreconditionFailed`` when the stack does not
    exist, ``LockHeld`` when another update of it is running and
    ``DeployFailed`` when the update fails.
    """
    naming.parse_stack_name(qualified_name.rsplit("/", 1)[-1])  # tenant stacks only
    if pulumi_cli_path() is None:
        raise EnvironmentProblem(cli_missing_message(qualified_name))
    from pulumi import automation  # heavy import; only when actually deploying

    try:
        if create:
            stack = automation.create_or_select_stack(
                stack_name=qualified_name, work_dir=str(project_dir)
            )
        else:
            stack = automation.select_stack(stack_name=qualified_name, work_dir=str(project_dir))
        result = stack.up(on_output=on_output, on_error=on_output, show_secrets=False)
    except automation.errors.CommandError as exc:
        raise deploy_error(exc, qualified_name) from None
    return {
        name: REDACTED if output.secret else output.value for name, output in result.outputs.items()
    }


def preview_steps(
    qualified_name: str, project_dir: Path, on_output: Callable[[str], None]
) -> list[Step]:
    """The steps ``pulumi preview`` of *qualified_name* reports (op, type, name, the keys
    forcing a replacement); changes nothing. A stack that does not exist yet (``create``'s
    first deploy) has nothing to replace: no steps. Otherwise raises like ``deploy``."""
    naming.parse_stack_name(qualified_name.rsplit("/", 1)[-1])
    if pulumi_cli_path() is None:
        raise EnvironmentProblem(cli_missing_message(qualified_name))
    from pulumi import automation

    steps: list[Step] = []

    def on_event(event: Any) -> None:
        pre = getattr(event, "resource_pre_event", None)
        if pre is None:
            return
        meta = pre.metadata
        op = getattr(meta.op, "value", meta.op)
        steps.append(Step(str(op), meta.type, meta.urn.split("::")[-1], tuple(meta.keys or ())))

    try:
        stack = automation.select_stack(stack_name=qualified_name, work_dir=str(project_dir))
    except automation.errors.StackNotFoundError:
        return []
    except automation.errors.CommandError as exc:
        raise deploy_error(exc, qualified_name) from None
    try:
        stack.preview(on_output=on_output, on_error=on_output, on_event=on_event)
    except automation.errors.CommandError as exc:
        raise deploy_error(exc, qualified_name) from None
    return steps


def deploy_error(exc: Exception, qualified_name: str) -> TenantctlError:
    """The one-line error for a failed Automation API call on *qualified_name*."""
    from pulumi.automation import errors

    if isinstance(exc, errors.ConcurrentUpdateError):
        return LockHeld(
            f"another update of {qualified_name} is running; wait for it to finish and re-run "
            f"(only if it crashed: `pulumi cancel -s {qualified_name}`)"
        )
    if isinstance(exc, errors.StackNotFoundError):
        return PreconditionFailed(
            f"stack {qualified_name} does not exist in this Pulumi backend; check "
            "`pulumi whoami` and PULUMI_BACKEND_URL, or create the client with `tenantctl create`"
        )
    return DeployFailed(
        f"pulumi up -s {qualified_name} failed: {_last_line(exc)}; see the output above"
    )


def _last_line(exc: Exception) -> str:
    text = getattr(exc, "stderr", None) or str(exc)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def platform_outputs(platform_stack: str) -> dict[str, Any]:
    """Outputs of the platform stack *platform_stack* (org/project/stack); needs the CLI."""
    from pulumi import automation

    workspace = automation.LocalWorkspace(work_dir=str(PROJECT_DIR))
    try:
        outputs = workspace.stack_outputs(platform_stack)
    except automation.errors.CommandError as exc:
        raise DeployFailed(
            f"cannot read platform stack {platform_stack}: {_last_line(exc)}"
        ) from None
    return {k: v.value for k, v in outputs.items()}


def stack_outputs(qualified_name: str) -> dict[str, Any]:
    """Outputs of a deployed stack (secret ones left out); needs the Pulumi CLI."""
    from pulumi import automation

    stack = automation.select_stack(stack_name=qualified_name, work_dir=str(PROJECT_DIR))
    return {k: v.value for k, v in stack.outputs().items() if not v.secret}
