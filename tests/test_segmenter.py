"""The segmenter's state machine on made-up VAD probabilities, then real Silero on real speech."""

from __future__ import annotations

import dataclasses
import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from audio_helpers import loud_spans, silence, speech, tone

from assist.audio.segmenter import FIRST_WINDOW_VOICED_S, FRAME_S, PAUSE_S, Segmenter
from assist.audio.vad import FRAME, EnergyActivityForTests, silero_vad
from assist.config import SegmenterConfig
from assist.events import (
    Event,
    PartialWindow,
    Speaker,
    UtteranceEnded,
    UtteranceStarted,
    event_to_dict,
)

# Frame-aligned settings so expected times are exact multiples of a frame (32 ms).
CONFIG = SegmenterConfig(vad_threshold=0.5, end_silence_ms=320, preroll_ms=256, min_speech_ms=160,
                         max_utterance_s=3.2, partial_every_s=0.64)
END_FRAMES, PREROLL_FRAMES, MIN_FRAMES = 10, 8, 5


class ProbabilityInAudio:
    """A fake VAD whose 'audio' is the speech probability itself, repeated over each frame.

    Because the probability travels inside the samples, cutting the stream into blocks of
    any size cannot change what the segmenter sees.
    """

    def __init__(self) -> None:
        self.resets = 0

    def __call__(self, frame: np.ndarray) -> float:
        assert frame.shape == (FRAME,)
        return float(frame.mean())

    def reset(self) -> None:
        self.resets += 1


def frames(*runs: tuple[float, int]) -> np.ndarray:
    """Audio for runs of (probability, number of frames)."""
    return np.concatenate([np.full(count * FRAME, prob, np.float32) for prob, count in runs])


def segment(audio: np.ndarray, *, block: int = FRAME, config: SegmenterConfig = CONFIG,
            vad: ProbabilityInAudio | None = None, t0: float = 0.0) -> list[Event]:
    segmenter = Segmenter(config, Speaker.CUSTOMER, vad or ProbabilityInAudio(), itertools.count(1))
    events: list[Event] = []
    for start in range(0, len(audio), block):
        events += segmenter.process(t0 + start / 16_000, audio[start : start + block])
    return events + segmenter.flush(t0 + len(audio) / 16_000)


