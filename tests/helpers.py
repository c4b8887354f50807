"""Shared test data: the reference tenant as the stack files define it."""

from __future__ import annotations

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
