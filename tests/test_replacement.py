"""No deploy destroys a client's data by accident (issue 16, finding 3).

A new platform KMS key forces a new database instance (``kmsKeyId`` is ForceNew) and,
through the installation id, a new bucket name; a changed ``tenants:platformStack``
renames the bucket. Named resources are replaced delete-first: the preview's weeks of
phase-3 work would go. ``tenantctl deploy`` refuses unless told, by name, with a reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from infra.cli import main
from infra.core.errors import ExitCode
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS
from infra.core.replacement import (
    STATEFUL,
    Step,
    changes_between,
    changes_from_steps,
    refused,
    stateful_inputs,
)
from infra.program.plan import StackPlan, plan_stack
from tests.helpers import SLUG, cli, create_demo, demo_spec, ok

NEW_KEY = EXAMPLE_PLATFORM_OUTPUTS["kmsKeyArn"].replace("1234abcd", "5678ef90")


def _resources(plan: StackPlan) -> dict[str, tuple[str, dict[str, Any]]]:
    return {r.name: (r.type, r.inputs) for r in plan.resources if r.custom}


def _plan(stage: str, **platform: Any) -> StackPlan:
    return plan_stack(demo_spec(stage), platform_outputs={**EXAMPLE_PLATFORM_OUTPUTS, **platform})


def _own_instance_preview(**platform: Any) -> StackPlan:
    """A preview created before pooled previews, still on its own instance."""
    spec = demo_spec("preview").model_copy(update={"database_pool": None})
    return plan_stack(spec, platform_outputs={**EXAMPLE_PLATFORM_OUTPUTS, **platform})


@pytest.mark.parametrize(
    ("stage", "planned"),
    [
        ("production", lambda **p: _plan("production", **p)),
        ("preview", _own_instance_preview),
    ],
)
def test_a_new_platform_kms_key_replaces_the_database(stage: str, planned: Any) -> None:
    changes = changes_between(_resources(planned()), _resources(planned(kmsKeyArn=NEW_KEY)))
    (database,) = changes  # the bucket's name depends on the key's account and region only
    assert database.name == f"demo-{stage}-database-instance"
    assert database.kind == "replace" and database.because == ("kmsKeyId",)
    assert database.type in STATEFUL


def test_a_new_platform_kms_key_replaces_nothing_of_a_pooled_preview() -> None:
    """Its databases are on the pool server; its role secret takes the new key in place."""
    assert (
        changes_between(
            _resources(_plan("preview")), _resources(_plan("preview", kmsKeyArn=NEW_KEY))
        )
        == []
    )


def test_a_changed_platform_stack_replaces_the_content_bucket() -> None:
    before = _plan("preview")
    moved = demo_spec("preview").model_copy(update={"platform_stack": "acme/platform/prod2"})
    after = plan_stack(moved, platform_outputs=EXAMPLE_PLATFORM_OUTPUTS)
    (change,) = changes_between(_resources(before), _resources(after))
    assert change.name == "demo-preview-portal-bucket" and change.kind == "replace"


def test_ordinary_changes_replace_nothing() -> None:
    bigger = demo_spec("preview").model_copy(update={"display_name": "Renamed Parking"})
    after = plan_stack(bigger, platform_outputs=EXAMPLE_PLATFORM_OUTPUTS)
    assert changes_between(_resources(_plan("preview")), _resources(after)) == []


def test_a_removed_stateful_resource_is_a_delete_and_only_stateful_ones_count() -> None:
    before = _resources(_plan("preview"))
    after = {k: v for k, v in before.items() if k != "demo-preview-payments-credentials"}
    after = {k: v for k, v in after.items() if "record" not in v[0]}
    (change,) = changes_between(stateful_inputs(before), stateful_inputs(after))
    assert change.kind == "delete" and change.type == "aws:secretsmanager/secret:Secret"


def test_the_preview_steps_of_a_real_backend_give_the_same_answer() -> None:
    steps = [
        Step("same", "aws:s3/bucket:Bucket", "demo-preview-portal-bucket"),
        Step("update", "aws:rds/instance:Instance", "demo-preview-database-instance"),
        Step(
            "replace", "aws:cognito/userPool:UserPool", "demo-preview-access-user-pool", ("name",)
        ),
        Step(
            "create-replacement", "aws:cognito/userPool:UserPool", "demo-preview-access-user-pool"
        ),
        Step("delete", "aws:secretsmanager/secret:Secret", "demo-preview-payments-credentials"),
        Step("replace", "aws:route53/record:Record", "demo-preview-domains-admin"),
    ]
    changes = changes_from_steps(steps)
    assert [(c.name, c.kind, c.because) for c in changes] == [
        ("demo-preview-access-user-pool", "replace", ("name",)),
        ("demo-preview-payments-credentials", "delete", ()),
    ]
    assert refused(changes, ["demo-preview-access-user-pool"]) == changes[1:]


def _new_platform_key(folder: Path) -> None:
    yaml = YAML()
    path = folder / "platform-outputs.yaml"
    data = yaml.load(path.read_text())
    data["acme/platform/prod"]["kmsKeyArn"] = NEW_KEY
    with path.open("w") as out:
        yaml.dump(data, out)


def test_deploy_refuses_to_replace_a_database_unless_named_with_a_reason(
    tmp_path: Path, aws_env: str, control_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = create_demo(tmp_path, monkeypatch)
    outputs_before = json.loads(ok(cli(folder, "status", SLUG, "--json")).stdout)
    _new_platform_key(folder)

    refused_run = cli(folder, "deploy", "demo-production", "--yes", "--json")
    no_reason = cli(
        folder,
        "deploy",
        "demo-production",
        "--yes",
        "--allow-replace",
        "demo-production-database-instance",
    )
    partly = cli(
        folder,
        "deploy",
        "demo-production",
        "--yes",
        "--allow-replace",
        "demo-production-portal-bucket",
        "--reason",
        "new KMS key",
    )
    assert refused_run.exit_code == ExitCode.PRECONDITION, refused_run.output
    assert "replace demo-production-database-instance (database; kmsKeyId" in refused_run.output
    assert "nothing was changed" in refused_run.output
    assert no_reason.exit_code == ExitCode.BAD_INPUT and "--reason" in no_reason.output
    assert partly.exit_code == ExitCode.PRECONDITION, partly.output  # not the database
    assert "replace demo-production-database-instance" in partly.output
    assert json.loads(ok(cli(folder, "status", SLUG, "--json")).stdout) == outputs_before

    allowed = ok(
        cli(
            folder,
            "deploy",
            "demo-production",
            "--yes",
            "--allow-replace",
            "demo-production-database-instance",
            "--reason",
            "OPS-142 new platform key; client agreed",
            "--json",
        )
    )
    result = json.loads(allowed.stdout)
    assert [c["name"] for c in result["allowedReplacements"]] == [
        "demo-production-database-instance"
    ]
    history = json.loads(
        ok(CliRunner().invoke(main, ["rollout", "history", SLUG, "--json"])).stdout
    )
    (entry,) = [h for h in history["history"] if h["action"] == "allow-replace"]
    assert entry["subject"] == "demo-production"
    assert entry["detail"]["reason"] == "OPS-142 new platform key; client agreed"
    # Applied: the next deploy compares against the new state and replaces nothing.
    again = json.loads(ok(cli(folder, "deploy", "demo-production", "--yes", "--json")).stdout)
    assert again["allowedReplacements"] == []
