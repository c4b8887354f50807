"""The program's entry points: reading the spec from the running stack's config."""

from __future__ import annotations

import contextvars
import json
from typing import Any

import pytest
from pulumi.runtime import config as runtime_config
from pulumi.runtime import settings as pulumi_settings

from infra.core.spec import SpecError, TenantSpec
from infra.program.stack import spec_from_pulumi_config
from tests.helpers import demo_spec, stack_config


def _as_engine_config(config: dict[str, Any]) -> dict[str, str]:
    """Config as the engine hands it to a program: text, structured values as JSON."""

    def text(value: Any) -> str:
        if isinstance(value, dict | list):
            return json.dumps(value)
        return str(value).lower() if isinstance(value, bool) else str(value)

    return {key: text(value) for key, value in config.items()}


def _spec_in_stack(stack: str, config: dict[str, str]) -> TenantSpec:
    def read() -> TenantSpec:
        pulumi_settings.SETTINGS.stack = stack
        runtime_config.set_all_config(config, [])
        return spec_from_pulumi_config()

    # A context of its own: the test process's Pulumi settings stay as they were.
    return contextvars.copy_context().run(read)


@pytest.mark.parametrize("stage", ["preview", "production"])
def test_spec_from_pulumi_config_reads_every_tenants_key(stage: str) -> None:
    config = _as_engine_config(stack_config(stage))
    assert _spec_in_stack(f"demo-{stage}", config) == demo_spec(stage)


def test_spec_from_pulumi_config_refuses_another_stacks_config() -> None:
    config = _as_engine_config(stack_config("preview"))
    with pytest.raises(SpecError, match="must match the stack name 'demo-production'"):
        _spec_in_stack("demo-production", config)
