"""``tenantctl rollout``: each client's five-phase rollout, its tasks, gates and milestones."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from infra.cli.common import (
    TEXT,
    contract_option,
    echo_json,
    err,
    json_option,
    signed_off_option,
    stacks_dir_option,
)

if TYPE_CHECKING:
    from infra.ops.rollout.commands import Change

_by_option = click.option(
    "--by", type=TEXT, help="Who does this (kept in the history); default: the current user."
)
_contract_option = contract_option("Contract reference (default: the client's latest rollout).")


def _echo_change(change: Change, as_json: bool) -> None:
    if as_json:
        echo_json(change.to_json())
        return
    click.echo(change.message)
    for milestone in change.milestones:
        click.echo(f"  milestone recorded: {milestone}")
    if change.billing:
        err(f"  billing: {change.billing}")


@click.group()
def rollout() -> None:
    """Each client's rollout: phases, tasks and who owes them, gates, billing milestones.

    Recorded in the control database (TENANTCTL_CONTROL_DATABASE_URL); the phases,
    estimates and tasks come from templates/rollout/schedule.yaml.

    \b
    Examples:
      tenantctl rollout start demo --contract C-2026-001 --signed-off 2026-11-02
      tenantctl rollout status                  # every client, attention first
      tenantctl rollout status demo --json      # one client, tasks checked now
      tenantctl rollout done demo discovery-call --by pat --note "call on 11/03"
      tenantctl rollout done demo --phase 1
      tenantctl rollout accept demo --by "Dana Cruz" --evidence 20261207T020000Z-1a2b3c
      tenantctl rollout report --html rollouts.html
    """


@rollout.command("start")
@click.argument("slug")
@click.option("--contract", type=TEXT, required=True, help="Contract reference, e.g. C-2026-001.")
@signed_off_option
@_by_option
@stacks_dir_option
@json_option
def start_cmd(
    slug: str,
    contract: str,
    signed_off: date | None,
    by: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Start a client's rollout at contract sign-off (bills the sign-off milestone once).

    Running it again for the same client and contract changes nothing.

    \b
    Examples:
      tenantctl rollout start demo --contract C-2026-001
      tenantctl rollout start acme --contract C-2026-014 --signed-off 2026-10-01 --json
    """
    from infra.ops.rollout import commands as ops

    day = signed_off
    _echo_change(ops.start_rollout(stacks_dir, slug, contract, day, by, err), as_json)


@rollout.command("status")
@click.argument("slug", required=False)
@click.option(
    "--check/--no-check",
    default=None,
    help="Check observed tasks against the systems now (default: for one client yes; "
    "for all clients no, the last observations are shown).",
)
@stacks_dir_option
@json_option
def status_cmd(slug: str | None, check: bool | None, stacks_dir: Path, as_json: bool) -> None:
    """Where each rollout stands: phase, days against the estimate, late, next tasks, billing.

    With no SLUG: one line per client, what needs attention first.

    \b
    Examples:
      tenantctl rollout status
      tenantctl rollout status --json
      tenantctl rollout status demo
    """
    from infra.core.rollout_summary import status_line
    from infra.ops.rollout.views import rollout_status

    # One client: its observed tasks are checked now unless --no-check; the portfolio
    # answers from the last observations unless --check (the systems of 1,000 clients).
    checking = check is not False if slug is not None else bool(check)
    observe = None
    if checking:
        from infra.ops.rollout.observe import observer  # AWS and database clients

        observe = observer(stacks_dir)
    result = rollout_status(slug, observe)
    if slug is None:
        if as_json:
            # Compact: a portfolio of 1,000 rollouts is for machines.
            click.echo(json.dumps(result.to_json(), separators=(",", ":")))
            return
        if not result.rollouts:
            click.echo("no rollouts yet; `tenantctl rollout start SLUG --contract REF`")
        for s in result.rollouts:
            click.echo(status_line(s))
        return
    if as_json:
        echo_json(result.to_json())
        return
    (one,) = result.rollouts
    click.echo(status_line(one))
    for phase in one.phases:
        mark = "done" if phase.complete else ("LATE" if phase.late else "open")
        actual = (
            f"actual {phase.actual_start or '?'}..{phase.actual_end or ''}"
            if phase.actual_start
            else ""
        )
        click.echo(
            f"  phase {phase.number} {phase.title} [{mark}] planned "
            f"{phase.planned_start}..{phase.planned_end} ({phase.estimate}) {actual}".rstrip()
        )
        if phase.override_reason:
            click.echo(f"      gate overridden: {phase.override_reason}")
        for t in phase.tasks:
            box = {"done": "x", "open": " ", "unknown": "?"}[t.state]
            need = "" if t.required else " (optional)"
            flag = "  NO LONGER DONE" if t.regressed else ""
            click.echo(f"    [{box}] {t.key} ({t.owner}){need}: {t.how}{flag}")


