"""``tenantctl fleet``: one operation over many stacks, in waves, on Temporal."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import click

from infra.cli.common import TEXT, echo_json, json_option, stacks_dir_option
from infra.core import fleet as rules
from infra.core import naming
from infra.core.errors import ExitCode


def _settings() -> Any:
    """Where runs live; on the embedded server, started (and said so) when not running."""
    from infra.ops.fleet import runs

    settings, server = runs.start_server(runs.Settings.from_env())
    if server is not None and server.started:
        click.echo(
            f"started the embedded Temporal server at {server.address} "
            f"(state in {server.state_dir})",
            err=True,
        )
    return settings


@click.group()
def fleet() -> None:
    """Change many stacks at once: canary first, then growing waves, on Temporal.

    Each stack's operation runs as its own `tenantctl` process on a worker; the
    run survives a worker dying. Between waves a health gate: the canary must
    succeed whole, and the failures must stay within the failure budget;
    otherwise the run pauses and `fleet status` says what to do.

    With no TENANTCTL_TEMPORAL_ADDRESS, the embedded Temporal server (started
    when not running, state under .local/temporal) and this command as the
    worker: `fleet run` and every signal run the stacks until the run finishes
    or waits for a person. With TENANTCTL_TEMPORAL_ADDRESS (and
    TENANTCTL_TEMPORAL_NAMESPACE, TENANTCTL_TEMPORAL_TLS_CERT/_KEY/_CA for
    mutual TLS) a cluster, whose workers are `tenantctl fleet worker`.

    \b
    Examples:
      tenantctl fleet run plan --all
      tenantctl fleet run deploy --select demo,acme --canary 1 --approve-between-waves
      tenantctl fleet status fleet-deploy-3f9a1c2b4d5e
      tenantctl fleet approve fleet-deploy-3f9a1c2b4d5e
      TENANTCTL_TEMPORAL_ADDRESS=temporal.internal:7233 tenantctl fleet worker
    """


@contextlib.contextmanager
def _following(stacks_dir: Path, as_json: bool) -> Iterator[Any]:
    """How this command follows a run on the embedded server (it runs the stacks with
    `tenantctl` on *stacks_dir*): a live display on a terminal, silent otherwise."""
    from infra.ops.fleet import runs

    command = runs.stack_command(stacks_dir)
    try:
        if as_json or not sys.stdout.isatty():
            yield runs.Following(command)
            return
        from rich.console import Console
        from rich.live import Live

        with Live(console=Console(), refresh_per_second=4, transient=True) as live:
            yield runs.Following(command, lambda st: live.update("\n".join(_lines(st))))
    except KeyboardInterrupt:
        # Not "re-run the same command": a run submitted again is refused as a duplicate.
        click.echo(
            "Interrupted: the run is kept where it was (stacks in flight were stopped and "
            "run again later); `tenantctl fleet status RUN --follow` goes on with it.",
            err=True,
        )
        raise click.exceptions.Exit(int(ExitCode.INTERRUPTED)) from None


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else width
    return "#" * filled + "." * (width - filled)


def _lines(result: dict[str, Any]) -> list[str]:
    counts = result.get("counts", {})
    shown = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    lines = [f"{result['run']}: {result['state']} at wave {result.get('wave', 0)} ({shown})"]
    if result.get("reason"):
        lines.append(f"  {result['reason']}")
    for wave in result["waves"]:
        states = [s["state"] for s in wave["stacks"]]
        total, done = len(states), states.count("succeeded")
        label = " (canary)" if wave.get("canary") else ""
        extra = "".join(
            f", {states.count(k)} {k}" for k in ("running", "failed", "skipped") if k in states
        )
        lines.append(
            f"  wave {wave['wave']}{label}: [{_bar(done, total)}] {done}/{total} succeeded{extra}"
        )
    for need in result.get("attention", []):
        lines.append(f"  {need['stack']} failed: {need['error']}")
        lines.append(f"    {need['do']}")
    if result.get("next"):
        lines.append(f"next: {result['next']}")
    return lines


def _show(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(result)
    else:
        click.echo("\n".join(_lines(result)))


def _exit_if_waiting(status: dict[str, Any] | None) -> None:
    """Exit 10 (``ExitCode.NEEDS_PERSON``) with the exact command when the run shown rests
    until a person acts: a pipeline tells "done" from "waits for you" by the code alone."""
    from infra.ops.fleet import runs

    waiting = runs.waiting_for_person(status) if status is not None else None
    if waiting is not None:
        raise waiting


def _csv(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


@fleet.command("run")
@click.argument("operation", type=click.Choice(rules.OPERATIONS))
@click.option(
    "--select",
    callback=_csv,
    type=TEXT,
    metavar="SLUG,...",
    help="Clients (both stacks) or stacks (SLUG-STAGE), comma-separated.",
)
@click.option("--all", "every", is_flag=True, help="Every stack in the stacks folder.")
@click.option("--stage", type=click.Choice(naming.STAGES), help="Only the stacks of this stage.")
@click.option(
    "--phase",
    type=click.IntRange(min=1),
    help="Only the clients whose rollout is in this phase (the control database).",
)
@click.option(
    "--changed-since",
    type=TEXT,
    metavar="REF",
    help="Only the stacks the commits since REF affect (as `tenantctl changed --base REF`).",
)
@click.option(
    "--canary",
    type=int,
    default=rules.DEFAULT_CANARY,
    show_default=True,
    help="Stacks in the canary wave (0: none).",
)
@click.option(
    "--wave-size",
    type=int,
    default=rules.DEFAULT_WAVE_SIZE,
    show_default=True,
    help=f"Stacks in the first wave after the canary; each next wave is {rules.WAVE_GROWTH}x.",
)
@click.option(
    "--concurrency",
    type=int,
    default=rules.DEFAULT_CONCURRENCY,
    show_default=True,
    help="Stack operations of this run in flight at once.",
)
@click.option(
    "--failure-budget",
    default=rules.DEFAULT_FAILURE_BUDGET,
    show_default=True,
    metavar="N|P%",
    help="Failed stacks the run tolerates before it pauses.",
)
@click.option(
    "--approve-between-waves",
    is_flag=True,
    help="Wait for `fleet approve` before each wave after the canary.",
)
@stacks_dir_option
@json_option
def run(
    operation: str,
    select: list[str],
    every: bool,
    canary: int,
    wave_size: int,
    concurrency: int,
    failure_budget: str,
    approve_between_waves: bool,
    stage: str | None,
    phase: int | None,
    changed_since: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Submit a fleet run of OPERATION over the selected stacks.

    OPERATION: plan (offline), deploy, verify (read-only acceptance checks),
    preflight and drift (read-only reports: no canary, no failure budget, never
    paused; a drifted stack is a failed stack with the drift named), or
    reset-preview (only previews whose stack file sets tenants:nightlyReset:
    true; the rest are left out, and said so). Each of --select, --stage,
    --phase and --changed-since narrows the stacks of the stacks folder (they
    combine); --all takes every stack. (Tenant files have no labels, so there
    is no --label.)

    The run's id is deterministic from its intent: submitting the same run while
    it is going is refused (exit 3). On the embedded server (no
    TENANTCTL_TEMPORAL_ADDRESS) this command runs the stacks and returns when the
    run finishes or waits for a person (a live display on a terminal); on a
    cluster it returns at once and the cluster's workers run it. Exit 10 when the
    run waits for a person (an approval, a breached gate or failure budget): the
    message is the exact command to run (`commands` in --json). Exit 5 when the
    Temporal server cannot be reached.

    \b
    Examples:
      tenantctl fleet run plan --all --json
      tenantctl fleet run deploy --select demo --canary 1 --failure-budget 2%
      tenantctl fleet run deploy --changed-since origin/main~1 --stage preview
      tenantctl fleet run plan --phase 3 --stage production
      tenantctl fleet run drift --all --json
    """
    from infra.ops.fleet import runs

    if every and (select or stage or phase or changed_since):
        raise click.UsageError("--all selects every stack; pass it alone")
    clients = None
    if phase is not None:
        from infra.ops.rollout.views import rollout_status

        rollouts = rollout_status(None, None).rollouts
        clients = frozenset(r.client for r in rollouts if r.phase == phase)
    where = cast("naming.Stage | None", stage)  # click.Choice of naming.STAGES
    chosen = runs.Selection(tuple(select), every, where, clients, changed_since)
    stacks, left_out = runs.eligible(stacks_dir, operation, runs.select(stacks_dir, chosen))
    for why in left_out:
        click.echo(f"left out {why}", err=True)
    spec = runs.new_run(
        operation,
        stacks,
        canary=canary,
        wave_size=wave_size,
        concurrency=concurrency,
        failure_budget=failure_budget,
        approve_between_waves=approve_between_waves,
    )
    settings = _settings()
    submitted = runs.submit(settings, spec)
    sizes = ", ".join(str(len(w)) for w in submitted.waves)
    if not as_json:
        click.echo(f"{submitted.run}: {operation} of {len(stacks)} stacks in waves of {sizes}")
    if settings.embedded is None:
        if as_json:
            echo_json(submitted.to_json())
        else:
            click.echo(f"follow it: tenantctl fleet status {submitted.run}")
        return
    with _following(stacks_dir, as_json) as following:
        final = runs.follow(settings, submitted.run, following)
    if as_json:
        echo_json({**submitted.to_json(), "status": final})
    else:
        _show(final, as_json=False)
    _exit_if_waiting(final)


