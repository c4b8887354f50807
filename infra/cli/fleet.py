"""``tenantctl fleet``: one operation over many stacks, in waves, on Temporal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from infra.cli.common import TEXT, echo_json, json_option, stacks_dir_option
from infra.core import fleet as rules


def _settings() -> Any:
    from infra.ops.fleet.runs import Settings

    return Settings.from_env()


@click.group()
def fleet() -> None:
    """Change many stacks at once: canary first, then growing waves, on Temporal.

    Each stack's operation runs as its own `tenantctl` process on a worker
    (`tenantctl fleet worker`); the run survives a worker dying. Between waves a
    health gate: the canary must succeed whole, and the failures must stay within
    the failure budget; otherwise the run pauses and `fleet status` says what to do.

    The Temporal server: TENANTCTL_TEMPORAL_ADDRESS (default 127.0.0.1:7233, the
    local dev server), TENANTCTL_TEMPORAL_NAMESPACE, TENANTCTL_TEMPORAL_TASK_QUEUE.

    \b
    Examples:
      tenantctl fleet worker &
      tenantctl fleet run plan --all
      tenantctl fleet run deploy --select demo,acme --canary 1 --approve-between-waves
      tenantctl fleet status fleet-deploy-3f9a1c2b4d5e
      tenantctl fleet approve fleet-deploy-3f9a1c2b4d5e
    """


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
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Submit a fleet run of OPERATION (plan or deploy) over the selected stacks.

    Returns at once with the run's id, which is deterministic from the run's
    intent: submitting the same run while it is going is refused (exit 3).
    A worker must be running. Exit 5 when the Temporal server cannot be reached.

    \b
    Examples:
      tenantctl fleet run plan --all --json
      tenantctl fleet run deploy --select demo --canary 1 --failure-budget 2%
    """
    from infra.ops.fleet import runs

    if every and select:
        raise click.UsageError("pass --select or --all, not both")
    stacks = runs.select(stacks_dir, select, every)
    spec = runs.new_run(
        operation,
        stacks,
        canary=canary,
        wave_size=wave_size,
        concurrency=concurrency,
        failure_budget=failure_budget,
        approve_between_waves=approve_between_waves,
    )
    submitted = runs.submit(_settings(), spec)
    if as_json:
        echo_json(submitted.to_json())
        return
    sizes = ", ".join(str(len(w)) for w in submitted.waves)
    click.echo(f"{submitted.run}: {operation} of {len(stacks)} stacks in waves of {sizes}")
    click.echo(f"follow it: tenantctl fleet status {submitted.run}")


@fleet.command("status")
@click.argument("run_id", metavar="[RUN]", required=False)
@json_option
def status(run_id: str | None, as_json: bool) -> None:
    """Show a run's waves and stacks, and what a person must do; without RUN, the runs.

    \b
    Examples:
      tenantctl fleet status
      tenantctl fleet status fleet-deploy-3f9a1c2b4d5e --json
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
    result = runs.status(settings, run_id)
    if as_json:
        echo_json(result)
        return
    counts = result.get("counts", {})
    shown = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    click.echo(f"{result['run']}: {result['state']} at wave {result.get('wave', 0)} ({shown})")
    if result.get("reason"):
        click.echo(f"  {result['reason']}")
    for wave in result["waves"]:
        done = sum(s["state"] == "succeeded" for s in wave["stacks"])
        label = " (canary)" if wave.get("canary") else ""
        click.echo(f"  wave {wave['wave']}{label}: {done}/{len(wave['stacks'])} succeeded")
        for s in wave["stacks"]:
            if s["state"] == "failed":
                click.echo(f"    {s['stack']} failed: {s['error']}")
    if result.get("next"):
        click.echo(f"next: {result['next']}")


@fleet.command("approve")
@click.argument("run_id", metavar="RUN")
@click.option("--wave", type=int, help="Release this wave (1-based); default the one waiting.")
@json_option
def approve(run_id: str, wave: int | None, as_json: bool) -> None:
    """Release the wave a run waits for; past a paused gate, accept its failures.

    \b
    Examples:
      tenantctl fleet approve fleet-deploy-3f9a1c2b4d5e
      tenantctl fleet approve fleet-deploy-3f9a1c2b4d5e --wave 3
    """
    from infra.ops.fleet import runs

    done = runs.approve(_settings(), run_id, wave)
    if as_json:
        echo_json(done.to_json())
    else:
        click.echo(f"{run_id}: wave {done.detail['wave']} approved")


@fleet.command("retry")
@click.argument("run_id", metavar="RUN")
@click.option("--stack", required=True, type=TEXT, help="The failed stack (SLUG-STAGE).")
@json_option
def retry(run_id: str, stack: str, as_json: bool) -> None:
    """Run one failed stack of a run again (after fixing what made it fail).

    \b
    Example:
      tenantctl fleet retry fleet-deploy-3f9a1c2b4d5e --stack acme-preview
    """
    from infra.ops.fleet import runs

    done = runs.retry(_settings(), run_id, stack)
    if as_json:
        echo_json(done.to_json())
    else:
        click.echo(f"{run_id}: {stack} will be retried")


@fleet.command("cancel")
@click.argument("run_id", metavar="RUN")
@json_option
def cancel(run_id: str, as_json: bool) -> None:
    """Start no further stack of a run; stacks in flight finish.

    \b
    Example:
      tenantctl fleet cancel fleet-deploy-3f9a1c2b4d5e
    """
    from infra.ops.fleet import runs

    done = runs.cancel(_settings(), run_id)
    if as_json:
        echo_json(done.to_json())
    else:
        click.echo(f"{run_id}: cancelled; stacks in flight finish")


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
