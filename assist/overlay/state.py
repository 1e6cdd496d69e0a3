"""What the overlay shows, as one frozen value folded from the pipeline's events.

``reduce(state, event)`` and ``tick(state, now)`` are pure: no clock, no widgets, no threads.
The Tk window and the terminal view both fold their event queue through them and then draw
the result, so a burst of events costs one cheap fold per event and one draw per tick.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from assist.events import (
    MODEL_ERROR,
    AgentAction,
    AudioState,
    AudioStatus,
    CallEnded,
    CallStarted,
    CallSummarized,
    Cue,
    Event,
    FinalText,
    LevelUpdate,
    PromptShown,
    Speaker,
    Stage,
    StageChanged,
    UtteranceScored,
    event_to_dict,
)
from assist.summary import render_card

log = logging.getLogger(__name__)

CUE_SECONDS = 6.0
"""How long a talk-over or silence cue stays up: long enough to read one short sentence."""

NOTICE_SECONDS = 8.0
"""How long a prompt-pack reload message stays up."""
STICKY_SECONDS = 24 * 3600.0
"""A notice about a fault that lasts the session (no speech model) stays up that long."""

HISTORY_SECONDS = 300.0
"""The sparkline covers the last five minutes of the call."""

HISTORY_POINTS = 400
"""Upper bound on sparkline points, so a flood of level updates cannot grow the state."""

NOTICE_KINDS = frozenset({"pack_reloaded", "pack_error", MODEL_ERROR})
"""Cue kinds about assist itself (a pack reloaded, a model that did not load), shown in the
notice line rather than as coaching."""


@dataclass(frozen=True)
class Flash:
    """A message shown until the wall-clock time ``until``."""

    kind: str
    message: str
    until: float


@dataclass(frozen=True)
class Evidence:
    """Why the overlay shows the stage it shows (the "why?" panel)."""

    reason: str = ""
    utterance: str = ""
    words: tuple[str, ...] = ()
    voice_cue: str = ""
    triggers: tuple[str, ...] = ()
    anger: float | None = None


@dataclass(frozen=True)
class OverlayState:
    """Everything the overlay shows. Times named ``*_wall`` or ``until`` are ``time.time()``."""

    now: float = 0.0
    call_id: str | None = None
    call_started_wall: float | None = None
    call_ended_wall: float | None = None
    stage: Stage = Stage.CALM
    prompt: PromptShown | None = None
    level: float = 0.0
    trend: float = 0.0
    history: tuple[tuple[float, float], ...] = ()
    caption: str = ""
    audio: AudioStatus | None = None
    audio_detail: str = ""
    evidence: Evidence = field(default_factory=Evidence)
    show_why: bool = False
    snoozed_until: float | None = None
    cue: Flash | None = None
    notice: Flash | None = None
    flagged: bool = False
    feedback: str = ""
    summary: str | None = None

    @property
    def snoozed(self) -> bool:
        return self.snoozed_until is not None and self.now < self.snoozed_until

    @property
    def in_call(self) -> bool:
        return self.call_id is not None and self.call_ended_wall is None


# --- events --------------------------------------------------------------------------------

E = TypeVar("E", bound=Event)
_Handler = Callable[[OverlayState, Any], OverlayState]
_HANDLERS: dict[type[Event], _Handler] = {}


def _handles(kind: type[E]) -> Callable[[Callable[[OverlayState, E], OverlayState]], _Handler]:
    def register(handler: Callable[[OverlayState, E], OverlayState]) -> _Handler:
        _HANDLERS[kind] = handler
        return handler

    return register


def reduce(state: OverlayState, event: Event) -> OverlayState:
    """The state after ``event``; events the overlay does not show leave it unchanged."""
    handler = _HANDLERS.get(type(event))
    return handler(state, event) if handler else state


@_handles(CallStarted)
def _call_started(state: OverlayState, event: CallStarted) -> OverlayState:
    # A new call starts from a clean slate, but the capture's health carries over.
    return OverlayState(now=state.now, call_id=event.call_id, call_started_wall=event.wall,
                        audio=state.audio, audio_detail=state.audio_detail)


@_handles(CallEnded)
def _call_ended(state: OverlayState, event: CallEnded) -> OverlayState:
    return dataclasses.replace(state, call_ended_wall=event.wall, snoozed_until=None)


BREAKS_SNOOZE = frozenset({Stage.ESCALATE, Stage.BOUNDARY})
"""Stages the agent must see at once, snoozed or not: a manager asked for, abuse."""


@_handles(StageChanged)
def _stage_changed(state: OverlayState, event: StageChanged) -> OverlayState:
    evidence = dataclasses.replace(state.evidence, reason=event.reason)
    snoozed_until = None if event.stage in BREAKS_SNOOZE else state.snoozed_until
    return dataclasses.replace(state, stage=event.stage, level=event.level, trend=event.trend,
                               evidence=evidence, snoozed_until=snoozed_until)


@_handles(PromptShown)
def _prompt_shown(state: OverlayState, event: PromptShown) -> OverlayState:
    return dataclasses.replace(state, prompt=event, stage=event.stage, feedback="")


@_handles(LevelUpdate)
def _level_update(state: OverlayState, event: LevelUpdate) -> OverlayState:
    history = _trim_history((*state.history, (event.t, event.level)))
    return dataclasses.replace(state, level=event.level, trend=event.trend, stage=event.stage,
                               history=history)


def _trim_history(points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    latest = points[-1][0]
    start = max(0, len(points) - HISTORY_POINTS)
    while start < len(points) and points[start][0] < latest - HISTORY_SECONDS:
        start += 1
    return points[start:]


@_handles(FinalText)
def _final_text(state: OverlayState, event: FinalText) -> OverlayState:
    text = event.text.strip()
    if event.speaker is not Speaker.CUSTOMER or not text:
        return state
    return dataclasses.replace(state, caption=text)


@_handles(UtteranceScored)
def _scored(state: OverlayState, event: UtteranceScored) -> OverlayState:
    evidence = Evidence(
        reason=state.evidence.reason,
        utterance=event.text.strip(),
        words=event.evidence,
        voice_cue=event.voice_cue,
        triggers=tuple(f"{hit.name} ({hit.words})" for hit in event.triggers),
        anger=event.anger,
    )
    return dataclasses.replace(state, evidence=evidence)


@_handles(AudioState)
def _audio_state(state: OverlayState, event: AudioState) -> OverlayState:
    if event.speaker is Speaker.AGENT and event.status is not AudioStatus.DEVICE_LOST:
        return state  # the customer's line is what the indicator is about
    return dataclasses.replace(state, audio=event.status, audio_detail=event.detail)


@_handles(Cue)
def _cue(state: OverlayState, event: Cue) -> OverlayState:
    if event.kind in NOTICE_KINDS:
        # A model that did not load stays wrong all session: its notice stays up.
        shown_for = STICKY_SECONDS if event.kind == MODEL_ERROR else NOTICE_SECONDS
        return dataclasses.replace(state, notice=Flash(event.kind, event.message,
                                                       event.wall + shown_for))
    return dataclasses.replace(state, cue=Flash(event.kind, event.message,
                                                event.wall + CUE_SECONDS))


@_handles(CallSummarized)
def _summary(state: OverlayState, event: CallSummarized) -> OverlayState:
    return dataclasses.replace(state, summary=render_card(event))


@_handles(AgentAction)
def _agent_action(state: OverlayState, event: AgentAction) -> OverlayState:
    if event.action == "flag":
        return dataclasses.replace(state, flagged=True)
    if event.action == "feedback":
        return dataclasses.replace(state, feedback=event.value)
    if event.action == "snooze":
        return _snooze(state, event)
    return state


def _snooze(state: OverlayState, event: AgentAction) -> OverlayState:
    try:
        seconds = float(event.value)
    except ValueError:
        log.warning("ignoring a snooze of %r seconds: not a number", event.value)
        return state
    return dataclasses.replace(state, snoozed_until=event.wall + seconds)


# --- time and the agent's own view toggles -------------------------------------------------------


def tick(state: OverlayState, now: float) -> OverlayState:
    """The state at wall-clock ``now``: expired cues, notices and snoozes are dropped."""
    cue = state.cue if state.cue and now < state.cue.until else None
    notice = state.notice if state.notice and now < state.notice.until else None
    snoozed_until = state.snoozed_until if state.snoozed_until and now < state.snoozed_until \
        else None
    return dataclasses.replace(state, now=now, cue=cue, notice=notice,
                               snoozed_until=snoozed_until)


def toggle_why(state: OverlayState) -> OverlayState:
    return dataclasses.replace(state, show_why=not state.show_why)


def dismiss(state: OverlayState) -> OverlayState:
    """Escape: close the summary card first, then the "why?" panel."""
    if state.summary is not None:
        return dataclasses.replace(state, summary=None)
    return dataclasses.replace(state, show_why=False)


def state_to_dict(state: OverlayState) -> dict[str, Any]:
    """A JSON-ready dict (enums are str subclasses, so json.dumps takes them as they are).

    Built by hand because ``dataclasses.asdict`` deep-copies the history on every call, which
    made the debug hook the slowest part of a tick.
    """
    out = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    out["prompt"] = event_to_dict(state.prompt) if state.prompt else None
    for name in ("evidence", "cue", "notice"):
        value = out[name]
        out[name] = dict(value.__dict__) if value is not None else None
    return out
