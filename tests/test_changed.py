"""Which stacks a change affects, on a real git history, and the wave plan of a fleet change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.core import affected as rules
from infra.core.errors import ExitCode
from tests.helpers import CLIENTS, commit, git, validate, write_stack


def changed(repo: Path, *args: str) -> dict:
    result = CliRunner().invoke(main, ["changed", "--repo", str(repo), "--json", *args])
    assert result.exit_code == 0, result.output
    document: dict = validate("changed", json.loads(result.stdout))
    return document


def stacks_of(document: dict) -> list[str]:
    return [row["stack"] for row in document["matrix"]["include"]]


def test_a_platform_outputs_change_affects_every_stack(repo: Path):
    base = git(repo, "rev-parse", "HEAD")
    path = repo / "stacks" / "platform-outputs.yaml"
    path.write_text(path.read_text().replace('"billing"', '"billing-v2"'))
    commit(repo, "platform outputs")

    out = changed(repo, "--base", base)

    assert out["everyStack"] is True
    assert len(stacks_of(out)) == 6


def test_a_program_change_affects_every_stack(repo: Path):
    base = git(repo, "rev-parse", "HEAD")
    (repo / "infra" / "program" / "tenant.py").write_text("# the program, changed\n")
    commit(repo, "program")

    out = changed(repo, "--base", base)

    assert out["everyStack"] is True
    assert out["reasons"]["bravo-production"] == [
        "infra/program/tenant.py (program, templates or policy)"
    ]
    assert stacks_of(out) == [
        "alpha-preview",
        "bravo-preview",
        "demo-preview",
        "alpha-production",
        "bravo-production",
        "demo-production",
    ]


def test_a_template_change_affects_every_stack_but_a_cli_or_readme_change_none(repo: Path):
    base = git(repo, "rev-parse", "HEAD")
    (repo / "infra" / "cli" / "plan.py").write_text("# the CLI, changed\n")
    (repo / "README.md").write_text("# readme, changed\n")
    middle = commit(repo, "cli and docs")
    (repo / "templates" / "home.html").write_text("<h1>welcome</h1>\n")
    commit(repo, "template")

    assert changed(repo, "--base", base, "--head", middle)["matrix"] == {"include": []}
    assert len(stacks_of(changed(repo, "--base", middle))) == 2 * len(CLIENTS)


def test_one_stack_file_affects_only_its_stack(repo: Path):
    base = git(repo, "rev-parse", "HEAD")
    write_stack(repo, "bravo", "production", extra="  tenants:portalDomain: parking.bravo.edu\n")
    commit(repo, "bravo production domain")

    out = changed(repo, "--base", base)

    assert out["matrix"] == {
        "include": [{"stack": "bravo-production", "slug": "bravo", "stage": "production"}]
    }
    assert out["everyStack"] is False


def test_a_tenant_file_affects_both_stages_of_the_client_it_names(repo: Path):
    base = git(repo, "rev-parse", "HEAD")
    path = repo / "stacks" / "tenant.example.yaml"
    path.write_text(path.read_text().replace("Demo State University Parking", "Demo Parking"))
    commit(repo, "tenant file")

    assert stacks_of(changed(repo, "--base", base)) == ["demo-preview", "demo-production"]


def test_a_renamed_stack_file_deploys_the_new_stack_and_reports_the_old_as_removed(repo: Path):
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "mv", "stacks/Pulumi.alpha-preview.yaml", "stacks/Pulumi.alpine-preview.yaml")
    commit(repo, "rename alpha preview")
    assert "R" in git(repo, "diff", "--name-status", "-M", f"{base}...HEAD")

    out = changed(repo, "--base", base)

    assert stacks_of(out) == ["alpine-preview"]
    assert out["removed"] == ["alpha-preview"]


def test_a_deleted_stack_file_is_removed_and_not_deployed(repo: Path):
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "rm", "-q", "stacks/Pulumi.bravo-preview.yaml")
    commit(repo, "drop bravo preview")

    out = changed(repo, "--base", base)

    assert stacks_of(out) == []
    assert out["removed"] == ["bravo-preview"]


def test_a_renamed_tenant_file_with_a_new_slug_affects_both_clients(repo: Path):
    base = git(repo, "rev-parse", "HEAD")
    old = repo / "stacks" / "tenant.example.yaml"
    new = repo / "stacks" / "alpha.yaml"
    new.write_text(old.read_text().replace("slug: demo", "slug: alpha"))
    old.unlink()
    commit(repo, "tenant file now describes alpha")

    assert stacks_of(changed(repo, "--base", base)) == [
        "alpha-preview",
        "demo-preview",
        "alpha-production",
        "demo-production",
    ]


def test_only_changes_since_the_merge_base_count(repo: Path):
    git(repo, "checkout", "-q", "-b", "feature")
    write_stack(repo, "alpha", "preview", extra="  tenants:portalDomain: x.example.edu\n")
    commit(repo, "feature edits alpha preview")
    git(repo, "checkout", "-q", "main")
    (repo / "templates" / "home.html").write_text("<h1>main moved on</h1>\n")
    commit(repo, "main changes a template")
    git(repo, "checkout", "-q", "feature")

    assert stacks_of(changed(repo, "--base", "main")) == ["alpha-preview"]


def test_an_unknown_base_is_one_line_and_exit_2(repo: Path):
    result = CliRunner().invoke(main, ["changed", "--repo", str(repo), "--base", "nope"])

    assert result.exit_code == ExitCode.BAD_INPUT
    assert "git revision 'nope' not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_force_pushed_base_affects_every_stack_when_asked_and_says_why(repo: Path):
    gone = "0123456789abcdef0123456789abcdef01234567"  # a commit a force-push rewrote away

    out = changed(repo, "--base", gone, "--all-if-base-missing")

    assert out["base"] is None and out["everyStack"] is True
    assert len(stacks_of(out)) == 6
    assert any(gone in note and "every stack" in note for note in out["notes"])
    refused = CliRunner().invoke(main, ["changed", "--repo", str(repo), "--base", gone])
    assert refused.exit_code == ExitCode.BAD_INPUT


# ------------------------------------------------------------------------ waves


def fleet(n: int) -> list[rules.StackRef]:
    return [
        rules.StackRef(f"client-{i:04d}", stage)
        for i in range(n)
        for stage in ("preview", "production")
    ]


def test_a_fleet_change_rolls_out_canaries_then_previews_then_productions_in_chunks():
    stacks = fleet(1000)

    waves = rules.plan_waves(stacks, canaries=3)

    assert [(w.name, len(w.stacks), [len(c) for c in w.chunks]) for w in waves] == [
        ("canary-previews", 3, [3]),
        ("previews", 997, [256, 256, 256, 229]),
        ("canary-productions", 3, [3]),
        ("productions", 997, [256, 256, 256, 229]),
    ]
    deployed = [ref for w in waves for ref in w.stacks]
    assert sorted(deployed) == sorted(stacks)
    assert len(set(deployed)) == len(deployed)
    first_production = next(i for i, r in enumerate(deployed) if r.stage == "production")
    assert all(r.stage == "production" for r in deployed[first_production:])


def test_every_chunk_fills_one_workflow_slot_and_the_rest_are_empty():
    waves = rules.plan_waves(fleet(1000), canaries=3)

    slots = rules.slots(waves)

    assert set(slots) == set(rules.slot_names())
    filled = {name: json.loads(v) for name, v in slots.items() if v}
    assert sorted(filled) == sorted(
        ["canary-previews-1", "canary-productions-1"]
        + [f"{w}-{n}" for w in ("previews", "productions") for n in (1, 2, 3, 4)]
    )
    assert all(len(m["include"]) <= rules.MATRIX_LIMIT for m in filled.values())
    assert sum(len(m["include"]) for m in filled.values()) == 2000


def test_a_small_change_has_no_canary_wave():
    waves = rules.plan_waves(fleet(2), canaries=3)

    assert [(w.name, [r.stack for r in w.stacks]) for w in waves] == [
        ("previews", ["client-0000-preview", "client-0001-preview"]),
        ("productions", ["client-0000-production", "client-0001-production"]),
    ]


def test_a_plan_needing_more_slots_than_the_workflow_has_is_refused():
    with pytest.raises(rules.UserInputError, match="more than the 4"):
        rules.plan_waves(fleet(1100), canaries=3)


def test_the_wave_plan_of_a_git_change_touching_every_stack(repo: Path):
    base = git(repo, "rev-parse", "HEAD")
    (repo / "templates" / "home.html").write_text("<h1>new</h1>\n")
    commit(repo, "template")

    out = changed(repo, "--base", base, "--canaries", "1", "--chunk-size", "1")

    assert [(w["name"], [len(c["include"]) for c in w["chunks"]]) for w in out["waves"]] == [
        ("canary-previews", [1]),
        ("previews", [1, 1]),
        ("canary-productions", [1]),
        ("productions", [1, 1]),
    ]
    assert json.loads(out["slots"]["previews-2"])["include"][0]["stage"] == "preview"
    assert out["slots"]["previews-3"] == ""
