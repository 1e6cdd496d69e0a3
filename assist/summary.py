"""The closing picture of a call, built from its events.

The seeds end every difficult call the same way: confirm the resolution, follow up, reflect on
what went well. :class:`SummaryBuilder` folds a call's events (live, replayed, or rebuilt from
the store after a crash) into a :class:`CallSummarized`: time in each stage, peak and final
anger, whether anger fell after each prompt, triggers heard, the outcome, and the promises the
agent made. It is pure: no clock, no I/O.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from assist.escalation import RAISED
from assist.events import (
    CallSummarized,
    Event,
    FinalText,
    LevelUpdate,
    Outcome,
    PromptOutcome,
    PromptShown,
    Speaker,
    Stage,
    StageChanged,
    UtteranceScored,
)

PROMPT_EFFECT_WINDOW_S = 60.0
"""The yardstick: did the customer's anger fall in the minute after a prompt was shown?"""
ANGRY_AT_END = 0.5
"""A final smoothed level at or above this is an angry ending (the stage pack's empathize
rung sits near it, so such a customer still needed feelings acknowledged)."""
EVER_RAISED = RAISED | {Stage.CLOSE}
"""Stages that show the customer was upset at some point (close follows a raised stretch)."""

_PROMISE = re.compile(
    r"\b(?:i(?:'| wi)ll|we(?:'| wi)ll|i am going to|i'm going to|let me)\s+"
    r"(?P<what>(?:make sure to |personally |also |then )?"
    r"(?:e-?mail|send|call|ring|phone|text|refund|arrange|book|escalate|follow up|get back|"
    r"post|process|credit|check|update|confirm|ship|reship|raise|log|chase)\b[^.?!,;]*)",
    re.IGNORECASE)
"""An agent's commitment worth a reminder: 'I'll email you the tracking link'."""


@dataclass
class SummaryBuilder:
    """Accumulates one call's events; :meth:`build` gives the summary at any point."""

    call_id: str
    start_t: float = 0.0
    _stage: Stage = Stage.CALM
    _stage_since: float = 0.0
    _stage_seconds: dict[Stage, float] = field(default_factory=dict)
    _reached: set[Stage] = field(default_factory=set)
    _final_level: float = 0.0  # the newest smoothed level
    _angers: list[tuple[float, float]] = field(default_factory=list)  # (start, anger) per line
    _peak: float = 0.0
    _prompts: list[PromptShown] = field(default_factory=list)
    _triggers: list[str] = field(default_factory=list)
    _follow_ups: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stage_since = self.start_t

    def add(self, event: Event) -> None:
        if isinstance(event, StageChanged):
            self._enter(event.stage, event.t)
        elif isinstance(event, LevelUpdate):
            self._final_level = event.level
        elif isinstance(event, UtteranceScored):
            self._peak = max(self._peak, event.anger)
            bisect.insort(self._angers, (event.start, event.anger))
            self._triggers += [h.name for h in event.triggers if h.name not in self._triggers]
        elif isinstance(event, PromptShown) and event.stage is not Stage.CALM:
            self._prompts.append(event)
        elif isinstance(event, FinalText) and event.speaker is Speaker.AGENT:
            self._follow_ups += follow_ups_in(event.text)

    def build(self, end_t: float, *, abrupt: bool = False) -> CallSummarized:
        seconds = dict(self._stage_seconds)
        seconds[self._stage] = seconds.get(self._stage, 0.0) + max(0.0, end_t - self._stage_since)
        final = self._final_level
        return CallSummarized(
            t=end_t, call_id=self.call_id, duration_s=max(0.0, end_t - self.start_t),
            peak_anger=round(self._peak, 3), final_anger=round(final, 3),
            stage_seconds=tuple((s, round(v, 1)) for s, v in seconds.items() if v > 0),
            prompts=tuple(self._outcome_of(p) for p in self._prompts),
            triggers=tuple(self._triggers), outcome=self._outcome(final, abrupt),
            follow_ups=tuple(dict.fromkeys(self._follow_ups)))

    def _enter(self, stage: Stage, t: float) -> None:
        self._stage_seconds[self._stage] = (self._stage_seconds.get(self._stage, 0.0)
                                            + max(0.0, t - self._stage_since))
        self._stage, self._stage_since = stage, t
        self._reached.add(stage)

    def _outcome(self, final: float, abrupt: bool) -> Outcome:
        if abrupt:
            return Outcome.ENDED_ABRUPTLY
        if Stage.ESCALATE in self._reached:
            return Outcome.ESCALATED
        if final >= ANGRY_AT_END:
            return Outcome.ENDED_ANGRY
        if self._reached & EVER_RAISED:
            return Outcome.CALMED
        return Outcome.CALM

    def _outcome_of(self, prompt: PromptShown) -> PromptOutcome:
        before, after = anger_around(self._angers, prompt.t)
        fell = None if before is None or after is None else after < before
        return PromptOutcome(t=prompt.t, stage=prompt.stage, headline=prompt.headline,
                             anger_before=round(before or 0.0, 3),
                             anger_after=None if after is None else round(after, 3), fell=fell)


