"""The typed, frozen events that pass between the pipeline's stages.

Every event carries two clocks:
- ``t``: audio time in seconds since the source started (the position in the recording or
  the live stream; a session's later calls start part-way along it, at their CallStarted's
  ``t``), which is what the pure state machines run on;
- ``wall``: the wall-clock time (``time.time()``) when the event was produced, which is what
  latency is measured against.

Events are small and immutable so any stage, sink, test or benchmark can hold on to them
without copying. Audio arrays ride along on the segmenter's events but are left out of
equality, repr and JSON.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SAMPLE_RATE = 16_000
"""Every stage after the source works on 16 kHz mono float32 (what Whisper and Silero expect)."""


class Speaker(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"


class Stage(enum.StrEnum):
    """The de-escalation ladder from ../shared/playbook.md, plus its two side exits."""

    CALM = "calm"
    REFLECT = "reflect"
    EMPATHIZE = "empathize"
    SOLUTION = "solution"
    ESCALATE = "escalate"
    BOUNDARY = "boundary"
    CLOSE = "close"

    @property
    def label(self) -> str:
        """How the playbook names the stage, for people: "reflect back", "set a boundary"."""
        return _STAGE_LABELS.get(self.value, self.value)


_STAGE_LABELS = {"reflect": "reflect back", "solution": "offer solution", "boundary": "set a boundary"}


def stage_label(value: str) -> str:
    """The playbook's name for a stage stored as text ("reflect" -> "reflect back"); a stage
    this version does not know (written by a newer assist) is shown as stored."""
    try:
        return Stage(value).label
    except ValueError:
        return value


class AudioStatus(enum.StrEnum):
    LISTENING = "listening"
    SILENCE = "silence"
    NO_AUDIO = "no_audio"
    DEVICE_LOST = "device_lost"
    RESUMED = "resumed"
    ENDED = "ended"


def _now() -> float:
    return time.time()


def _no_audio() -> np.ndarray:
    return np.zeros(0, np.float32)


@dataclass(frozen=True, kw_only=True)
class Event:
    t: float
    wall: float = field(default_factory=_now, compare=False)


# --- source -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AudioState(Event):
    """The capture's health, for the overlay's audio indicator and the record."""

    status: AudioStatus
    detail: str = ""
    speaker: Speaker | None = None


# --- segmenter ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UtteranceStarted(Event):
    speaker: Speaker
    utterance_id: int
    start: float


@dataclass(frozen=True, kw_only=True)
class PartialWindow(Event):
    """The utterance so far, emitted while the speaker is still talking.

    ``pause_last_voiced`` is set on the window sent when the speaker has just paused: the audio
    time of the last voiced sample. Whisper starts the utterance's final pass on it; if the
    utterance then ends with that same ``last_voiced`` the text is reused as its final text
    (saving the end-silence wait and a second pass), otherwise it is thrown away.
    """

    speaker: Speaker
    utterance_id: int
    start: float
    end: float
    audio: np.ndarray = field(default_factory=_no_audio, compare=False, repr=False)
    pause_last_voiced: float | None = None


@dataclass(frozen=True, kw_only=True)
class UtteranceEnded(Event):
    """A finished utterance. ``last_voiced`` is the audio time of its last voiced sample."""

    speaker: Speaker
    utterance_id: int
    start: float
    end: float
    last_voiced: float
    audio: np.ndarray = field(default_factory=_no_audio, compare=False, repr=False)


# --- transcriber ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PartialText(Event):
    speaker: Speaker
    utterance_id: int
    start: float
    end: float
    text: str


@dataclass(frozen=True, kw_only=True)
class FinalText(Event):
    speaker: Speaker
    utterance_id: int
    start: float
    end: float
    text: str


# --- scoring ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TriggerHit:
    """A named trigger (manager request, legal threat, ...) and the words that matched."""

    name: str
    words: str


@dataclass(frozen=True, kw_only=True)
class VoiceCue(Event):
    """Acoustic arousal of a customer utterance (or partial window) against their baseline."""

    utterance_id: int
    arousal: float
    cue: str
    partial: bool = False


@dataclass(frozen=True, kw_only=True)
class UtteranceScored(Event):
    """One customer utterance scored from words and voice."""

    utterance_id: int
    start: float
    end: float
    text: str
    word_anger: float
    voice_arousal: float | None
    anger: float
    evidence: tuple[str, ...] = ()
    voice_cue: str = ""
    triggers: tuple[TriggerHit, ...] = ()
    sentiment: float = 0.0  # VADER compound of the words, -1..1: thanks and relief are positive
    apology: str = ""  # the words of an apology ("sorry for snapping"), "" if none
    thanks: str = ""  # the words of thanks ("thank you"), "" if none
    refusal: str = ""  # the words of a flat refusal ("absolutely not"), "" if none
    # False when the words are harsh only about a thing ("the frost murdered my hedge"): no
    # one is blamed, no feeling is named, no trigger is heard.
    aimed: bool = True


# --- escalation and prompts ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StageChanged(Event):
    stage: Stage
    previous: Stage
    reason: str
    level: float
    trend: float


@dataclass(frozen=True, kw_only=True)
class PromptShown(Event):
    stage: Stage
    headline: str
    line: str
    do: tuple[str, ...] = ()
    dont: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class LevelUpdate(Event):
    """The smoothed anger level after each scored utterance (for meters and charts)."""

    level: float
    trend: float
    stage: Stage


# --- call and agent ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CallStarted(Event):
    call_id: str
    agent: str = ""
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class CallEnded(Event):
    call_id: str
    reason: str = "ended"


@dataclass(frozen=True, kw_only=True)
class AgentAction(Event):
    """Something the agent did in the overlay: flag, feedback, snooze, ..."""

    action: str
    value: str = ""


@dataclass(frozen=True, kw_only=True)
class Cue(Event):
    """A coaching cue that is not a stage (talk-over, long silence), or a notice about assist
    itself (a pack reloaded, no speech model)."""

    kind: str
    message: str


MODEL_ERROR = "model_error"
"""The Cue kind that tells the agent the speech model did not load."""


class Outcome(enum.StrEnum):
    """How a call ended, from the customer's side."""

    CALM = "calm throughout"
    CALMED = "calmed down"
    ESCALATED = "escalated"
    ENDED_ANGRY = "ended angry"
    ENDED_ABRUPTLY = "ended abruptly"


@dataclass(frozen=True, kw_only=True)
class PromptOutcome:
    """A prompt that was shown, and whether the customer's anger fell in the minute after."""

    t: float
    stage: Stage
    headline: str
    anger_before: float
    anger_after: float | None  # None: the call ended before any later score
    fell: bool | None


@dataclass(frozen=True, kw_only=True)
class CallSummarized(Event):
    """The closing picture of a call, for the agent's card and the record."""

    call_id: str
    duration_s: float
    peak_anger: float
    final_anger: float
    stage_seconds: tuple[tuple[Stage, float], ...]
    prompts: tuple[PromptOutcome, ...]
    triggers: tuple[str, ...]
    outcome: Outcome
    follow_ups: tuple[str, ...] = ()


def event_type(event: Event) -> str:
    return type(event).__name__


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-ready dict of the event; audio arrays are dropped, enums become strings."""
    out: dict[str, Any] = {"type": event_type(event)}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, np.ndarray):
            continue
        out[f.name] = _jsonable(value)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float):
        return round(value, 3)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value
