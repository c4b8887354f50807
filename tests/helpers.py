"""Shared test data: the reference tenant as the stack files define it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from infra.core.spec import TenantSpec, spec_from_config

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"


def stack_config(stage: str, slug: str = "demo") -> dict[str, Any]:
    data = YAML(typ="safe").load((STACKS / f"Pulumi.{slug}-{stage}.yaml").read_text())
    return dict(data["config"])


def demo_spec(stage: str) -> TenantSpec:
    return spec_from_config(stack_config(stage), expected_stack=f"demo-{stage}")


def demo_data(stage: str) -> dict[str, Any]:
    """The demo spec as plain camelCase data (no namespace), for building variants."""
    return {
        k.split(":", 1)[1]: v for k, v in stack_config(stage).items() if k.startswith("tenants:")
    }


def demo_bucket(stage: str, slug: str = "demo") -> str:
    """The content bucket the program names for the reference platform (acme/platform/prod)."""
    from infra.core import naming
    from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS

    installation = naming.installation_id(
        EXAMPLE_PLATFORM_OUTPUTS["kmsKeyArn"], "acme/platform/prod"
    )
    return naming.content_bucket(slug, stage, installation)  # type: ignore[arg-type]


@contextlib.contextmanager
def lock_held_elsewhere(slug: str, operation: str) -> Iterator[None]:
    """*slug*'s lock held by another thread, as another process would hold it.

    The lock is re-entrant within one thread, and CliRunner runs a command in the
    test's own thread, so holding it here would let the command through.
    """
    from infra.ops.locking import client_lock

    taken, release = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def hold() -> None:
        try:
            with client_lock(slug, operation):
                taken.set()
                release.wait(60)
        except BaseException as exc:  # surfaced in the test's thread below
            failure.append(exc)
            taken.set()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    taken.wait(30)
    if failure:
        raise failure[0]
    try:
        yield
    finally:
        release.set()
        holder.join(30)
