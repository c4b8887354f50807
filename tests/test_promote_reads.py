"""One promote opens what it needs once: each stack file, each stack's outputs, the preconditions.

Counted by wrapping the real functions (they still do their work), on a client created
on the local target with a control database, so the rollout's gate runs too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.core.errors import ExitCode
from infra.devtools.localapply import LocalDeployer
from infra.ops.lifecycle import promote, promote_plan
from infra.ops.rollout import observe
from infra.ops.stacks import stackfiles
from tests.helpers import SLUG, cli


def counting(calls: Counter[str], key: Callable[..., str], real: Callable[..., Any]) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[key(*args, **kwargs)] += 1
        return real(*args, **kwargs)

    return wrapper


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Counter[str]]:
    """Stack files parsed (by file name), outputs read (by stack), preconditions evaluated."""
    found: dict[str, Counter[str]] = {"files": Counter(), "outputs": Counter(), "checks": Counter()}
    monkeypatch.setattr(
        stackfiles,
        "read_config",
        counting(found["files"], lambda path: Path(path).name, stackfiles.read_config),
    )
    monkeypatch.setattr(
        LocalDeployer,
        "outputs",
        counting(
            found["outputs"], lambda _self, spec, _region: spec.stack_name, LocalDeployer.outputs
        ),
    )
    checks = counting(
        found["checks"],
        lambda preview, _production: preview.spec.slug,
        promote_plan.check_preconditions,
    )
    for module in (promote, observe):  # every place that evaluates them
        monkeypatch.setattr(module, "check_preconditions", checks)
    return found


def test_one_promote_reads_each_stack_file_and_each_stacks_outputs_once(
    control_env: str, ready: Path, reads: dict[str, Counter[str]]
):
    result = cli(ready, "promote", SLUG, "--yes", "--override-gate", "--reason", "read count")

    # Launched; then the live verify right after go-live (on the handle promote bound,
    # nothing opened again) fails: the fixture's edited parking-map.html is a fragment,
    # not a page. Exit 9 names the rollback command.
    assert result.exit_code == ExitCode.LIVE_CHECK_FAILED, result.output
    assert "is live" in result.stdout
    assert "first template:parking-map" in result.stderr and "--rollback --yes" in result.stderr
    assert reads["files"] == Counter(
        {f"Pulumi.{SLUG}-preview.yaml": 1, f"Pulumi.{SLUG}-production.yaml": 1}
    )
    assert reads["outputs"] == Counter({f"{SLUG}-preview": 1, f"{SLUG}-production": 1})
    assert reads["checks"] == Counter({SLUG: 1})


def test_the_gate_observes_through_the_handles_promote_opened(
    control_env: str, ready: Path, reads: dict[str, Counter[str]]
):
    # Without the override the gate refuses (testing is not complete), after observing
    # the phase's tasks: still one read of each file and each stack's outputs.
    result = cli(ready, "promote", SLUG, "--yes")

    assert result.exit_code != 0
    assert "phase 4" in result.output
    assert sum(reads["files"].values()) == 2
    assert sum(reads["outputs"].values()) == 2
    assert reads["checks"] == Counter({SLUG: 1})