def anger_around(angers: Sequence[tuple[float, float]], t: float,
                 window_s: float = PROMPT_EFFECT_WINDOW_S) -> tuple[float | None, float | None]:
    """Did anger fall after a prompt at ``t``? From the customer's lines as (start, anger),
    sorted by start: the anger of the line under way or last heard at ``t`` (a prompt forced
    mid-sentence answers that sentence), and the mean anger of the lines that start in the
    ``window_s`` after it. None where there is no such line (the call ended: too soon to tell).
    The overlay's summary card and `assist tune --effect` both measure with this."""
    starts = [start for start, _ in angers]
    i = bisect.bisect_right(starts, t)
    j = bisect.bisect_right(starts, t + window_s)
    after = [anger for _, anger in angers[i:j]]
    return (angers[i - 1][1] if i else None,
            sum(after) / len(after) if after else None)


REMINDER_WORDS = 8
"""A reminder is a glance, not a transcript: the promise's first words are enough."""


def follow_ups_in(text: str) -> list[str]:
    """The agent's promises in one line, as short reminders ('email you the tracking link')."""
    return [shorten(m.group("what").strip()) for m in _PROMISE.finditer(text)]


def shorten(promise: str) -> str:
    words = promise.split()
    return promise if len(words) <= REMINDER_WORDS else " ".join(words[:REMINDER_WORDS]) + " …"


def summarize(call_id: str, events: list[Event], end_t: float, *, abrupt: bool = False,
              start_t: float = 0.0) -> CallSummarized:
    builder = SummaryBuilder(call_id, start_t)
    for event in events:
        builder.add(event)
    return builder.build(end_t, abrupt=abrupt)


def render_card(summary: CallSummarized) -> str:
    """The summary as a few short lines for the overlay's card and `assist history`."""
    minutes, seconds = divmod(int(summary.duration_s), 60)
    stages = ", ".join(f"{s.label} {v:.0f}s" for s, v in summary.stage_seconds)
    helped = [p for p in summary.prompts if p.fell]
    lines = [
        f"{summary.outcome.value.capitalize()} · {minutes}:{seconds:02d} · "
        f"peak anger {summary.peak_anger:.2f}, final {summary.final_anger:.2f}",
        f"Stages: {stages or 'calm'}",
        f"Prompts: {len(summary.prompts)} shown, anger fell after {len(helped)}",
    ]
    if summary.triggers:
        lines.append("Heard: " + ", ".join(t.replace("_", " ") for t in summary.triggers))
    if summary.follow_ups:
        lines.append("Follow up: " + "; ".join(summary.follow_ups))
    return "\n".join(lines)
