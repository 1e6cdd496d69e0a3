"""The trainer's report: per call, what the agent saw with the current pack and with a change.

One HTML page with a row per call and two columns (current pack | with overrides). Each column
has a chart (anger per utterance, the smoothed level, the enter thresholds, stage bands,
prompts and triggers, and the labelled stages when the call has labels) and the list of
prompts with the reason each one fired. Charts are PNG files beside the page, drawn with
matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: charts are files, never windows
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from assist.escalation import EscalationSettings
from assist.events import Stage, StageChanged
from assist.tune.labels import Label
from assist.tune.metrics import Scorecard, StageTimeline
from assist.tune.replay import Outcome

log = logging.getLogger(__name__)

CHART_SIZE_IN = (7.0, 3.2)
CHART_DPI = 100
"""So every chart is 700 x 320 pixels: two fit side by side on a laptop screen."""

STAGE_COLOURS = {
    Stage.CALM: "#ffffff", Stage.REFLECT: "#fff3bf", Stage.EMPATHIZE: "#ffd8a8",
    Stage.SOLUTION: "#a5d8ff", Stage.ESCALATE: "#ffa8a8", Stage.BOUNDARY: "#d0bfff",
    Stage.CLOSE: "#b2f2bb",
}


@dataclass(frozen=True)
class Column:
    """One side of the comparison: a pack's outcome on a call."""

    title: str
    outcome: Outcome
    settings: EscalationSettings
    card: Scorecard | None = None


@dataclass(frozen=True)
class CallReport:
    name: str
    labels: tuple[Label, ...] | None
    columns: tuple[Column, ...]


def thresholds(settings: EscalationSettings) -> list[tuple[str, float]]:
    """The levels a chart should draw: each rung's enter threshold and the escalate level."""
    enter = settings.enter
    return [("reflect", enter.reflect), ("empathize", enter.empathize),
            ("solution", enter.solution), ("escalate", settings.escalate_level)]


def draw_chart(column: Column, labels: Sequence[Label] | None, path: Path) -> Path:
    """Write the chart of one column to ``path`` (PNG, CHART_SIZE_IN at CHART_DPI)."""
    fig, ax = plt.subplots(figsize=CHART_SIZE_IN, dpi=CHART_DPI)
    try:
        end = max(column.outcome.duration, 1.0)
        _stage_bands(ax, column.outcome.changes, end)
        _thresholds(ax, column.settings)
        _level_and_anger(ax, column.outcome)
        _prompts_and_triggers(ax, column.outcome)
        ax.set_xlim(0, end)
        if labels:
            _labels(ax, labels)
        ax.set_ylim(0, 1.12)
        ax.set_xlabel("seconds into the call")
        ax.set_ylabel("anger")
        ax.set_title(column.title, fontsize=9)
        # Below the axes, so it never hides the stage names along the top.
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7, ncol=5,
                  frameon=False)
        fig.tight_layout()
        fig.savefig(path, dpi=CHART_DPI)
    finally:
        plt.close(fig)
    return path


def _stage_bands(ax: Axes, changes: Sequence[StageChanged], end: float) -> None:
    starts = [0.0, *(c.t for c in changes)]
    stages = [Stage.CALM, *(c.stage for c in changes)]
    for i, (start, stage) in enumerate(zip(starts, stages, strict=True)):
        stop = starts[i + 1] if i + 1 < len(starts) else end
        if stage is not Stage.CALM and stop > start:
            ax.axvspan(start, stop, color=STAGE_COLOURS[stage], alpha=0.7, lw=0)
            ax.text((start + stop) / 2, 1.08, stage.value, ha="center", va="center", fontsize=7)


def _thresholds(ax: Axes, settings: EscalationSettings) -> None:
    for name, value in thresholds(settings):
        ax.axhline(value, color="#868e96", lw=0.8, ls="--")
        ax.text(0.3, value + 0.01, f"{name} {value:.2f}", fontsize=6, color="#495057")


def _level_and_anger(ax: Axes, outcome: Outcome) -> None:
    levels = outcome.levels
    if levels:
        ax.step([u.t for u in levels], [u.level for u in levels], where="post",
                color="#1c7ed6", lw=1.5, label="level")
    scored = outcome.scored
    if scored:
        ax.scatter([s.end for s in scored], [s.anger for s in scored], s=14, color="#e03131",
                   zorder=3, label="utterance anger")


