"""preview move: carry a preview's databases to another of the platform's pool servers.

Under the client's lock, in steps that each check what is already done, so a re-run
after a failure or a kill finishes the same move:

1. ``freeze``: the source databases admit only the master user (the preview's
   sessions are ended), so nothing written during the copy is lost;
2. ``copy-defaults``, ``copy-working``, ``copy-undo``: each database is rebuilt on the
   target server from the stack's schema (``templates/db``) and its rows copied
   (``StackDatabases.copy_to``), closed to every role but the preview's own from
   the start, and marked with the move's id once complete;
3. ``record``: the stack file's ``tenants:databasePool`` names the target: the
   placement changes last, once the data is all there;
4. ``drop-source``: the source pool's copies are dropped (a preview leaving its own
   instance keeps them there: the instance goes with the next deploy, its final
   snapshot with them);
5. ``deploy``: the stack is deployed so its outputs name the new server, unless
   that would delete a stateful resource (the preview's own instance), which needs
   ``tenantctl deploy --allow-replace`` and a reason; the result says so.

The move in progress is recorded in the preview's content bucket (``move-pending``),
so a re-run knows where the data came from even after the placement changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.core import naming, rendering
from infra.core.content_model import iso8601, new_release_id, utc_now
from infra.core.errors import PreconditionFailed, UserInputError
from infra.core.platform import DatabasePool, PlatformError, find_pool
from infra.core.replacement import refused
from infra.core.spec import TenantSpec
from infra.core.steps import Progress, Step, StepLog, quiet
from infra.ops.adapters import yamlfiles
from infra.ops.adapters.checkpoints import checkpoint
from infra.ops.adapters.database import StackDatabases
from infra.ops.adapters.database_role import role_credentials
from infra.ops.lifecycle.create import platform_pools, pool_placements
from infra.ops.lifecycle.provision import deploy_new_stack
from infra.ops.lifecycle.reset import PENDING_RECORD as RESET_PENDING
from infra.ops.stacks import stackfiles
from infra.ops.stacks.deployers import current_deployer
from infra.ops.stacks.handle import (
    PreviewStack,
    database_admin_url,
    open_stack,
    pool_admin_url,
)
from infra.ops.stacks.locking import client_lock, lock_place

MOVE_RECORD = "move-pending"
"""A move that started and has not finished: its id, where from and where to."""

STEPS = (
    "freeze",
    "copy-defaults",
    "copy-working",
    "copy-undo",
    "record",
    "drop-source",
    "deploy",
)
"""The steps of a move, in order; ``move-<step>`` is the checkpoint before each."""


@dataclass(frozen=True)
class MoveOutcome:
    """What ``preview move`` did; ``to_json`` is its ``--json`` document."""

    stack: str
    source: str | None
    """The pool the preview left; ``None`` for its own (dedicated) instance."""
    target: str
    steps: list[Step] = field(default_factory=list)
    unchanged: bool = False
    """Nothing was done: the preview was already on the target pool."""
    next: str | None = None
    """What to run to finish (the deploy this machine could not, or was not let, do)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "from": self.source,
            "to": self.target,
            "unchanged": self.unchanged,
            "steps": [s.to_json() for s in self.steps],
            "next": self.next,
        }


def move_preview(
    stacks_dir: Path,
    slug: str,
    pool: str,
    progress: Progress = quiet,
    break_lock: str | None = None,
) -> MoveOutcome:
    """Move *slug*'s preview databases to the pool server *pool*; resumable."""
    spec = stackfiles.read_spec(stacks_dir, slug, naming.PREVIEW)
    pools = platform_pools(stacks_dir, spec.platform_stack)
    target = _pool(spec, pools, pool)
    with client_lock(
        slug, "preview move", lock_place(stacks_dir, slug), break_reason=break_lock,
        progress=progress,
    ):  # fmt: skip
        handle = open_stack(spec, handle=PreviewStack, source=current_deployer())
        assert isinstance(handle, PreviewStack)
        pending = handle.content.get_record(MOVE_RECORD)
        if pending and pending.get("id"):
            if pending["to"] != pool:
                raise PreconditionFailed(
                    f"an interrupted move of {spec.stack_name} to {pending['to']} is not "
                    f"finished; run `tenantctl preview move {slug} --to {pending['to']}` first"
                )
            progress(f"  resuming the interrupted move {pending['id']}")
        else:
            if spec.database_pool == pool:
                progress(f"  {spec.stack_name} is already on {pool}")
                return MoveOutcome(spec.stack_name, pool, pool, unchanged=True)
            _check_room(stacks_dir, spec, target)
            reset = handle.content.get_record(RESET_PENDING)
            if reset and reset.get("id"):
                raise PreconditionFailed(
                    f"a reset of {spec.stack_name} is unfinished; run `tenantctl reset-preview "
                    f"{slug}` to finish it, then move (nothing was changed)"
                )
            pending = {
                "id": new_release_id(),
                "from": spec.database_pool,
                "to": pool,
                "startedAt": iso8601(utc_now()),
            }
            handle.content.put_record(MOVE_RECORD, pending)
        return _move(stacks_dir, spec, handle, pools, target, pending, progress)


