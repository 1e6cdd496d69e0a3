"""Anger scoring from the customer's words and voice, one :class:`CallScorer` per call.

The coordinator calls :meth:`CallScorer.on_audio` as soon as an utterance (or a partial
window of one) is cut, which needs no transcript and so gives an early voice cue; then
:meth:`CallScorer.on_text` when Whisper's text arrives, which fuses the words with the voice
result cached for that utterance. Only customer utterances should be passed in: the agent's
voice must never shape the customer's baseline.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import numpy as np

from assist.events import (
    FinalText,
    PartialText,
    PartialWindow,
    TriggerHit,
    UtteranceEnded,
    UtteranceScored,
    VoiceCue,
)
from assist.scoring.fusion import fuse
from assist.scoring.settings import FusionWeights, ScoringSettings, parse_scoring_settings
from assist.scoring.triggers import ABUSE
from assist.scoring.voice import CallerVoice, extract_features
from assist.scoring.words import WordScore, WordScorer

__all__ = [
    "ABUSE", "CallScorer", "FusionWeights", "ScoringSettings", "WordScore", "WordScorer",
    "parse_scoring_settings",
]

log = logging.getLogger(__name__)

MAX_CACHED_UTTERANCES = 64
"""Voice results waiting for their text; older ones are dropped if text never comes."""
NO_SPEECH_CUE = "too little speech to judge the voice"


class CallScorer:
    """Scores one call's customer utterances; holds the caller's voice baseline."""

    def __init__(self, settings: ScoringSettings | None = None) -> None:
        self._settings = settings or ScoringSettings()
        self._words = WordScorer(self._settings)
        self._voice = CallerVoice()
        self._cached: OrderedDict[int, VoiceCue] = OrderedDict()

    @property
    def settings(self) -> ScoringSettings:
        return self._settings

    @settings.setter
    def settings(self, settings: ScoringSettings) -> None:
        """A reloaded pack: new lexicon, triggers and weights; the voice baseline carries on."""
        if settings != self._settings:
            self._settings = settings
            self._words = WordScorer(settings)

    def add_calm_audio(self, audio: np.ndarray) -> bool:
        """Use a known-calm clip of this caller as baseline; False if it had too little speech."""
        return self._voice.add_calm_audio(audio)

    def on_audio(self, event: UtteranceEnded | PartialWindow) -> VoiceCue:
        """Voice arousal of a finished utterance (learned into the baseline if calm) or a partial."""
        partial = isinstance(event, PartialWindow)
        features = extract_features(event.audio)
        if features is None:
            return VoiceCue(t=event.t, utterance_id=event.utterance_id, arousal=0.0,
                            cue=NO_SPEECH_CUE, partial=partial)
        assessment = self._voice.assess(features)
        if not partial:
            self._voice.learn(assessment)
        cue = VoiceCue(t=event.t, utterance_id=event.utterance_id, arousal=assessment.arousal,
                       cue=assessment.cue, partial=partial)
        self.use_voice(cue)
        return cue

    def use_voice(self, cue: VoiceCue) -> None:
        """Fuse this voice result with the utterance's text when it arrives.

        on_audio calls it for every window (the newest, the final audio last, wins); a trainer's
        re-scoring of a stored call, whose audio is gone, calls it with the cue recorded then.
        """
        self._cached[cue.utterance_id] = cue
        self._cached.move_to_end(cue.utterance_id)
        while len(self._cached) > MAX_CACHED_UTTERANCES:
            self._cached.popitem(last=False)

    def on_partial_text(self, event: PartialText) -> tuple[TriggerHit, ...]:
        return self._words.find_triggers(event.text)

    def on_text(self, event: FinalText) -> UtteranceScored:
        words = self._words.score(event.text)
        voice = self._cached.pop(event.utterance_id, None)
        arousal = voice.arousal if voice else None
        anger = fuse(words.anger, arousal, words.triggers, self._settings.fusion)
        log.debug("utterance %d: words %.2f voice %s -> anger %.2f", event.utterance_id,
                  words.anger, "none" if arousal is None else f"{arousal:.2f}", anger)
        return UtteranceScored(
            t=event.t, utterance_id=event.utterance_id, start=event.start, end=event.end,
            text=event.text, word_anger=words.anger, voice_arousal=arousal, anger=anger,
            evidence=words.evidence, voice_cue=voice.cue if voice else "",
            triggers=words.triggers, sentiment=words.vader_compound,
            apology=words.apology, thanks=words.thanks, refusal=words.refusal,
            aimed=words.aimed)

