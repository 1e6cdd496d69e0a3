"""The transcription worker: scheduling (finals first, newest first, stale partials dropped),
bounds, failures, stopping; first on the pure queue, then on the thread with a gated fake
model, then with the real tiny.en."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assist.asr import (
    MODEL_ERROR,
    Transcriber,
    TranscriptionQueue,
    TranscriptionWorker,
    deferred_transcriber,
    load_transcriber,
)
from assist.config import AsrConfig
from assist.errors import ModelError
from assist.events import (
    SAMPLE_RATE,
    Cue,
    Event,
    FinalText,
    PartialText,
    PartialWindow,
    Speaker,
    UtteranceEnded,
)

JFK = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech-wer" / "jfk.flac"
WAIT = 10.0


def marked_audio(utterance_id: int, seconds: float) -> np.ndarray:
    """Audio whose first sample says which utterance it is, so the fake can name it."""
    audio = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
    audio[0] = utterance_id
    return audio


def final(utterance_id: int, speaker: Speaker = Speaker.CUSTOMER) -> UtteranceEnded:
    start = float(utterance_id * 10)
    return UtteranceEnded(t=start + 2, speaker=speaker, utterance_id=utterance_id, start=start,
                          end=start + 2, last_voiced=start + 1.8,
                          audio=marked_audio(utterance_id, 2))


def partial(utterance_id: int, seconds: float) -> PartialWindow:
    start = float(utterance_id * 10)
    return PartialWindow(t=start + seconds, speaker=Speaker.CUSTOMER, utterance_id=utterance_id,
                         start=start, end=start + seconds,
                         audio=marked_audio(utterance_id, seconds))


def pause(utterance_id: int, last_voiced_after: float) -> PartialWindow:
    """The window sent as the speaker paused, 0.16 s after their last voiced sample."""
    start = float(utterance_id * 10)
    seconds = last_voiced_after + 0.16
    return PartialWindow(t=start + seconds, speaker=Speaker.CUSTOMER, utterance_id=utterance_id,
                         start=start, end=start + seconds,
                         audio=marked_audio(utterance_id, seconds),
                         pause_last_voiced=start + last_voiced_after)


def describe(audio: np.ndarray) -> str:
    return f"u{int(audio[0])} {len(audio) / SAMPLE_RATE:g}s"


# --- the queue on its own -------------------------------------------------------------------


def test_queue_takes_finals_first_newest_first_then_the_newest_partial() -> None:
    q = TranscriptionQueue(max_pending=8)
    for event in (partial(5, 1.5), final(1), final(2), partial(6, 1.5), final(3)):
        q.add(event)
    taken = [q.take() for _ in range(len(q))]
    assert [(type(e).__name__, e.utterance_id) for e in taken if e] == [
        ("UtteranceEnded", 3), ("UtteranceEnded", 2), ("UtteranceEnded", 1),
        ("PartialWindow", 6), ("PartialWindow", 5)]
    assert q.take() is None


def test_queue_in_order_keeps_the_call_order_for_replays() -> None:
    q = TranscriptionQueue(max_pending=8, in_order=True)
    for event in (partial(5, 1.5), final(1), final(2), final(3)):
        q.add(event)
    taken = [q.take() for _ in range(len(q))]
    assert [(type(e).__name__, e.utterance_id) for e in taken if e] == [
        ("UtteranceEnded", 1), ("UtteranceEnded", 2), ("UtteranceEnded", 3),
        ("PartialWindow", 5)]


def test_queue_keeps_one_partial_per_utterance_and_none_after_its_final() -> None:
    q = TranscriptionQueue(max_pending=8)
    q.add(partial(4, 1.5))
    q.add(partial(4, 3.0))
    assert len(q) == 1
    q.add(final(4))
    q.add(partial(4, 4.5))  # late window of an ended utterance
    assert len(q) == 1 and isinstance(q.take(), UtteranceEnded)
    assert q.dropped_partials == 3


def test_queue_bounds_partials_but_never_drops_finals() -> None:
    q = TranscriptionQueue(max_pending=4)
    for i in range(100):
        q.add(final(i))
        q.add(partial(1000 + i, 1.5))
    assert q.finals == 100
    assert len(q) == 104
    newest_partials = [e.utterance_id for e in iter(q.take, None) if isinstance(e, PartialWindow)]
    assert newest_partials == [1099, 1098, 1097, 1096]


def test_same_id_from_two_speakers_is_two_utterances() -> None:
    q = TranscriptionQueue(max_pending=8)
    q.add(final(7, Speaker.AGENT))
    q.add(partial(7, 1.5))
    assert len(q) == 2


def test_queue_reuses_a_ready_guess_for_the_final_that_ends_at_the_same_sample() -> None:
    q = TranscriptionQueue(max_pending=8)
    window = pause(1, 1.8)
    assert q.add(window) is None
    assert q.take() is window
    assert q.guessed(window, "my order never came") is None
    reused = q.add(final(1))
    assert reused is not None and reused.ended.utterance_id == 1
    assert reused.text == "my order never came"
    assert len(q) == 0 and q.take() is None
    assert (q.reused_guesses, q.discarded_guesses) == (1, 0)


def test_queue_discards_the_guess_when_the_speaker_went_on() -> None:
    q = TranscriptionQueue(max_pending=8)
    window = pause(1, 1.0)
    q.add(window)
    q.take()
    q.guessed(window, "my order")
    assert q.add(final(1)) is None  # final(1) was last voiced at 1.8 s, not 1.0 s
    assert isinstance(q.take(), UtteranceEnded)
    assert (q.reused_guesses, q.discarded_guesses) == (0, 1)


def test_queue_final_arriving_during_its_guess_waits_for_that_pass() -> None:
    q = TranscriptionQueue(max_pending=8)
    window = pause(1, 1.8)
    q.add(window)
    q.take()
    assert q.add(final(1)) is None
    assert (len(q), q.finals) == (1, 1)
    assert q.take() is None  # nothing to start: the running pass answers the final
    reused = q.guessed(window, "text")
    assert reused is not None and (reused.ended.utterance_id, reused.text) == (1, "text")
    assert (len(q), q.finals) == (0, 0)


def test_queue_final_whose_guess_failed_gets_its_own_pass() -> None:
    q = TranscriptionQueue(max_pending=8)
    window = pause(1, 1.8)
    q.add(window)
    q.take()
    q.add(final(1))
    assert q.guessed(window, None) is None
    job = q.take()
    assert isinstance(job, UtteranceEnded) and job.utterance_id == 1


def test_queue_guesses_share_the_finals_stack_and_a_final_replaces_its_queued_guess() -> None:
    q = TranscriptionQueue(max_pending=8)
    for event in (partial(5, 1.5), final(1), pause(2, 1.8), pause(3, 1.8)):
        q.add(event)
    q.add(final(3))  # its guess had not started: the final pass is the only one needed
    taken = [q.take() for _ in range(len(q))]
    assert [(type(e).__name__, e.utterance_id) for e in taken if e] == [
        ("UtteranceEnded", 3), ("PartialWindow", 2), ("UtteranceEnded", 1),
        ("PartialWindow", 5)]
    assert q.discarded_guesses == 1


# --- the thread, with a model the test lets go one call at a time --------------------------------


class GatedTranscriber:
    """A slow model: each call announces itself and waits for the test to release it."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.started: queue.Queue[str] = queue.Queue()
        self._gate = threading.Semaphore(0)
        self._fail_on = fail_on

    def transcribe(self, audio: np.ndarray) -> str:
        self.started.put(describe(audio))
        if not self._gate.acquire(timeout=WAIT):
            raise TimeoutError("the test never released the fake model")
        if self._fail_on is not None and int(audio[0]) == self._fail_on:
            raise RuntimeError("model exploded")
        return describe(audio)

    def next_call(self) -> str:
        return self.started.get(timeout=WAIT)

    def release(self, calls: int = 1) -> None:
        for _ in range(calls):
            self._gate.release()


