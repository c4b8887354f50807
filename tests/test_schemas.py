"""Every --json result has a JSON Schema in infra/schemas/, and real output validates."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from moto import settings as moto_settings

from infra.cli import main
from tests.helpers import EXAMPLE, SCHEMAS, STACKS, publish_client_cname, schema

LIVE = '{"secretKey": "sk_live_schema000000000000000", "webhookSecret": "whsec_schema"}'
SANDBOX = '{"secretKey": "sk_test_schema000000000000000"}'


def json_commands(group: click.Group = main, words: tuple[str, ...] = ()) -> Iterator[str]:
    """The schema name of every command in the click tree that has a --json option."""
    for name, command in sorted(group.commands.items()):
        path = (*words, name)
        if isinstance(command, click.Group):
            yield from json_commands(command, path)
        elif any("--json" in p.opts for p in command.params if isinstance(p, click.Option)):
            yield "-".join(path)


def test_every_command_with_json_output_has_a_valid_schema():
    names = list(json_commands())
    assert "promote" in names and "payment-set-credentials" in names  # the walk reaches groups
    missing = [n for n in names if not (SCHEMAS / f"{n}.schema.json").is_file()]
    assert missing == [], f"add infra/schemas/<name>.schema.json for: {missing}"
    for name in names:
        document = schema(name)
        Draft202012Validator.check_schema(document)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _with_client_cname(stacks: Path) -> Any:
    """``domain status`` once the client has pointed its domain at CloudFront."""
    publish_client_cname("parking.demo-state.example.edu")
    return run(stacks, "domain", "status", "demo")


def run(stacks: Path, *args: str, input: str | None = None, code: int = 0) -> Any:
    result = CliRunner().invoke(main, [*args, "--json", "--stacks-dir", str(stacks)], input=input)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_real_output_of_every_operation_validates(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", 0)
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    shutil.copy(STACKS / "platform-outputs.yaml", stacks / "platform-outputs.yaml")
    example = str(EXAMPLE)
    outputs: list[tuple[str, Any]] = [
        ("create", run(stacks, "create", "demo", "--from", example)),
        ("create", run(stacks, "create", "demo", "--from", example)),
        ("deploy", run(stacks, "deploy", "demo-production", "--yes")),
        ("plan", run(stacks, "plan", "demo", "--stage", "preview")),
        ("list", run(stacks, "list")),
        ("status", run(stacks, "status")),
        ("reset-preview", run(stacks, "reset-preview", "demo", "--yes")),
        ("reset-preview", run(stacks, "reset-preview", "demo", "--undo", "--yes")),
        (
            "payment-set-credentials",
            run(stacks, "payment", "set-credentials", "demo", "--stage", "production", input=LIVE),
        ),
        ("domain-status", run(stacks, "domain", "status", "demo")),
        ("domain-request-certificate", run(stacks, "domain", "request-certificate", "demo")),
        ("domain-attach", run(stacks, "domain", "attach", "demo")),
        ("domain-status", _with_client_cname(stacks)),
        ("promote", run(stacks, "promote", "demo", "--dry-run")),
        ("promote", run(stacks, "promote", "demo", "--yes")),
        ("promote", run(stacks, "promote", "demo", "--rollback", "--yes")),
        ("status", run(stacks, "status", "demo")),
    ]
    if os.environ.get("DUMP_SCHEMA_SAMPLES"):
        Path(os.environ["DUMP_SCHEMA_SAMPLES"]).write_text(json.dumps(outputs, indent=1))
    for name, document in outputs:
        errors = sorted(Draft202012Validator(schema(name)).iter_errors(document), key=str)
        assert not errors, f"{name}: {errors[0].message} at {list(errors[0].absolute_path)}"
