"""The offline plan's API: its JSON shape, secret redaction, isolation between runs, and
the plans a process keeps."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime import settings as pulumi_settings

from infra.core import rendering
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS
from infra.program import plan as plan_module
from infra.program import portal
from infra.program.plan import SECRET, plain, plan_program, plan_stack
from infra.program.stack import STACK_OUTPUTS, define_stack
from tests.helpers import demo_spec


def test_to_json_has_the_stack_its_resources_and_its_outputs() -> None:
    data = plan_stack(demo_spec("preview")).to_json()
    assert set(data) == {"stack", "resources", "outputs"}
    assert data["stack"] == "demo-preview"
    assert {tuple(sorted(r)) for r in data["resources"]} == {
        ("inputs", "name", "parent", "protect", "retainOnDelete", "type")
    }
    assert set(data["outputs"]) == set(STACK_OUTPUTS)
    assert json.loads(json.dumps(data)) == data


def test_outputs_include_what_later_commands_need() -> None:
    outputs = plan_stack(demo_spec("preview")).outputs
    assert outputs["slug"] == "demo"
    assert outputs["stage"] == "preview"
    assert outputs["live"] is False
    assert outputs["adminUrl"] == "https://demo-preview.admin.tenants.example.com"
    assert outputs["portalUrl"] == "https://demo-preview.tenants.example.com"
    assert outputs["databaseName"] == "demo_preview"
    assert outputs["databaseDefaultsName"] == "demo_preview_defaults"
    assert outputs["databasePort"] == 5432
    assert re.fullmatch(r"tenantctl-demo-preview-content-[0-9a-f]{8}", outputs["contentBucket"])
    assert outputs["settingsParameter"] == "/demo/preview/settings"


def test_production_portal_url_is_the_clients_own_domain() -> None:
    outputs = plan_stack(demo_spec("production")).outputs
    assert outputs["portalUrl"] == "https://parking.demo-state.example.edu"


def test_resources_record_their_parents_by_logical_name() -> None:
    plan = plan_stack(demo_spec("preview"))
    assert plan.named("demo-preview").parent is None
    assert plan.named("demo-preview").type == "tenants:index:Tenant"
    assert plan.named("demo-preview-database").parent == "demo-preview"
    assert plan.named("demo-preview-database-role-secret").parent == "demo-preview-database"
    assert plan.named("demo-preview-platform").type == "pulumi:pulumi:StackReference"
    assert plan.named("demo-preview-platform").inputs == {"name": "acme/platform/prod"}


def test_inputs_are_recorded_in_wire_form() -> None:
    own_instance = demo_spec("preview").model_copy(update={"database_pool": None})
    inputs = plan_stack(own_instance).named("demo-preview-database-instance").inputs
    assert inputs["storageEncrypted"] is True
    assert "storage_encrypted" not in inputs
    assert inputs["allocatedStorage"] == 20
    assert isinstance(inputs["allocatedStorage"], int)


def test_secret_inputs_are_shown_as_redacted() -> None:
    # pulumi_aws marks an SSM parameter's `value` secret whatever it holds.
    def program() -> dict[str, Any]:
        aws.ssm.Parameter("p", name="/x/y", type="SecureString", value="hunter2")
        return {"token": pulumi.Output.secret("s3cret"), "plain": "visible"}

    plan = plan_program(program, "demo-preview")
    assert plan.named("p").inputs["value"] == SECRET
    assert plan.outputs == {"token": SECRET, "plain": "visible"}
    assert "hunter2" not in json.dumps(plan.to_json())
    assert "s3cret" not in json.dumps(plan.to_json())


def test_plain_redacts_a_secret_in_wire_form() -> None:
    struct = struct_pb2.Struct()
    struct.update(
        {
            "name": "db",
            "masterPassword": {
                "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                "value": "hunter2",
            },
            "ports": [5432.0, 1.5],
        }
    )
    assert plain(struct) == {"name": "db", "masterPassword": SECRET, "ports": [5432, 1.5]}


def evaluated(stage: str) -> plan_module.StackPlan:
    """The demo stack's program run now (``plan_stack`` may answer with a kept plan)."""
    spec = demo_spec(stage)
    return plan_program(lambda: define_stack(spec), spec.stack_name)


