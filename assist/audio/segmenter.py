"""Cut one speaker's audio stream into utterances: a pure state machine over VAD frames.

Audio arrives in blocks of any size with the audio time of their first sample; it is cut
into 32 ms frames and each frame's speech probability moves the machine:

    idle --(p >= threshold)--> candidate --(voiced >= min_speech)--> speaking
    candidate/speaking --(end_silence of p < threshold - 0.15)--> idle

While a confirmed utterance goes on, a ``PartialWindow`` (the audio so far) goes out after
``FIRST_WINDOW_VOICED_S`` of speech, then every ``partial_every_s``, and once more whenever
the speaker pauses for ``PAUSE_S`` (marked with ``pause_last_voiced`` so that Whisper can
start the final pass early).

A candidate that never gathers ``min_speech_ms`` of voiced frames is dropped without a
trace (coughs, clicks), so every ``UtteranceStarted`` is followed by exactly one
``UtteranceEnded`` with the same id. Time is whatever the caller passes in: the
segmenter has no clock, so replaying a file at any speed gives the same events.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from assist.audio.vad import FRAME, VoiceActivity
from assist.config import SegmenterConfig
from assist.events import (
    SAMPLE_RATE,
    Event,
    PartialWindow,
    Speaker,
    UtteranceEnded,
    UtteranceStarted,
)

log = logging.getLogger(__name__)

FRAME_S = FRAME / SAMPLE_RATE

HYSTERESIS = 0.15
"""Speech continues above ``threshold - HYSTERESIS`` (the gap Silero's own VADIterator uses)."""

PAUSE_S = 5 * FRAME_S
"""Silence (160 ms) after which the speaker has probably finished. The window sent then lets
Whisper start the final pass while the segmenter still waits out ``end_silence_ms``; gaps
between words in running speech are mostly shorter, and a pause that turns out to be
mid-sentence only costs the pass that is thrown away."""

FIRST_WINDOW_VOICED_S = 0.32
"""The first partial window goes out once this much of the utterance was voiced, rather than
``partial_every_s`` after its start: the voice analysis needs a quarter of a second of speech
(scoring.voice.MIN_SPEECH_S), so a window sent as soon as the utterance is confirmed (0.2 s)
says nothing, and on the scripted calls every caller who starts out shouting is flagged by
this first window."""

GAP_TOLERANCE_S = 0.5 * FRAME_S
"""A block whose time is further than this from where the last one ended starts a new stretch."""


@dataclass
class _Utterance:
    """The utterance being collected (mutable, private to the segmenter)."""

    start: float
    frames: list[np.ndarray] = field(default_factory=list)
    voiced_s: float = 0.0
    last_voiced: float = 0.0
    silence_s: float = 0.0
    utterance_id: int | None = None  # set once confirmed (enough voiced frames)
    next_partial: float = 0.0
    pause_sent: bool = False  # the window for the current pause has gone out

    @property
    def confirmed(self) -> bool:
        return self.utterance_id is not None

    def audio(self) -> np.ndarray:
        return np.concatenate(self.frames) if self.frames else np.zeros(0, np.float32)


class Segmenter:
    """Turns (time, samples) blocks of one speaker into utterance events."""

    def __init__(self, config: SegmenterConfig, speaker: Speaker, vad: VoiceActivity,
                 ids: Iterator[int]) -> None:
        self._config = config
        self._speaker = speaker
        self._vad = vad
        self._ids = ids
        self._start_threshold = config.vad_threshold
        self._keep_threshold = max(config.vad_threshold - HYSTERESIS, 0.0)
        self._preroll: collections.deque[np.ndarray] = collections.deque(
            maxlen=round(config.preroll_ms / 1000 / FRAME_S))
        self._pending = np.zeros(0, np.float32)
        self._anchor_t: float | None = None  # audio time of the stretch's first sample
        self._consumed = 0  # samples of this stretch already cut into frames
        self._utterance: _Utterance | None = None

    @property
    def speaking(self) -> bool:
        """True while a confirmed utterance is open (including its trailing silence)."""
        return self._utterance is not None and self._utterance.confirmed

    def process(self, t: float, samples: np.ndarray) -> list[Event]:
        """Feed a block that starts at audio time ``t``; returns the events it completes."""
        events: list[Event] = []
        if self._anchor_t is not None and abs(t - self._stream_end()) > GAP_TOLERANCE_S:
            # The stream jumped (device lost, queue overrun): audio on both sides of the gap
            # must not be glued into one utterance.
            log.debug("%s audio jumps from %.3f to %.3f s", self._speaker, self._stream_end(), t)
            events += self.flush(self._stream_end())
        if self._anchor_t is None:
            self._anchor_t = t
        self._pending = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        while len(self._pending) >= FRAME:
            frame, self._pending = self._pending[:FRAME], self._pending[FRAME:]
            frame_t = self._anchor_t + self._consumed / SAMPLE_RATE
            self._consumed += FRAME
            events += self._on_frame(frame_t, frame)
        return events

    def flush(self, t: float) -> list[Event]:
        """End of the stream (or a gap in it) at audio time ``t``: close any open utterance."""
        events: list[Event] = []
        utterance = self._utterance
        if utterance is not None and len(self._pending):
            utterance.frames.append(self._pending)
        if utterance is not None and utterance.confirmed:
            end = self._stream_end()
            events.append(self._ended(utterance, t=max(t, end), end=end))
        self._reset_stream()
        return events

    # --- frames ----------------------------------------------------------------------------

    def _on_frame(self, frame_t: float, frame: np.ndarray) -> list[Event]:
        prob = self._vad(frame)
        frame_end = frame_t + FRAME_S
        utterance = self._utterance
        if utterance is None:
            if prob < self._start_threshold:
                self._preroll.append(frame)
                return []
            utterance = self._begin(frame_t)
        utterance.frames.append(frame)
        if prob >= self._keep_threshold:
            utterance.voiced_s += FRAME_S
            utterance.last_voiced = frame_end
            utterance.silence_s = 0.0
            utterance.pause_sent = False
        else:
            utterance.silence_s += FRAME_S
        return self._advance(utterance, frame_end, voiced=utterance.silence_s == 0.0)

    def _begin(self, frame_t: float) -> _Utterance:
        preroll = list(self._preroll)
        self._preroll.clear()
        self._utterance = _Utterance(start=frame_t - len(preroll) * FRAME_S, frames=preroll)
        return self._utterance

    def _advance(self, utterance: _Utterance, now: float, *, voiced: bool) -> list[Event]:
        """Events due after a frame ending at ``now`` was added to ``utterance``."""
        config = self._config
        if utterance.silence_s * 1000 >= config.end_silence_ms - 1e-6:
            self._utterance = None
            return [self._ended(utterance, t=now, end=now)] if utterance.confirmed else []
        events: list[Event] = []
        if not utterance.confirmed and utterance.voiced_s * 1000 >= config.min_speech_ms - 1e-6:
            events.append(self._confirm(utterance, now))
        if not utterance.confirmed:
            return events
        if now - utterance.start >= config.max_utterance_s - 1e-6:
            events.append(self._ended(utterance, t=now, end=now))
            # Speech goes on: what follows the cut is a new candidate with no pre-roll, since
            # that audio already went out with the utterance just ended.
            self._utterance = _Utterance(start=now, last_voiced=now)
        elif config.partial_every_s > 0:
            events += self._windows_due(utterance, now, voiced=voiced)
        return events

    def _windows_due(self, utterance: _Utterance, now: float, *, voiced: bool) -> list[Event]:
        """A partial window every ``partial_every_s`` of speech, and one as a pause begins."""
        if voiced and now >= utterance.next_partial - 1e-6:
            return [self._partial(utterance, now)]
        if not voiced and not utterance.pause_sent and utterance.silence_s >= PAUSE_S - 1e-6:
            return [self._pause(utterance, now)]
        return []

    # --- events ----------------------------------------------------------------------------

    def _confirm(self, utterance: _Utterance, now: float) -> UtteranceStarted:
        utterance.utterance_id = next(self._ids)
        utterance.next_partial = now + max(FIRST_WINDOW_VOICED_S - utterance.voiced_s, 0.0)
        return UtteranceStarted(t=now, speaker=self._speaker, utterance_id=utterance.utterance_id,
                                start=utterance.start)

    def _partial(self, utterance: _Utterance, now: float) -> PartialWindow:
        assert utterance.utterance_id is not None
        every = self._config.partial_every_s
        while utterance.next_partial <= now + 1e-6:
            utterance.next_partial += every
        return PartialWindow(t=now, speaker=self._speaker, utterance_id=utterance.utterance_id,
                             start=utterance.start, end=now, audio=utterance.audio())

    def _pause(self, utterance: _Utterance, now: float) -> PartialWindow:
        assert utterance.utterance_id is not None
        utterance.pause_sent = True
        return PartialWindow(t=now, speaker=self._speaker, utterance_id=utterance.utterance_id,
                             start=utterance.start, end=now, audio=utterance.audio(),
                             pause_last_voiced=utterance.last_voiced)

    def _ended(self, utterance: _Utterance, *, t: float, end: float) -> UtteranceEnded:
        assert utterance.utterance_id is not None
        return UtteranceEnded(t=t, speaker=self._speaker, utterance_id=utterance.utterance_id,
                              start=utterance.start, end=end, last_voiced=utterance.last_voiced,
                              audio=utterance.audio())

    # --- stream bookkeeping ------------------------------------------------------------------

    def _stream_end(self) -> float:
        """Audio time just after the last sample received (cut into frames or pending)."""
        if self._anchor_t is None:
            return 0.0
        return self._anchor_t + (self._consumed + len(self._pending)) / SAMPLE_RATE

    def _reset_stream(self) -> None:
        self._utterance = None
        self._preroll.clear()
        self._pending = np.zeros(0, np.float32)
        self._anchor_t = None
        self._consumed = 0
        self._vad.reset()
