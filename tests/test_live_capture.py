"""Live capture through a real PulseAudio null sink: speech played into it comes back out of
open_live with the customer's and the agent's channels kept apart."""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from audio_helpers import (
    dominant_frequency,
    loud_spans,
    require_tool,
    silence,
    speech,
    tone,
    write_stereo,
)
from scipy.signal import correlate

from assist.audio import Segmenter, open_live, silero_vad
from assist.audio.sources import AudioBlock, LiveSource
from assist.cli import main
from assist.config import AudioConfig, SegmenterConfig
from assist.errors import AudioError
from assist.events import AudioState, AudioStatus, Speaker, UtteranceEnded

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.usefixtures("require_pulse")]

RATE = 16_000


@pytest.fixture(autouse=True)
def _paplay() -> None:
    require_tool("paplay")


class Recorder:
    """Iterates a live source on its own thread, as the pipeline does, keeping what it yields."""

    def __init__(self, source: LiveSource) -> None:
        self.source = source
        self.items: queue.Queue[AudioBlock | AudioState] = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for item in self.source.blocks():
            self.items.put(item)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.source.stop()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "blocks() did not end after stop()"

    def drain(self) -> list[AudioBlock | AudioState]:
        out = []
        while True:
            try:
                out.append(self.items.get_nowait())
            except queue.Empty:
                return out

    def wait_for_audio(self, seconds: float, timeout: float = 10.0) -> list[AudioBlock | AudioState]:
        """Everything yielded until ``seconds`` of audio blocks have arrived."""
        got: list[AudioBlock | AudioState] = []
        have = 0.0
        deadline = time.monotonic() + timeout
        while have < seconds:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"only {have:.2f} s of audio arrived in {timeout} s: {got[-3:]}"
            item = self.items.get(timeout=remaining)
            got.append(item)
            if isinstance(item, AudioBlock):
                have += len(item.customer) / RATE
        return got


def best_alignment(captured: np.ndarray, original: np.ndarray) -> tuple[int, float]:
    """Lag of ``original`` inside ``captured`` and the normalised correlation there."""
    scores = correlate(captured, original, mode="valid", method="fft")
    lag = int(np.argmax(np.abs(scores)))
    window = captured[lag : lag + len(original)]
    norm = np.linalg.norm(window) * np.linalg.norm(original)
    return lag, float(abs(scores[lag]) / norm) if norm else 0.0


