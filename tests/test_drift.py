"""`tenantctl drift`: a stack as last deployed against its stack file and program, on the
local target (what its stand-in for `pulumi up` recorded), read-only and without the lock."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from click.testing import CliRunner, Result

from infra.cli import main
from infra.core.errors import ExitCode
from infra.ops.stacks import locking
from tests.helpers import schema


def drift(stacks: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["drift", "demo", "--stacks-dir", str(stacks), *args])


def rename(stacks: Path, stage: str = "preview") -> None:
    """A stack file edited after the deploy: the client's display name (the sender's name
    in the e-mail identity, the portal's settings) changed, nobody deployed."""
    path = stacks / f"Pulumi.demo-{stage}.yaml"
    text = path.read_text()
    assert "tenants:displayName: Demo State University Parking" in text
    path.write_text(text.replace("Demo State University Parking", "Demo State Parking", 1))


def test_a_stack_just_deployed_has_not_drifted(stacks: Path) -> None:
    result = drift(stacks, "--stage", "preview")
    assert (result.exit_code, result.output) == (
        0,
        "demo-preview: no drift (matches its stack file and program)\n",
    )


def test_a_stack_file_changed_since_the_deploy_is_drift_named_with_exit_6(stacks: Path) -> None:
    rename(stacks)
    result = drift(stacks, "--stage", "preview", "--json")
    assert result.exit_code == ExitCode.CHANGES
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema("drift"))
    assert document["drifted"] is True and document["stack"] == "demo-preview"
    assert any(line.startswith("update ") for line in document["differences"]), document
    assert result.stderr.startswith("Error: demo-preview drifted: update ")
    assert result.stderr.endswith(
        "bring it back with `tenantctl deploy demo-preview` (or change the stack file to what "
        "is deployed)\n"
    )
    assert drift(stacks, "--stage", "production").exit_code == 0  # the other stack is intact


def test_drift_takes_no_lock_so_it_runs_while_a_person_holds_the_clients(stacks: Path) -> None:
    rename(stacks)
    place = locking.lock_place(stacks, "demo")
    with locking.client_lock("demo", "tenantctl reset-preview demo", place):
        assert drift(stacks, "--stage", "preview").exit_code == ExitCode.CHANGES


def test_a_stack_never_deployed_has_drifted(stack_files: Path, aws_env: str) -> None:
    result = drift(stack_files, "--stage", "preview")
    assert result.exit_code == ExitCode.CHANGES
    assert "demo-preview drifted: never deployed (no outputs recorded)" in result.stderr


def test_drift_lines_name_what_the_next_deploy_would_do() -> None:
    from infra.core.replacement import Step, changed_resources, changed_steps

    before = {"bucket": "a1", "pool": "b1", "gone": "c1"}
    after = {"bucket": "a1", "pool": "b2", "new": "d1"}
    assert changed_resources(before, after) == ["delete gone", "create new", "update pool"]
    steps = [Step("same", "t", "bucket"), Step("read", "t", "zone"), Step("update", "t", "pool")]
    assert changed_steps(steps) == ["update pool"]  # the Pulumi CLI's preview, same rule