@fleet.command("status")
@click.argument("run_id", metavar="[RUN]", required=False)
@click.option(
    "--follow/--once",
    default=None,
    help="Follow the run until it finishes or waits for a person (default on a terminal).",
)
@stacks_dir_option
@json_option
def status(run_id: str | None, follow: bool | None, stacks_dir: Path, as_json: bool) -> None:
    """Show a run's waves and stacks, and what a person must do; without RUN, the runs.

    On a terminal, a live display until the run finishes or waits for a person
    (on the embedded server this command runs the stacks meanwhile); with --json
    or in a pipe, the status once, unless --follow. Exit 10 when the run waits
    for a person, with the exact command to run (`commands` in --json); 0 while
    it runs and when it is done.

    \b
    Examples:
      tenantctl fleet status
      tenantctl fleet status fleet-deploy-3f9a1c2b4d5e --json
      tenantctl fleet status fleet-deploy-3f9a1c2b4d5e --follow --json
    """
    from infra.ops.fleet import runs

    settings = _settings()
    if run_id is None:
        found = runs.list_runs(settings)
        if as_json:
            echo_json({"runs": [r.to_json() for r in found]})
            return
        for r in found:
            click.echo(f"{r.run}  {r.status}  {r.started or ''}")
        if not found:
            click.echo("no fleet runs")
        return
    if follow is None:
        follow = sys.stdout.isatty() and not as_json
    if not follow:
        current = runs.status(settings, run_id)
    else:
        with _following(stacks_dir, as_json) as following:
            current = runs.follow(settings, run_id, following)
    _show(current, as_json)
    _exit_if_waiting(current)


