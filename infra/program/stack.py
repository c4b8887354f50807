"""The tenant stack program: spec from stack config, the Tenant, and the stack outputs.

``infra/__main__.py`` runs it under the Pulumi engine; ``infra.program.plan`` runs the
same ``define_stack`` under Pulumi's mock runtime for the offline plan.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from infra.core import naming
from infra.core.spec import TenantSpec, spec_from_config
from infra.program.tenant import STACK_OUTPUTS as OUTPUTS
from infra.program.tenant import Tenant, TenantArgs, tenant_name

STACK_OUTPUTS: dict[str, str] = {o.name: o.description for o in OUTPUTS}
"""Stack output name -> description: what ``tenantctl`` and CI read from a stack."""


def define_stack(spec: TenantSpec) -> dict[str, pulumi.Output[Any] | Any]:
    """Build the Tenant for *spec* and return the stack outputs (``tenant.STACK_OUTPUTS``)."""
    tenant = Tenant(tenant_name(spec), TenantArgs(spec=spec))
    return {o.name: getattr(tenant, o.attribute) for o in OUTPUTS}


def _config_value(value: Any) -> Any:
    """Structured config (objects, lists) reaches the program as JSON text."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def pulumi_config() -> dict[str, Any]:
    """Every ``tenants:`` key of the running program's stack config, JSON values parsed."""
    # The CLI hands config over in PULUMI_CONFIG; the Automation API sets it in
    # the runtime. Neither offers a public way to list keys, only to get one.
    raw: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = naming.CONFIG_NAMESPACE
    config: dict[str, Any] = {}
    for key, value in raw.items():
        if not key.startswith(prefix):
            continue
        # Old CLIs spell keys "<namespace>:config:<name>".
        name = key[len(prefix) :].removeprefix("config:")
        config[prefix + name] = _config_value(value)
    return config


def spec_from_pulumi_config() -> TenantSpec:
    """The tenant spec of the running stack; slug and stage must match its name."""
    return spec_from_config(
        pulumi_config(),
        expected_stack=pulumi.get_stack(),
        source=f"stack {pulumi.get_stack()} config",
    )
