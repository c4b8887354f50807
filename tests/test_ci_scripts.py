"""The scripts the workflows call (scripts/ci/*), run end to end as the workflows run them:
as programs, with GitHub's output and summary files, against a real git history and the
local target (moto server + PostgreSQL). GitHub's own API is the one thing replaced: by
``fake_gh``, a small issue/comment store behind the `gh api` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from moto import settings as moto_settings

from infra.core import affected as rules
from infra.core.errors import ExitCode
from infra.ops.stacks.locking import client_lock
from tests.helpers import (
    EXAMPLE,
    ROOT,
    STACKS,
    commit,
    git,
    lock_place,
    ready_for_go_live,
    with_platform,
)
from tests.snapshots import Steps
from tests.zygote import SOCKET_ENV, Zygote

CI = ROOT / "scripts" / "ci"
LIVE = '{"secretKey": "sk_live_ci000000000000000000000", "webhookSecret": "whsec_ci"}'


class Run:
    def __init__(self, done: subprocess.CompletedProcess[str], gh_dir: Path) -> None:
        self.code = done.returncode
        self.stdout = done.stdout
        self.stderr = done.stderr
        self.outputs = parse_outputs((gh_dir / "output").read_text())
        self.summary = (gh_dir / "summary").read_text()


def parse_outputs(text: str) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` as GitHub reads it (``name<<DELIMITER`` blocks)."""
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, delimiter = line.split("<<", 1)
        value = []
        for inner in lines:
            if inner == delimiter:
                break
            value.append(inner)
        out[name] = "\n".join(value)
    return out


