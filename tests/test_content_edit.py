"""content pull / diff / push / rollback through the CLI, on the local target
(moto server + real PostgreSQL), and the pure content checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.core import naming
from infra.core.content_checks import check_content
from infra.core.errors import ExitCode
from infra.core.rendering import render_content
from tests.helpers import SLUG, cli, demo_spec, lock_held_elsewhere, ok, served, store, validate


@pytest.fixture
def pulled(stacks: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    ok(cli(stacks, "content", "pull", SLUG, str(folder)))
    return folder


# ------------------------------------------------------------------ pure checks


def test_defaults_pass_every_check():
    for stage in naming.STAGES:
        assert check_content(render_content(demo_spec(stage))) == []


def test_checks_name_file_and_line_of_every_problem():
    files = render_content(demo_spec("preview"))
    lines = files["portal/help.html"].decode().splitlines()
    lines[9] += " ${not_a_placeholder}"
    lines[19] += ' <script src="https://cdn.elsewhere.example/x.js"></script>'
    files["portal/help.html"] = "\n".join(lines).encode()
    files["email/welcome.txt"] = b"Hello {{ name }\n"
    del files["portal/account.html"]

    found = {(p.file, p.line, p.message.split(" ")[0]) for p in check_content(files)}

    assert ("portal/help.html", 10, "unknown") in found
    assert ("portal/help.html", 20, "loads") in found
    assert ("email/welcome.txt", 1, "template") in found
    assert ("portal/account.html", 0, "missing;") in found


def test_checks_refuse_malformed_html_with_its_line():
    files = render_content(demo_spec("preview"))
    text = files["portal/home.html"].decode().replace("</main>", "<div><p>open</main>", 1)
    files["portal/home.html"] = text.encode()
    line = text[: text.index("<div><p>open")].count("\n") + 1

    problems = check_content(files)

    assert any(p.file == "portal/home.html" and p.line == line for p in problems)
    assert all("HTML" in p.message for p in problems)


def test_checks_allow_an_origin_the_tenant_allowed():
    files = render_content(demo_spec("preview"))
    tag = '<link rel="stylesheet" href="https://fonts.example.edu/a.css">'
    files["portal/home.html"] = files["portal/home.html"].replace(
        b"</main>", tag.encode() + b"</main>"
    )

    assert check_content(files, ["https://fonts.example.edu"]) == []
    assert len(check_content(files, [])) == 1


def test_checks_refuse_unknown_placeholder_in_a_subject():
    files = render_content(demo_spec("preview"))
    subjects = json.loads(files["email/subjects.json"])
    subjects["welcome"] = "Welcome ${permit_number}"
    files["email/subjects.json"] = json.dumps(subjects, indent=2).encode()

    problems = check_content(files)

    assert [p.message.split(" (")[0] for p in problems] == [
        "unknown placeholder ${permit_number} in subject 'welcome'"
    ]


# ------------------------------------------------------------------ commands


def test_pull_writes_exactly_the_served_release(stacks: Path, tmp_path: Path):
    folder = tmp_path / "out"
    result = ok(cli(stacks, "content", "pull", SLUG, str(folder), "--json"))

    data = validate("content-pull", json.loads(result.stdout))
    files = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    release = store().current().release  # type: ignore[union-attr]
    assert data["release"] == release
    assert {k: store().read(release, k) for k in served()} == files


def test_push_publishes_an_edit_and_rollback_restores(stacks: Path, pulled: Path):
    before = served()
    home = pulled / "portal" / "home.html"
    home.write_text(home.read_text().replace("</main>", "<p>Welcome back, students</p></main>"))

    data = validate(
        "content-push",
        json.loads(ok(cli(stacks, "content", "push", SLUG, str(pulled), "--json")).stdout),
    )

    assert data["published"] is True and data["changes"]["changed"] == ["portal/home.html"]
    after = served()
    assert {k for k in after if after[k] != before.get(k)} == {"portal/home.html"}
    assert b"Welcome back, students" in store().read(data["release"], "portal/home.html")
    back = validate(
        "content-rollback",
        json.loads(ok(cli(stacks, "content", "rollback", SLUG, "--json")).stdout),
    )
    assert back["release"] == data["previous"]
    assert served() == before


def test_push_with_one_bad_line_among_thousands_writes_nothing(stacks: Path, pulled: Path):
    page = pulled / "portal" / "parking-rules.html"
    rows = [f"<p>Rule {i}: park within the lines.</p>" for i in range(3000)]
    rows[1700] = "<p>Rule 1700: pay ${fine}</p>"
    layout_free = "<!DOCTYPE html><html lang=en><head><title>Rules</title></head><body>\n"
    page.write_text(layout_free + "\n".join(rows) + "\n</body></html>\n")
    releases, current = store().releases(), store().current()

    result = cli(stacks, "content", "push", SLUG, str(pulled))

    assert result.exit_code == ExitCode.BAD_INPUT
    assert "portal/parking-rules.html:1702: unknown placeholder ${fine}" in result.output
    assert store().releases() == releases and store().current() == current


def test_push_of_an_unchanged_folder_publishes_nothing(stacks: Path, pulled: Path):
    releases = store().releases()

    data = json.loads(ok(cli(stacks, "content", "push", SLUG, str(pulled), "--json")).stdout)

    assert data["published"] is False and store().releases() == releases


def test_push_dry_run_shows_changes_and_writes_nothing(stacks: Path, pulled: Path):
    (pulled / "portal" / "help.html").unlink()
    releases = store().releases()

    result = cli(stacks, "content", "push", SLUG, str(pulled), "--dry-run")

    assert result.exit_code == ExitCode.BAD_INPUT  # help.html is required
    assert "portal/help.html: missing" in result.output
    assert store().releases() == releases


def test_diff_reports_against_current_and_defaults(stacks: Path, pulled: Path):
    (pulled / "portal" / "map.html").write_text(
        "<!DOCTYPE html><html lang=en><head><title>Map</title></head>"
        "<body>${portal_notice}</body></html>"
    )

    data = validate(
        "content-diff",
        json.loads(ok(cli(stacks, "content", "diff", SLUG, str(pulled), "--json")).stdout),
    )

    assert data["againstCurrent"] == {"added": ["portal/map.html"], "changed": [], "removed": []}
    assert data["againstDefaults"]["added"] == ["portal/map.html"]
    assert data["problems"] == []


def test_push_waits_for_nobody_and_refuses_while_locked(stacks: Path, pulled: Path):
    (pulled / "portal" / "help.html").write_text(
        (pulled / "portal" / "help.html").read_text().replace("</main>", "<p>x</p></main>")
    )
    with lock_held_elsewhere(SLUG, "test holds it"):
        result = cli(stacks, "content", "push", SLUG, str(pulled))
    assert result.exit_code == ExitCode.LOCKED


def test_push_refuses_production(stacks: Path, pulled: Path):
    production = served("production")

    result = cli(stacks, "content", "push", f"{SLUG}-production", str(pulled))

    assert result.exit_code != 0 and "never touches production" in result.output
    assert served("production") == production
