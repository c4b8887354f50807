"""tenantctl create: both stack files, validated first, idempotent, refusing silent changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from infra.cli import main
from infra.core import naming
from infra.core.errors import ExitCode
from infra.ops.lifecycle import create as create_op
from infra.ops.stacks import stackfiles
from tests.helpers import ACME_REQUIRED_OPTIONS, EXAMPLE, ROOT, STACKS, demo_spec, with_platform

ACME_OPTIONS = [
    *ACME_REQUIRED_OPTIONS,
    "--primary-color", "#112233",
    "--admin", "sam@acme.example.edu:Sam Ortiz:cashier",
    "--portal-domain", "parking.acme.example.edu",
]  # fmt: skip


def run(stacks: Path, *args: str) -> Result:
    """``create --no-deploy`` into *stacks*, which knows the reference platform."""
    with_platform(stacks)
    return CliRunner().invoke(main, ["create", *args, "--stacks-dir", str(stacks), "--no-deploy"])


def stack_files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("Pulumi.*.yaml"))


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.glob("Pulumi.*"))}


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def test_create_writes_both_stack_files_that_validate(tmp_path: Path) -> None:
    result = run(tmp_path, "acme", *ACME_OPTIONS)

    assert result.exit_code == 0, result.output
    assert stack_files_in(tmp_path) == [
        "Pulumi.acme-preview.yaml",
        "Pulumi.acme-production.yaml",
    ]
    preview = stackfiles.read_spec(tmp_path, "acme", "preview")
    production = stackfiles.read_spec(tmp_path, "acme", "production")
    assert preview.portal_domain is None
    assert production.portal_domain == "parking.acme.example.edu"
    assert [a.role for a in production.admins] == ["administrator", "cashier"]
    assert "acme: stack files created" in result.stdout


def test_create_from_the_example_file_equals_the_demo_tenant(tmp_path: Path) -> None:
    result = run(tmp_path, "demo", "--from", str(EXAMPLE))

    assert result.exit_code == 0, result.output
    for stage in naming.STAGES:
        assert stackfiles.read_spec(tmp_path, "demo", stage) == demo_spec(stage)


def test_create_over_the_reference_stacks_changes_nothing(tmp_path: Path) -> None:
    for stage in naming.STAGES:
        shutil.copy(naming.stack_file(STACKS, "demo", stage), tmp_path)
    before = snapshot(tmp_path)

    result = run(tmp_path, "demo", "--from", str(EXAMPLE))

    assert result.exit_code == 0, result.output
    assert "stack files unchanged" in result.stdout
    assert snapshot(tmp_path) == before


def test_second_run_says_unchanged_and_writes_nothing(tmp_path: Path) -> None:
    run(tmp_path, "acme", *ACME_OPTIONS)
    before = snapshot(tmp_path)

    result = run(tmp_path, "acme", *ACME_OPTIONS)

    assert result.exit_code == 0, result.output
    assert "acme: stack files unchanged" in result.stdout
    assert snapshot(tmp_path) == before


def test_different_spec_without_force_is_refused_with_one_line(tmp_path: Path) -> None:
    run(tmp_path, "acme", *ACME_OPTIONS)
    before = snapshot(tmp_path)
    changed = [v.replace("Acme College Parking", "Acme University Parking") for v in ACME_OPTIONS]

    result = run(tmp_path, "acme", *changed)

    assert result.exit_code == ExitCode.PRECONDITION
    [line] = error_lines(result)
    assert "tenants:displayName" in line
    assert "re-run with --force" in line
    assert "+  tenants:displayName: Acme University Parking" in result.stderr  # the diff
    assert snapshot(tmp_path) == before


def test_different_spec_with_force_updates(tmp_path: Path) -> None:
    run(tmp_path, "acme", *ACME_OPTIONS)
    changed = [v.replace("Acme College Parking", "Acme University Parking") for v in ACME_OPTIONS]

    result = run(tmp_path, "acme", *changed, "--force")

    assert result.exit_code == 0, result.output
    for stage in naming.STAGES:
        spec = stackfiles.read_spec(tmp_path, "acme", stage)
        assert spec.display_name == "Acme University Parking"


def test_force_keeps_a_live_production_live(tmp_path: Path) -> None:
    run(tmp_path, "acme", *ACME_OPTIONS)
    stackfiles.set_live(tmp_path, "acme", True)
    changed = [v.replace("Acme College Parking", "Acme University Parking") for v in ACME_OPTIONS]

    result = run(tmp_path, "acme", *changed, "--force")

    assert result.exit_code == 0, result.output
    assert stackfiles.read_spec(tmp_path, "acme", "production").live is True


def test_malformed_tenant_file_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "acme.yaml"
    source.write_text("displayName: Acme\nbranding: [unclosed\n")
    stacks = tmp_path / "stacks"

    result = run(stacks, "acme", "--from", str(source))

    assert result.exit_code == 2
    [line] = error_lines(result)
    assert "acme.yaml: invalid YAML at line" in line
    assert stack_files_in(stacks) == []


def test_malformed_existing_stack_file_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    run(tmp_path, "acme", *ACME_OPTIONS)
    naming.stack_file(tmp_path, "acme", "production").write_text("config: [broken\n")
    before = snapshot(tmp_path)

    result = run(tmp_path, "acme", *ACME_OPTIONS, "--force")

    assert result.exit_code == 2
    [line] = error_lines(result)
    assert "Pulumi.acme-production.yaml: invalid YAML" in line
    assert snapshot(tmp_path) == before


def test_invalid_value_exits_2_naming_the_key_and_writes_nothing(tmp_path: Path) -> None:
    options = [v.replace("parking@acme.example.edu", "parking-at-acme") for v in ACME_OPTIONS]

    result = run(tmp_path, "acme", *options)

    assert result.exit_code == 2
    [line] = error_lines(result)
    assert "tenants:branding.supportEmail = 'parking-at-acme': must be an email address" in line
    assert stack_files_in(tmp_path) == []


def test_invalid_production_override_in_file_writes_neither_file(tmp_path: Path) -> None:
    source = tmp_path / "acme.yaml"
    source.write_text(
        EXAMPLE.read_text()
        .replace("slug: demo", "slug: acme")
        .replace("backupRetentionDays: 21", "backupRetentionDays: 3")
    )
    stacks = tmp_path / "stacks"

    result = run(stacks, "acme", "--from", str(source))

    assert result.exit_code == 2
    [line] = error_lines(result)
    assert "(production)" in line
    assert "tenants:database.backupRetentionDays = 3" in line
    assert stack_files_in(stacks) == []


def test_missing_field_says_which_option_to_pass(tmp_path: Path) -> None:
    result = run(tmp_path, "acme", "--display-name", "Acme College Parking")

    assert result.exit_code == 2
    [line] = error_lines(result)
    assert line.endswith("4 problems:")
    problems = result.stderr.splitlines()[1:]
    assert "  tenants:platformStack is required: pass --platform-stack" in problems
    assert len(problems) == 4


def test_live_in_tenant_file_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "demo.yaml"
    source.write_text(EXAMPLE.read_text() + "  live: true\n")

    result = run(tmp_path / "stacks", "demo", "--from", str(source))

    assert result.exit_code == 2
    assert "production.live = True: is set by `tenantctl promote`" in result.stderr


def test_from_and_options_together_are_refused(tmp_path: Path) -> None:
    result = run(tmp_path, "demo", "--from", str(EXAMPLE), "--display-name", "Demo")

    assert result.exit_code == 2
    assert "--from and --display-name cannot be combined" in result.stderr
    assert stack_files_in(tmp_path) == []


def test_json_output_parses_and_progress_stays_on_stderr(tmp_path: Path) -> None:
    result = run(tmp_path, "acme", *ACME_OPTIONS, "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "created"
    assert [f["stack"] for f in document["files"]] == ["acme-preview", "acme-production"]
    assert document["deploy"] == {"status": "skipped", "reason": "--no-deploy"}
    assert "created" in result.stderr


def test_json_conflict_document_carries_the_diff(tmp_path: Path) -> None:
    run(tmp_path, "acme", *ACME_OPTIONS)
    changed = [v.replace("#112233", "#445566") for v in ACME_OPTIONS]

    result = run(tmp_path, "acme", *changed, "--json")

    assert result.exit_code == ExitCode.PRECONDITION
    document = json.loads(result.stdout)
    assert document["status"] == "conflict"
    assert '+    primaryColor: "#445566"' in document["diff"]


def test_without_the_pulumi_cli_create_says_deployment_was_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    result = CliRunner().invoke(
        main,
        ["create", "acme", *ACME_OPTIONS, "--stacks-dir", str(with_platform(tmp_path / "stacks"))],
    )

    assert result.exit_code == 0, result.output
    [note] = [line for line in result.stderr.splitlines() if "deployment skipped" in line]
    assert note.startswith("deployment skipped: Pulumi CLI not found: cannot deploy acme-preview")
    assert note.endswith(
        "run `pulumi up -s acme-preview` then `pulumi up -s acme-production` where the CLI is"
    )
    assert (tmp_path / "stacks" / "Pulumi.acme-production.yaml").is_file()


def test_create_tenant_reports_unchanged_without_writing(tmp_path: Path) -> None:
    specs = create_op.specs_from_file("demo", EXAMPLE)
    first = create_op.create_tenant(with_platform(tmp_path), specs)
    second = create_op.create_tenant(tmp_path, specs)

    assert (first.status, first.written) == ("created", True)
    assert (second.status, second.written, second.diff) == ("unchanged", False, [])


def test_create_refuses_a_stack_file_the_project_config_would_refuse(tmp_path: Path) -> None:
    # Pulumi.yaml declares a key without a default: `pulumi up` would refuse every stack
    # that does not set it, so create refuses before writing anything.
    project = (ROOT / "Pulumi.yaml").read_text(encoding="utf-8")
    (tmp_path / "Pulumi.yaml").write_text(
        project + "  tenants:costCenter:\n    type: string\n", encoding="utf-8"
    )
    stacks = tmp_path / "stacks"
    stacks.mkdir()

    result = run(stacks, "acme", *ACME_OPTIONS)

    assert result.exit_code == ExitCode.PRECONDITION, result.output
    assert "tenants:costCenter is declared in Pulumi.yaml without a default" in result.stderr
    assert stack_files_in(stacks) == []


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--platform-stack", " acme/platform/prod"),
        ("--support-email", " parking@acme.example.edu"),
        ("--currency", "USD "),
        ("--display-name", "Acme College Parking "),
    ],
)
def test_surrounding_whitespace_is_refused_not_stored(tmp_path: Path, option: str, value: str):
    options = [*ACME_OPTIONS]
    if option in options:
        options[options.index(option) + 1] = value
    else:
        options += [option, value]

    result = run(tmp_path, "acme", *options)

    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "must not begin or end with spaces, tabs or line breaks" in result.stderr
    assert stack_files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("line", "tag"),
    [
        ("displayName: !!binary QWNtZQ==", "!!binary"),
        ("displayName: !!timestamp 2026-12-06", "!!timestamp"),
        ("displayName: !!python/name:os.system", "!!python/name:os.system"),
    ],
)
def test_yaml_tags_outside_the_core_schema_are_refused_with_file_line_and_key(
    tmp_path: Path, line: str, tag: str
):
    text = EXAMPLE.read_text(encoding="utf-8")
    original = next(x for x in text.splitlines() if x.startswith("displayName:"))
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(text.replace(original, line), encoding="utf-8")
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    number = text.splitlines().index(original) + 1

    result = run(stacks, "demo", "--from", str(tenant))

    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert f"line {number}, key displayName: the YAML tag {tag} is not accepted" in result.stderr
    assert "nothing was changed" in result.stderr
    assert stack_files_in(stacks) == []
