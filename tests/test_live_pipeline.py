"""Live capture end to end: the sample call played into PulseAudio's null sink, recorded
through sounddevice, segmented, transcribed by the real tiny.en and attributed by channel."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import soundfile as sf
from transcript_helpers import assert_lines_heard_in_order, overlap

from assist.asr import load_transcriber
from assist.audio.sources import open_live
from assist.config import AudioConfig, Config
from assist.events import AudioState, AudioStatus, Event, Speaker
from assist.paths import sample_call
from assist.pipeline import Pipeline, final_texts
from assist.prompts import load_pack

pytestmark = [pytest.mark.live, pytest.mark.slow]


def test_live_call_gives_the_customer_lines_in_order(require_pulse: None) -> None:
    config = Config(audio=AudioConfig(customer_device="pulse", customer_channel="right",
                                      agent_channel="left"))
    events: list[Event] = []
    pipeline = Pipeline(open_live(config.audio), config,
                        transcriber=load_transcriber(None, config.asr),
                        pack=load_pack("default"), sinks=[events.append])
    pipeline.start()
    wait_for(lambda: any(isinstance(e, AudioState) and e.status is AudioStatus.LISTENING
                         for e in events), 10)
    time.sleep(0.8)  # PortAudio's first callback can lag; see test-environment.md
    duration = sf.info(str(sample_call())).duration
    subprocess.run(["paplay", "--device=call", str(sample_call())], check=True,
                   timeout=duration + 30)
    time.sleep(1.5)  # the last utterance's end silence
    pipeline.stop()
    assert pipeline.wait(120)

    finals = final_texts(events)
    heard = [f.text for f in finals if f.speaker is Speaker.CUSTOMER]
    labels = json.loads(sample_call().with_suffix(".labels.json").read_text(encoding="utf-8"))
    assert_lines_heard_in_order([t["text"] for t in labels if t["speaker"] == "customer"], heard)
    for agent_line in (t["text"] for t in labels if t["speaker"] == "agent"):
        assert all(overlap(agent_line, h) < 0.5 for h in heard), agent_line
    assert any(f.speaker is Speaker.AGENT for f in finals)


def wait_for(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")