class Collector:
    def __init__(self) -> None:
        self.events: queue.Queue[Event] = queue.Queue()

    def __call__(self, event: Event) -> None:
        self.events.put(event)

    def take(self, n: int) -> list[PartialText | FinalText]:
        out = [self.events.get(timeout=WAIT) for _ in range(n)]
        assert all(isinstance(e, PartialText | FinalText) for e in out)
        return out  # type: ignore[return-value]

    def assert_nothing_more(self) -> None:
        with pytest.raises(queue.Empty):
            self.events.get(timeout=0.2)


def labels(events: list[PartialText | FinalText]) -> list[str]:
    return [f"{'final' if isinstance(e, FinalText) else 'partial'} {e.text}" for e in events]


Gated = tuple[GatedTranscriber, Collector, TranscriptionWorker]


@pytest.fixture
def gated() -> Iterator[Gated]:
    model, out = GatedTranscriber(), Collector()
    worker = TranscriptionWorker(model, out, max_pending=4)
    worker.start()
    yield model, out, worker
    model.release(1000)
    worker.stop(drain=False)


def test_when_behind_the_newest_final_goes_first_and_none_is_lost(gated: Gated) -> None:
    model, out, worker = gated
    worker.submit(final(1))
    assert model.next_call() == "u1 2s"
    for i in (2, 3, 4):
        worker.submit(final(i))
    assert worker.pending() == 4  # three queued and the one with the model
    model.release(4)
    assert labels(out.take(4)) == ["final u1 2s", "final u4 2s", "final u3 2s", "final u2 2s"]
    out.assert_nothing_more()


