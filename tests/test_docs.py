"""Pulumi.yaml's config block and the README tables are generated from the code."""

from __future__ import annotations

from ruamel.yaml import YAML

from infra.core.spec_docs import config_reference
from infra.devtools.docs import regenerate
from tests.helpers import ROOT


def test_generated_docs_are_up_to_date():
    for name, text in regenerate(ROOT).items():
        assert (ROOT / name).read_text() == text, f"{name} is stale: run scripts/gen-docs"


def test_pulumi_yaml_declares_every_required_or_defaulted_scalar_key():
    project = YAML(typ="safe").load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "tenants" and project["main"] == "infra/"
    assert project["stackConfigDir"] == "stacks"
    declared = project["config"]
    scalar = [
        k
        for k, t, d, _ in config_reference()
        if "." not in k and "[" not in k and t in ("string", "integer", "boolean") and d != ""
    ]
    assert sorted(declared) == sorted(f"tenants:{k}" for k in scalar)
    for entry in declared.values():
        assert entry["type"] in ("string", "integer", "boolean") and entry["description"]


def test_readme_documents_every_key():
    readme = (ROOT / "README.md").read_text()
    for key, *_ in config_reference():
        assert f"`tenants:{key}`" in readme


def test_the_config_reference_names_nested_objects_and_lists_of_scalars_as_they_are():
    types = {key: type_name for key, type_name, *_ in config_reference()}
    assert types["integrations[].enforcementHours"] == "object"
    assert types["integrations[].enforcementHours.days"] == "list of strings"
    assert types["integrations[].zones"] == "list of objects"
    assert types["integrations[].graceMinutes"] == "integer"
