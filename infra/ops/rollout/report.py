"""The portfolio report: one self-contained HTML page, a timeline per client.

Rendered from ``templates/rollout/report.html.j2`` (inline CSS, no scripts, no
external loads) so it can be opened anywhere or attached to an email.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from infra import PROJECT_DIR
from infra.core.rollout_summary import RolloutSummary, status_line
from infra.ops.adapters import control
from infra.ops.rollout.reads import status_all
from infra.ops.rollout.store import load_schedule, today
from infra.ops.rollout.training import training_notes

TEMPLATE_DIR = PROJECT_DIR / "templates" / "rollout"
TEMPLATE = "report.html.j2"


def _span(summaries: Sequence[RolloutSummary], today: date) -> tuple[date, date]:
    starts = [s.signed_off for s in summaries] or [today]
    ends = [p.planned_end for s in summaries for p in s.phases] + [today]
    ends += [p.actual_end for s in summaries for p in s.phases if p.actual_end]
    first, last = min([*starts, today]), max(ends) + timedelta(days=3)
    return first, max(last, first + timedelta(days=14))


def report_context(
    summaries: Sequence[RolloutSummary],
    today: date,
    gate_notes: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The page's data; *gate_notes*: per client, the recorded gate overrides (who, when,
    why) and the client's latest acceptance of a verify run (``gate_notes``)."""
    first, last = _span(summaries, today)
    total = (last - first).days

    def pos(day: date) -> float:
        return round(100 * (day - first).days / total, 3)

    def width(a: date, b: date) -> float:
        return max(0.4, round(100 * (b - a).days / total, 3))

    rows = []
    for s in summaries:
        bars = []
        for p in s.phases:
            bar: dict[str, Any] = {
                "number": p.number,
                "title": p.title,
                "planned_left": pos(p.planned_start),
                "planned_width": width(p.planned_start, p.planned_end),
                "planned": f"{p.planned_start}..{p.planned_end}",
                "actual_width": None,
                "late": p.late or bool(p.actual_end and p.actual_end > p.planned_end),
                "late_days": p.late_days
                or (max(0, (p.actual_end - p.planned_end).days) if p.actual_end else 0),
            }
            if p.actual_start is not None:
                end = p.actual_end or today
                bar.update(
                    actual_left=pos(p.actual_start),
                    actual_width=width(p.actual_start, end),
                    actual=f"{p.actual_start}..{p.actual_end or 'now'}",
                    kind="actual" if p.complete else "current",
                )
            bars.append(bar)
        rows.append(
            {
                "client": s.client,
                "contract": s.contract,
                "signed_off": s.signed_off.isoformat(),
                "where": status_line(s).split(";")[0].lstrip("! ").removeprefix(s.client).strip(),
                "attention": list(s.attention),
                "gate_notes": [
                    f"phase {p.number} completed with its gate overridden: {p.override_reason}"
                    for p in s.phases
                    if p.override_reason
                ]
                + list((gate_notes or {}).get(s.client, ())),
                "late": s.late,
                "bars": bars,
                "billed": ", ".join(s.billed),
                "pending": ", ".join(s.pending),
            }
        )
    ticks = []
    step = max(7, (total // 10) // 7 * 7)
    day = first
    while day <= last:
        ticks.append({"left": pos(day), "label": day.strftime("%b %d")})
        day += timedelta(days=step)
    return {"today": today.isoformat(), "today_left": pos(today), "rows": rows, "ticks": ticks}


def gate_notes(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Per client: each promote gate override (who, when, why) and the latest acceptance
    of a verify run, from the history (one query)."""
    notes: dict[str, list[str]] = {}
    accepted: dict[str, str] = {}
    for client, actor, at, action, subject, detail in conn.execute(
        "SELECT r.client, h.actor, h.at, h.action, h.subject, h.detail FROM history h "
        "JOIN rollouts r ON r.id = h.rollout_id WHERE h.action IN ('override-gate', 'accept') "
        "ORDER BY h.id"
    ):
        if action == "override-gate":
            notes.setdefault(client, []).append(
                f"promote gate overridden by {actor} {at:%Y-%m-%d}: {detail.get('reason')}"
            )
        else:
            accepted[client] = (
                f"verify run {subject} (release {detail.get('release')}) accepted by "
                f"{detail.get('by') or actor} {at:%Y-%m-%d}"
            )
    for client, line in accepted.items():
        notes.setdefault(client, []).append(line)
    return notes


def render_report(
    summaries: Sequence[RolloutSummary],
    today: date,
    notes: Mapping[str, Sequence[str]] | None = None,
) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
    )
    return env.get_template(TEMPLATE).render(**report_context(summaries, today, notes))


def write_report(
    path: Path,
    summaries: Sequence[RolloutSummary],
    today: date,
    notes: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Write the page atomically (a reader never sees half of it)."""
    text = render_report(summaries, today, notes)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


@dataclass(frozen=True)
class Report:
    """``rollout report``: where the portfolio page was written, for how many rollouts."""

    path: Path
    rollouts: int


def write_portfolio_report(html_file: Path) -> Report:
    """Write the portfolio timeline (one self-contained HTML page) to *html_file*."""
    schedule = load_schedule()
    with control.connect() as conn:
        summaries = status_all(conn, schedule)
        notes = gate_notes(conn)
        for client, lines in training_notes(conn).items():
            notes.setdefault(client, []).extend(lines)
    write_report(html_file, summaries, today(), notes)
    return Report(html_file, len(summaries))
