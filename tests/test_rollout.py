"""Rollouts end to end through the CLI: the control database on the suite's PostgreSQL,
the demo client created on the local target (moto server), billing on moto's EventBridge."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from infra.cli import main
from infra.core import naming
from infra.core.errors import ExitCode
from infra.core.rollout import milestone_key
from infra.ops.adapters import aws, control
from infra.ops.adapters.control import migrate
from tests.helpers import (
    EXAMPLE,
    LIVE,
    SANDBOX,
    SLUG,
    TENANTCTL,
    cli,
    create_demo,
    drain,
    ok,
    ready_for_go_live,
    validate,
)
from tests.snapshots import Steps


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def subscribe_queue(name: str = "billing-tap") -> str:
    """An SQS queue subscribed to the billing bus by a rule; returns its URL."""
    sqs, events = aws.client("sqs"), aws.client("events")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = os.environ["TENANTCTL_BILLING_BUS"]
    events.put_rule(
        Name=f"{name}-rule",
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["tenantctl.rollout"]}),
    )
    events.put_targets(Rule=f"{name}-rule", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return str(url)


def history_rows(url: str, action: str, subject: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM history WHERE action = %s AND subject = %s", (action, subject)
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def queue(control_env: str, steps: Steps) -> str:
    return steps.run("subscribe the billing-tap queue", subscribe_queue)


@pytest.fixture
def stacks(
    tmp_path: Path, control_env: str, queue: str, steps: Steps, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The demo client created on the local target; its rollout started by create.

    Unlike conftest's ``stacks``: with a control database, the billing queue subscribed
    before create, and a contract."""
    return create_demo(tmp_path, monkeypatch, "--contract", "C-1", steps=steps)


def complete_manual_tasks(stacks: Path, phase: int) -> None:
    from infra.ops.rollout.store import load_schedule

    for task in load_schedule().phase(phase).tasks:
        if task.observe is None and task.required:
            ok(cli(stacks, "rollout", "done", SLUG, task.key, "--by", "pat"))
        if task.observe == "training-held":  # people hold a session; the tool sees it
            added = cli(stacks, "rollout", "training", "add", SLUG, "--when", "2026-12-01T10:00",
                        "--duration", "60", "--topic", "Permit desk", "--json")  # fmt: skip
            session = json.loads(ok(added).stdout)["subject"]
            ok(cli(stacks, "rollout", "training", "done", SLUG, session, "--by", "pat"))


def history(stacks: Path) -> list[dict[str, Any]]:
    return list(json.loads(ok(run("rollout", "history", SLUG, "--json")).stdout)["history"])


def status(stacks: Path) -> dict[str, Any]:
    document = json.loads(ok(cli(stacks, "rollout", "status", SLUG, "--json")).stdout)
    validate("rollout-status", document)
    return dict(document["rollouts"][0])


def task(summary: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for p in summary["phases"] for t in p["tasks"] if t["key"] == key)


# ------------------------------------------------------------------ migrations


def test_migrations_apply_once_even_with_two_runners_at_once(pg_env: str):
    with psycopg.connect(pg_env, autocommit=True) as conn:
        conn.execute("CREATE DATABASE race_control")
    url = pg_env.rsplit("/", 1)[0] + "/race_control"
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(migrate(url))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = [m.name for m in control.migrations()]
    assert sorted(results, key=len) == [[], names]
    assert migrate(url) == []


def test_history_refuses_to_be_rewritten(stacks: Path, control_env: str):
    with psycopg.connect(control_env) as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute("UPDATE history SET actor = 'mallory'")
    with psycopg.connect(control_env) as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute("DELETE FROM history")


# ------------------------------------------------------------------ start and billing


def test_create_starts_the_rollout_and_publishes_the_sign_off_once(
    stacks: Path, queue: str, control_env: str
):
    events = drain(queue)
    assert [e["detail"]["milestone"] for e in events] == ["contract-signoff"]
    assert events[0]["detail"]["idempotencyKey"] == milestone_key(SLUG, "C-1", "contract-signoff")
    assert events[0]["source"] == "tenantctl.rollout"
    validate("billing-event", events[0])

    ok(cli(stacks, "create", SLUG, "--from", str(EXAMPLE)))
    started = json.loads(ok(run("rollout", "start", SLUG, "--contract", "C-1", "--json")).stdout)
    validate("rollout-start", started)
    assert started["changed"] is False
    assert drain(queue) == []
    pending = json.loads(ok(run("billing", "pending", "--json")).stdout)
    validate("billing-pending", pending)
    assert pending == {"pending": []}


