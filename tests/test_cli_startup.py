"""Start-up: commands are registered explicitly and imported only when used."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from infra.cli import COMMANDS, main
from tests.helpers import ROOT, STACKS

COMMAND_MODULES = sorted(
    f"infra.cli.{p.stem}"
    for p in (ROOT / "infra" / "cli").glob("*.py")
    if p.stem not in {"__init__", "common", "lazy"}
)
HEAVY = ["pydantic", "rich", "jinja2", "boto3", "botocore", "psycopg", "pulumi", "ruamel"]


def loaded_after(code: str) -> list[str]:
    """Which command modules and heavy libraries a fresh interpreter has imported after *code*."""
    watch = [*COMMAND_MODULES, *HEAVY]
    report = f"print(json.dumps([m for m in {watch!r} if m in sys.modules]))"
    probe = f"import sys\n{code}\nimport json\n{report}"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_the_table_registers_every_command_a_module_declares(module: str):
    declared: list[click.Command] = importlib.import_module(module).COMMANDS
    assert declared
    for command in declared:
        assert command.name is not None
        assert COMMANDS[command.name].split(":")[0] == module
        assert main.commands[command.name] is command


def test_the_table_names_only_commands_that_exist():
    for name in COMMANDS:
        assert main.commands[name].name == name


def test_importing_the_cli_imports_no_command_and_no_heavy_library():
    assert loaded_after("import infra.cli") == []


def test_version_imports_no_command_and_no_heavy_library():
    code = "from infra.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass"
    assert loaded_after(code) == []


def test_a_command_imports_only_its_own_module():
    code = (
        "from infra.cli import main\ntry:\n    main(['billing', '--help'])\n"
        "except SystemExit:\n    pass"
    )
    assert loaded_after(code) == ["infra.cli.billing"]


def test_help_lists_every_command_with_its_short_help():
    result = CliRunner().invoke(main, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    listed = dict(
        re.findall(r"^  (\S+)\s+(\S.*)$", result.output.split("Commands:")[1], re.MULTILINE)
    )
    assert set(listed) == set(COMMANDS)
    assert all(listed.values())


def test_json_output_does_not_import_rich():
    code = (
        "from infra.cli import main\ntry:\n"
        f"    main(['list', '--json', '--stacks-dir', {str(STACKS)!r}])\n"
        "except SystemExit:\n    pass"
    )
    assert "rich" not in loaded_after(code)


def test_list_reads_files_without_the_aws_or_database_clients():
    code = (
        "from infra.cli import main\ntry:\n"
        f"    main(['list', '--json', '--stacks-dir', {str(STACKS)!r}])\n"
        "except SystemExit as done:\n    assert done.code in (0, None), done.code"
    )
    loaded = loaded_after(code)
    assert not {"boto3", "botocore", "psycopg", "pulumi"} & set(loaded), loaded
