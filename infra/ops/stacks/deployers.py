"""How a stack gets deployed from here, decided in one place.

A ``Deployer`` brings one stack to what the Pulumi program describes and
reports its outputs. The product ships one: ``PulumiDeployer``, ``pulumi up``
through the Automation API (``infra.ops.adapters.pulumi_cli``). The local target plugs
in its own through the ``tenantctl.deployers`` entry point (name ``local``),
so the product never imports developer tooling.

``current_deployer()`` decides: an emulator endpoint (``AWS_ENDPOINT_URL``)
means the local target; otherwise the Pulumi CLI when it is on ``PATH``;
otherwise none (stack files only).

A deployer returns the deploy's outputs; ``deploy_stack`` binds the caller's
handle to them (``StackHandle.bind``). What ``create`` does after deploying
(post-provision) is the lifecycle's (``infra.ops.lifecycle.provision``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from infra.core import naming, replacement
from infra.core.errors import EnvironmentProblem
from infra.core.payment_settings import payment_parameters
from infra.core.replacement import StatefulChange
from infra.core.spec import TenantSpec
from infra.core.steps import Progress, quiet
from infra.ops.adapters import aws, pulumi_cli
from infra.ops.adapters.payment_store import (
    carry_allow_list,
    legacy_allow_list,
    write_parameters,
)
from infra.ops.stacks.handle import StackHandle, open_stack, project_dir_of
from infra.ops.stacks.routing import publish_routes

ENTRY_POINT_GROUP = "tenantctl.deployers"
LOCAL = "local"


class Deployer(Protocol):
    """Deploys a stack and reads its outputs."""

    name: str
    """``pulumi`` or ``local``: what the JSON results report."""

    def up(
        self,
        spec: TenantSpec,
        stacks_dir: Path,
        handle: StackHandle | None,
        progress: Progress,
        create: bool = False,
    ) -> tuple[Mapping[str, Any] | None, str]:
        """Deploy; return the fresh outputs and one line saying what was done.

        *handle* is the stack's handle when the caller has one (``None`` before a
        stack's first deploy). Only ``create`` passes *create*: every other caller
        deploys an existing stack."""
        ...

    def outputs(self, spec: TenantSpec, region: str | None) -> Mapping[str, Any] | None:
        """The stack's outputs as last deployed, or ``None`` when it was never deployed."""
        ...

    def changes(self, spec: TenantSpec, stacks_dir: Path, progress: Progress) -> list[str]:
        """Every resource deploying *spec* now would create, update, replace or delete, one
        line each (``update NAME``): a preview, changes nothing (``tenantctl drift``)."""
        ...

    def stateful_changes(
        self, spec: TenantSpec, stacks_dir: Path, progress: Progress
    ) -> list[StatefulChange]:
        """The stateful resources deploying *spec* now would replace or delete (a preview:
        changes nothing); empty for a stack never deployed."""
        ...


class PulumiDeployer:
    """``pulumi up`` of the project's own stack, through the Automation API."""

    name = "pulumi"

    def up(
        self,
        spec: TenantSpec,
        stacks_dir: Path,
        handle: StackHandle | None,
        progress: Progress,
        create: bool = False,
    ) -> tuple[Mapping[str, Any] | None, str]:
        project_dir = project_dir_of(stacks_dir)
        if project_dir is None:
            raise EnvironmentProblem(
                f"{stacks_dir} is not the stacks/ folder of a Pulumi project, so "
                f"{spec.stack_name} cannot be deployed from it; use the project's stacks/"
            )
        outputs = pulumi_cli.deploy(qualified_name(spec), project_dir, progress, create=create)
        return outputs, f"deployed with pulumi up -s {spec.stack_name}"

    def outputs(self, spec: TenantSpec, region: str | None) -> Mapping[str, Any] | None:
        return pulumi_cli.stack_outputs(qualified_name(spec))

    def changes(self, spec: TenantSpec, stacks_dir: Path, progress: Progress) -> list[str]:
        return replacement.changed_steps(_preview_steps(spec, stacks_dir, progress))

    def stateful_changes(
        self, spec: TenantSpec, stacks_dir: Path, progress: Progress
    ) -> list[StatefulChange]:
        return replacement.changes_from_steps(_preview_steps(spec, stacks_dir, progress))


def _preview_steps(spec: TenantSpec, stacks_dir: Path, progress: Progress) -> list[pulumi_cli.Step]:
    """The steps of a ``pulumi preview`` of *spec*'s stack, run in the project *stacks_dir*
    belongs to."""
    project_dir = project_dir_of(stacks_dir)
    if project_dir is None:
        raise EnvironmentProblem(
            f"{stacks_dir} is not the stacks/ folder of a Pulumi project; use the project's stacks/"
        )
    return pulumi_cli.preview_steps(qualified_name(spec), project_dir, progress)


def qualified_name(spec: TenantSpec) -> str:
    return naming.qualified_stack_name(spec.platform_stack, spec.slug, spec.stage)


def current_deployer() -> Deployer | None:
    """The deployer this machine has, or ``None`` (real AWS without the Pulumi CLI).

    Decided once per environment (the endpoint setting and ``PATH``), however
    many stacks an operation opens.
    """
    return _deployer_for(os.environ.get("AWS_ENDPOINT_URL"), pulumi_cli.pulumi_cli_path())


@cache
def _deployer_for(endpoint: str | None, pulumi_cli: str | None) -> Deployer | None:
    if endpoint:
        return _plugin(LOCAL)
    if pulumi_cli:
        return PulumiDeployer()
    return None


def _plugin(name: str) -> Deployer:
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise EnvironmentProblem(
            f"AWS_ENDPOINT_URL is set but no {name!r} deployer is installed; install the "
            "project with its dev extras (scripts/bootstrap) or unset AWS_ENDPOINT_URL"
        )
    deployer: Deployer = found[0].load()()
    return deployer


def require_deployer(spec: TenantSpec) -> Deployer:
    deployer = current_deployer()
    if deployer is None:
        raise EnvironmentProblem(pulumi_cli.cli_missing_message(spec.stack_name))
    return deployer


def deploy_stack(
    spec: TenantSpec,
    stacks_dir: Path,
    handle: StackHandle | None,
    progress: Progress = quiet,
    create: bool = False,
) -> tuple[StackHandle, str]:
    """Deploy one stack the way this machine can; a handle bound to the fresh outputs and
    what was done.

    Only ``create`` may pass *create*; everything else deploys a stack that exists."""
    deployer = require_deployer(spec)
    # A stack from before the settings parameter: the update deletes its old allow-list.
    legacy = legacy_allow_list(handle.ssm if handle else aws.client("ssm"), spec)
    outputs, how = deployer.up(spec, stacks_dir, handle, progress, create=create)
    bound = handle.bind(spec, outputs) if handle is not None else open_stack(spec, outputs)
    # Only after the whole update: a production's portal opens last, and a failed
    # update leaves the routes and the payment settings as they were (payment goes
    # live with the portal, never before). The program leaves the settings parameter's
    # value to tenantctl after creating it, so staff's allow-list in it is kept.
    routes = publish_routes(spec, bound.outputs, bound.region)
    serving = ", ".join(sorted({r.serve for r in routes}))
    payment = payment_parameters(spec)
    changed = write_parameters(bound.ssm, spec, payment)
    settings = f"payment settings {'written' if changed else 'unchanged'} (mode {payment['mode']})"
    if legacy and carry_allow_list(bound.ssm, spec, legacy):
        settings += f"; {len(legacy)} allow-list addresses carried over"
    return bound, f"{how}; {len(routes)} routes published ({serving}); {settings}"
