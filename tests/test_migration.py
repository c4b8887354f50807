"""Stacks deployed from an earlier design move to today's by ``pulumi up`` (issue 18).

Each fixture is what ``scripts/design-state COMMIT`` recorded: the demo's stack files
and the stateful resources (database, bucket, user pool, secret) the program at
COMMIT planned for them. Planned again by today's program from the same stack files,
nothing stateful may be replaced or deleted: the update that moves a client to
wildcard routing, one settings parameter, SaaS Manager and the platform's email
identity keeps its data. A preview created before pools keeps its instance until
``tenantctl preview move`` (tests/test_pool.py moves the data); what is left after
the move is exactly the instance's delete, which the deploy guard asks to name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.core import naming
from infra.core.replacement import STATEFUL, changes_between, stateful_inputs
from infra.core.spec import spec_from_config
from infra.ops.stacks.platformfile import platform_outputs
from infra.program.plan import plan_stack
from tests.helpers import STACKS

FIXTURES = Path(__file__).parent / "fixtures"
DESIGNS = sorted(FIXTURES.glob("design-*.json"))
"""Earlier designs: 45e71c8 (the demo as the previous round deployed it) and 9c422d1
(before pooled previews)."""


def _designs() -> list[Any]:
    return [
        pytest.param(path, stack, id=f"{path.stem}:{stack}")
        for path in DESIGNS
        for stack in (f"demo-{stage}" for stage in naming.STAGES)
    ]


def _today(config: dict[str, Any], stack: str) -> dict[str, tuple[str, dict[str, Any]]]:
    spec = spec_from_config(config, expected_stack=stack)
    plan = plan_stack(spec, platform_outputs=platform_outputs(STACKS, spec.platform_stack))
    return {r.name: (r.type, r.inputs) for r in plan.resources if r.custom}


def _recorded(path: Path, stack: str) -> tuple[dict[str, Any], dict[str, tuple[str, Any]]]:
    state = json.loads(path.read_text())[stack]
    return state["config"], {name: (t, inputs) for name, (t, inputs) in state["resources"].items()}


def test_the_recorded_designs_hold_every_kind_of_stateful_resource() -> None:
    assert len(DESIGNS) >= 2
    for path in DESIGNS:
        for stack in (f"demo-{stage}" for stage in naming.STAGES):
            _, before = _recorded(path, stack)
            assert {t for t, _ in before.values()} == set(STATEFUL), (path.name, stack)


@pytest.mark.parametrize(("path", "stack"), _designs())
def test_an_earlier_design_moves_to_todays_replacing_nothing_stateful(path: Path, stack: str):
    config, before = _recorded(path, stack)
    after = _today(config, stack)
    assert changes_between(stateful_inputs(before), stateful_inputs(after)) == []
    # The stateful inputs themselves are compared, not only names: each is still there.
    assert set(stateful_inputs(before)) <= set(stateful_inputs(after))


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.stem)
def test_a_preview_moved_to_a_pool_deletes_only_its_old_instance(path: Path) -> None:
    stack = "demo-preview"
    config, before = _recorded(path, stack)
    assert f"{naming.PROJECT}:databasePool" not in config  # created before pools
    # What `preview move` records: the pool, and no sizing of an instance it no longer has.
    moved = {k: v for k, v in config.items() if k != f"{naming.PROJECT}:database"}
    moved[f"{naming.PROJECT}:databasePool"] = "previews-1"
    changes = changes_between(stateful_inputs(before), stateful_inputs(_today(moved, stack)))
    assert [(c.name, c.kind) for c in changes] == [("demo-preview-database-instance", "delete")]
