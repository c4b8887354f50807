"""The command line: every command documented; plan through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.core.errors import ExitCode
from tests.helpers import STACKS


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
    return found


COMMANDS = all_commands(main)


def test_the_expected_commands_exist():
    assert {c[0] for c in COMMANDS} >= {
        "create",
        "plan",
        "reset-preview",
        "promote",
        "status",
        "list",
        "payment",
    }


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = main
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    assert command.help and len(command.help.split()) > 3
    if not isinstance(command, click.Group):
        assert "Example" in result.output


def plan(*args: str, stacks: Path = STACKS) -> click.testing.Result:
    return CliRunner().invoke(main, ["plan", *args, "--stacks-dir", str(stacks)])


def test_plan_json_has_both_stacks_with_resources_and_outputs():
    result = plan("demo", "--json")
    assert result.exit_code == 0, result.output
    stacks = json.loads(result.stdout)["stacks"]
    assert [s["stack"] for s in stacks] == ["demo-preview", "demo-production"]
    for s in stacks:
        bucket = next(r for r in s["resources"] if r["name"] == f"{s['stack']}-portal-bucket")
        assert set(bucket) == {"type", "name", "parent", "protect", "retainOnDelete", "inputs"}
        assert bucket["protect"] is (s["stack"] == "demo-production")
        assert s["outputs"]["contentBucket"].startswith(f"tenantctl-{s['stack']}-content-")
    # The production's databases are on its own instance; the preview's on a pool server.
    production = next(r for r in stacks[1]["resources"] if r["type"] == "aws:rds/instance:Instance")
    assert production["inputs"]["storageEncrypted"] is True
    assert not any(r["type"] == "aws:rds/instance:Instance" for r in stacks[0]["resources"])


def test_plan_one_stage_in_human_form_shows_what_matters():
    result = plan("demo", "--stage", "production")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "demo-production" in out and "demo-preview" not in out
    for fact in (
        "multiAz: true",
        "deletionProtection: true",
        "storageEncrypted: true",
        "mfaConfiguration: ON",
        "parking.demo-state.example.edu",
        "name: /demo/production/settings",
    ):
        assert fact in out, fact


def test_plan_of_an_unknown_slug_is_one_line_and_exit_2():
    result = plan("acme")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "acme" in result.output


def test_plan_of_invalid_config_is_one_line_and_exit_2(tmp_path: Path):
    folder = tmp_path / "stacks"
    shutil.copytree(STACKS, folder)
    path = folder / "Pulumi.demo-production.yaml"
    path.write_text(path.read_text().replace("backupRetentionDays: 21", "backupRetentionDays: 3"))
    result = plan("demo", stacks=folder)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "tenants:database.backupRetentionDays = 3" in result.output


def test_plan_output_never_contains_a_secret_value():
    result = plan("demo", "--json")
    text = result.stdout
    assert "sk_live_" not in text and "sk_test_" not in text
    # The database password is managed by RDS: no password input exists anywhere.
    assert '"password"' not in text and '"masterPassword"' not in text
    assert '"manageMasterUserPassword": true' in text


@pytest.mark.parametrize(
    "args",
    [
        ["rollout", "start", "demo", "--contract", " C-2026-001"],
        ["rollout", "pause", "demo", "--reason", "waiting on the client "],
        ["rollout", "done", "demo", "kickoff", "--by", "pat\u202e"],
        ["promote", "demo", "--yes", "--override-gate", "--reason", "{{ x }}"],
        ["reset-preview", "demo", "--yes", "--break-lock", " stuck"],
        ["email", "allow-list", "demo", "--add", "pat@example.edu "],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_free_text_options_follow_the_one_rule_and_change_nothing(args: list[str]):
    result = CliRunner().invoke(main, [*args, "--stacks-dir", str(STACKS)])

    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "nothing was changed" in result.stderr


def test_the_old_break_lock_flag_form_is_refused_not_taken_as_a_reason():
    # `--break-lock --yes` would otherwise break a live lock for the reason "--yes".
    result = CliRunner().invoke(
        main, ["reset-preview", "demo", "--break-lock", "--yes", "--stacks-dir", str(STACKS)]
    )

    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "needs a REASON" in result.stderr and "nothing was changed" in result.stderr
