"""Turns an :class:`OverlayState` into the exact texts and colours on screen (pure).

Both the window and the terminal view draw an :class:`OverlayView`; the window compares the
new view with the last one field by field and touches only the widgets whose value changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from assist.events import AudioStatus, Stage
from assist.overlay.state import Evidence, OverlayState

# The ladder warms from green to red as anger rises; the side exits get their own hues
# (purple for a boundary, teal for winding down: not the buttons' blue, or the chip would look
# clickable). Each takes white text at 5:1 contrast or better (WCAG AA asks 4.5:1).
STAGE_COLOURS: dict[Stage, str] = {
    Stage.CALM: "#4a6b55",
    Stage.REFLECT: "#806400",
    Stage.EMPATHIZE: "#b04f00",
    Stage.SOLUTION: "#8c2f39",
    Stage.ESCALATE: "#c62828",
    Stage.BOUNDARY: "#6a3590",
    Stage.CLOSE: "#00695c",
}

AUDIO_TEXT: dict[AudioStatus | None, tuple[str, str]] = {
    None: ("waiting for audio", "#8a8a8a"),
    AudioStatus.LISTENING: ("listening", "#3fa35b"),
    AudioStatus.RESUMED: ("listening (reconnected)", "#3fa35b"),
    AudioStatus.SILENCE: ("silence", "#8a8a8a"),
    AudioStatus.NO_AUDIO: ("no audio", "#d64545"),
    AudioStatus.DEVICE_LOST: ("device lost, reconnecting", "#d64545"),
    AudioStatus.ENDED: ("audio ended", "#8a8a8a"),
}

QUIET_DETAIL = frozenset({AudioStatus.LISTENING, AudioStatus.RESUMED})
"""While all is well the header says only "listening": a device name there would push the
anger reading out of a small window. A problem keeps its detail (what was lost)."""

TREND_STEADY = 0.05
"""A trend smaller than this either way reads as steady (an arrow that twitches is noise)."""


@dataclass(frozen=True)
class OverlayView:
    stage: str
    stage_colour: str
    headline: str
    line: str
    tips: str
    level: float
    meter: str
    sparkline: tuple[tuple[float, float], ...]
    meter_shown: bool
    caption: str
    timer: str
    audio: str
    audio_colour: str
    cue: str
    notice: str
    why: str | None
    summary: str | None
    status: str
    call_button: str
    flag_button: str


def present(state: OverlayState) -> OverlayView:
    headline, line, tips = _prompt_texts(state)
    # Once the call has ended its card takes the prompt's place: the last prompt is stale.
    card = state.summary is not None
    if card:
        headline, line, tips = "Call ended", "", ""
    audio, audio_colour = AUDIO_TEXT[state.audio]
    if state.audio_detail and state.audio not in QUIET_DETAIL:
        audio = f"{audio}: {state.audio_detail}"
    return OverlayView(
        stage=state.stage.label.capitalize(),
        stage_colour=STAGE_COLOURS[state.stage],
        headline=headline,
        line=line,
        # The open why panel gives the level, the reason and what was heard, so it takes the
        # rows of the meter, the caption and the tips.
        tips="" if state.show_why else tips,
        level=round(state.level, 2),
        meter=f"anger {state.level:.0%} {trend_arrow(state.trend)}",
        sparkline=state.history,
        meter_shown=not state.show_why and not card,
        caption=f"“{state.caption}”" if state.caption and not state.show_why and not card else "",
        timer=call_timer(state),
        audio=audio,
        audio_colour=audio_colour,
        cue=state.cue.message if state.cue else "",
        notice=state.notice.message if state.notice else "",
        why=why_text(state.evidence) if state.show_why else None,
        summary=state.summary,
        status=_status(state),
        call_button="End call" if state.in_call else "Start call",
        flag_button="Flagged ✓" if state.flagged else "Flag",  # visibly on, not a blink
    )


def _prompt_texts(state: OverlayState) -> tuple[str, str, str]:
    if state.snoozed and state.snoozed_until is not None:
        left = max(0, round(state.snoozed_until - state.now))
        return "Prompts snoozed", f"back in {left} s", ""
    prompt = state.prompt
    if prompt is None or prompt.stage is not state.stage:
        if state.stage is Stage.CALM:
            return "Listening", "", ""
        return state.stage.label.capitalize(), "", ""
    return prompt.headline, prompt.line, _first_tips(prompt.do, prompt.dont)


def _first_tips(do: tuple[str, ...], dont: tuple[str, ...]) -> str:
    """The first "do" and the first "don't", a line each: a stage's whole list does not fit
    a 220-pixel window, and a glance takes in two short lines, not a paragraph."""
    tips = ([f"do: {do[0]}"] if do else []) + ([f"don't: {dont[0]}"] if dont else [])
    return "\n".join(tips)


def trend_arrow(trend: float) -> str:
    if trend > TREND_STEADY:
        return "↑"
    if trend < -TREND_STEADY:
        return "↓"
    return "→"


def call_timer(state: OverlayState) -> str:
    if state.call_started_wall is None:
        return "no call"
    end = state.call_ended_wall if state.call_ended_wall is not None else state.now
    seconds = max(0, int(end - state.call_started_wall))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    clock = f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"
    return clock if state.call_ended_wall is None else f"ended {clock}"


def why_text(evidence: Evidence) -> str:
    """At most three lines, so the panel fits the small window without hiding the prompt."""
    lines = [f"why: {evidence.reason or 'no stage change yet'}"]
    if evidence.utterance:
        anger = f" (anger {evidence.anger:.0%})" if evidence.anger is not None else ""
        lines.append(f"heard: “{evidence.utterance}”{anger}")
    details = []
    if evidence.words:
        details.append("words: " + ", ".join(evidence.words))
    if evidence.voice_cue:
        cue = evidence.voice_cue
        details.append(cue if cue.startswith("voice") else f"voice: {cue}")
    if evidence.triggers:
        details.append("triggers: " + ", ".join(t.replace("_", " ") for t in evidence.triggers))
    if details:
        lines.append(" · ".join(details))
    return "\n".join(lines)


def _status(state: OverlayState) -> str:
    marks = []
    if state.flagged:
        marks.append("flagged for review")
    if state.feedback:
        marks.append("marked " + state.feedback.replace("_", " "))
    return " · ".join(marks)
