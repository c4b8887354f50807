"""Phase 4 as a gate, on the local target with a control database: the testing task follows
verify, the client accepts a run (`rollout accept`), and promote refuses a release or
configuration changed since, naming the change (a content push, a configuration edit, a
reset)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.core import verify_checks as vc
from infra.core.errors import ExitCode
from infra.devtools import localtarget
from infra.ops.verify import browser
from tests.helpers import LIVE, SLUG, cli, create_demo, db_url, ok, store, validate
from tests.test_rollout import complete_manual_tasks
from tests.test_verify import _fresh_local_target

pytestmark = pytest.mark.skipif(
    not Path(browser.DEFAULT_CHROMIUM).exists(), reason="needs Debian's chromium"
)
CLIENT = "Dana Cruz (client)"


_CONTROL: list[str] = []


@pytest.fixture
def control_url(demo: Path) -> str:
    """The module's control database (the ``demo`` fixture's)."""
    return _CONTROL[0]


@pytest.fixture(scope="module")
def demo(
    moto_endpoint: str, pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """One demo client with a rollout in a control database; phases 1-3 completed (by
    override: this module is about phase 4), live credentials staged for production."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in localtarget.aws_environment(moto_endpoint).items():
            mp.setenv(key, value)
        mp.setenv(localtarget.DATABASE_URL_ENV, pg_admin_url)
        _fresh_local_target(moto_endpoint, pg_admin_url)
        localtarget.create_operations_bucket(moto_endpoint, localtarget.LOCAL_REGION)
        url = localtarget.create_control(pg_admin_url, "tenantctl_control")
        localtarget.create_billing_bus(
            moto_endpoint, localtarget.LOCAL_REGION, localtarget.LOCAL_BILLING_BUS
        )
        mp.setenv(localtarget.CONTROL_DATABASE_URL_ENV, url)
        mp.setenv(localtarget.BILLING_BUS_ENV, localtarget.LOCAL_BILLING_BUS)
        _CONTROL[:] = [url]
        folder = create_demo(tmp_path_factory.mktemp("acceptance"), mp, "--contract", "C-1")
        ok(cli(folder, "payment", "set-credentials", SLUG, "--stage", "production", input=LIVE))
        for phase in ("1", "2", "3"):
            ok(cli(folder, "rollout", "done", SLUG, "--phase", phase, "--override-gate",
                   "--reason", "phase 4 tests"))  # fmt: skip
        yield folder


def task(stacks: Path, key: str) -> dict[str, Any]:
    document = json.loads(ok(cli(stacks, "rollout", "status", SLUG, "--json")).stdout)
    (rollout,) = document["rollouts"]
    return next(t for p in rollout["phases"] for t in p["tasks"] if t["key"] == key)


def verify_json(stacks: Path, *args: str) -> dict[str, Any]:
    result = cli(stacks, "verify", SLUG, "--json", *args)
    assert result.exit_code in (0, 3), result.output + result.stderr
    return dict(json.loads(result.stdout))


