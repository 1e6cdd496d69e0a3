"""The call timeline as a server-side SVG: anger over time on bands of the stage in force,
with prompt and trigger markers. No JavaScript and nothing from a CDN (reviewers may be
offline); text is escaped here because the template inserts the SVG as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from assist.events import stage_label
from assist.store.schema import Call, StageChangeRow

WIDTH, HEIGHT = 900, 280
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 26, 34
STAGE_COLOURS = {
    "calm": "#e8f1e8", "reflect": "#fff6d5", "empathize": "#ffe8c2", "solution": "#dcecff",
    "escalate": "#ffd1d1", "boundary": "#e9d3ff", "close": "#e6e6e6",
}
LEVEL_COLOUR, ANGER_COLOUR, PROMPT_COLOUR, TRIGGER_COLOUR = "#b3261e", "#333", "#1a5fb4", "#8a3ffc"
TICK_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
MAX_TICKS = 10


@dataclass(frozen=True)
class _Scale:
    seconds: float

    def x(self, t: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * min(max(t, 0.0), self.seconds) / self.seconds

    def y(self, value: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - min(max(value, 0.0), 1.0))


def timeline_svg(call: Call) -> str:
    scale = _Scale(max(call.duration or 0.0, *_times(call), 1.0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="Anger over the call with stage bands">',
        *_bands(call.stage_changes, scale),
        *_axes(scale),
        *_level_line(call, scale),
        *_anger_dots(call, scale),
        *_prompt_marks(call, scale),
        *_trigger_marks(call, scale),
        "</svg>",
    ]
    return "\n".join(parts)


def _times(call: Call) -> list[float]:
    return ([u.end for u in call.utterances] + [s.t for s in call.stage_changes]
            + [lv.t for lv in call.levels])


def stage_spans(changes: Sequence[StageChangeRow], end: float) -> list[tuple[str, float, float]]:
    """(stage, from, to) for each stretch of the call, starting calm."""
    spans: list[tuple[str, float, float]] = []
    stage, since = "calm", 0.0
    for change in changes:
        if change.t > since:
            spans.append((stage, since, change.t))
        stage, since = change.stage, max(change.t, since)
    spans.append((stage, since, max(end, since)))
    return spans


def _bands(changes: Sequence[StageChangeRow], scale: _Scale) -> list[str]:
    out = []
    for stage, start, end in stage_spans(changes, scale.seconds):
        x0, x1 = scale.x(start), scale.x(end)
        out.append(
            f'<rect class="band band-{escape(stage)}" x="{x0:.1f}" y="{TOP}" '
            f'width="{max(x1 - x0, 0.5):.1f}" height="{HEIGHT - TOP - BOTTOM}" '
            f'fill="{STAGE_COLOURS.get(stage, "#eee")}"><title>{escape(stage_label(stage))} '
            f'{clock(start)}–{clock(end)}</title></rect>')
        if x1 - x0 > 40:
            out.append(f'<text x="{x0 + 4:.1f}" y="{TOP + 12}" font-size="10" fill="#555">'
                       f'{escape(stage_label(stage))}</text>')
    return out


def _axes(scale: _Scale) -> list[str]:
    bottom = HEIGHT - BOTTOM
    out = [f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#888"/>',
           f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#888"/>']
    for value in (0.0, 0.5, 1.0):
        y = scale.y(value)
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
                   f'{value:.1f}</text>')
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                   f'stroke="#ccc" stroke-dasharray="3 3"/>')
    step = next((s for s in TICK_STEPS if scale.seconds / s <= MAX_TICKS), TICK_STEPS[-1])
    t = 0.0
    while t <= scale.seconds + 1e-6:
        x = scale.x(t)
        out.append(f'<text x="{x:.1f}" y="{bottom + 14}" font-size="10" text-anchor="middle">'
                   f'{clock(t)}</text>')
        t += step
    out.append(f'<text x="{LEFT}" y="{TOP - 10}" font-size="11">anger (line: smoothed level, '
               f'dots: each customer line; ▼ prompt, ◆ trigger)</text>')
    return out


def _level_line(call: Call, scale: _Scale) -> list[str]:
    if not call.levels:
        return []
    points = " ".join(f"{scale.x(lv.t):.1f},{scale.y(lv.level):.1f}" for lv in call.levels)
    return [f'<polyline class="level" points="{points}" fill="none" stroke="{LEVEL_COLOUR}" '
            f'stroke-width="2"/>']


def _anger_dots(call: Call, scale: _Scale) -> list[str]:
    return [
        f'<circle class="anger-dot" cx="{scale.x(u.end):.1f}" cy="{scale.y(u.anger):.1f}" r="3.5" '
        f'fill="{ANGER_COLOUR}"><title>{clock(u.start)} anger {u.anger:.2f}: '
        f'{escape(u.text)}</title></circle>'
        for u in call.utterances if u.anger is not None]


def _prompt_marks(call: Call, scale: _Scale) -> list[str]:
    y = TOP + 2
    return [
        f'<path class="prompt" d="M{scale.x(p.t) - 5:.1f},{y - 8} h10 l-5,8 z" '
        f'fill="{PROMPT_COLOUR}"><title>{clock(p.t)} prompt ({escape(stage_label(p.stage))}): '
        f'{escape(p.headline)}</title></path>'
        for p in call.prompts]


def _trigger_marks(call: Call, scale: _Scale) -> list[str]:
    y = HEIGHT - BOTTOM - 6
    return [
        f'<path class="trigger" d="M{scale.x(t.t):.1f},{y - 6} l6,6 l-6,6 l-6,-6 z" '
        f'fill="{TRIGGER_COLOUR}"><title>{clock(t.t)} {escape(t.name.replace("_", " "))}: '
        f'{escape(t.words)}</title></path>'
        for t in call.triggers]


def clock(seconds: float) -> str:
    """Time into the call as m:ss, as on the chart's axis and in the page's lists."""
    whole = round(max(seconds, 0.0))
    return f"{whole // 60}:{whole % 60:02d}"