def _pool(spec: TenantSpec, pools: list[DatabasePool], name: str) -> DatabasePool:
    try:
        return find_pool(spec.platform_stack, pools, name)
    except PlatformError as exc:
        raise UserInputError(f"{exc}; nothing was changed") from None


def _check_room(stacks_dir: Path, spec: TenantSpec, target: DatabasePool) -> None:
    placed = pool_placements(stacks_dir, spec.platform_stack).get(target.name, 0)
    if placed >= target.capacity:
        raise PreconditionFailed(
            f"pool {target.name} is full ({placed}/{target.capacity} previews); nothing was "
            "changed: choose another pool"
        )


def _move(
    stacks_dir: Path,
    spec: TenantSpec,
    handle: PreviewStack,
    pools: list[DatabasePool],
    target_pool: DatabasePool,
    pending: dict[str, Any],
    progress: Progress,
) -> MoveOutcome:
    log, region = StepLog(), handle.region
    source_name: str | None = pending["from"]
    role = naming.database_role_name(spec.slug, spec.stage)
    if source_name is None:  # its own instance, as its outputs name it
        source_spec = TenantSpec.model_validate({**spec.model_dump(), "database_pool": None})
        source_url = database_admin_url(source_spec, handle.outputs, region)
    else:
        source_url = pool_admin_url(_pool(spec, pools, source_name), region)
    target_url = pool_admin_url(target_pool, region)
    if source_url == target_url:
        raise UserInputError(
            f"{source_name or 'the preview instance'} and {target_pool.name} are the same "
            "PostgreSQL server here; name each pool's server in TENANTCTL_POOL_DATABASE_URLS "
            "(nothing was changed)"
        )
    source = StackDatabases(source_url, spec.slug, spec.stage, role if source_name else None)
    target = StackDatabases(target_url, spec.slug, spec.stage, role)
    mark = f"tenantctl move {pending['id']}"

    def freeze() -> str:
        frozen = source.freeze()
        return f"{', '.join(frozen) or 'nothing'} closed to all but the master user"

    def target_role() -> None:
        try:
            _, password = role_credentials(handle.secrets, spec.slug, spec.stage)
        except PreconditionFailed:  # leaving its own instance: the deploy makes the secret
            target.role = None
            return
        target.ensure_role(password)

    def copier(db: str) -> Any:
        def copy() -> str:
            if db not in source.existing():
                return f"{db}: none to copy"
            if not source.copy_to(target, db, rendering.render_db_schema(), mark):
                return f"{db} already copied by this move"
            return f"{db} copied to {target_pool.name}"

        return copy

    def record() -> str:
        current = stackfiles.read_spec(stacks_dir, spec.slug, spec.stage)
        if current.database_pool == target_pool.name:
            return f"already placed on {target_pool.name}"
        # Sizing of its own instance means nothing on a pool server: dropped with it.
        moved = TenantSpec.model_validate(
            {**current.model_dump(), "database": {}, "database_pool": target_pool.name}
        )
        path = naming.stack_file(stacks_dir, spec.slug, spec.stage)
        source = yamlfiles.display_path(path)
        text = yamlfiles.read_limited(path, source)
        yamlfiles.write_atomically(path, stackfiles.render_stack_file(moved, text, source))
        return f"{naming.CONFIG_NAMESPACE}databasePool: {target_pool.name} recorded"

    def drop_source() -> str:
        if source_name is None:
            return "kept on the preview's own instance (its final snapshot keeps them)"
        dropped = source.drop_all()
        return f"dropped {', '.join(dropped)} on {source_name}" if dropped else "nothing left"

    next_step: list[str] = []

    def deploy() -> str:
        moved = stackfiles.read_spec(stacks_dir, spec.slug, spec.stage)
        deployer = current_deployer()
        if deployer is None:
            next_step.append(f"pulumi up -s {spec.stack_name}")
            return "not deployed here (no Pulumi CLI)"
        changes = refused(deployer.stateful_changes(moved, stacks_dir, progress), ())
        if changes:
            names = " ".join(f"--allow-replace {c.name}" for c in changes)
            next_step.append(
                f"tenantctl deploy {spec.stack_name} {names} --reason 'moved to {target_pool.name}'"
            )
            return f"not deployed: it would {'; '.join(c.describe() for c in changes)}"
        deploy_new_stack(moved, stacks_dir, progress)
        return f"deployed: {spec.stack_name} now uses {target_pool.name}"

    actions = {
        "freeze": freeze,
        "copy-defaults": copier(source.defaults),
        "copy-working": copier(source.working),
        "copy-undo": copier(source.undo),
        "record": record,
        "drop-source": drop_source,
        "deploy": deploy,
    }
    target_role()
    for name in STEPS:
        checkpoint(f"move-{name}")
        log.run(name, actions[name], progress)
    handle.content.put_record(MOVE_RECORD, {"id": None, "finished": pending["id"]})
    return MoveOutcome(
        spec.stack_name,
        source_name,
        target_pool.name,
        log.steps,
        next=next_step[0] if next_step else None,
    )