def script(tmp: Path, name: str, *args: str, cwd: Path | None = None, **env: str) -> Run:
    gh_dir = tmp / f"github-{name}-{len(list(tmp.glob('github-*')))}"
    gh_dir.mkdir()
    (gh_dir / "output").touch()
    (gh_dir / "summary").touch()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    zygote = Zygote.get(ROOT)
    if zygote is not None:  # the script's tenantctl runs forked, without the start-up
        path = f"{zygote.shim_dir()}{os.pathsep}{path}"
    environ = {
        **os.environ,
        "PATH": path,
        **({SOCKET_ENV: str(zygote.path)} if zygote is not None else {}),
        "GITHUB_OUTPUT": str(gh_dir / "output"),
        "GITHUB_STEP_SUMMARY": str(gh_dir / "summary"),
        **env,
    }
    done = subprocess.run(
        [sys.executable, str(CI / name), *args],
        cwd=cwd or tmp,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return Run(done, gh_dir)


# ------------------------------------------------------------ affected, pr-plan


def test_affected_writes_the_matrix_of_every_deploy_slot(repo: Path, tmp_path: Path):
    base = git(repo, "rev-parse", "HEAD")
    (repo / "templates" / "home.html").write_text("<h1>changed</h1>\n")
    commit(repo, "template")

    run = script(tmp_path, "affected", "--out", "affected.json", cwd=repo, BASE=base, CANARIES="1")

    assert run.code == 0, run.stderr
    assert run.outputs["count"] == "6" and run.outputs["every-stack"] == "true"
    assert set(run.outputs) == {"count", "every-stack", "engine", *rules.slot_names()}
    assert run.outputs["engine"] == "matrix"  # 6 stacks: far fewer than a matrix holds
    assert json.loads(run.outputs["canary-previews-1"]) == {
        "include": [{"stack": "alpha-preview", "slug": "alpha", "stage": "preview"}]
    }
    assert [r["stack"] for r in json.loads(run.outputs["productions-1"])["include"]] == [
        "bravo-production",
        "demo-production",
    ]
    assert run.outputs["previews-2"] == ""
    assert json.loads((repo / "affected.json").read_text())["count"] == 6


def test_affected_sends_more_stacks_than_the_threshold_to_one_fleet_run(repo: Path, tmp_path: Path):
    base = git(repo, "rev-parse", "HEAD")
    (repo / "templates" / "home.html").write_text("<h1>changed</h1>\n")
    commit(repo, "template")

    run = script(tmp_path, "affected", cwd=repo, BASE=base, FLEET_ABOVE="5")

    assert run.code == 0, run.stderr
    assert run.outputs["engine"] == "fleet" and run.outputs["count"] == "6"
    assert all(run.outputs[slot] == "" for slot in rules.slot_names())  # no matrix job runs
    assert "More than 5 stacks: one fleet run deploys them" in run.summary
    from infra.core.fleet import CI_FLEET_ABOVE

    assert CI_FLEET_ABOVE == rules.MATRIX_LIMIT


def test_fleet_submits_the_changed_stacks_and_the_approval_job_releases_each_wave(
    repo: Path, tmp_path: Path
):
    """`scripts/ci/fleet` as the deploy workflow's fleet and fleet-approve jobs run it, on
    the embedded server (no cluster configured: the job is the worker), with `plan`."""
    from infra.cli.common import STACKS_DIR_ENV
    from infra.ops.fleet import embedded

    base = git(repo, "rev-parse", "HEAD")
    (repo / "templates" / "home.html").write_text("<h1>changed</h1>\n")
    commit(repo, "template")
    state = tmp_path / "temporal"
    env = {embedded.STATE_ENV: str(state), "BASE": base, STACKS_DIR_ENV: str(repo / "stacks")}
    env["GITHUB_ACTIONS"] = ""  # as a job would run it, but on this machine's embedded server
    waves = ["--canary", "1", "--wave-size", "2", "--approve-between-waves"]
    try:
        run = script(tmp_path, "fleet", "run", "plan", "--", *waves, cwd=repo, **env)
        assert run.code == 0, run.stderr
        assert run.outputs["waits"] == "true" and run.outputs["state"] == "awaiting-approval"
        run_id = run.outputs["run"]
        assert f"It waits for a person: `tenantctl fleet approve {run_id} --wave 2`" in (
            run.summary
        )
        approved = script(tmp_path, "fleet", "approve", "--run", run_id, cwd=repo, **env)
        assert approved.code == 0, approved.stderr
        assert approved.outputs["waits"] == "true"  # wave 3 waits for its own approval
        assert f"`tenantctl fleet approve {run_id} --wave 3`" in approved.summary
        done = script(tmp_path, "fleet", "approve", "--run", run_id, cwd=repo, **env)
        assert done.code == 0, done.stderr
        assert (done.outputs["waits"], done.outputs["state"]) == ("false", "done")
        assert "6 succeeded" in done.summary
    finally:
        embedded.stop(state)


def test_fleet_on_github_actions_refuses_to_run_without_a_cluster(repo: Path, tmp_path: Path):
    from infra.ops.fleet.runs import ADDRESS_ENV

    run = script(
        tmp_path, "fleet", "run", "plan", cwd=repo, GITHUB_ACTIONS="true", **{ADDRESS_ENV: ""}
    )

    assert run.code == ExitCode.PRECONDITION
    assert (
        run.stderr.count("\n") == 1 and f"set the repository variable {ADDRESS_ENV}" in run.stderr
    )
    assert run.outputs == {}  # nothing submitted


def test_fleet_writes_the_tls_secrets_to_files_only_the_job_reads(tmp_path: Path):
    """The PEM text of the workflow's secrets becomes the files tenantctl is pointed at."""
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader("ci_fleet", str(CI / "fleet"))
    spec = importlib.util.spec_from_loader("ci_fleet", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    from infra.ops.fleet.runs import ADDRESS_ENV, TLS_CERT_ENV, TLS_KEY_ENV

    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    env = {
        "GITHUB_ACTIONS": "true",
        ADDRESS_ENV: "temporal.example.com:7233",
        "RUNNER_TEMP": str(tmp_path),
        "TEMPORAL_TLS_CERT_PEM": pem,
        "TEMPORAL_TLS_KEY_PEM": "key text",
        "TEMPORAL_TLS_CA_PEM": "",
    }
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        assert module.cluster_environment() is None
        cert, key = Path(os.environ[TLS_CERT_ENV]), Path(os.environ[TLS_KEY_ENV])
        assert cert.read_text() == pem + "\n" and key.read_text() == "key text\n"
        assert cert.parent.parent == tmp_path
        assert cert.stat().st_mode & 0o777 == 0o600 and key.stat().st_mode & 0o777 == 0o600
        assert "TENANTCTL_TEMPORAL_TLS_CA" not in os.environ or os.environ.get(
            "TENANTCTL_TEMPORAL_TLS_CA"
        ) == saved.get("TENANTCTL_TEMPORAL_TLS_CA")  # an empty secret names no file
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_affected_on_a_first_push_compares_with_the_parent(repo: Path, tmp_path: Path):
    path = repo / "stacks" / "tenant.example.yaml"
    path.write_text(path.read_text().replace("Demo State University Parking", "Demo Parking"))
    commit(repo, "tenant file")

    run = script(tmp_path, "affected", cwd=repo, BASE="0" * 40)

    assert run.code == 0, run.stderr
    assert run.outputs["count"] == "2"


def test_pr_plan_puts_production_first_and_fits_the_comment_limit(
    repo: Path,
    tmp_path: Path,
):
    base = git(repo, "rev-parse", "HEAD")
    for slug in ("alpha", "bravo"):
        path = repo / "stacks" / f"Pulumi.{slug}-production.yaml"
        path.write_text(path.read_text().replace("Demo State University", slug.title()))
    git(repo, "rm", "-q", "stacks/Pulumi.demo-preview.yaml")
    commit(repo, "edit alpha and bravo production, remove demo preview")
    assert script(tmp_path, "affected", cwd=repo, BASE=base).code == 0
    env = {"TENANTCTL_STACKS_DIR": str(repo / "stacks")}

    run = script(tmp_path, "pr-plan", "--limit", "4000", cwd=repo, **env)

    assert run.code == 0, run.stderr
    comment = (repo / "plan-output" / "comment.md").read_text()
    assert comment.startswith("<!-- tenantctl-plan -->\n")
    assert len(comment) <= 4000
    table = [line for line in comment.splitlines() if line.startswith("| `")]
    assert [line.split("`")[1] for line in table] == ["alpha-production", "bravo-production"]
    assert "demo-preview" in comment  # removed, reported
    assert "`plan-output` artifact" in comment
    full = (repo / "plan-output" / "alpha-production.txt").read_text()
    assert "alpha-production" in full and len(full) > 4000  # the full plan did not fit
    assert "tenantctl plan" in run.summary


def test_pr_plan_fails_when_a_stack_does_not_plan(repo: Path, tmp_path: Path):
    base = git(repo, "rev-parse", "HEAD")
    path = repo / "stacks" / "Pulumi.bravo-preview.yaml"
    path.write_text(path.read_text().replace("tenants:stage: preview", "tenants:stage: nope"))
    commit(repo, "break bravo preview")
    assert script(tmp_path, "affected", cwd=repo, BASE=base).code == 0

    run = script(tmp_path, "pr-plan", cwd=repo, TENANTCTL_STACKS_DIR=str(repo / "stacks"))

    assert run.code == 1
    comment = (repo / "plan-output" / "comment.md").read_text()
    assert "| `bravo-preview` | FAILED | not run |" in comment
    assert "tenants:stage" in (repo / "plan-output" / "bravo-preview.txt").read_text()


# ------------------------------------------------------------------- fake gh

FAKE_GH = textwrap.dedent(
    """\
    #!{python}
    # A stand-in for `gh api` over a JSON file: issues and comments, nothing else.
    import json, re, sys
    path = {state!r}
    state = json.load(open(path))
    args = sys.argv[2:]
    method = args[args.index("-X") + 1] if "-X" in args else "GET"
    route = [a for a in args if a.startswith("repos/")][0].split("?")[0]
    query = [a for a in args if a.startswith("repos/")][0].partition("?")[2]
    body = json.load(sys.stdin) if "--input" in args else None
    state["calls"].append([method, route])
    def done(value):
        json.dump(state, open(path, "w")); print(json.dumps(value)); sys.exit(0)
    if m := re.fullmatch(r"repos/[^/]+/[^/]+/issues/(\\d+)/comments", route):
        if method == "GET":
            done([[c for c in state["comments"] if c["issue"] == int(m[1])]])
        state["next"] += 1
        state["comments"].append({{"id": state["next"], "issue": int(m[1]), **body}})
        done(state["comments"][-1])
    if m := re.fullmatch(r"repos/[^/]+/[^/]+/issues/comments/(\\d+)", route):
        [c.update(body) for c in state["comments"] if c["id"] == int(m[1])]
        done({{}})
    if re.fullmatch(r"repos/[^/]+/[^/]+/issues", route):
        if method == "GET":
            label = re.search(r"labels=([^&]+)", query)[1]
            done([[i for i in state["issues"] if i["state"] == "open" and label in i["labels"]]])
        state["next"] += 1
        state["issues"].append({{"number": state["next"], "state": "open", **body}})
        done(state["issues"][-1])
    if re.fullmatch(r"repos/[^/]+/[^/]+/pulls", route):
        state["next"] += 1
        state["pulls"].append({{"number": state["next"], **body}})
        done(state["pulls"][-1])
    if m := re.fullmatch(r"repos/[^/]+/[^/]+/issues/(\\d+)", route):
        [i.update(body) for i in state["issues"] if i["number"] == int(m[1])]
        done({{}})
    sys.exit("fake gh: unknown call " + " ".join(sys.argv))
    """
)


@pytest.fixture
def fake_gh(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    state = tmp_path / "github.json"
    state.write_text(
        json.dumps({"next": 100, "comments": [], "issues": [], "pulls": [], "calls": []})
    )
    gh = bin_dir / "gh"
    gh.write_text(FAKE_GH.format(python=sys.executable, state=str(state)))
    gh.chmod(0o755)
    return state, {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def github(state: Path) -> dict[str, Any]:
    return json.loads(state.read_text())


def test_pr_comment_creates_one_comment_then_updates_it_in_place(tmp_path: Path, fake_gh):
    state, env = fake_gh
    data = github(state)
    data["comments"].append({"id": 7, "issue": 12, "body": "LGTM"})
    state.write_text(json.dumps(data))
    args = ("--repo", "acme/tenants", "--pr", "12", "--body", "comment.md")

    (tmp_path / "comment.md").write_text("<!-- tenantctl-plan -->\nfirst plan")
    first = script(tmp_path, "pr-comment", *args, **env)
    (tmp_path / "comment.md").write_text("<!-- tenantctl-plan -->\nsecond plan")
    second = script(tmp_path, "pr-comment", *args, **env)

    assert first.code == 0 and second.code == 0, first.stderr + second.stderr
    comments = github(state)["comments"]
    assert [c["body"] for c in comments] == ["LGTM", "<!-- tenantctl-plan -->\nsecond plan"]


def test_drift_opens_updates_and_closes_one_issue_per_stack(tmp_path: Path, fake_gh):
    state, env = fake_gh
    data = github(state)
    data["issues"] += [
        {"number": 1, "title": "Drift: bravo-preview", "state": "open", "labels": ["drift"]},
        {"number": 2, "title": "Drift: demo-production", "state": "open", "labels": ["drift"]},
    ]
    state.write_text(json.dumps(data))
    results = tmp_path / "drift-results"
    for stack, drifted in (
        ("alpha-preview", True),
        ("bravo-preview", True),
        ("demo-production", False),
        ("demo-preview", False),
    ):
        output = "~ aws:s3/bucket changed" if drifted else "no changes"
        (results / f"{stack}.json").parent.mkdir(exist_ok=True)
        (results / f"{stack}.json").write_text(
            json.dumps(
                {"stack": stack, "drifted": drifted, "exitCode": int(drifted), "output": output}
            )
        )

    run = script(tmp_path, "drift", "issues", "--repo", "acme/tenants", **env)

    assert run.code == 0, run.stderr
    issues = {i["title"]: i for i in github(state)["issues"]}
    assert sorted(issues) == [
        "Drift: alpha-preview",
        "Drift: bravo-preview",
        "Drift: demo-production",
    ]
    assert issues["Drift: alpha-preview"]["state"] == "open"
    assert issues["Drift: alpha-preview"]["labels"] == ["drift"]
    assert "aws:s3/bucket changed" in issues["Drift: bravo-preview"]["body"]
    assert issues["Drift: demo-production"]["state"] == "closed"
    assert "| `demo-preview` | clean | - |" in run.summary


def test_drift_check_needs_the_pulumi_cli(tmp_path: Path):
    run = script(tmp_path, "drift", "check", "demo-preview", PATH=str(Path(sys.executable).parent))
    assert run.code == 3 and "Pulumi CLI" in run.stderr


def test_drift_matrix_spreads_every_stack_over_at_most_the_job_limit(tmp_path: Path):
    run = script(tmp_path, "drift", "matrix", "--max-jobs", "1", TENANTCTL_STACKS_DIR=str(STACKS))

    assert run.code == 0, run.stderr
    assert json.loads(run.outputs["matrix"]) == {
        "include": [
            {"shard": "1", "stacks": "acme/tenants/demo-preview acme/tenants/demo-production"}
        ]
    }


# ------------------------------------- finding 5: pulumi always gets the qualified stack name

FAKE_PULUMI = textwrap.dedent(
    """\
    #!{python}
    # A stand-in for the Pulumi CLI: records each command line, succeeds with no changes.
    import json, sys
    with open({log!r}, "a") as f:
        f.write(json.dumps(sys.argv[1:]) + "\\n")
    print("no changes")
    """
)


@pytest.fixture
def fake_pulumi(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    bin_dir = tmp_path / "pulumi-bin"
    bin_dir.mkdir()
    log = tmp_path / "pulumi-calls.jsonl"
    pulumi = bin_dir / "pulumi"
    pulumi.write_text(FAKE_PULUMI.format(python=sys.executable, log=str(log)))
    pulumi.chmod(0o755)
    return log, {"PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
                 f"{os.environ['PATH']}"}  # fmt: skip


def stacks_passed_to_pulumi(log: Path) -> list[str]:
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return [call[call.index("--stack") + 1] for call in calls]


def test_drift_runs_pulumi_on_the_qualified_names_its_matrix_gives(
    tmp_path: Path, fake_pulumi: tuple[Path, dict[str, str]]
):
    log, env = fake_pulumi
    stacks_dir = {"TENANTCTL_STACKS_DIR": str(STACKS)}
    matrix = script(tmp_path, "drift", "matrix", **stacks_dir, **env)
    shards = json.loads(matrix.outputs["matrix"])["include"]
    stacks = [stack for shard in shards for stack in shard["stacks"].split()]

    run = script(tmp_path, "drift", "check", "--results", "results", *stacks, **stacks_dir, **env)

    assert run.code == 0, run.stderr
    qualified = ["acme/tenants/demo-preview", "acme/tenants/demo-production"]
    assert sorted(set(stacks_passed_to_pulumi(log))) == qualified  # refresh and preview each
    result = json.loads((tmp_path / "results" / "demo-preview.json").read_text())
    assert (result["stack"], result["qualifiedStack"]) == ("demo-preview", qualified[0])


def test_drift_check_refuses_a_bare_stack_name(
    tmp_path: Path, fake_pulumi: tuple[Path, dict[str, str]]
):
    log, env = fake_pulumi

    run = script(tmp_path, "drift", "check", "demo-preview", **env)

    assert run.code == 3 and "not a qualified stack name" in run.stderr
    assert not log.exists()


def test_pr_plan_previews_each_stack_by_its_qualified_name(
    repo: Path, tmp_path: Path, fake_pulumi: tuple[Path, dict[str, str]]
):
    log, env = fake_pulumi
    base = git(repo, "rev-parse", "HEAD")
    path = repo / "stacks" / "Pulumi.alpha-production.yaml"
    path.write_text(path.read_text().replace("Demo State University", "Alpha"))
    commit(repo, "edit alpha production")
    assert script(tmp_path, "affected", cwd=repo, BASE=base).code == 0
    preview = {"PULUMI_PREVIEW": "1", "PULUMI_ACCESS_TOKEN": "pul-test"}

    run = script(
        tmp_path, "pr-plan", cwd=repo, TENANTCTL_STACKS_DIR=str(repo / "stacks"), **preview, **env
    )

    assert run.code == 0, run.stderr
    assert stacks_passed_to_pulumi(log) == ["acme/tenants/alpha-production"]


# ------------------------------------------------- the local target: deploy, go-live, reset


@pytest.fixture
def target(
    tmp_path: Path, aws_env: str, pg_env: str, steps: Steps, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The demo client's stack files (not deployed) and the environment that reaches the
    local target, as a workflow job would have it (a step: built once per worker)."""
    monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", 0)
    stacks = tmp_path / "stacks"
    monkeypatch.setenv("TENANTCTL_STACKS_DIR", str(stacks))

    def build() -> None:
        with_platform(stacks)
        done = subprocess.run(
            [
                str(Path(sys.executable).with_name("tenantctl")),
                "create",
                "demo",
                "--from",
                str(EXAMPLE),
                "--no-deploy",
            ],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr

    steps.run(f"tenantctl create demo --from {EXAMPLE.name} --no-deploy", build, stacks)
    return {"TENANTCTL_STACKS_DIR": str(stacks), "DEPLOY_ATTEMPTS": "1"}


def deployed(tmp_path: Path, target: dict[str, str], steps: Steps, *stacks: str) -> None:
    """``deploy-stack`` run for each of *stacks*, succeeding, as a deploy job before the
    one under test (each a step: restored when an earlier test ran it from the same state).
    Its results file is not kept: the scripts that follow do not read it."""
    for stack in stacks:

        def build(stack: str = stack) -> None:
            run = script(tmp_path, "deploy-stack", stack, **target)
            assert run.code == 0, run.stderr

        steps.run(f"deploy-stack {stack}", build, Path(target["TENANTCTL_STACKS_DIR"]))


def write_affected(tmp_path: Path, stacks: list[str]) -> None:
    refs = [rules.StackRef(*s.rsplit("-", 1)) for s in stacks]  # type: ignore[arg-type]
    waves = rules.plan_waves(refs, canaries=0)
    (tmp_path / "affected.json").write_text(
        json.dumps({"waves": [w.to_json() for w in waves], "removed": []})
    )


def test_deploy_waves_halt_past_the_failure_threshold_and_the_summary_lists_every_stack(
    tmp_path: Path, target: dict[str, str]
):
    write_affected(tmp_path, ["demo-preview", "ghost-preview", "demo-production"])
    for stack, wave in (("demo-preview", "previews"), ("ghost-preview", "previews")):
        script(tmp_path, "deploy-stack", stack, "--wave", wave, **target)
    results = json.loads((tmp_path / "deploy-results" / "demo-preview.json").read_text())
    assert results["result"] == "success" and results["exitCode"] == 0
    ghost = json.loads((tmp_path / "deploy-results" / "ghost-preview.json").read_text())
    assert ghost["result"] == "failure" and ghost["exitCode"] == 2

    strict = script(tmp_path, "deploy-report", "--wave", "previews", "--max-failures", "0")
    lenient = script(tmp_path, "deploy-report", "--wave", "previews", "--max-failures", "1")
    final = script(tmp_path, "deploy-report")

    assert strict.code == 1 and "HALTED" in strict.summary
    assert lenient.code == 0 and "1 failed (threshold 1)" in lenient.summary
    assert final.code == 1
    rows = {line.split(" | ")[1]: line.split(" | ")[2] for line in final.summary.splitlines()
            if line.startswith("| previews") or line.startswith("| productions")}  # fmt: skip
    assert rows == {
        "demo-preview": "success",
        "ghost-preview": "failure",
        "demo-production": "not run",
    }


def test_deploy_stack_runs_again_without_failing(tmp_path: Path, target: dict[str, str]):
    first = script(tmp_path, "deploy-stack", "demo-preview", **target)
    second = script(tmp_path, "deploy-stack", "demo-preview", **target)

    assert first.code == 0 and second.code == 0, first.stderr + second.stderr
    assert "created" in first.stderr.lower() or "seed" in first.stderr.lower()


def test_deploy_stack_retries_while_the_client_is_locked_then_exits_4(
    tmp_path: Path, target: dict[str, str]
):
    with client_lock("demo", "reset-preview", lock_place()):
        run = script(
            tmp_path,
            "deploy-stack",
            "demo-preview",
            **{**target, "DEPLOY_ATTEMPTS": "2", "DEPLOY_RETRY_SECONDS": "0"},
        )

    assert run.code == 4
    result = json.loads((tmp_path / "deploy-results" / "demo-preview.json").read_text())
    assert result["attempts"] == 2 and result["result"] == "failure"
    assert "locked by" in run.stderr


def test_go_live_dry_run_then_promote(tmp_path: Path, target: dict[str, str], steps: Steps):
    deployed(tmp_path, target, steps, "demo-preview", "demo-production")

    not_ready = script(tmp_path, "go-live", "dry-run", "demo", **target)
    assert not_ready.code == 3 and "NOT READY" in not_ready.summary
    subprocess.run(
        [str(Path(sys.executable).with_name("tenantctl")), "payment", "set-credentials", "demo",
         "--stage", "production"],
        input=LIVE, text=True, check=True, capture_output=True,
    )  # fmt: skip
    ready_for_go_live(Path(target["TENANTCTL_STACKS_DIR"]))
    dry = script(tmp_path, "go-live", "dry-run", "demo", **target)
    live = script(tmp_path, "go-live", "promote", "demo", **target)

    assert dry.code == 0, dry.stderr
    assert "| payment | sandbox | live |" in dry.summary
    assert json.loads((tmp_path / "go-live" / "dry-run.json").read_text())["ready"] is True
    assert live.code == 0, live.stderr
    record = json.loads((tmp_path / "go-live" / "promotion.json").read_text())
    assert record["status"] == "complete"
    assert f"Promotion `{record['id']}`" in live.summary


@pytest.mark.parametrize("given", ["demo-production", "demo-preview", "Demo", "-x"])
def test_reset_preview_refuses_anything_but_a_slug(tmp_path: Path, given: str):
    run = script(tmp_path, "reset-preview", "--", given)  # as the workflow passes its input
    assert run.code == 2
    assert "not a client slug" in run.stderr
    assert not (tmp_path / "reset").exists()


def test_reset_preview_resets_and_undoes(tmp_path: Path, target: dict[str, str], steps: Steps):
    deployed(tmp_path, target, steps, "demo-preview")

    reset = script(tmp_path, "reset-preview", "demo", **target)
    assert reset.code == 0, reset.stderr
    assert json.loads((tmp_path / "reset" / "reset.json").read_text())["action"] == "reset"
    undo = script(tmp_path, "reset-preview", "demo", "--undo", **target)
    assert undo.code == 0, undo.stderr
    assert json.loads((tmp_path / "reset" / "reset.json").read_text())["action"] == "undo"
    assert "demo-preview: undo done" in undo.summary

    assert script(tmp_path, "reset-preview", "demo", **target).code == 0
    retried = script(tmp_path, "reset-preview", "demo", **target)  # e.g. a re-run job
    assert retried.code == 0, retried.stderr
    assert "demo-preview: already at defaults since reset" in retried.summary


def test_go_live_records_the_live_flag_on_a_branch_and_opens_a_pull_request(
    repo: Path,
    tmp_path: Path,
    fake_gh,
):
    state, env = fake_gh
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    unchanged = script(tmp_path, "go-live", "record", "demo", "--repo", "acme/t", cwd=repo, **env)
    assert unchanged.code == 0 and github(state)["pulls"] == []
    path = repo / "stacks" / "Pulumi.demo-production.yaml"
    path.write_text(path.read_text() + "  tenants:live: true\n")  # what promote writes

    run = script(tmp_path, "go-live", "record", "demo", "--repo", "acme/t", cwd=repo, **env)

    assert run.code == 0, run.stderr
    assert "tenants:live: true" in git(
        origin, "show", "go-live/demo:stacks/Pulumi.demo-production.yaml"
    )
    assert git(origin, "rev-parse", "main") != git(origin, "rev-parse", "go-live/demo")
    [pull] = github(state)["pulls"]
    assert (pull["head"], pull["base"], pull["title"]) == ("go-live/demo", "main", "demo is live")