def _signalled(done: Any, as_json: bool, said: str) -> None:
    """Report a signal, and on the embedded server where this command ran the run to."""
    if as_json:
        echo_json(done.to_json())
    else:
        click.echo(said)
        if done.status is not None:
            _show(done.status, as_json=False)
    _exit_if_waiting(done.status)


@fleet.command("approve")
@click.argument("run_id", metavar="RUN")
@click.option("--wave", type=int, help="Release this wave (1-based); default the one waiting.")
@stacks_dir_option
@json_option
def approve(run_id: str, wave: int | None, stacks_dir: Path, as_json: bool) -> None:
    """Release the wave a run waits for; past a paused gate, accept its failures.

    \b
    Examples:
      tenantctl fleet approve fleet-deploy-3f9a1c2b4d5e
      tenantctl fleet approve fleet-deploy-3f9a1c2b4d5e --wave 3
    """
    from infra.ops.fleet import runs

    with _following(stacks_dir, as_json) as following:
        done = runs.approve(_settings(), run_id, wave, following)
    _signalled(done, as_json, f"{run_id}: wave {done.detail['wave']} approved")


@fleet.command("retry")
@click.argument("run_id", metavar="RUN")
@click.option("--stack", required=True, type=TEXT, help="The failed stack (SLUG-STAGE).")
@stacks_dir_option
@json_option
def retry(run_id: str, stack: str, stacks_dir: Path, as_json: bool) -> None:
    """Run one failed stack of a run again (after fixing what made it fail).

    \b
    Example:
      tenantctl fleet retry fleet-deploy-3f9a1c2b4d5e --stack acme-preview
    """
    from infra.ops.fleet import runs

    with _following(stacks_dir, as_json) as following:
        done = runs.retry(_settings(), run_id, stack, following)
    _signalled(done, as_json, f"{run_id}: {stack} retried")


