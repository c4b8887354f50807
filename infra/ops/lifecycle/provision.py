"""Deploying a new client's stacks and the data-plane steps that follow.

``deploy_tenant`` is ``create``'s deployment (preview, then production, under the
client's lock); ``deploy_new_stack`` deploys one stack and runs ``post_provision``,
which seeds the defaults template database from ``templates/db``,
creates the working database from it and publishes the first content release
from ``defaults/``. Every step checks what is already there, so running it
again changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.core import naming, rendering
from infra.core.errors import PreconditionFailed, TenantctlError
from infra.core.replacement import StatefulChange
from infra.core.spec import TenantSpec
from infra.core.steps import Progress, Step, StepLog, quiet
from infra.ops.adapters import pulumi_cli
from infra.ops.adapters.checkpoints import checkpoint
from infra.ops.adapters.database_role import role_credentials
from infra.ops.stacks.deployers import LOCAL, current_deployer, deploy_stack
from infra.ops.stacks.handle import StackHandle
from infra.ops.stacks.locking import client_lock, lock_place, place_of
from infra.ops.stacks.platformfile import platform_outputs
from infra.ops.stacks.stackfiles import read_stack


def post_provision(handle: StackHandle, progress: Progress = quiet) -> list[Step]:
    """Defaults database, working database and first release; idempotent.

    A pooled stack first gets its own role (password generated once, kept in its
    secret) and, last, every database restricted to that role (again each run, so a
    stack provisioned by an older tenantctl is brought in line)."""
    spec, log, databases = handle.spec, StepLog(), handle.database

    def database_role() -> str:
        role, password = role_credentials(handle.secrets, spec.slug, spec.stage)
        created = databases.ensure_role(password)
        return f"role {role} {'created' if created else 'exists'} (password in its secret)"

    def database_access() -> str:
        done = databases.ensure_access()
        return f"{', '.join(done)} admit only role {databases.role}"

    def defaults_db() -> str:
        if databases.exists(databases.defaults):
            return f"{databases.defaults} already seeded"
        databases.seed_defaults(rendering.render_db_schema(), rendering.render_db_seed(spec))
        return f"{databases.defaults} seeded from templates/db"

    def working_db() -> str:
        if not databases.create_working():
            return f"{databases.working} already exists"
        return f"{databases.working} created from the defaults"

    def first_release() -> str:
        current = handle.content.current()
        if current is not None:
            return f"portal already serves release {current.release}"
        release = handle.content.publish_from_defaults(source="create")
        handle.content.switch(release.id)
        return f"release {release.id} published from defaults/ ({len(release.files)} files)"

    steps = [
        ("defaults-database", defaults_db),
        ("working-database", working_db),
        ("first-release", first_release),
    ]
    if databases.role is not None:
        defaults, working, release = steps
        steps = [("database-role", database_role), defaults, working]
        steps += [("database-access", database_access), release]
    for name, step in steps:
        checkpoint(f"provision-{name}")
        log.run(name, step, progress)
    return log.steps


@dataclass(frozen=True)
class ProvisionedStack:
    """One stack deployed and post-provisioned by ``create`` or ``deploy``."""

    stack: str
    how: str
    """What deployed it (``pulumi up`` or the local target)."""
    outputs: Mapping[str, Any]
    steps: list[Step]
    """The post-provision steps."""

    def to_json(self) -> dict[str, Any]:
        return {
            "how": self.how,
            "outputs": dict(self.outputs),
            "postProvision": [s.to_json() for s in self.steps],
        }


def deploy_new_stack(
    spec: TenantSpec, stacks_dir: Path, progress: Progress = quiet
) -> ProvisionedStack:
    """Deploy one stack, then its post-provision step (both idempotent)."""
    handle, how = deploy_stack(spec, stacks_dir, None, progress, create=True)
    progress(f"post-provision {spec.stack_name} ...")
    steps = post_provision(handle, progress)
    return ProvisionedStack(spec.stack_name, how, dict(handle.outputs or {}), steps)


@dataclass(frozen=True)
class TenantDeployment:
    """``create``'s deployment of both stacks: ``deployed`` (Pulumi), ``applied-locally``
    (the local target) or ``skipped`` (no deployer here; *reason* says why)."""

    status: str
    stacks: list[ProvisionedStack]
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.reason is not None:
            return {"status": self.status, "reason": self.reason}
        return {"status": self.status, "stacks": {s.stack: s.to_json() for s in self.stacks}}


def deploy_tenant(
    specs: Mapping[naming.Stage, TenantSpec],
    stacks_dir: Path,
    progress: Progress = quiet,
    break_lock: str | None = None,
) -> TenantDeployment:
    """``create``'s deployment: preview, then production, each followed by post-provision,
    under the client's lock.

    Without a deployer (real AWS, no Pulumi CLI) nothing is deployed, no lock is
    taken, and the result says why and what to run.
    """
    deployer = current_deployer()
    if deployer is None:
        names = " then ".join(f"`pulumi up -s {specs[s].stack_name}`" for s in naming.STAGES)
        reason = pulumi_cli.cli_missing_message(specs[naming.PREVIEW].stack_name)
        progress(f"deployment skipped: {reason}; run {names} where the CLI is")
        return TenantDeployment("skipped", [], reason)
    if deployer.name == LOCAL:
        progress("local target: the Pulumi CLI is not used; each stack is applied from its plan")
    slug = specs[naming.PREVIEW].slug
    place = lock_place(stacks_dir, slug)
    with client_lock(slug, "create", place, break_reason=break_lock, progress=progress):
        for stage in naming.STAGES:  # re-running create never destroys data either
            spec = specs[stage]
            refuse_data_loss(spec.stack_name, deployer.stateful_changes(spec, stacks_dir, progress))
        deployed = [deploy_new_stack(specs[stage], stacks_dir, progress) for stage in naming.STAGES]
    return TenantDeployment(
        "deployed" if deployer.name == "pulumi" else "applied-locally", deployed
    )


def creating(
    stacks_dir: Path,
    specs: Mapping[naming.Stage, TenantSpec],
    break_lock: str | None = None,
    progress: Progress = quiet,
) -> AbstractContextManager[object]:
    """The client's lock for all of ``create`` that deploys: planning and writing its stack
    files, then ``deploy_tenant`` (which takes it again, re-entrantly). Two creates of one
    slug, or a create and a reset, never interleave: the second is ``LockHeld`` (exit 4)
    before it reads or writes a file.

    Where the lock lives is where every later command looks (``lock_place``): the platform
    of the preview's stack file, in its region; for a client without a readable one yet,
    the platform *specs* name, in the region a new stack file gets. Without a deployer
    (``--no-deploy``, or real AWS without the Pulumi CLI) create changes nothing shared,
    only local files, and takes no lock, as ``deploy_tenant``."""
    if current_deployer() is None:
        return nullcontext()
    slug = specs[naming.PREVIEW].slug
    # A folder that cannot be made is said first (exit 7), before the platform file in it.
    stacks_dir.mkdir(parents=True, exist_ok=True)
    try:
        preview = read_stack(stacks_dir, slug, naming.PREVIEW)
        platform, region = preview.spec.platform_stack, preview.region
    except TenantctlError:  # none yet, or malformed: create itself says so, under the lock
        platform, region = specs[naming.PREVIEW].platform_stack, None
    place = place_of(platform_outputs(stacks_dir, platform), region)
    return client_lock(slug, "create", place, break_reason=break_lock, progress=progress)


def refuse_data_loss(stack: str, changes: Sequence[StatefulChange]) -> None:
    """``PreconditionFailed`` naming every stateful resource *changes* would destroy."""
    if not changes:
        return
    what = "; ".join(c.describe() for c in changes)
    flags = " ".join(f"--allow-replace {c.name}" for c in changes)
    raise PreconditionFailed(
        f"deploying {stack} would {what}: what it holds would be lost (nothing was changed); "
        f"undo the change, or, to do it on purpose, run `tenantctl deploy {stack}` with "
        f"{flags} --reason TEXT"
    )
