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


def demo_bucket(stage: str, slug: str = "demo") -> str:
    """The content bucket the program names for the reference platform (acme/platform/prod)."""
    from infra.core import naming
    from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS

    installation = naming.installation_id(
        EXAMPLE_PLATFORM_OUTPUTS["kmsKeyArn"], "acme/platform/prod"
    )
    return naming.content_bucket(slug, stage, installation)  # type: ignore[arg-type]
