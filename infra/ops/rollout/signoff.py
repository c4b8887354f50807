"""Phase 1, sign-off: ``tenantctl create`` as one operation.

A new client's two stack files (``infra.ops.lifecycle.create``), both stacks deployed
and post-provisioned (``infra.ops.lifecycle.provision``), and its rollout started at
sign-off with the sign-off milestone published. Each part is idempotent, so running
create again with the same description changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from infra.core import naming
from infra.core.spec import TenantSpec
from infra.core.steps import Progress, quiet
from infra.ops.adapters import control
from infra.ops.adapters.yamlfiles import display_path
from infra.ops.lifecycle.create import CreateResult, create_tenant
from infra.ops.lifecycle.provision import TenantDeployment, creating, deploy_tenant
from infra.ops.rollout import billing
from infra.ops.rollout.store import DEFAULT_CONTRACT, actor, today
from infra.ops.rollout.transitions import Change, has_rollout, start

NO_DEPLOY = TenantDeployment("skipped", [], "--no-deploy")
"""What ``create --no-deploy`` reports as its deployment."""


@dataclass(frozen=True)
class RolloutStarted:
    """What ``create`` did to the client's rollout: ``started``, ``exists`` (one was
    there), or ``skipped`` (no control database; *reason* says so)."""

    status: str
    client: str
    change: Change | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.reason is not None:
            return {"status": self.status, "reason": self.reason}
        data: dict[str, Any] = {"status": self.status}
        if self.change is None:
            data["client"] = self.client
        else:
            data.update(self.change.to_json())
            data["billing"] = self.change.billing
        return data


def start_with_create(
    client: str, contract: str | None, signed_off: date | None, by: str | None
) -> RolloutStarted:
    """``create``'s sign-off: start the client's rollout unless it has one (or no control
    database is configured); publishes the sign-off milestone."""
    if not control.configured():
        return RolloutStarted(
            "skipped", client, reason=f"{control.CONTROL_DATABASE_URL_ENV} not set"
        )
    with control.connect() as conn:
        if contract is None and has_rollout(conn, client):
            return RolloutStarted("exists", client)
        change = start(conn, client, contract or DEFAULT_CONTRACT, signed_off or today(), actor(by))
        change = replace(change, billing=billing.publish_quietly(conn))
    return RolloutStarted("started" if change.changed else "exists", client, change)


@dataclass(frozen=True)
class Created:
    """``tenantctl create``: the stack files, their deployment, the rollout at sign-off."""

    files: CreateResult
    deployment: TenantDeployment
    rollout: RolloutStarted

    def to_json(self) -> dict[str, Any]:
        return {
            **self.files.to_json(),
            "deploy": self.deployment.to_json(),
            "rollout": self.rollout.to_json(),
        }


def create_client(
    stacks_dir: Path,
    specs: Mapping[naming.Stage, TenantSpec],
    *,
    force: bool = False,
    deploy: bool = True,
    break_lock: str | None = None,
    contract: str | None = None,
    signed_off: date | None = None,
    by: str | None = None,
    progress: Progress = quiet,
) -> Created:
    """Write both stack files (or refuse: ``StackFilesDiffer``, nothing written), deploy
    both stacks unless not *deploy*, and start the rollout (once per contract)."""
    lock = creating(stacks_dir, specs, break_lock, progress) if deploy else nullcontext()
    with lock:  # files planned and written, then deployed, under one hold of the lock
        files = create_tenant(stacks_dir, specs, force=force)
        for change in files.files:
            progress(f"{change.status:9} {display_path(change.path)}")
        deployment = (
            deploy_tenant(files.specs, stacks_dir, progress, break_lock) if deploy else NO_DEPLOY
        )
    rollout = start_with_create(files.slug, contract, signed_off, by)
    if rollout.status == "started" and rollout.change is not None:
        progress(f"rollout   {rollout.change.message}; billing: {rollout.change.billing or '-'}")
    return Created(files, deployment, rollout)
