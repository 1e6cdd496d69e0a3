"""The pipeline's wiring, with a fake transcriber and synthetic audio (no model, no device).

The real model on real speech is exercised in test_pipeline_real.py; here the point is the
threads and queues: attribution, ordering, completeness, stop behaviour.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from assist.audio.sources import AudioBlock, Blocks
from assist.audio.vad import EnergyActivityForTests
from assist.config import Config
from assist.events import (
    SAMPLE_RATE,
    AgentAction,
    AudioState,
    AudioStatus,
    CallEnded,
    CallStarted,
    CallSummarized,
    Event,
    FinalText,
    PromptShown,
    Speaker,
    StageChanged,
    UtteranceScored,
    VoiceCue,
)
from assist.pipeline import Pipeline, final_texts, run_to_end
from assist.prompts import load_pack
from assist.session import CallSession

CUSTOMER_LINES = [
    "hi I am calling about my order",
    "this is the third time I have called and nobody is helping me",
    "I have been on hold for forty minutes this is unacceptable",
    "this is ridiculous I am so angry I want to cancel everything",
    "this is absolutely unacceptable I am furious",
]
AGENT_LINES = ["thanks for calling how can I help", "I am sorry let me look into that"]


def tone(seconds: float, hz: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


class DurationTranscriber:
    """Knows each line by its length: utterance n lasts 1 + 0.5 n seconds."""

    def __init__(self) -> None:
        self.calls = 0

    def transcribe(self, audio: np.ndarray) -> str:
        self.calls += 1
        seconds = np.count_nonzero(np.abs(audio) > 0.01) / SAMPLE_RATE  # voiced part only
        index = round((seconds - 1.0) / 0.5)
        lines = CUSTOMER_LINES + AGENT_LINES
        return lines[index] if 0 <= index < len(lines) else ""


def conversation() -> tuple[np.ndarray, np.ndarray]:
    """Agent and customer take turns; utterance n of the script lasts 1 + 0.5 n seconds.

    The segmenter pads each utterance with pre-roll and end silence, which the transcriber
    ignores by counting only the samples with sound in them.
    """
    customer: list[np.ndarray] = []
    agent: list[np.ndarray] = []
    order = [("agent", 5), *[("customer", i) for i in range(len(CUSTOMER_LINES))], ("agent", 6)]
    for who, index in order:
        speech = tone(1.0 + 0.5 * index, 220 if who == "customer" else 330)
        gap = silence(1.5)
        mine, other = (customer, agent) if who == "customer" else (agent, customer)
        mine += [speech, gap]
        other += [np.zeros_like(speech), gap]
    return np.concatenate(customer), np.concatenate(agent)


class ListSource:
    """A finite source of blocks, as a file replayed at full speed would give."""

    description = "synthetic conversation"

    def __init__(self, customer: np.ndarray, agent: np.ndarray | None, block: int = 512) -> None:
        self.customer, self.agent, self.block = customer, agent, block
        self._stop = threading.Event()

    def blocks(self) -> Blocks:
        yield AudioState(t=0.0, status=AudioStatus.LISTENING)
        for start in range(0, len(self.customer), self.block):
            if self._stop.is_set():
                return
            end = start + self.block
            yield AudioBlock(t=start / SAMPLE_RATE, customer=self.customer[start:end],
                             agent=None if self.agent is None else self.agent[start:end])
        yield AudioState(t=len(self.customer) / SAMPLE_RATE, status=AudioStatus.ENDED)

    def stop(self) -> None:
        self._stop.set()


def config() -> Config:
    return Config()


def replay(source: ListSource) -> list[Event]:
    return run_to_end(source, config(), transcriber=DurationTranscriber(),
                      pack=load_pack("default"), vad_factory=EnergyActivityForTests)


@pytest.fixture(scope="module")
def events() -> list[Event]:
    customer, agent = conversation()
    return replay(ListSource(customer, agent))


def test_call_is_bracketed_by_start_and_end(events: list[Event]) -> None:
    assert isinstance(events[0], CallStarted)
    assert isinstance(events[-1], CallEnded)
    assert events[-1].call_id == events[0].call_id


def test_every_line_is_transcribed_and_attributed_to_its_speaker(events: list[Event]) -> None:
    finals = final_texts(events)
    customer = [f.text for f in finals if f.speaker is Speaker.CUSTOMER]
    agent = [f.text for f in finals if f.speaker is Speaker.AGENT]
    assert customer == CUSTOMER_LINES
    assert agent == AGENT_LINES
    assert not set(agent) & set(customer)


def test_only_customer_lines_are_scored(events: list[Event]) -> None:
    scored = [e for e in events if isinstance(e, UtteranceScored)]
    assert [s.text for s in sorted(scored, key=lambda s: s.start)] == CUSTOMER_LINES
    customer_ids = {f.utterance_id for f in events
                    if isinstance(f, FinalText) and f.speaker is Speaker.CUSTOMER}
    assert {s.utterance_id for s in scored} == customer_ids
    voice_ids = {v.utterance_id for v in events if isinstance(v, VoiceCue) and not v.partial}
    assert voice_ids == customer_ids


def test_rising_anger_moves_the_stage_and_every_change_has_a_prompt(events: list[Event]) -> None:
    changes = [e for e in events if isinstance(e, StageChanged)]
    assert changes, "angry lines should move the stage off calm"
    assert all(c.reason for c in changes)
    for i, event in enumerate(events):
        if isinstance(event, StageChanged):
            follower = events[i + 1]
            assert isinstance(follower, PromptShown) and follower.stage is event.stage
    scores = [e.anger for e in sorted((e for e in events if isinstance(e, UtteranceScored)),
                                      key=lambda e: e.start)]
    assert scores[-1] > scores[0]


def test_mono_source_has_no_agent_and_still_scores() -> None:
    customer, _ = conversation()
    events = replay(ListSource(customer, None))
    assert all(f.speaker is Speaker.CUSTOMER for f in final_texts(events))
    assert len(final_texts(events)) == len(CUSTOMER_LINES)


def replaying_pipeline(seen: list[Event]) -> Pipeline:
    """The conversation replayed as fast as Whisper's stand-in keeps up; not started yet."""
    customer, agent = conversation()
    return Pipeline(ListSource(customer, agent), config(), transcriber=DurationTranscriber(),
                    pack=load_pack("default"), sinks=[seen.append],
                    vad_factory=EnergyActivityForTests, pace_transcription=True)