def test_finals_before_partials_and_stale_partials_dropped(gated: Gated) -> None:
    model, out, worker = gated
    worker.submit(final(1))
    assert model.next_call() == "u1 2s"
    worker.submit(partial(5, 1.5))
    worker.submit(partial(5, 3.0))   # replaces the 1.5 s window of utterance 5
    worker.submit(partial(6, 1.5))
    worker.submit(final(6))          # makes the partial of utterance 6 pointless
    assert worker.pending() == 3     # two queued and utterance 1 with the model
    model.release(3)
    assert labels(out.take(3)) == ["final u1 2s", "final u6 2s", "partial u5 3s"]
    out.assert_nothing_more()


def test_a_partial_overtaken_while_decoding_is_not_emitted(gated: Gated) -> None:
    model, out, worker = gated
    worker.submit(partial(7, 1.5))
    assert model.next_call() == "u7 1.5s"
    worker.submit(partial(7, 3.0))
    model.release()
    assert model.next_call() == "u7 3s"
    worker.submit(final(7))
    model.release()
    assert model.next_call() == "u7 2s"
    model.release()
    assert labels(out.take(1)) == ["final u7 2s"]
    out.assert_nothing_more()


def test_a_guessed_final_is_emitted_once_without_a_second_pass(gated: Gated) -> None:
    model, out, worker = gated
    worker.submit(pause(1, 1.8))
    assert model.next_call() == "u1 1.96s"
    model.release()
    out.assert_nothing_more()  # a guess says nothing until the utterance really ends
    worker.submit(final(1))
    (event,) = out.take(1)
    assert isinstance(event, FinalText) and (event.utterance_id, event.end) == (1, 12.0)
    assert event.text == "u1 1.96s"
    out.assert_nothing_more()
    assert model.started.empty()
    stats = worker.stats()
    assert (stats.final_passes, stats.speculative_passes, stats.queue.reused_guesses) == (0, 1, 1)


def test_a_final_that_arrives_mid_guess_takes_its_text_when_it_is_done(gated: Gated) -> None:
    model, out, worker = gated
    worker.submit(pause(1, 1.8))
    model.next_call()
    worker.submit(final(1))
    out.assert_nothing_more()
    model.release()
    assert labels(out.take(1)) == ["final u1 1.96s"]
    out.assert_nothing_more()
    assert worker.stats().final_passes == 0


