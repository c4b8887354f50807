"""``tenantctl payment set-credentials``: a stack's payment credentials, under the lock.

The value goes from stdin or the environment straight into the stack's Secrets
Manager secret (``infra.ops.adapters.payment_store.set_credentials``, which checks
sandbox against live); it never passes through Pulumi config, state, logs or output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.core import naming
from infra.core.spec import TenantSpec
from infra.core.steps import Progress, quiet
from infra.ops.adapters import aws
from infra.ops.adapters.payment_store import CredentialsMode, set_credentials
from infra.ops.stacks.locking import client_lock, lock_place
from infra.ops.stacks.stackfiles import stack_region


@dataclass(frozen=True)
class StoredCredentials:
    """Credentials stored in a stack's payment secret (their values are never kept here)."""

    stack: str
    secret: str
    mode: CredentialsMode

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "secret": self.secret, "mode": self.mode, "stored": True}


def store_credentials(
    stacks_dir: Path,
    spec: TenantSpec,
    credentials: Mapping[str, str],
    *,
    break_lock: str | None = None,
    progress: Progress = quiet,
) -> StoredCredentials:
    """``set_credentials`` for the stack of *spec*, under the client's lock."""
    region = stack_region(stacks_dir, spec.slug, spec.stage)
    operation = f"payment set-credentials --stage {spec.stage}"
    with client_lock(
        spec.slug,
        operation,
        lock_place(stacks_dir, spec.slug),
        break_reason=break_lock,
        progress=progress,
    ):
        mode = set_credentials(aws.client("secretsmanager", region), spec, credentials)
    return StoredCredentials(
        spec.stack_name, naming.payment_secret_name(spec.slug, spec.stage), mode
    )
