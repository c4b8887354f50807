"""mypy follows only the pulumi_aws services the program uses (pyproject.toml): every
service the program reaches through ``aws.<service>`` is in that list, so none of its uses
goes unchecked (a skipped module would be ``Any``)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pulumi_aws

from tests.helpers import ROOT

SDK = Path(pulumi_aws.__file__).parent


def followed_services() -> set[str]:
    """The services the mypy overrides follow (``pulumi_aws.<service>.*``)."""
    overrides = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    return {
        module.split(".")[1]
        for override in overrides
        if override.get("follow_imports") == "normal"
        for module in override["module"]
        if module.startswith("pulumi_aws.") and module.endswith(".*")
    }


def used_services(source: str) -> set[str]:
    """The pulumi_aws service packages *source* reaches, as ``<alias>.<service>`` of
    ``import pulumi_aws as <alias>`` or by ``from pulumi_aws[.<service>] import ...``."""
    tree = ast.parse(source)
    aliases = {
        name.asname or name.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for name in node.names
        if name.name == "pulumi_aws"
    }
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in aliases:
                used.add(node.attr)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pulumi_aws"):
            parts = (node.module or "").split(".")
            used.update(parts[1:2] or [name.name for name in node.names])
        elif isinstance(node, ast.Import):
            used.update(
                name.name.split(".")[1]
                for name in node.names
                if name.name.startswith("pulumi_aws.")
            )
    return {name for name in used if (SDK / name / "__init__.py").exists()}


def test_every_pulumi_aws_service_the_code_uses_is_type_checked() -> None:
    sources = [p for d in ("infra", "policy") for p in sorted((ROOT / d).rglob("*.py"))]
    used = {
        service: str(path.relative_to(ROOT))
        for path in sources
        for service in used_services(path.read_text(encoding="utf-8"))
    }

    assert len(used) >= 10  # the program's services were found
    assert {s: p for s, p in used.items() if s not in followed_services()} == {}


def test_a_service_used_any_way_is_found() -> None:
    source = (
        "import pulumi_aws as aws\nimport pulumi_aws.lambda_\n"
        "from pulumi_aws import ec2\nfrom pulumi_aws.kms import Key\n"
        "aws.s3.Bucket('b')\naws.get_caller_identity()\n"
    )

    assert used_services(source) == {"s3", "lambda_", "ec2", "kms"}