def test_status_checks_observed_tasks_against_the_systems(stacks: Path):
    summary = status(stacks)
    assert summary["phase"] == 1
    assert task(summary, "systems-handed-over")["state"] == "done"
    assert task(summary, "hosted-payment")["state"] == "open"
    assert task(summary, "data-imports")["state"] == "open"  # no import recorded yet

    ok(cli(stacks, "payment", "set-credentials", SLUG, "--stage", "preview", input=SANDBOX))

    assert task(status(stacks), "hosted-payment")["state"] == "done"


def test_phase_gate_refuses_until_required_tasks_are_done_then_bills_preview_go_live(
    stacks: Path, queue: str
):
    drain(queue)
    refused = cli(stacks, "rollout", "done", SLUG, "--phase", "1")
    assert refused.exit_code == ExitCode.PRECONDITION
    assert "cannot complete: discovery-call (vendor): not marked done" in refused.output

    complete_manual_tasks(stacks, 1)
    done = json.loads(ok(cli(stacks, "rollout", "done", SLUG, "--phase", "1", "--json")).stdout)

    validate("rollout-done", done)
    assert done["milestones"] == ["preview-go-live"]
    assert [e["detail"]["milestone"] for e in drain(queue)] == ["preview-go-live"]
    assert status(stacks)["billed"] == ["contract-signoff", "preview-go-live"]


def test_marking_a_task_twice_gives_one_line_and_records_once(stacks: Path, control_env: str):
    ok(cli(stacks, "rollout", "done", SLUG, "discovery-call", "--by", "pat"))
    second = cli(stacks, "rollout", "done", SLUG, "discovery-call", "--by", "sam")
    assert second.exit_code == ExitCode.PRECONDITION
    assert second.output.strip().count("\n") == 0
    assert "already marked done by pat" in second.output
    assert history_rows(control_env, "done", "discovery-call") == 1


