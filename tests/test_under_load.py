"""When Whisper is slower than speech: the voice path keeps the overlay current, the queues
stay bounded, and the call record still gets every final utterance."""

from __future__ import annotations

import threading
import time

import numpy as np

from assist.audio.sources import AudioBlock, Blocks
from assist.audio.vad import EnergyActivityForTests
from assist.config import Config
from assist.events import (
    SAMPLE_RATE,
    Event,
    FinalText,
    Speaker,
    UtteranceEnded,
    VoiceCue,
)
from assist.pipeline import Pipeline, final_texts
from assist.prompts import load_pack

UTTERANCES = 8
SPEECH_S = 1.2
GAP_S = 0.8
SPEED = 2.0  # the synthetic call plays at twice real pace to keep the test short


class SlowTranscriber:
    """Takes three times as long as the audio it is given (a busy machine, a big model)."""

    def transcribe(self, audio: np.ndarray) -> str:
        time.sleep(3 * len(audio) / SAMPLE_RATE / SPEED)
        return f"utterance of {len(audio) / SAMPLE_RATE:.1f} seconds"


class PacedSource:
    description = "paced synthetic speech"

    def __init__(self) -> None:
        t = np.arange(int(SPEECH_S * SAMPLE_RATE)) / SAMPLE_RATE
        speech = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
        gap = np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)
        self.audio = np.concatenate([np.concatenate([speech, gap])] * UTTERANCES + [gap, gap])
        self._stop = threading.Event()

    def blocks(self) -> Blocks:
        block = 512
        started = time.monotonic()
        for start in range(0, len(self.audio), block):
            t = start / SAMPLE_RATE
            delay = started + t / SPEED - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            yield AudioBlock(t=t, customer=self.audio[start:start + block], agent=None)

    def stop(self) -> None:
        self._stop.set()


def test_slow_transcription_loses_nothing_and_voice_stays_prompt() -> None:
    seen: list[tuple[float, Event]] = []
    pipeline = Pipeline(PacedSource(), Config(), transcriber=SlowTranscriber(),
                        pack=load_pack("default"),
                        sinks=[lambda e: seen.append((time.monotonic(), e))],
                        vad_factory=EnergyActivityForTests)
    backlog: list[int] = []
    pipeline.start()
    while not pipeline.wait(0.05):
        backlog.append(pipeline.transcription_backlog())
    events = [e for _, e in seen]

    ended = [e for e in events if isinstance(e, UtteranceEnded) and e.speaker is Speaker.CUSTOMER]
    assert len(ended) == UTTERANCES
    assert len(final_texts(events)) == UTTERANCES, "every utterance reaches the record"
    assert {f.utterance_id for f in events if isinstance(f, FinalText)} == {e.utterance_id for e in ended}

    # The voice cue of each utterance comes straight after its end, long before its text.
    when = {id(e): at for at, e in seen}
    for end in ended:
        cue = next(e for e in events if isinstance(e, VoiceCue) and not e.partial
                   and e.utterance_id == end.utterance_id)
        final = next(e for e in events if isinstance(e, FinalText) and e.utterance_id == end.utterance_id)
        assert when[id(cue)] - when[id(end)] < 0.2
        assert when[id(final)] >= when[id(cue)]

    # Whisper fell behind (so the test means something) but the queue stayed bounded.
    assert max(backlog) >= 2
    assert max(backlog) <= UTTERANCES
