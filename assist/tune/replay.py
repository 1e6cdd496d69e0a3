"""Re-scoring cached calls with a pack: the same CallSession as a live call, minus the audio.

Two speeds:

- :func:`replay_call` feeds a call's cached pipeline events (utterances, partial and final
  texts) through :class:`assist.session.CallSession`, with each utterance's voice cue taken
  from the cache instead of its audio. Everything after transcription runs as live: scoring,
  the stage machine and the prompts. It also records what the stage machine was told
  (:class:`MachineInput`), in order.
- :func:`replay_machine` runs only a fresh :class:`assist.escalation.StageMachine` over those
  recorded inputs: when a sweep changes only ``[escalation]`` keys, scores cannot change, so
  this is all that needs to run again.

Events are replayed in audio-time order with the transcript arriving at the utterance's end,
as it would from a transcriber that keeps up; ticks come every ``TICK_EVERY_S`` as in the
pipeline. This makes a replay deterministic, unlike a real run where Whisper's lag varies.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from assist.escalation import EscalationSettings, StageMachine
from assist.events import (
    Event,
    FinalText,
    LevelUpdate,
    PartialText,
    PartialWindow,
    PromptShown,
    StageChanged,
    TriggerHit,
    UtteranceEnded,
    UtteranceScored,
    UtteranceStarted,
    VoiceCue,
)
from assist.pipeline import TICK_EVERY_S
from assist.prompts import PromptPack
from assist.scoring import NO_SPEECH_CUE, CallScorer
from assist.scoring.agent import AgentSaid
from assist.scoring.settings import ScoringSettings
from assist.session import CallSession
from assist.tune.cache import CachedCall

_ORDER = {UtteranceStarted: 0, PartialWindow: 1, UtteranceEnded: 1, PartialText: 2, FinalText: 3}
"""At equal audio times: the utterance, then its audio (voice cue), then its text."""
_TICK_ORDER = 4

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class MachineInput:
    """One call into the stage machine: ``kind`` is voice, triggers, scored, agent or tick."""

    kind: str
    t: float
    voice: VoiceCue | None = None
    hits: tuple[TriggerHit, ...] = ()
    scored: UtteranceScored | None = None
    agent: AgentSaid | None = None


@dataclass(frozen=True)
class Outcome:
    """What one call looked like to the agent under one pack."""

    name: str
    duration: float
    events: tuple[Event, ...]
    inputs: tuple[MachineInput, ...] = field(default=(), compare=False)

    def of_type(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def changes(self) -> list[StageChanged]:
        return self.of_type(StageChanged)

    @property
    def prompts(self) -> list[PromptShown]:
        return self.of_type(PromptShown)

    @property
    def scored(self) -> list[UtteranceScored]:
        return self.of_type(UtteranceScored)

    @property
    def levels(self) -> list[LevelUpdate]:
        return self.of_type(LevelUpdate)


class CachedVoiceScorer(CallScorer):
    """A CallScorer whose voice cues come from the cache, since the audio is not kept.

    ``on_audio`` hands back the cue the real scorer computed for the same window when the
    cache was filled, and keeps it for ``on_text`` exactly as the real one keeps its own, so
    the words are fused with the voice as they were live.
    """

    def __init__(self, settings: ScoringSettings, voice: Sequence[VoiceCue]) -> None:
        super().__init__(settings)
        self._cues = {(cue.utterance_id, cue.partial, round(cue.t, 3)): cue for cue in voice}

    def on_audio(self, event: UtteranceEnded | PartialWindow) -> VoiceCue:
        partial = isinstance(event, PartialWindow)
        cue = self._cues.get((event.utterance_id, partial, round(event.t, 3)))
        if cue is None or cue.cue == NO_SPEECH_CUE:
            return cue or VoiceCue(t=event.t, utterance_id=event.utterance_id, arousal=0.0,
                                   cue=NO_SPEECH_CUE, partial=partial)
        self.use_voice(cue)
        return cue


class _RecordingMachine:
    """Passes every call to the real stage machine and notes it for :func:`replay_machine`."""

    def __init__(self, machine: StageMachine) -> None:
        self.machine = machine
        self.inputs: list[MachineInput] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.machine, name)

    def on_scored(self, event: UtteranceScored) -> list[Event]:
        self.inputs.append(MachineInput("scored", event.t, scored=event))
        return self.machine.on_scored(event)

    def on_voice(self, event: VoiceCue) -> list[Event]:
        self.inputs.append(MachineInput("voice", event.t, voice=event))
        return self.machine.on_voice(event)

    def on_triggers(self, t: float, hits: tuple[TriggerHit, ...]) -> list[Event]:
        self.inputs.append(MachineInput("triggers", t, hits=hits))
        return self.machine.on_triggers(t, hits)

    def on_agent(self, t: float, said: AgentSaid) -> list[Event]:
        self.inputs.append(MachineInput("agent", t, agent=said))
        return self.machine.on_agent(t, said)

    def tick(self, t: float) -> list[Event]:
        self.inputs.append(MachineInput("tick", t))
        return self.machine.tick(t)


def replay_call(pack: PromptPack, call: CachedCall) -> Outcome:
    """Run a cached call through a fresh CallSession with ``pack``."""
    session = CallSession(pack)
    session.scorer = CachedVoiceScorer(pack.scoring, call.voice)
    recorder = _RecordingMachine(session.machine)
    session.machine = recorder  # type: ignore[assignment]
    out: list[Event] = []
    for item in timeline(call):
        if isinstance(item, float):
            out += session.tick(item)
        else:
            out += session.handle(item)
    return Outcome(name=call.name, duration=call.duration, events=tuple(out),
                   inputs=tuple(recorder.inputs))


def replay_machine(settings: EscalationSettings,
                   inputs: Sequence[MachineInput]) -> list[StageChanged]:
    """Only the stage machine, over inputs recorded by :func:`replay_call`."""
    machine = StageMachine(settings)
    changes: list[StageChanged] = []
    for item in inputs:
        for event in _feed(machine, item):
            if isinstance(event, StageChanged):
                changes.append(event)
    return changes


def _feed(machine: StageMachine, item: MachineInput) -> list[Event]:
    if item.kind == "tick":
        return machine.tick(item.t)
    if item.kind == "scored":
        assert item.scored is not None
        return machine.on_scored(item.scored)
    if item.kind == "voice":
        assert item.voice is not None
        return machine.on_voice(item.voice)
    if item.kind == "agent":
        assert item.agent is not None
        return machine.on_agent(item.t, item.agent)
    return machine.on_triggers(item.t, item.hits)


def timeline(call: CachedCall) -> Iterator[Event | float]:
    """The call's events and tick times (floats) in the order a live call would see them."""
    keyed: list[tuple[float, int, int, Event | float]] = [
        (e.t, _ORDER.get(type(e), 1), i, e) for i, e in enumerate(call.events)]
    ticks = math.floor(call.duration / TICK_EVERY_S) + 1
    keyed += [(k * TICK_EVERY_S, _TICK_ORDER, k, k * TICK_EVERY_S) for k in range(1, ticks + 1)]
    keyed.sort(key=lambda item: item[:3])
    for *_, item in keyed:
        yield item