def test_agent_actions_reach_the_sinks_in_order() -> None:
    seen: list[Event] = []
    pipeline = replaying_pipeline(seen)
    pipeline.start()
    pipeline.post(AgentAction(t=0.0, action="flag", value="test"))
    assert pipeline.wait(60)
    flags = [e for e in seen if isinstance(e, AgentAction) and e.action == "flag"]
    assert len(flags) == 1
    assert seen.index(flags[0]) > 0  # after CallStarted


def test_stop_mid_call_still_ends_the_call_cleanly() -> None:
    customer, agent = conversation()
    seen: list[Event] = []
    source = ListSource(customer, agent)
    pipeline = Pipeline(source, config(), transcriber=DurationTranscriber(),
                        pack=load_pack("default"), sinks=[seen.append],
                        vad_factory=EnergyActivityForTests)
    pipeline.start()
    pipeline.stop()
    assert pipeline.wait(30)
    assert isinstance(seen[-1], CallEnded)
    assert seen[-1].reason == "stopped"


class PacedListSource(ListSource):
    """Ten times real pace: Whisper's stand-in has time to start on a pause before it ends."""

    def blocks(self) -> Blocks:
        for item in super().blocks():
            self._stop.wait(self.block / SAMPLE_RATE / 10)
            yield item


def test_customer_finals_reuse_the_pass_started_at_the_pause_and_agents_get_one_pass() -> None:
    customer, agent = conversation()
    model = DurationTranscriber()
    seen: list[Event] = []
    pipeline = Pipeline(PacedListSource(customer, agent), config(), transcriber=model,
                        pack=load_pack("default"), sinks=[seen.append],
                        vad_factory=EnergyActivityForTests)
    pipeline.start()
    assert pipeline.wait(60)
    stats = pipeline.transcription_stats()
    finals = [e for e in seen if isinstance(e, FinalText)]
    assert len(finals) == len({f.utterance_id for f in finals}) == 7, "one final each"
    assert [f.text for f in final_texts(seen) if f.speaker is Speaker.CUSTOMER] == CUSTOMER_LINES
    # A customer's final either reuses the pass started at the pause, or (if the final came
    # before that pass could start) gets its own; the agent's lines, which only go on the
    # record, get one final pass each and no partial or speculative passes.
    reused, discarded = stats.queue.reused_guesses, stats.queue.discarded_guesses
    assert reused + discarded == len(CUSTOMER_LINES)
    assert reused >= 1
    assert stats.final_passes == len(AGENT_LINES) + discarded
    assert model.calls == stats.final_passes + stats.speculative_passes + stats.partial_passes


def test_each_call_starts_where_the_coordinator_is_and_its_summary_spans_it() -> None:
    customer, agent = conversation()
    seen: list[Event] = []
    # At ten times real pace the agent's Ctrl+N lands mid-call, as it would live.
    pipeline = Pipeline(PacedListSource(customer, agent), config(),
                        transcriber=DurationTranscriber(), pack=load_pack("default"),
                        vad_factory=EnergyActivityForTests)

    def new_call_after_first_customer_line(event: Event) -> None:
        first = not any(isinstance(e, FinalText) and e.speaker is Speaker.CUSTOMER for e in seen)
        seen.append(event)
        if first and isinstance(event, FinalText) and event.speaker is Speaker.CUSTOMER:
            pipeline.end_call()  # the agent's Ctrl+N
            pipeline.start_call()

    pipeline.sinks.append(new_call_after_first_customer_line)
    pipeline.start()
    assert pipeline.wait(60)
    starts = [e for e in seen if isinstance(e, CallStarted)]
    ends = [e for e in seen if isinstance(e, CallEnded)]
    summaries = [e for e in seen if isinstance(e, CallSummarized)]
    assert len(starts) == len(ends) == len(summaries) == 2
    # The first call starts with the audio, not wherever the source thread had got to.
    assert starts[0].t == 0.0
    assert ends[0].t <= starts[1].t < ends[1].t
    first_line = next(e for e in seen if isinstance(e, FinalText) and e.speaker is Speaker.CUSTOMER)
    assert starts[1].t >= first_line.end
    for start, end, summary in zip(starts, ends, summaries, strict=True):
        assert summary.duration_s == pytest.approx(end.t - start.t)


def test_an_item_that_breaks_a_stage_is_skipped_and_the_call_goes_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    broken: list[int] = []

    def handle_or_break(self: CallSession, event: Event) -> list[Event]:
        if isinstance(event, FinalText) and not broken:
            broken.append(event.utterance_id)
            raise ValueError("a scorer bug")
        return original(self, event)

    original = CallSession.handle
    monkeypatch.setattr(CallSession, "handle", handle_or_break)
    events: list[Event] = []
    pipeline = replaying_pipeline(events)
    pipeline.start()
    assert pipeline.wait(60), "the coordinator died with the broken item"
    assert broken and isinstance(events[-1], CallEnded)
    scored = [e.utterance_id for e in events if isinstance(e, UtteranceScored)]
    assert len(scored) >= len(CUSTOMER_LINES) - 1 and broken[0] not in scored