def _prompts_and_triggers(ax: Axes, outcome: Outcome) -> None:
    for i, prompt in enumerate(outcome.prompts):
        ax.axvline(prompt.t, color="#343a40", lw=0.8,
                   label="prompt shown" if i == 0 else None)
    hits = [(s.end, s.anger, h.name) for s in outcome.scored for h in s.triggers]
    for i, (t, anger, name) in enumerate(hits):
        ax.scatter([t], [anger], marker="x", s=50, color="#862e9c", zorder=4,
                   label="trigger" if i == 0 else None)
        ax.annotate(name, (t, anger), textcoords="offset points", xytext=(3, 4), fontsize=6)


def _labels(ax: Axes, labels: Sequence[Label]) -> None:
    """A strip along the bottom: the labelled stage from each label moment to the next."""
    edges = [label.t for label in labels] + [ax.get_xlim()[1]]
    for i, label in enumerate(labels):
        ax.broken_barh([(edges[i], max(edges[i + 1] - edges[i], 0.0))], (0.0, 0.05),
                       facecolors=STAGE_COLOURS[label.stage], edgecolors="#495057",
                       linewidth=0.5, label="labelled stage" if i == 0 else None)


# --- HTML ------------------------------------------------------------------------------------


def write_report(calls: Sequence[CallReport], out_dir: Path, *, title: str,
                 summary: Sequence[str] = ()) -> Path:
    """Write ``index.html`` and its charts into ``out_dir``; returns the page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = [_call_section(call, out_dir) for call in calls]
    page = _PAGE.format(title=html.escape(title),
                        summary="".join(f"<li>{html.escape(s)}</li>" for s in summary),
                        sections="\n".join(sections))
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    log.info("tune report written to %s", path)
    return path


def chart_name(call: str, column: int) -> str:
    return f"{_slug(call)}-{column + 1}.png"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "call"


def _call_section(call: CallReport, out_dir: Path) -> str:
    cells = []
    for i, column in enumerate(call.columns):
        chart = draw_chart(column, call.labels, out_dir / chart_name(call.name, i))
        cells.append(_column_cell(column, chart.name, call.labels))
    return (f"<section><h2>{html.escape(call.name)}</h2><div class='columns'>"
            + "".join(cells) + "</div></section>")


def _column_cell(column: Column, chart: str, labels: Sequence[Label] | None) -> str:
    card = f"<p class='card'>{html.escape(describe_card(column.card))}</p>" if column.card else ""
    return (f"<div class='column'><h3>{html.escape(column.title)}</h3>{card}"
            f"<img src='{html.escape(chart)}' width='700' height='320' "
            f"alt='anger, level and stages of {html.escape(column.outcome.name)}'>"
            f"{_prompt_table(column.outcome, labels)}</div>")


def _prompt_table(outcome: Outcome, labels: Sequence[Label] | None) -> str:
    reasons = {round(c.t, 3): c.reason for c in outcome.changes}
    wanted = _label_timeline(labels)
    rows = []
    for prompt in outcome.prompts:
        label = wanted.at(prompt.t).value if wanted else ""
        rows.append(f"<tr><td>{prompt.t:.1f}</td><td>{prompt.stage.value}</td>"
                    f"<td>{html.escape(prompt.headline)}</td>"
                    f"<td>{html.escape(reasons.get(round(prompt.t, 3), ''))}</td>"
                    f"<td>{html.escape(label)}</td></tr>")
    if not rows:
        return "<p>No prompt shown.</p>"
    return ("<table><tr><th>s</th><th>stage</th><th>prompt</th><th>why it fired</th>"
            "<th>labelled</th></tr>" + "".join(rows) + "</table>")


def _label_timeline(labels: Sequence[Label] | None) -> StageTimeline | None:
    """Labels as a step function, for the 'labelled' column (the stage wanted by then)."""
    if not labels:
        return None
    return StageTimeline([StageChanged(t=label.t, stage=label.stage, previous=Stage.CALM,
                                       reason="", level=0.0, trend=0.0) for label in labels])


def describe_card(card: Scorecard | None) -> str:
    if card is None:
        return ""
    early = card.mean_early_s
    return (f"agreement {card.agreement:.0%} of {card.labels} labels; missed escalations "
            f"{card.missed}/{card.escalations}; unwanted prompts {card.unwanted_per_hour:.0f}/h"
            + (f"; escalation {early:+.1f} s early" if early is not None else ""))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
.columns {{ display: flex; gap: 1em; flex-wrap: wrap; }}
.column {{ flex: 1 1 700px; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
td, th {{ border: 1px solid #ced4da; padding: 2px 6px; text-align: left; }}
.card {{ font-size: 0.9em; color: #495057; }}
</style></head>
<body><h1>{title}</h1><ul>{summary}</ul>
{sections}
</body></html>
"""