def test_when_speech_resumed_after_the_guess_the_final_gets_its_own_pass(gated: Gated) -> None:
    model, out, worker = gated
    worker.submit(pause(1, 1.0))
    model.next_call()
    model.release()
    worker.submit(final(1))
    assert model.next_call() == "u1 2s"
    model.release()
    assert labels(out.take(1)) == ["final u1 2s"]
    out.assert_nothing_more()
    assert worker.stats().queue.discarded_guesses == 1


def test_submit_never_blocks_and_partials_stay_bounded(gated: Gated) -> None:
    model, _out, worker = gated
    worker.submit(final(1))
    model.next_call()
    started = time.perf_counter()
    for i in range(2000):
        worker.submit(partial(100 + i, 1.5))
    assert time.perf_counter() - started < 1.0
    assert worker.pending() == 5  # four partials kept, and utterance 1 with the model


def test_events_carry_the_utterance_and_its_audio_end_time(gated: Gated) -> None:
    model, out, worker = gated
    before = time.time()
    worker.submit(final(3, Speaker.AGENT))
    model.release()
    (event,) = out.take(1)
    assert isinstance(event, FinalText)
    assert (event.speaker, event.utterance_id, event.start, event.end, event.t) == (
        Speaker.AGENT, 3, 30.0, 32.0, 32.0)
    assert before <= event.wall <= time.time()


def test_a_model_failure_still_yields_an_empty_final_in_order(
        caplog: pytest.LogCaptureFixture) -> None:
    model, out = GatedTranscriber(fail_on=2), Collector()
    worker = TranscriptionWorker(model, out)
    worker.start()
    with caplog.at_level(logging.ERROR, logger="assist.asr"):
        for i in (1, 2, 3):
            worker.submit(final(i))
            model.release()
            model.next_call()
        worker.stop()
    assert [(e.utterance_id, e.text) for e in out.take(3)] == [
        (1, "u1 2s"), (2, ""), (3, "u3 2s")]
    assert "utterance 2 failed" in caplog.text


class LoadsLate:
    """A model that must be prepared first; records which thread prepared it."""

    def __init__(self, error: ModelError | None = None) -> None:
        self.prepared_on: str | None = None
        self._error = error

    def prepare(self) -> None:
        self.prepared_on = threading.current_thread().name
        if self._error:
            raise self._error

    def transcribe(self, audio: np.ndarray) -> str:
        if self._error:
            raise self._error
        assert self.prepared_on, "transcribe() before prepare()"
        return describe(audio)


def test_the_model_is_prepared_on_the_worker_thread_before_the_first_job() -> None:
    model, out = LoadsLate(), Collector()
    worker = TranscriptionWorker(model, out)
    worker.submit(final(1))  # queued before the thread even starts
    worker.start()
    worker.stop(drain=True)
    assert model.prepared_on == "whisper"
    assert labels(out.take(1)) == ["final u1 2s"]


def test_a_model_that_cannot_load_still_gives_every_utterance_its_final(
        caplog: pytest.LogCaptureFixture) -> None:
    model, out = LoadsLate(ModelError("cannot load the Whisper model in /x: bad file")), Collector()
    worker = TranscriptionWorker(model, out)
    with caplog.at_level(logging.ERROR, logger="assist.asr"):
        worker.start()
        worker.submit(final(1))
        worker.submit(final(2))
        worker.stop(drain=True)
    notice = out.events.get(timeout=WAIT)  # the agent hears of it before any line comes
    assert isinstance(notice, Cue) and notice.kind == MODEL_ERROR
    assert "could not load" in notice.message
    assert sorted((e.utterance_id, e.text) for e in out.take(2)) == [(1, ""), (2, "")]
    # Said once, when loading failed; not again, with a traceback, for every utterance.
    assert caplog.text.count("cannot load the Whisper model in /x") == 1
    assert "Traceback" not in caplog.text


def stop_while_busy(worker: TranscriptionWorker, model: GatedTranscriber, drain: bool) -> None:
    stopper = threading.Thread(target=worker.stop, kwargs={"drain": drain})
    stopper.start()
    time.sleep(0.3)  # stop() raises its flag at once; the model is still held by the test
    model.release(10)
    stopper.join(WAIT)
    assert not stopper.is_alive()


