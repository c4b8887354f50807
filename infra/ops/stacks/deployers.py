"""How a stack gets deployed from here, decided in one place.

A ``Deployer`` brings one stack to what the Pulumi program describes and
reports its outputs. The product ships one: ``PulumiDeployer``, ``pulumi up``
through the Automation API (``infra.ops.adapters.pulumi_cli``). The local target plugs
in its own through the ``tenantctl.deployers`` entry point (name ``local``),
so the product never imports developer tooling.

``current_deployer()`` decides: an emulator endpoint (``AWS_ENDPOINT_URL``)
means the local target; otherwise the Pulumi CLI when it is on ``PATH``;
otherwise none (stack files only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from infra.core import naming
from infra.core.errors import EnvironmentProblem
from infra.core.spec import TenantSpec
from infra.core.steps import Progress, quiet
from infra.ops.adapters import pulumi_cli as automation
from infra.ops.lifecycle.provision import post_provision
from infra.ops.stacks.handle import StackHandle, open_stack, project_dir_of
from infra.ops.stacks.locking import client_lock, lock_region

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
    ) -> tuple[StackHandle, str]:
        """Deploy; return a handle with fresh outputs and one line saying what was done.

        Only ``create`` passes *create*: every other caller deploys an existing stack."""
        ...

    def outputs(self, spec: TenantSpec, region: str | None) -> Mapping[str, Any] | None:
        """The stack's outputs as last deployed, or ``None`` when it was never deployed."""
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
    ) -> tuple[StackHandle, str]:
        project_dir = project_dir_of(stacks_dir)
        if project_dir is None:
            raise EnvironmentProblem(
                f"{stacks_dir} is not the stacks/ folder of a Pulumi project, so "
                f"{spec.stack_name} cannot be deployed from it; use the project's stacks/"
            )
        outputs = automation.deploy(qualified_name(spec), project_dir, progress, create=create)
        region = handle.region if handle else None
        stack = open_stack(spec, outputs, region, deployer=self)
        return stack, f"deployed with pulumi up -s {spec.stack_name}"

    def outputs(self, spec: TenantSpec, region: str | None) -> Mapping[str, Any] | None:
        return automation.stack_outputs(qualified_name(spec))


def qualified_name(spec: TenantSpec) -> str:
    return naming.qualified_stack_name(spec.platform_stack, spec.slug, spec.stage)


def current_deployer() -> Deployer | None:
    """The deployer this machine has, or ``None`` (real AWS without the Pulumi CLI).

    Decided once per environment (the endpoint setting and ``PATH``), however
    many stacks an operation opens.
    """
    return _deployer_for(os.environ.get("AWS_ENDPOINT_URL"), automation.pulumi_cli_path())


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
        raise EnvironmentProblem(automation.cli_missing_message(spec.stack_name))
    return deployer


def deploy_stack(
    spec: TenantSpec,
    stacks_dir: Path,
    handle: StackHandle | None,
    progress: Progress = quiet,
    create: bool = False,
) -> tuple[StackHandle, str]:
    """Deploy one stack the way this machine can; a handle with fresh outputs and what was done.

    Only ``create`` may pass *create*; everything else deploys a stack that exists."""
    return require_deployer(spec).up(spec, stacks_dir, handle, progress, create=create)


def deploy_new_stack(
    spec: TenantSpec, stacks_dir: Path, progress: Progress = quiet
) -> dict[str, Any]:
    """``create``'s deployment of one stack: deploy, then the post-provision step."""
    handle, how = deploy_stack(spec, stacks_dir, None, progress, create=True)
    progress(f"post-provision {spec.stack_name} ...")
    return {
        "how": how,
        "outputs": dict(handle.outputs or {}),
        "postProvision": post_provision(handle, progress),
    }


def deploy_tenant(
    specs: Mapping[naming.Stage, TenantSpec],
    stacks_dir: Path,
    progress: Progress = quiet,
    break_lock: bool = False,
) -> dict[str, Any]:
    """``create``'s deployment: preview, then production, each followed by post-provision,
    under the client's lock.

    Without a deployer (real AWS, no Pulumi CLI) nothing is deployed, no lock is
    taken, and the result says why and what to run.
    """
    deployer = current_deployer()
    if deployer is None:
        names = " then ".join(f"`pulumi up -s {specs[s].stack_name}`" for s in naming.STAGES)
        reason = automation.cli_missing_message(specs[naming.PREVIEW].stack_name)
        progress(f"deployment skipped: {reason}; run {names} where the CLI is")
        return {"status": "skipped", "reason": reason}
    if deployer.name == LOCAL:
        progress("local target: the Pulumi CLI is not used; each stack is applied from its plan")
    slug = specs[naming.PREVIEW].slug
    region = lock_region(stacks_dir, slug)
    with client_lock(slug, "create", region, break_stale=break_lock, progress=progress):
        deployed = {
            specs[stage].stack_name: deploy_new_stack(specs[stage], stacks_dir, progress)
            for stage in naming.STAGES
        }
    return {
        "status": "deployed" if deployer.name == "pulumi" else "applied-locally",
        "stacks": deployed,
    }