@rollout.command("done")
@click.argument("slug")
@click.argument("task", required=False)
@click.option("--phase", type=int, help="Complete this phase (its gate is checked).")
@click.option("--note", type=TEXT, help="What was done (kept in the history).")
@click.option("--override-gate", is_flag=True, help="With --phase: complete despite open tasks.")
@click.option(
    "--reason", type=TEXT, help="Why the gate is overridden (required with --override-gate)."
)
@_by_option
@_contract_option
@stacks_dir_option
@json_option
def done_cmd(
    slug: str,
    task: str | None,
    phase: int | None,
    note: str | None,
    override_gate: bool,
    reason: str | None,
    by: str | None,
    contract: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Mark a task done, or complete a phase through its gate.

    Observed tasks are checked by the tool; a person marks one only when the tool
    cannot see it, or when the schedule lets a person accept it. Completing a
    phase records its billing milestones in the same transaction.

    \b
    Examples:
      tenantctl rollout done demo discovery-call --by pat --note "held 2026-11-03"
      tenantctl rollout done demo --phase 1
      tenantctl rollout done demo --phase 3 --override-gate --reason "imports next week"
    """
    if (task is None) == (phase is None):
        raise click.UsageError("give either TASK or --phase N")
    if override_gate and (phase is None or not (reason or "").strip()):
        raise click.UsageError("--override-gate needs --phase and --reason TEXT")
    from infra.ops.rollout import commands as ops

    if task is not None:
        change = ops.complete_task(stacks_dir, slug, task, by, note, contract, err)
    else:
        assert phase is not None
        override = reason if override_gate else None
        change = ops.close_phase(stacks_dir, slug, phase, by, override, contract, err)
    _echo_change(change, as_json)


@rollout.command("accept")
@click.argument("slug")
@click.option(
    "--by", type=TEXT, required=True, help="Who accepts for the client (kept in the history)."
)
@click.option(
    "--evidence",
    "run_id",
    type=TEXT,
    required=True,
    metavar="RUN",
    help="The verify run accepted (its id, from `tenantctl verify` or `verify show`).",
)
@click.option("--note", type=TEXT, help="What the client tested (kept in the history).")
@stacks_dir_option
@json_option
def accept_cmd(
    slug: str, by: str, run_id: str, note: str | None, stacks_dir: Path, as_json: bool
) -> None:
    """Record the client's acceptance of a passing verify run of preview (phase 4).

    Promote then requires that this run checked exactly the release and configuration
    it carries: a content push, a configuration edit or import, or a reset since
    breaks it (the gate says which), and the client verifies and accepts again. Named
    accept, not sign-off: sign-off is the contract's, at phase 1. Refuses a run that
    failed, is of production, or whose evidence no longer matches its recorded hash.

    \b
    Examples:
      tenantctl verify demo                  # prints: run 20261207T020000Z-1a2b3c; ...
      tenantctl rollout accept demo --by "Dana Cruz (client)" --evidence 20261207T020000Z-1a2b3c
    """
    from infra.ops.rollout.acceptance import accept_run

    _echo_change(accept_run(stacks_dir, slug, run_id, by, note), as_json)


@rollout.command("undo")
@click.argument("slug")
@click.argument("task", required=False)
@click.option("--phase", type=int, help="Reopen this phase (the last completed one).")
@click.option("--reason", type=TEXT, required=True, help="Why (kept in the history).")
@_by_option
@_contract_option
@stacks_dir_option
@json_option
def undo_cmd(
    slug: str,
    task: str | None,
    phase: int | None,
    reason: str,
    by: str | None,
    contract: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Take back a task's mark or reopen the last completed phase (both kept in the history).

    Billing milestones already earned stay earned.

    \b
    Examples:
      tenantctl rollout undo demo issues-resolved --reason "a new bug came in"
      tenantctl rollout undo demo --phase 4 --reason "found a blocker"
    """
    if (task is None) == (phase is None):
        raise click.UsageError("give either TASK or --phase N")
    from infra.ops.rollout import commands as ops

    _echo_change(ops.undo_step(stacks_dir, slug, by, reason, task, phase, contract), as_json)


_DAYS = re.compile(r"^(\d{1,3})(?:-(\d{1,3}))?\Z")


@rollout.command("replan")
@click.argument("slug")
@click.option("--phase", type=int, required=True, help="The phase to replan.")
@click.option("--days", required=True, metavar="MIN[-MAX]", help="New estimate in days.")
@click.option("--reason", type=TEXT, required=True, help="Why (kept with the replan).")
@_by_option
@_contract_option
@stacks_dir_option
@json_option
def replan_cmd(
    slug: str,
    phase: int,
    days: str,
    reason: str,
    by: str | None,
    contract: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Change one phase's estimate for this client (recorded; earlier plans are kept).

    \b
    Examples:
      tenantctl rollout replan demo --phase 3 --days 28-35 --reason "imports from two systems"
    """
    match = _DAYS.match(days)
    if not match:
        raise click.BadParameter("use MIN or MIN-MAX days, e.g. 21-28", param_hint="--days")
    low = int(match[1])
    high = int(match[2] or match[1])
    from infra.ops.rollout import commands as ops

    change = ops.replan_phase(stacks_dir, slug, phase, low, high, reason, by, contract)
    _echo_change(change, as_json)


@rollout.command("pause")
@click.argument("slug")
@click.option("--reason", type=TEXT, required=True, help="Why (kept with the pause).")
@_by_option
@_contract_option
@stacks_dir_option
@json_option
def pause_cmd(
    slug: str, reason: str, by: str | None, contract: str | None, stacks_dir: Path, as_json: bool
) -> None:
    """Pause a rollout: planned dates move out by the time it stays paused.

    \b
    Examples:
      tenantctl rollout pause demo --reason "client budget freeze"
    """
    from infra.ops.rollout import commands as ops

    _echo_change(ops.pause_rollout(stacks_dir, slug, reason, by, contract), as_json)


@rollout.command("resume")
@click.argument("slug")
@_by_option
@_contract_option
@stacks_dir_option
@json_option
def resume_cmd(
    slug: str, by: str | None, contract: str | None, stacks_dir: Path, as_json: bool
) -> None:
    """Resume a paused rollout.

    \b
    Examples:
      tenantctl rollout resume demo
    """
    from infra.ops.rollout import commands as ops

    _echo_change(ops.resume_rollout(stacks_dir, slug, by, contract), as_json)


@rollout.command("history")
@click.argument("slug")
@_contract_option
@json_option
def history_cmd(slug: str, contract: str | None, as_json: bool) -> None:
    """Who did what and when in a client's rollout (append-only).

    \b
    Examples:
      tenantctl rollout history demo
    """
    from infra.ops.rollout.views import read_history

    result = read_history(slug, contract)
    if as_json:
        echo_json(result.to_json())
        return
    for r in result.rows:
        when = r.at.isoformat()[:19]
        click.echo(f"{when}  {r.actor:<12} {r.action} {r.subject}".rstrip())


@rollout.command("report")
@click.option(
    "--html",
    "html_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the portfolio timeline here (one self-contained page).",
)
def report_cmd(html_file: Path) -> None:
    """One page for the whole portfolio: a timeline per client, planned against actual.

    Self-contained (no external loads): open it in a browser or attach it to an email.

    \b
    Examples:
      tenantctl rollout report --html rollouts.html
    """
    from infra.ops.rollout.report import write_portfolio_report

    report = write_portfolio_report(html_file)
    err(f"{report.rollouts} rollout(s)")
    click.echo(str(report.path))


@rollout.group("training")
def training() -> None:
    """Phase 4's training sessions: schedule, list (and export as .ics), record as held.

    Times are the client's (its preview's locale.timezone) unless given with an offset.
    The rollout's training task is done once at least one session was held.

    \b
    Examples:
      tenantctl rollout training add demo --when 2026-12-09T10:00 --duration 90 \\
          --topic "Permit desk: issuing and refunds" --attendee clerk@example.edu
      tenantctl rollout training list demo --ics demo-training.ics
      tenantctl rollout training done demo 1 --note "8 staff attended"
    """


@training.command("add")
@click.argument("slug")
@click.option(
    "--when",
    "when",
    required=True,
    metavar="ISO",
    help="Start, ISO 8601: 2026-12-09T10:00 (the client's time) or with an offset.",
)
@click.option("--duration", type=int, required=True, metavar="MIN", help="How long, in minutes.")
@click.option("--topic", type=TEXT, required=True, help="The module taught, one line.")
@click.option(
    "--attendee",
    "attendees",
    type=TEXT,
    multiple=True,
    metavar="EMAIL",
    help="Who is invited (repeat the option); they are the .ics attendees.",
)
@_by_option
@stacks_dir_option
@json_option
def training_add_cmd(
    slug: str,
    when: str,
    duration: int,
    topic: str,
    attendees: tuple[str, ...],
    by: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Schedule a training session for the client (kept in the rollout history).

    \b
    Examples:
      tenantctl rollout training add demo --when 2026-12-09T10:00 --duration 90 \\
          --topic "Enforcement: citations and appeals" --attendee officer@example.edu
      tenantctl rollout training add demo --when 2026-12-10T15:00+00:00 --duration 60 \\
          --topic "Reports" --json
    """
    from infra.ops.rollout.training import add_session

    _echo_change(add_session(stacks_dir, slug, when, duration, topic, attendees, by), as_json)


@training.command("list")
@click.argument("slug")
@click.option(
    "--ics",
    "ics_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the sessions here as one iCalendar (.ics) file.",
)
@json_option
def training_list_cmd(slug: str, ics_file: Path | None, as_json: bool) -> None:
    """The client's training sessions, in its time zone; optionally as an .ics calendar.

    \b
    Examples:
      tenantctl rollout training list demo
      tenantctl rollout training list demo --ics demo-training.ics --json
    """
    from infra.ops.rollout.training import list_sessions

    result = list_sessions(slug, ics_file)
    if as_json:
        echo_json(result.to_json())
        return
    if not result.sessions:
        click.echo(f"no training session scheduled for {slug}")
    for session in result.sessions:
        click.echo(session.line())
    if result.ics:
        err(f"calendar written to {result.ics}")


@training.command("done")
@click.argument("slug")
@click.argument("session_id", metavar="ID", type=int)
@click.option("--note", type=TEXT, help="How it went (kept in the history).")
@_by_option
@stacks_dir_option
@json_option
def training_done_cmd(
    slug: str, session_id: int, note: str | None, by: str | None, stacks_dir: Path, as_json: bool
) -> None:
    """Record that a training session was held (after its start; once).

    \b
    Examples:
      tenantctl rollout training done demo 1 --by pat --note "8 staff attended"
    """
    from infra.ops.rollout.training import mark_held

    _echo_change(mark_held(stacks_dir, slug, session_id, by, note), as_json)


COMMANDS = [rollout]