def of_type(events: list[Event], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_one_utterance_has_preroll_end_silence_and_last_voiced() -> None:
    audio = frames((0.0, 20), (0.9, 30), (0.0, 30))
    events = segment(audio)
    assert [type(e) for e in events if not isinstance(e, PartialWindow)] == [
        UtteranceStarted, UtteranceEnded]
    (started,), (ended,) = of_type(events, UtteranceStarted), of_type(events, UtteranceEnded)
    assert isinstance(started, UtteranceStarted) and isinstance(ended, UtteranceEnded)
    assert started.start == pytest.approx((20 - PREROLL_FRAMES) * FRAME_S)
    assert started.t == pytest.approx((20 + MIN_FRAMES) * FRAME_S)  # known after min_speech
    assert ended.utterance_id == started.utterance_id == 1
    assert ended.last_voiced == pytest.approx(50 * FRAME_S)
    assert ended.end == pytest.approx((50 + END_FRAMES) * FRAME_S)
    assert ended.t == pytest.approx(ended.end)
    first = (20 - PREROLL_FRAMES) * FRAME
    np.testing.assert_array_equal(ended.audio, audio[first : (50 + END_FRAMES) * FRAME])


def test_hysteresis_keeps_speech_going_between_the_two_thresholds() -> None:
    # 0.4 cannot start speech (< 0.5) but keeps it going (>= 0.5 - 0.15).
    events = segment(frames((0.4, 10), (0.9, 10), (0.4, 40), (0.2, 20)))
    ended = of_type(events, UtteranceEnded)
    assert len(ended) == 1
    assert ended[0].start == pytest.approx((10 - PREROLL_FRAMES) * FRAME_S)
    assert ended[0].last_voiced == pytest.approx(60 * FRAME_S)


def test_short_burst_is_dropped_and_uses_no_id() -> None:
    runs = [(0.0, 10), (0.9, MIN_FRAMES - 1), (0.0, 30), (0.9, 20), (0.0, 20)]
    events = segment(frames(*runs))
    (started,), (ended,) = of_type(events, UtteranceStarted), of_type(events, UtteranceEnded)
    assert started.utterance_id == ended.utterance_id == 1
    speech_starts = 10 + MIN_FRAMES - 1 + 30
    assert started.start == pytest.approx((speech_starts - PREROLL_FRAMES) * FRAME_S)


def test_pause_shorter_than_end_silence_does_not_split() -> None:
    events = segment(frames((0.9, 20), (0.0, END_FRAMES - 1), (0.9, 20), (0.0, 20)))
    assert len(of_type(events, UtteranceEnded)) == 1


def test_pause_of_end_silence_splits() -> None:
    events = segment(frames((0.9, 20), (0.0, END_FRAMES), (0.9, 20), (0.0, 20)))
    first, second = of_type(events, UtteranceEnded)
    assert (first.utterance_id, second.utterance_id) == (1, 2)
    assert first.end == pytest.approx((20 + END_FRAMES) * FRAME_S)
    # The second utterance's pre-roll comes only from after the first one ended.
    assert second.start == pytest.approx(first.end)


def test_long_speech_is_cut_at_max_length_without_losing_audio() -> None:
    audio = frames((0.0, 10), (0.9, 250), (0.0, 20))
    events = segment(audio)
    ended = of_type(events, UtteranceEnded)
    assert [e.utterance_id for e in ended] == [1, 2, 3]
    for e in ended:
        assert e.end - e.start <= CONFIG.max_utterance_s + 1e-6
    for before, after in itertools.pairwise(ended):
        assert after.start == pytest.approx(before.end)
    joined = np.concatenate([e.audio for e in ended])
    np.testing.assert_array_equal(joined, audio[(10 - PREROLL_FRAMES) * FRAME : (260 + END_FRAMES) * FRAME])
    starts = of_type(events, UtteranceStarted)
    assert [s.utterance_id for s in starts] == [1, 2, 3]


def test_partial_windows_start_after_enough_speech_and_grow_while_speaking() -> None:
    events = segment(frames((0.0, 10), (0.9, 70), (0.0, 20)))
    (started,) = of_type(events, UtteranceStarted)
    (ended,) = of_type(events, UtteranceEnded)
    growing = [p for p in of_type(events, PartialWindow) if p.pause_last_voiced is None]
    # The first after 0.32 s of speech (the voice analysis needs 0.25 s), then every 0.64 s.
    onset = ended.start + PREROLL_FRAMES * FRAME_S
    assert started.t - onset == pytest.approx(MIN_FRAMES * FRAME_S)
    assert growing[0].end - onset == pytest.approx(FIRST_WINDOW_VOICED_S, abs=FRAME_S)
    assert len(growing) == 4  # at 0.58, 1.22, 1.86 and 2.50 s into a 2.5 s utterance
    for n, partial in enumerate(growing):
        assert partial.utterance_id == ended.utterance_id
        assert partial.start == ended.start
        assert partial.end - growing[0].end == pytest.approx(n * CONFIG.partial_every_s,
                                                              abs=FRAME_S)
        assert len(partial.audio) == round((partial.end - partial.start) * 16_000)
        assert partial.t < ended.t
        np.testing.assert_array_equal(partial.audio, ended.audio[: len(partial.audio)])


def test_a_pause_sends_one_window_marked_with_the_last_voiced_sample() -> None:
    events = segment(frames((0.0, 10), (0.9, 40), (0.0, 20)))
    (ended,) = of_type(events, UtteranceEnded)
    (pause,) = [p for p in of_type(events, PartialWindow) if p.pause_last_voiced is not None]
    assert pause.pause_last_voiced == ended.last_voiced
    assert pause.end - ended.last_voiced == pytest.approx(PAUSE_S)
    assert pause.end < ended.end  # sent while the segmenter still waits out end_silence
    np.testing.assert_array_equal(pause.audio, ended.audio[: len(pause.audio)])


def test_speech_after_a_pause_leaves_the_pause_window_behind() -> None:
    short_pause = END_FRAMES - 2
    events = segment(frames((0.9, 20), (0.0, short_pause), (0.9, 20), (0.0, 20)))
    (ended,) = of_type(events, UtteranceEnded)
    pauses = [p for p in of_type(events, PartialWindow) if p.pause_last_voiced is not None]
    assert len(pauses) == 2  # one per pause, not one per silent frame
    assert pauses[0].pause_last_voiced == pytest.approx(20 * FRAME_S)
    assert pauses[0].pause_last_voiced != ended.last_voiced
    assert pauses[1].pause_last_voiced == ended.last_voiced


def test_no_partials_when_disabled() -> None:
    config = dataclasses.replace(CONFIG, partial_every_s=0.0)
    events = segment(frames((0.9, 70), (0.0, 20)), config=config)
    assert not of_type(events, PartialWindow)
    assert len(of_type(events, UtteranceEnded)) == 1


@pytest.mark.parametrize("block", [1, 100, 511, 513, 1600, 7919])
def test_block_size_does_not_change_events(block: int) -> None:
    rng = np.random.default_rng(7)
    runs = [(float(rng.choice([0.0, 0.3, 0.45, 0.9])), int(rng.integers(1, 40))) for _ in range(60)]
    audio = frames(*runs)
    reference = segment(audio)
    events = segment(audio, block=block)
    assert [event_to_dict(e) | {"wall": 0} for e in events] == [
        event_to_dict(e) | {"wall": 0} for e in reference]
    assert len(reference) > 6
    for got, want in zip(events, reference, strict=True):
        np.testing.assert_array_equal(getattr(got, "audio", 0), getattr(want, "audio", 0))


def test_flush_closes_open_utterance_and_forgets_unconfirmed() -> None:
    events = segment(frames((0.0, 5), (0.9, 40)))
    (ended,) = of_type(events, UtteranceEnded)
    assert ended.end == pytest.approx(45 * FRAME_S)
    assert ended.last_voiced == pytest.approx(45 * FRAME_S)
    assert segment(frames((0.0, 5), (0.9, MIN_FRAMES - 1))) == []


def test_flush_keeps_a_trailing_part_frame() -> None:
    audio = np.concatenate([frames((0.9, 30)), np.full(100, 0.9, np.float32)])
    (ended,) = of_type(segment(audio, block=len(audio)), UtteranceEnded)
    assert len(ended.audio) == len(audio)
    assert ended.end == pytest.approx(len(audio) / 16_000)


def test_time_jump_ends_the_utterance_and_resets_the_vad() -> None:
    vad = ProbabilityInAudio()
    segmenter = Segmenter(CONFIG, Speaker.AGENT, vad, itertools.count(10))
    speech_block = frames((0.9, 30))
    events = segmenter.process(0.0, speech_block)
    assert segmenter.speaking
    resets_before = vad.resets
    events += segmenter.process(30.0, frames((0.0, 30)))  # audio lost between ~1 s and 30 s
    ended = of_type(events, UtteranceEnded)
    assert len(ended) == 1 and ended[0].speaker is Speaker.AGENT
    assert ended[0].end == pytest.approx(30 * FRAME_S)
    assert vad.resets == resets_before + 1
    assert not segmenter.speaking


def test_times_follow_the_time_passed_in() -> None:
    events = segment(frames((0.0, 20), (0.9, 30), (0.0, 30)), t0=100.0)
    assert of_type(events, UtteranceStarted)[0].start == pytest.approx(100 + 12 * FRAME_S)


def test_preroll_is_limited_by_the_stream_start() -> None:
    (ended,) = of_type(segment(frames((0.0, 2), (0.9, 20), (0.0, 20))), UtteranceEnded)
    assert ended.start == 0.0


def test_energy_stand_in_separates_tone_from_silence() -> None:
    vad = EnergyActivityForTests()
    assert vad(silence(FRAME / 16_000)) < 0.01
    assert vad(tone(300, FRAME / 16_000, amplitude=0.1)) > 0.99
    assert 0.3 < vad(np.full(FRAME, 10 ** (-40 / 20), np.float32)) < 0.7


# --- the real detector on real (synthetic) speech ---------------------------------------------

@pytest.mark.slow
def test_silero_finds_spoken_sentences_where_they_are(tmp_path: Path) -> None:
    first = speech("I have been waiting for my refund for three weeks now.", tmp_path)
    second = speech("Please put me through to someone who can actually help.", tmp_path)
    audio = np.concatenate([silence(0.8), first, silence(1.5), second, silence(1.2)])
    truth = [loud_spans(np.concatenate([silence(0.8), first]))[0]]
    offset = 0.8 + len(first) / 16_000 + 1.5
    spans = loud_spans(second)
    truth.append((offset + spans[0][0], offset + spans[-1][1]))

    config = SegmenterConfig(partial_every_s=0.0)
    segmenter = Segmenter(config, Speaker.CUSTOMER, silero_vad(), itertools.count(1))
    started = time.perf_counter()
    events: list[Event] = []
    for start in range(0, len(audio), 512):
        events += segmenter.process(start / 16_000, audio[start : start + 512])
    events += segmenter.flush(len(audio) / 16_000)
    cost_per_second = (time.perf_counter() - started) / (len(audio) / 16_000)

    ended = of_type(events, UtteranceEnded)
    assert len(ended) == 2, [(e.start, e.end) for e in ended]
    for utterance, (speech_start, speech_end) in zip(ended, truth, strict=True):
        # Pre-roll puts the start a little before the first syllable, never after it.
        assert speech_start - 0.45 <= utterance.start <= speech_start + 0.05
        assert abs(utterance.last_voiced - speech_end) < 0.25
        assert utterance.end - utterance.last_voiced == pytest.approx(
            config.end_silence_ms / 1000, abs=2 * FRAME_S)
    # A generous bound (shared CI cores): streaming Silero must stay far below real time.
    assert cost_per_second < 0.1