def test_stop_drains_queued_finals_but_not_partials() -> None:
    model, out = GatedTranscriber(), Collector()
    worker = TranscriptionWorker(model, out)
    worker.start()
    worker.submit(final(1))
    model.next_call()
    worker.submit(partial(9, 1.5))
    worker.submit(final(2))
    stop_while_busy(worker, model, drain=True)
    assert labels(out.take(2)) == ["final u1 2s", "final u2 2s"]
    out.assert_nothing_more()
    worker.submit(final(3))  # after stop: logged, ignored
    assert worker.pending() == 0


def test_stop_without_draining_drops_the_backlog(caplog: pytest.LogCaptureFixture) -> None:
    model, out = GatedTranscriber(), Collector()
    worker = TranscriptionWorker(model, out)
    worker.start()
    worker.submit(final(1))
    model.next_call()
    worker.submit(final(2))
    worker.submit(final(3))
    with caplog.at_level(logging.WARNING, logger="assist.asr"):
        stop_while_busy(worker, model, drain=False)
    assert labels(out.take(1)) == ["final u1 2s"]
    out.assert_nothing_more()
    assert "2 utterances were not transcribed" in caplog.text


# --- the real model through the worker ------------------------------------------------------------


class CountingTranscriber:
    def __init__(self, inner: Transcriber) -> None:
        self.inner = inner
        self.passes = 0

    def transcribe(self, audio: np.ndarray) -> str:
        self.passes += 1
        return self.inner.transcribe(audio)


def jfk_speech() -> np.ndarray:
    if not JFK.is_file():
        pytest.skip(f"real speech not found at {JFK} (../shared/data/speech-wer)")
    from scipy.signal import resample_poly

    audio, rate = sf.read(JFK, dtype="float32", always_2d=True)
    return resample_poly(audio.mean(axis=1), 160, rate // 100).astype(np.float32)


@pytest.mark.slow
def test_real_whisper_guess_at_the_pause_becomes_the_final_in_one_pass() -> None:
    speech = jfk_speech()
    model = CountingTranscriber(deferred_transcriber(None, AsrConfig()))
    out = Collector()
    worker = TranscriptionWorker(model, out)
    worker.start()
    paused_at = len(speech) / SAMPLE_RATE
    worker.submit(PartialWindow(t=paused_at, speaker=Speaker.CUSTOMER, utterance_id=1, start=0.0,
                                end=paused_at, audio=speech, pause_last_voiced=paused_at - 0.16))
    ended = np.concatenate([speech, np.zeros(SAMPLE_RATE // 4, np.float32)])
    worker.submit(UtteranceEnded(t=paused_at + 0.25, speaker=Speaker.CUSTOMER, utterance_id=1,
                                 start=0.0, end=paused_at + 0.25, last_voiced=paused_at - 0.16,
                                 audio=ended))
    worker.stop(drain=True)
    (last,) = out.take(1)
    assert isinstance(last, FinalText) and last.end == pytest.approx(paused_at + 0.25)
    assert "ask not what your country can do for you" in last.text.lower().replace(",", "")
    assert model.passes == 1


@pytest.mark.slow
def test_real_whisper_through_the_worker_partial_then_final() -> None:
    speech = jfk_speech()
    out = Collector()
    worker = TranscriptionWorker(load_transcriber(None, AsrConfig()), out)
    worker.start()
    window = PartialWindow(t=4.0, speaker=Speaker.CUSTOMER, utterance_id=1, start=0.0, end=4.0,
                           audio=speech[: 4 * SAMPLE_RATE])
    worker.submit(window)
    first = out.take(1)[0]
    worker.submit(UtteranceEnded(t=11.0, speaker=Speaker.CUSTOMER, utterance_id=1, start=0.0,
                                 end=11.0, last_voiced=10.8, audio=speech))
    worker.stop(drain=True)
    last = out.take(1)[0]
    assert isinstance(first, PartialText) and "fellow americans" in first.text.lower()
    assert isinstance(last, FinalText) and last.end == 11.0
    assert "ask not what your country can do for you" in last.text.lower().replace(",", "")
