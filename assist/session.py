"""Everything after segmentation and transcription, for one call, on one thread.

A :class:`CallSession` turns the events of one call (utterances, their audio and their text)
into what the agent sees: voice cues, scored utterances, the stage and its prompt, and the
coaching cues (talk-over, long silence). It has no threads and no clock, so the live pipeline,
replays, the trainer's re-scoring of stored calls and the tests all run the very same logic.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from assist.escalation import StageMachine
from assist.events import (
    SAMPLE_RATE,
    Cue,
    Event,
    FinalText,
    PartialText,
    PartialWindow,
    PromptShown,
    Speaker,
    Stage,
    StageChanged,
    UtteranceEnded,
    UtteranceScored,
    UtteranceStarted,
)
from assist.prompts import PromptPack, make_prompt
from assist.scoring import CallScorer
from assist.scoring.agent import read_agent

log = logging.getLogger(__name__)

TALK_OVER_STAGES = frozenset({Stage.EMPATHIZE, Stage.SOLUTION, Stage.ESCALATE, Stage.BOUNDARY})
"""Stages in which talking over the customer is worth a cue (the playbook: let them finish)."""


PARTIAL_VOICE_WINDOW_S = 2.0
"""A partial window's voice is judged on its last two seconds: that is what 'raised now'
means, and it keeps the cost flat however long the caller goes on (every window of a 15 s
rant would otherwise be re-analysed from its start)."""


def recent(window: PartialWindow) -> PartialWindow:
    """The last PARTIAL_VOICE_WINDOW_S of a partial window."""
    keep = int(PARTIAL_VOICE_WINDOW_S * SAMPLE_RATE)
    if len(window.audio) <= keep:
        return window
    return dataclasses.replace(window, audio=window.audio[-keep:],
                               start=window.end - PARTIAL_VOICE_WINDOW_S)


@dataclass(frozen=True)
class CueSettings:
    agent_audio: bool = False
    silence_cue_s: float = 20.0


class CallSession:
    """Scoring, stage machine, prompts and cues for one call."""

    def __init__(self, pack: PromptPack, cues: CueSettings | None = None) -> None:
        self.pack = pack
        self.cues = cues or CueSettings()
        self.scorer = CallScorer(pack.scoring)
        self.machine = StageMachine(pack.escalation)
        self.last_scored: UtteranceScored | None = None
        self._customer_speaking = False
        self._agent_speaking = False
        self._last_speech_end: float | None = None
        self._silence_cued = False

    @property
    def stage(self) -> Stage:
        return self.machine.stage

    def use_pack(self, pack: PromptPack) -> None:
        """Take a new pack's texts and settings; the call's scores and stage carry on."""
        self.pack = pack
        self.scorer.settings = pack.scoring
        self.machine.settings = pack.escalation

    def handle(self, event: Event) -> list[Event]:
        """The events that follow from ``event`` (not including it)."""
        out: list[Event] = []
        if isinstance(event, UtteranceStarted | UtteranceEnded):
            out += self._track_turns(event)
        speaker = getattr(event, "speaker", None)
        if speaker is Speaker.AGENT and isinstance(event, FinalText):
            return out + self._agent_said(event)
        if speaker is not Speaker.CUSTOMER:
            return out
        if isinstance(event, UtteranceEnded | PartialWindow):
            cue = self.scorer.on_audio(recent(event) if isinstance(event, PartialWindow) else event)
            out.append(cue)
            out += self._with_prompts(self.machine.on_voice(cue))
        elif isinstance(event, PartialText):
            hits = self.scorer.on_partial_text(event)
            if hits:
                out += self._with_prompts(self.machine.on_triggers(event.t, hits))
        elif isinstance(event, FinalText):
            out += self._score(event)
        return out

    def tick(self, t: float) -> list[Event]:
        """Time passes: the stage machine decays, and a long silence may earn a cue."""
        out = self._with_prompts(self.machine.tick(t))
        cue = self._silence_cue(t)
        if cue:
            out.append(cue)
        return out

    def _score(self, event: FinalText) -> list[Event]:
        if not event.text.strip():
            return []
        scored = self.scorer.on_text(event)
        self.last_scored = scored
        return [scored, *self._with_prompts(self.machine.on_scored(scored))]

    def _agent_said(self, event: FinalText) -> list[Event]:
        """What the agent has done (a handover, a reflection, empathy, an offer) may move the
        stage; the agent's other words only go on the record."""
        said = read_agent(event.text)
        return self._with_prompts(self.machine.on_agent(event.t, said)) if said else []

    def _with_prompts(self, events: list[Event]) -> list[Event]:
        """After each stage change, the prompt the overlay should show for it."""
        out: list[Event] = []
        for event in events:
            out.append(event)
            if isinstance(event, StageChanged):
                out.append(self._prompt(event))
        return out

    def _prompt(self, change: StageChanged) -> PromptShown:
        return make_prompt(self.pack, change, self.last_scored)

    def _track_turns(self, event: UtteranceStarted | UtteranceEnded) -> list[Event]:
        started = isinstance(event, UtteranceStarted)
        if event.speaker is Speaker.CUSTOMER:
            self._customer_speaking = started
        else:
            self._agent_speaking = started
        if not started:
            self._last_speech_end = event.t
        self._silence_cued = False
        if (started and event.speaker is Speaker.AGENT and self._customer_speaking
                and self.stage in TALK_OVER_STAGES):
            return [Cue(t=event.t, kind="talk_over",
                        message="You're talking over an upset customer: let them finish.")]
        return []

    def _silence_cue(self, t: float) -> Cue | None:
        if not self.cues.agent_audio or self._silence_cued or self._last_speech_end is None:
            return None
        if self._customer_speaking or self._agent_speaking:
            return None
        quiet = t - self._last_speech_end
        if quiet < self.cues.silence_cue_s:
            return None
        self._silence_cued = True
        return Cue(t=t, kind="silence",
                   message=f"{quiet:.0f} s of silence: check the customer is still with you.")
