"""``tenantctl rollout``: each client's five-phase rollout, its tasks, gates and milestones."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import click

from infra.cli.common import echo_json, err, json_option, stacks_dir_option

_by_option = click.option(
    "--by", help="Who does this (kept in the history); default: the current user."
)
_contract_option = click.option(
    "--contract", help="Contract reference (default: the client's latest rollout)."
)


def _echo_change(change: Any, as_json: bool, billing: str | None = None) -> None:
    if as_json:
        document = change.to_json()
        if billing:
            document["billing"] = billing
        echo_json(document)
        return
    click.echo(change.message)
    for milestone in change.milestones:
        click.echo(f"  milestone recorded: {milestone}")
    if billing:
        err(f"  billing: {billing}")


def _publish(conn: Any) -> str:
    """After a step that may earn a milestone: publish whatever is pending (this step's,
    or an earlier run's that crashed before publishing)."""
    from infra.ops import billing

    return billing.publish_quietly(conn, err)


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
      tenantctl rollout report --html rollouts.html
    """


@rollout.command("start")
@click.argument("slug")
@click.option("--contract", required=True, help="Contract reference, e.g. C-2026-001.")
@click.option(
    "--signed-off",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Sign-off date, YYYY-MM-DD (default: today).",
)
@_by_option
@json_option
def start_cmd(slug: str, contract: str, signed_off: Any, by: str | None, as_json: bool) -> None:
    """Start a client's rollout at contract sign-off (bills the sign-off milestone once).

    Running it again for the same client and contract changes nothing.

    \b
    Examples:
      tenantctl rollout start demo --contract C-2026-001
      tenantctl rollout start acme --contract C-2026-014 --signed-off 2026-10-01 --json
    """
    from infra.ops import control
    from infra.ops import rollout as ops
    from infra.ops.locking import client_lock

    day: date = signed_off.date() if signed_off else ops.today()
    with client_lock(slug, "rollout start"), control.connect() as conn:
        change = ops.start(conn, slug, contract, day, ops.actor(by))
        _echo_change(change, as_json, _publish(conn))


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
    from infra.core.rollout import status_line
    from infra.ops import control
    from infra.ops import rollout as ops

    schedule = ops.load_schedule()
    with control.connect() as conn:
        if slug is None:
            summaries = ops.status_all(conn, schedule)
            if check:
                from infra.ops.observe import observer

                observe = observer(stacks_dir)
                summaries = ops.attention_order(
                    ops.status_one(conn, schedule, s.client, observe) for s in summaries
                )
            if as_json:
                # Compact: a portfolio of 1,000 rollouts is for machines.
                click.echo(
                    json.dumps(
                        {
                            "today": ops.today().isoformat(),
                            "rollouts": [s.to_json(detail=False) for s in summaries],
                        },
                        separators=(",", ":"),
                    )
                )
                return
            if not summaries:
                click.echo("no rollouts yet; `tenantctl rollout start SLUG --contract REF`")
            for s in summaries:
                click.echo(status_line(s))
            return
        from infra.ops.observe import observer

        one = ops.status_one(
            conn, schedule, slug, observer(stacks_dir) if check is not False else None
        )
    if as_json:
        echo_json({"today": ops.today().isoformat(), "rollouts": [one.to_json()]})
        return
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
@click.option("--note", help="What was done (kept in the history).")
@click.option("--override-gate", is_flag=True, help="With --phase: complete despite open tasks.")
@click.option("--reason", help="Why the gate is overridden (required with --override-gate).")
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
    from infra.ops import control
    from infra.ops import rollout as ops
    from infra.ops.locking import client_lock
    from infra.ops.observe import observer

    schedule = ops.load_schedule()
    observe = observer(stacks_dir)
    with client_lock(slug, "rollout done"), control.connect() as conn:
        if task is not None:
            change = ops.mark_done(
                conn, schedule, slug, task, ops.actor(by), note, observe, contract
            )
        else:
            assert phase is not None
            change = ops.complete_phase(
                conn,
                schedule,
                slug,
                phase,
                ops.actor(by),
                observe,
                reason if override_gate else None,
                contract,
            )
        _echo_change(change, as_json, _publish(conn))


@rollout.command("undo")
@click.argument("slug")
@click.argument("task", required=False)
@click.option("--phase", type=int, help="Reopen this phase (the last completed one).")
@click.option("--reason", required=True, help="Why (kept in the history).")
@_by_option
@_contract_option
@json_option
def undo_cmd(
    slug: str,
    task: str | None,
    phase: int | None,
    reason: str,
    by: str | None,
    contract: str | None,
    as_json: bool,
) -> None:
    """Take back a task's mark or reopen the last completed phase (both kept in the history).

    Billing milestones already earned stay earned.

    \b
    Examples:
      tenantctl rollout undo demo training --reason "session cancelled"
      tenantctl rollout undo demo --phase 4 --reason "found a blocker"
    """
    if (task is None) == (phase is None):
        raise click.UsageError("give either TASK or --phase N")
    from infra.ops import control
    from infra.ops import rollout as ops
    from infra.ops.locking import client_lock

    schedule = ops.load_schedule()
    with client_lock(slug, "rollout undo"), control.connect() as conn:
        change = ops.undo(conn, schedule, slug, ops.actor(by), reason, task, phase, contract)
    _echo_change(change, as_json)


_DAYS = re.compile(r"^(\d{1,3})(?:-(\d{1,3}))?$")


@rollout.command("replan")
@click.argument("slug")
@click.option("--phase", type=int, required=True, help="The phase to replan.")
@click.option("--days", required=True, metavar="MIN[-MAX]", help="New estimate in days.")
@click.option("--reason", required=True, help="Why (kept with the replan).")
@_by_option
@_contract_option
@json_option
def replan_cmd(
    slug: str,
    phase: int,
    days: str,
    reason: str,
    by: str | None,
    contract: str | None,
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
    from infra.ops import control
    from infra.ops import rollout as ops
    from infra.ops.locking import client_lock

    schedule = ops.load_schedule()
    with client_lock(slug, "rollout replan"), control.connect() as conn:
        change = ops.replan(conn, schedule, slug, phase, low, high, reason, ops.actor(by), contract)
    _echo_change(change, as_json)


@rollout.command("pause")
@click.argument("slug")
@click.option("--reason", required=True, help="Why (kept with the pause).")
@_by_option
@_contract_option
@json_option
def pause_cmd(slug: str, reason: str, by: str | None, contract: str | None, as_json: bool) -> None:
    """Pause a rollout: planned dates move out by the time it stays paused.

    \b
    Examples:
      tenantctl rollout pause demo --reason "client budget freeze"
    """
    from infra.ops import control
    from infra.ops import rollout as ops
    from infra.ops.locking import client_lock

    with client_lock(slug, "rollout pause"), control.connect() as conn:
        change = ops.pause(conn, slug, reason, ops.actor(by), contract)
    _echo_change(change, as_json)


@rollout.command("resume")
@click.argument("slug")
@_by_option
@_contract_option
@json_option
def resume_cmd(slug: str, by: str | None, contract: str | None, as_json: bool) -> None:
    """Resume a paused rollout.

    \b
    Examples:
      tenantctl rollout resume demo
    """
    from infra.ops import control
    from infra.ops import rollout as ops
    from infra.ops.locking import client_lock

    with client_lock(slug, "rollout resume"), control.connect() as conn:
        change = ops.resume(conn, slug, ops.actor(by), contract)
    _echo_change(change, as_json)


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
    from infra.ops import control
    from infra.ops import rollout as ops

    with control.connect() as conn:
        rows = ops.history(conn, slug, contract)
    if as_json:
        echo_json({"client": slug, "history": rows})
        return
    for r in rows:
        click.echo(f"{r['at'][:19]}  {r['actor']:<12} {r['action']} {r['subject']}".rstrip())


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
    from infra.ops import control
    from infra.ops import rollout as ops
    from infra.ops.report import write_report

    schedule = ops.load_schedule()
    with control.connect() as conn:
        summaries = ops.status_all(conn, schedule)
    write_report(html_file, summaries, ops.today())
    err(f"{len(summaries)} rollout(s)")
    click.echo(str(html_file))


COMMANDS = [rollout]