@pytest.mark.parametrize("agent_device", ["", "default"], ids=["one-device", "two-devices"])
def test_customer_and_agent_channels_stay_apart(tmp_path: Path, agent_device: str) -> None:
    customer_speech = speech("My internet has been down since Monday and nobody called back.",
                             tmp_path)
    agent_speech = speech("I am sorry to hear that, let me check your line right now.", tmp_path)
    # The customer (right) talks first, then the agent (left): never at the same time.
    gap = silence(0.8)
    right = np.concatenate([silence(0.3), customer_speech, gap, np.zeros_like(agent_speech)])
    left = np.concatenate([silence(0.3), np.zeros_like(customer_speech), gap, agent_speech])
    call = write_stereo(tmp_path / "call.wav", left, right)

    # "default" is a second PortAudio device on the same PulseAudio monitor: the agent then
    # comes from another stream with its own clock.
    source = open_live(AudioConfig(customer_device="pulse", customer_channel="right",
                                   agent_device=agent_device, agent_channel="left"))
    assert "pulse" in source.description
    with Recorder(source) as recorder:
        first = recorder.wait_for_audio(0.3)  # the first callback can take 0.5 s to come
        assert isinstance(first[0], AudioState) and first[0].status is AudioStatus.LISTENING
        subprocess.run(["paplay", "--device=call", str(call)], check=True, timeout=60)
        played = len(right) / RATE
        time.sleep(1.0)  # paplay returns as the sink plays its end; the agent may run behind
        rest = recorder.drain()
    blocks = [b for b in first + rest + recorder.drain() if isinstance(b, AudioBlock)]
    customer = np.concatenate([b.customer for b in blocks])
    agent = np.concatenate([b.agent for b in blocks if b.agent is not None])
    assert len(agent) == len(customer)
    assert len(customer) / RATE > played

    lag, match = best_alignment(customer, right)
    assert match > 0.9, f"customer channel does not carry the right channel (r={match:.2f})"
    agent_lag, agent_match = best_alignment(agent, left)
    assert agent_match > 0.9
    assert abs(agent_lag - lag) < (32 if not agent_device else RATE // 4)
    aligned_customer = customer[lag : lag + len(right)]
    aligned_agent = agent[agent_lag : agent_lag + len(left)]
    agent_part = slice(len(right) - len(agent_speech), len(right))
    customer_part = slice(int(0.3 * RATE), int(0.3 * RATE) + len(customer_speech))
    # No crosstalk: each side is (near) silent while the other one speaks.
    assert np.abs(aligned_customer[agent_part]).max() < 0.01
    assert np.abs(aligned_agent[customer_part]).max() < 0.01

    # And the segmenter hears the customer exactly where the customer spoke.
    segmenter = Segmenter(SegmenterConfig(partial_every_s=0.0), Speaker.CUSTOMER, silero_vad(),
                          itertools.count(1))
    events = []
    for block in blocks:
        events += segmenter.process(block.t, block.customer)
    events += segmenter.flush(blocks[-1].t + len(blocks[-1].customer) / RATE)
    utterances = [e for e in events if isinstance(e, UtteranceEnded)]
    assert utterances
    spoken = loud_spans(right)
    start_of_capture = blocks[0].t
    speech_from = start_of_capture + (lag / RATE) + spoken[0][0]
    speech_to = start_of_capture + (lag / RATE) + spoken[-1][1]
    for utterance in utterances:
        assert speech_from - 0.5 < utterance.start and utterance.last_voiced < speech_to + 0.3


def test_capture_at_the_device_rate_is_resampled(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A device that cannot do 16 kHz is recorded at its own rate: the pitch must survive."""
    played = write_stereo(tmp_path / "tone.wav", tone(300, 1.5), tone(440, 1.5))
    source = open_live(AudioConfig(customer_device="pulse", customer_channel="right"))
    stream = source._streams[0]
    monkeypatch.setattr(stream, "_pick_rate", lambda sd: 44_100)  # as if 16 kHz were refused
    with Recorder(source) as recorder:
        items = recorder.wait_for_audio(0.3)
        subprocess.run(["paplay", "--device=call", str(played)], check=True, timeout=30)
        time.sleep(0.5)  # paplay returns as the sink plays its last samples
    blocks = [b for b in items + recorder.drain() if isinstance(b, AudioBlock)]
    assert stream.rate == 44_100
    customer = np.concatenate([b.customer for b in blocks])
    (heard,) = loud_spans(customer, threshold_db=-20)
    assert heard[1] - heard[0] == pytest.approx(1.5, abs=0.05)  # all of the tone, at 16 kHz
    assert dominant_frequency(customer) == pytest.approx(440, abs=2)
    assert all(b.agent is None for b in blocks)


def test_missing_device_is_a_clear_error() -> None:
    with pytest.raises(AudioError, match=r"no input device matches 'No Such Headset'; run "
                                         r"`assist devices`"):
        open_live(AudioConfig(customer_device="No Such Headset"))


def test_channel_the_device_lacks_is_a_clear_error() -> None:
    with pytest.raises(AudioError, match="customer channel '40' needs 40 channels"):
        open_live(AudioConfig(customer_device="pulse", customer_channel="40"))


def test_devices_command_lists_pulse(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    names = {d["name"]: d for d in listed}
    assert "pulse" in names and names["pulse"]["channels"] >= 2
    assert main(["devices"]) == 0
    assert "pulse" in capsys.readouterr().out