def test_two_people_completing_the_same_phase_at_once_one_wins(
    stacks: Path, control_env: str, queue: str
):
    complete_manual_tasks(stacks, 1)
    drain(queue)
    command = [
        TENANTCTL, "rollout", "done", SLUG, "--phase", "1", "--stacks-dir", str(stacks),
    ]  # fmt: skip
    people = [
        subprocess.Popen(
            [*command, "--by", who], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for who in ("pat", "sam")
    ]
    outcomes = sorted((p.wait(timeout=120), p.stderr.read()) for p in people)  # type: ignore[union-attr]

    assert next(code for code, _ in outcomes) == 0
    loser_code, loser_err = outcomes[1]
    assert loser_code in (ExitCode.PRECONDITION, ExitCode.LOCKED)
    assert loser_err.strip().startswith("Error:") and loser_err.strip().count("\n") == 0
    assert history_rows(control_env, "complete-phase", "1") == 1
    assert history_rows(control_env, "milestone", "preview-go-live") == 1
    assert [e["detail"]["milestone"] for e in drain(queue)] == ["preview-go-live"]


def test_two_transactions_completing_the_same_phase_record_it_once(stacks: Path, control_env: str):
    """Below the client lock: the rollout's row lock alone serializes them."""
    from infra.core.errors import PreconditionFailed
    from infra.ops.rollout import store as rollout_store
    from infra.ops.rollout import transitions as rollout_transitions
    from infra.ops.rollout.observe import observer

    complete_manual_tasks(stacks, 1)
    schedule = rollout_store.load_schedule()
    observations = observer(stacks)(SLUG, None)  # checked once, outside the race
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def complete(who: str) -> None:
        with control.connect() as conn:
            barrier.wait()
            try:
                rollout_transitions.complete_phase(
                    conn, schedule, SLUG, 1, who, lambda *_: observations
                )
                outcomes.append("won")
            except PreconditionFailed as exc:
                outcomes.append(str(exc))

    threads = [threading.Thread(target=complete, args=(who,)) for who in ("pat", "sam")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes)[1] == "won"
    assert "phase 1 of demo was already completed by" in sorted(outcomes)[0]
    assert history_rows(control_env, "complete-phase", "1") == 1
    assert history_rows(control_env, "milestone", "preview-go-live") == 1


def test_replan_and_pause_are_recorded_and_move_the_plan(stacks: Path, control_env: str):
    before = status(stacks)["phases"][2]
    ok(run("rollout", "replan", SLUG, "--phase", "3", "--days", "30-40", "--reason", "x"))
    ok(run("rollout", "replan", SLUG, "--phase", "3", "--days", "35", "--reason", "y"))
    after = status(stacks)["phases"][2]
    assert (before["estimate"], after["estimate"]) == ("21-28d", "35d")
    with psycopg.connect(control_env) as conn:
        kept = conn.execute("SELECT min_days, max_days FROM replans ORDER BY id").fetchall()
    assert kept == [(30, 40), (35, 35)]

    ok(run("rollout", "pause", SLUG, "--reason", "budget freeze"))
    assert status(stacks)["paused"] is True
    again = run("rollout", "pause", SLUG, "--reason", "again")
    assert again.exit_code == ExitCode.PRECONDITION and "already paused" in again.output
    ok(run("rollout", "resume", SLUG))
    assert status(stacks)["paused"] is False


def test_undo_reopens_a_task_and_keeps_both_in_the_history(stacks: Path, control_env: str):
    ok(cli(stacks, "rollout", "done", SLUG, "issues-resolved", "--by", "pat"))
    ok(run("rollout", "undo", SLUG, "issues-resolved", "--reason", "cancelled"))
    assert task(status(stacks), "issues-resolved")["state"] == "open"
    history = json.loads(ok(run("rollout", "history", SLUG, "--json")).stdout)
    validate("rollout-history", history)
    people = [h for h in history["history"] if h["action"] in ("done", "undo")]
    assert [(h["action"], h["subject"]) for h in people] == [
        ("done", "issues-resolved"),
        ("undo", "issues-resolved"),
    ]


# -------------------------------------------------------------- gate and regressions


def verify_and_accept(stacks: Path) -> None:
    """Phase 4's testing: a passing verify of preview, accepted by the client."""
    result = cli(stacks, "verify", SLUG, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    run_id = json.loads(result.stdout)["runId"]
    ok(cli(stacks, "rollout", "accept", SLUG, "--by", "dana", "--evidence", run_id))


def reach_phase_5(stacks: Path) -> None:
    """Phases 1-4 complete the way account staff would, with the systems ready."""
    ready_for_go_live(stacks)
    ok(cli(stacks, "payment", "set-credentials", SLUG, "--stage", "preview", input=SANDBOX))
    ok(cli(stacks, "payment", "set-credentials", SLUG, "--stage", "production", input=LIVE))
    for phase in (1, 2, 3, 4):
        if phase == 4:
            verify_and_accept(stacks)
        complete_manual_tasks(stacks, phase)
        for key in ("admin-accounts", "configuration", "portal-design", "data-imports"):
            cli(stacks, "rollout", "done", SLUG, key, "--by", "pat")  # vouched or accepted
        ok(cli(stacks, "rollout", "done", SLUG, "--phase", str(phase)))


def test_promote_refuses_while_testing_is_incomplete_then_override_is_recorded(
    stacks: Path, control_env: str
):
    ok(cli(stacks, "payment", "set-credentials", SLUG, "--stage", "production", input=LIVE))
    ready_for_go_live(stacks)
    refused = cli(stacks, "promote", SLUG, "--yes")
    assert refused.exit_code == ExitCode.PRECONDITION
    assert "cannot promote demo: phase 4 Testing and training is not complete" in refused.output

    ok(cli(stacks, "promote", SLUG, "--yes", "--override-gate", "--reason", "CEO said so"))
    page = stacks.parent / "rollouts.html"
    ok(run("rollout", "report", "--html", str(page)))

    assert history_rows(control_env, "override-gate", "4") == 1
    assert "promote gate overridden by " in page.read_text()
    assert ": CEO said so</div>" in page.read_text()
    assert status(stacks)["billed"] == ["contract-signoff", "go-live", "recurring-start"]


def test_removing_live_credentials_undoes_the_task_and_promote_refuses(
    stacks: Path, control_env: str
):
    reach_phase_5(stacks)
    assert task(status(stacks), "live-credentials")["state"] == "done"

    aws.client("secretsmanager").put_secret_value(
        SecretId=naming.payment_secret_name(SLUG, "production"), SecretString="{}"
    )

    summary = status(stacks)
    gone = task(summary, "live-credentials")
    assert (gone["state"], gone["regressed"]) == ("open", True)
    assert any("live-credentials no longer done" in a for a in summary["attention"])
    refused = cli(stacks, "promote", SLUG, "--yes")
    assert refused.exit_code == ExitCode.PRECONDITION
    assert "live-credentials (client): observed: production has no payment" in refused.output
    with psycopg.connect(control_env) as conn:
        seen = conn.execute(
            "SELECT detail->>'from', detail->>'to' FROM history "
            "WHERE action = 'observed' AND subject = 'payment-live' ORDER BY id"
        ).fetchall()
    assert seen[-1] == ("done", "not-done")


def test_promote_records_go_live_and_recurring_start_once(stacks: Path, queue: str):
    reach_phase_5(stacks)
    drain(queue)
    launched = ok(cli(stacks, "promote", SLUG, "--yes"))
    ok(cli(stacks, "promote", SLUG, "--yes"))  # a second launch bills nothing more

    # right after go-live, production was verified read-only and the run recorded
    assert "live verify passed: run " in launched.stderr
    live = [h for h in history(stacks) if h["action"] == "verify"]
    assert live[-1]["detail"]["stage"] == "production" and live[-1]["detail"]["passed"]

    summary = status(stacks)
    assert summary["phase"] is None
    assert summary["billed"] == [
        "contract-signoff",
        "preview-go-live",
        "go-live",
        "recurring-start",
    ]
    events = {e["detail"]["milestone"]: e["detail"] for e in drain(queue)}
    assert sorted(events) == ["go-live", "recurring-start"]
    (accepted,) = [h for h in history(stacks) if h["action"] == "accept"]
    assert events["go-live"]["evidence"]["runId"] == accepted["subject"]
    assert events["go-live"]["evidence"]["acceptedBy"] == "dana"
    assert "evidence" not in events["recurring-start"]


def test_portfolio_status_lists_every_client_attention_first(stacks: Path):
    ok(run("rollout", "start", "acme", "--contract", "A-1", "--signed-off", "2020-01-01"))
    document = json.loads(ok(run("rollout", "status", "--json")).stdout)
    validate("rollout-status", document)
    assert [r["client"] for r in document["rollouts"]] == ["acme", "demo"]
    assert document["rollouts"][0]["late"] is True
    lines = ok(run("rollout", "status")).stdout.splitlines()
    assert lines[0].startswith("! acme") and "LATE" in lines[0]


def test_rollout_commands_without_a_control_database_say_how_to_set_it(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.delenv(control.CONTROL_DATABASE_URL_ENV, raising=False)
    result = run("rollout", "status")
    assert result.exit_code != 0
    assert f"set {control.CONTROL_DATABASE_URL_ENV}" in result.output


def test_admin_accounts_are_checked_in_each_user_pool(stacks: Path):
    """The user pool and administrators the program plans exist (the local target makes
    them from the plan, as `pulumi up` would); the check lists the pool's users."""
    from infra.ops.stacks.opening import open_from_files

    assert task(status(stacks), "admin-accounts")["state"] == "done"

    production = open_from_files(stacks, SLUG, "production")
    pool_id = (production.outputs or {})["userPoolId"]
    idp = aws.client("cognito-idp")
    listed = {  # an email-username pool keeps the email as an attribute (username: a UUID)
        a["Value"]
        for u in idp.list_users(UserPoolId=pool_id)["Users"]
        for a in u["Attributes"]
        if a["Name"] == "email"
    }
    assert listed == {a.email for a in production.spec.admins}
    gone_admin = production.spec.admins[0].email
    idp.admin_delete_user(UserPoolId=pool_id, Username=gone_admin.lower())

    gone = task(status(stacks), "admin-accounts")
    assert gone["state"] == "open"
    assert f"{gone_admin} has no account in production" in gone["how"]