def test_a_render_error_comes_out_as_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(spec: object) -> dict[str, bytes]:
        raise rendering.RenderError("templates/portal/home.html: 'x' is undefined")

    plan_stack(demo_spec("preview"))  # kept: the patched program below is planned afresh
    monkeypatch.setattr(rendering, "render_content", broken)
    with pytest.raises(rendering.RenderError, match=r"home\.html"):
        plan_stack(demo_spec("preview"))


def test_a_failed_plan_leaves_the_next_one_intact() -> None:
    def failing() -> dict[str, Any]:
        bucket = aws.s3.Bucket("b", bucket="b")
        return {"arn": bucket.arn.apply(_explode)}

    with pytest.raises(KeyError, match="boom"):
        plan_program(failing, "demo-preview")
    first = evaluated("preview")
    assert first == evaluated("preview")
    assert len(first.resources) > 60


def test_planning_leaves_the_callers_pulumi_state_alone() -> None:
    root = pulumi_settings.get_root_resource()
    stack = pulumi_settings.SETTINGS.stack
    evaluated("production")
    assert pulumi_settings.get_root_resource() is root
    assert pulumi_settings.SETTINGS.stack == stack


def test_a_stack_planned_again_is_its_first_plan_in_a_copy_of_its_own() -> None:
    fresh = evaluated("production")
    first = plan_stack(demo_spec("production"))
    again = plan_stack(demo_spec("production"))
    assert first == fresh == again
    assert again is not first
    again.resources.clear()  # what a caller does to its plan is its own
    again.outputs.clear()
    assert plan_stack(demo_spec("production")) == fresh


def test_a_changed_program_is_planned_afresh_and_the_original_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kept = plan_stack(demo_spec("preview"))

    def refused(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a patched component")

    with monkeypatch.context() as patched:  # a member of a program class, not the module
        patched.setattr(portal.Portal, "__init__", refused)
        with pytest.raises(RuntimeError, match="a patched component"):
            plan_stack(demo_spec("preview"))
    assert plan_stack(demo_spec("preview")) == kept


def test_a_changed_template_changes_what_decides_a_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(rendering.TEMPLATES_DIR, templates)
    monkeypatch.setattr(rendering, "TEMPLATES_DIR", templates)
    spec = demo_spec("preview")
    before = plan_module._memo_key(spec, EXAMPLE_PLATFORM_OUTPUTS)
    assert plan_module._memo_key(spec, EXAMPLE_PLATFORM_OUTPUTS) == before
    home = templates / "portal" / "home.html"
    home.write_text(home.read_text() + "<!-- edited -->\n")
    assert plan_module._memo_key(spec, EXAMPLE_PLATFORM_OUTPUTS) != before
    other = {**EXAMPLE_PLATFORM_OUTPUTS, "vpcId": "vpc-0fffffffffffffff0"}
    assert plan_module._memo_key(spec, other) != plan_module._memo_key(
        spec, EXAMPLE_PLATFORM_OUTPUTS
    )


def _explode(_: str) -> str:
    raise KeyError("boom")


def test_programs_outside_a_plan_keep_their_source_positions() -> None:
    from pulumi.runtime import resource as runtime_resource

    # The SDK takes the frames below the third __init__: Resource, its
    # Custom/Component subclass, then the concrete resource class.
    class Resource:
        def __init__(self) -> None:
            self.trace = runtime_resource._get_stack_trace()

    class Custom(Resource):
        def __init__(self) -> None:
            super().__init__()

    class Concrete(Custom):
        def __init__(self) -> None:
            super().__init__()

    plan_stack(demo_spec("preview"))
    assert Concrete().trace.frames