@fleet.command("pause")
@click.argument("run_id", metavar="RUN")
@click.option("--reason", default="", type=TEXT, help="Why, for `fleet status` (e.g. an incident).")
@json_option
def pause(run_id: str, reason: str, as_json: bool) -> None:
    """Start no further stack of a run until `fleet resume`; stacks in flight finish.

    \b
    Example:
      tenantctl fleet pause fleet-deploy-3f9a1c2b4d5e --reason "incident 4711"
    """
    from infra.ops.fleet import runs

    done = runs.pause(_settings(), run_id, reason)
    if as_json:
        echo_json(done.to_json())
    else:
        click.echo(
            f"{run_id}: paused; stacks in flight finish; "
            f"resume with tenantctl fleet resume {run_id}"
        )


@fleet.command("resume")
@click.argument("run_id", metavar="RUN")
@stacks_dir_option
@json_option
def resume(run_id: str, stacks_dir: Path, as_json: bool) -> None:
    """Let a paused run start stacks again.

    \b
    Example:
      tenantctl fleet resume fleet-deploy-3f9a1c2b4d5e
    """
    from infra.ops.fleet import runs

    with _following(stacks_dir, as_json) as following:
        done = runs.resume(_settings(), run_id, following)
    _signalled(done, as_json, f"{run_id}: resumed")


@fleet.command("cancel")
@click.argument("run_id", metavar="RUN")
@stacks_dir_option
@json_option
def cancel(run_id: str, stacks_dir: Path, as_json: bool) -> None:
    """Start no further stack of a run; stacks in flight finish.

    \b
    Example:
      tenantctl fleet cancel fleet-deploy-3f9a1c2b4d5e
    """
    from infra.ops.fleet import runs

    with _following(stacks_dir, as_json) as following:
        done = runs.cancel(_settings(), run_id, following)
    _signalled(done, as_json, f"{run_id}: cancelled; stacks in flight finish")


@fleet.command("server")
@click.option("--stop", is_flag=True, help="Stop the embedded server (its runs are kept).")
def server(stop: bool) -> None:
    """Show (starting it when not running) or stop the embedded Temporal server.

    Its state is one SQLite file under .local/temporal (TENANTCTL_FLEET_STATE
    moves it): runs survive a stop and a restart.

    \b
    Examples:
      tenantctl fleet server
      tenantctl fleet server --stop
    """
    from infra.ops.fleet import embedded, runs

    settings = runs.Settings.from_env()
    if settings.embedded is None:
        raise click.UsageError(
            f"{runs.ADDRESS_ENV} is set: the fleet uses that server, not the embedded one"
        )
    if stop:
        stopped = embedded.stop(settings.embedded)
        click.echo("embedded Temporal server stopped" if stopped else "it was not running")
        return
    found = embedded.ensure(settings.embedded)
    how = "started" if found.started else "running"
    click.echo(f"embedded Temporal server {how} at {found.address} (state in {found.state_dir})")


@fleet.command("worker")
@click.option(
    "--max-activities",
    type=int,
    default=rules.MAX_CONCURRENCY,
    show_default=True,
    help="Stack operations this worker runs at once (across runs).",
)
@stacks_dir_option
def worker(max_activities: int, stacks_dir: Path) -> None:
    """Run a fleet worker: executes runs' stacks until Ctrl-C or SIGTERM.

    Run as many as needed, on any machine with this project and access to the
    targets; each stack operation is a `tenantctl` subprocess.

    \b
    Example:
      TENANTCTL_TEMPORAL_ADDRESS=temporal.internal:7233 tenantctl fleet worker
    """
    from infra.ops.fleet import runs

    if max_activities < 1:
        raise click.BadParameter("must be 1 or more", param_hint="--max-activities")
    settings = _settings()
    click.echo(f"fleet worker on {settings.address}, task queue {settings.task_queue}", err=True)
    runs.run_worker(settings, stacks_dir, max_activities)


COMMANDS = [fleet]