@pytest.fixture(scope="module")
def accepted(demo: Path) -> dict[str, Any]:
    """Testing seen open, a passing verify seen to make it done, then accepted; phase 4
    completed. Returns the accepted run."""
    before = task(demo, "testing")
    assert (before["state"], before["how"].startswith("observed: no verify run of")) == (
        "open",
        True,
    )
    run = verify_json(demo)
    assert run["passed"] is True
    testing = task(demo, "testing")
    assert testing["state"] == "done"
    assert testing["how"] == f"observed: verify run {run['runId']} of {run['release']} passed"
    assert task(demo, "client-acceptance")["state"] == "open"

    result = cli(demo, "rollout", "accept", SLUG, "--by", CLIENT, "--evidence", run["runId"],
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    change = validate("rollout-accept", json.loads(result.stdout))
    assert change["action"] == "accept" and change["subject"] == run["runId"]
    complete_manual_tasks(demo, 4)  # issues resolved; a training session held
    ok(cli(demo, "rollout", "done", SLUG, "--phase", "4", "--override-gate", "--reason",
           "dry-run needs the client's domain, not part of this test"))  # fmt: skip
    return run


def test_the_acceptance_is_recorded_naming_the_run_and_its_evidence(
    demo: Path, accepted: dict[str, Any]
):
    acceptance = task(demo, "client-acceptance")
    shown = ok(CliRunner().invoke(main, ["rollout", "history", SLUG, "--json"]))
    history = json.loads(shown.stdout)
    rows = [r for r in history["history"] if r["action"] == "accept"]

    assert acceptance["state"] == "done"
    assert acceptance["how"].startswith(
        f"observed: run {accepted['runId']} of release {accepted['release']} accepted by {CLIENT}"
    )
    assert [(r["actor"], r["subject"]) for r in rows] == [(CLIENT, accepted["runId"])]


def promote_refusal(stacks: Path) -> str:
    result = cli(stacks, "promote", SLUG, "--yes")
    assert result.exit_code == ExitCode.PRECONDITION, result.output
    assert result.stderr.count("\n") == 1
    return result.stderr


def test_promote_refuses_a_release_pushed_after_the_acceptance(
    demo: Path, accepted: dict[str, Any]
):
    s = store()
    current = s.current()
    assert current is not None and current.release == accepted["release"]
    release = s.release(current.release)
    assert release is not None
    files = {k: s.read(release.id, k) for k in release.files}
    files["portal/help.html"] = files["portal/help.html"].replace(b"</main>", b"<p>new</p></main>")
    pushed = s.publish(files, source="push:edited")
    s.switch(pushed.id)
    try:
        refused = promote_refusal(demo)
        acceptance = task(demo, "client-acceptance")
    finally:
        s.switch(current.release)

    # testing (the first task of phase 4) is open again: the pushed release is unverified
    assert "cannot promote demo: testing (client): observed: no verify run of release " in (refused)
    assert f"{pushed.id} (from a content push; the last run checked " in refused
    assert acceptance["state"] == "open"
    assert f"preview serves release {pushed.id} (from a content push), not " in acceptance["how"]
    assert (
        f"not {accepted['release']} that run {accepted['runId']} accepted by {CLIENT}"
        in (acceptance["how"])
    )
    assert task(demo, "client-acceptance")["state"] == "done"  # the accepted release again


def test_promote_refuses_a_configuration_edited_after_the_acceptance_naming_the_table(
    demo: Path, accepted: dict[str, Any], pg_admin_url: str
):
    with psycopg.connect(db_url(pg_admin_url, "preview")) as conn:
        conn.execute("UPDATE config.violation_types SET fine_cents = fine_cents + 100")
    try:
        refused = promote_refusal(demo)
    finally:
        with psycopg.connect(db_url(pg_admin_url, "preview")) as conn:
            conn.execute("UPDATE config.violation_types SET fine_cents = fine_cents - 100")

    assert "preview's configuration changed (violation_types) since run" in refused
    assert task(demo, "client-acceptance")["state"] == "done"


def test_accept_refuses_a_failed_run_an_unknown_one_and_tampered_evidence(
    demo: Path, accepted: dict[str, Any]
):
    s = store()
    current = s.current()
    assert current is not None
    release = s.release(current.release)
    assert release is not None
    files = {k: s.read(release.id, k) for k in release.files}
    files["portal/buy-permit.html"] = files["portal/buy-permit.html"].replace(
        b"${permit_type_table}", b""
    )
    failed = verify_json(demo, "--release", s.publish(files, source="test").id)
    assert failed["passed"] is False

    def accept(run_id: str) -> Any:
        return cli(demo, "rollout", "accept", SLUG, "--by", CLIENT, "--evidence", run_id)

    refused_failed = accept(failed["runId"])
    unknown = accept("20990101T000000Z-abcdef")
    key = f"{vc.EVIDENCE_PREFIX}{accepted['runId']}/junit.xml"
    original = s.get_evidence(key)
    assert original is not None
    s.put_evidence(key, original + b" ", "application/xml")
    try:
        tampered = accept(accepted["runId"])
    finally:
        s.put_evidence(key, original, "application/xml")

    assert refused_failed.exit_code == 3
    assert f"run {failed['runId']} failed" in refused_failed.stderr
    assert unknown.exit_code == 2 and "no verify run 20990101T000000Z-abcdef" in unknown.stderr
    assert tampered.exit_code == 3 and "no longer matches what was recorded" in tampered.stderr
    assert task(demo, "client-acceptance")["state"] == "done"  # the earlier acceptance holds


def test_promote_refuses_after_a_reset_then_verify_and_accept_again_clears_it(
    demo: Path, accepted: dict[str, Any]
):
    ok(cli(demo, "reset-preview", SLUG, "--yes"))
    refused = promote_refusal(demo)
    again = verify_json(demo)
    ok(cli(demo, "rollout", "accept", SLUG, "--by", CLIENT, "--evidence", again["runId"]))

    assert "(from a reset-preview; the last run checked " in refused
    assert again["passed"] is True and again["release"] != accepted["release"]
    assert task(demo, "client-acceptance")["state"] == "done"


def test_a_failing_live_verify_is_recorded_and_names_the_rollback_command(
    demo: Path, accepted: dict[str, Any], control_url: str
):
    """What promote runs right after go-live (``verify_live``), on a production serving a
    release whose buy-permit page lost its prices."""
    from infra.core.errors import LiveCheckFailed
    from infra.ops.rollout.golive import verify_live
    from infra.ops.stacks.opening import open_from_files

    s = store("production")
    current = s.current()
    assert current is not None
    release = s.release(current.release)
    assert release is not None
    files = {k: s.read(release.id, k) for k in release.files}
    files["portal/buy-permit.html"] = files["portal/buy-permit.html"].replace(
        b"${permit_type_table}", b""
    )
    s.switch(s.publish(files, source="test").id)
    try:
        with pytest.raises(LiveCheckFailed) as failed:
            verify_live(open_from_files(demo, SLUG, "production"), lambda _line: None)
    finally:
        s.switch(current.release)
    with psycopg.connect(control_url) as conn:
        rows = conn.execute(
            "SELECT detail->>'stage' FROM history WHERE action = 'verify' ORDER BY id"
        ).fetchall()
    stages = [r[0] for r in rows]

    assert failed.value.exit_code == ExitCode.LIVE_CHECK_FAILED == 9
    message = str(failed.value)
    assert message.startswith("demo-production is live, but its verify run ")
    assert "first permit-type:" in message
    assert "roll back with `tenantctl promote demo --rollback --yes`" in message
    assert stages[-1] == "production"
