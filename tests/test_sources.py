"""Recordings as sources (formats, rates, channels, pace, bad files), resampling and device lookup."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from audio_helpers import convert, dominant_frequency, silence, tone, write_stereo
from scipy.signal import resample_poly

from assist.audio import devices, sources
from assist.audio.devices import InputDevice, find_input, looks_like_far_end
from assist.audio.sources import AudioBlock, Resampler, open_file
from assist.config import AudioConfig
from assist.errors import AudioError
from assist.events import AudioState, AudioStatus

LEFT_HZ, RIGHT_HZ = 300.0, 440.0


def collect(source_blocks: object) -> tuple[list[AudioState], list[AudioBlock]]:
    states: list[AudioState] = []
    blocks: list[AudioBlock] = []
    for item in source_blocks:  # type: ignore[attr-defined]
        (states if isinstance(item, AudioState) else blocks).append(item)
    return states, blocks


def joined(blocks: list[AudioBlock], side: str = "customer") -> np.ndarray:
    return np.concatenate([getattr(b, side) for b in blocks])


def stereo_tones(path: Path, rate: int = 16_000, seconds: float = 2.0) -> Path:
    return write_stereo(path, tone(LEFT_HZ, seconds, rate), tone(RIGHT_HZ, seconds, rate), rate)


# --- resampling -----------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_streaming_resampler_matches_one_shot(rate: int) -> None:
    rng = np.random.default_rng(rate)
    signal = rng.standard_normal((rate * 2 + 17, 2)).astype(np.float32) * 0.1
    resampler = Resampler(rate)
    pieces, at = [], 0
    while at < len(signal):
        size = int(rng.integers(1, rate // 10))
        pieces.append(resampler.push(signal[at : at + size]))
        at += size
    pieces.append(resampler.flush())
    streamed = np.concatenate(pieces)
    whole = resample_poly(signal, 16_000, rate, axis=0)
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_resampler_at_16k_passes_audio_through() -> None:
    audio = tone(440, 0.1)
    np.testing.assert_array_equal(Resampler(16_000).push(audio), audio)


# --- files: formats, rates, channels -------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["wav", "flac", "ogg", "mp3"])
def test_each_format_replays_with_channels_split(tmp_path: Path, suffix: str) -> None:
    wav = stereo_tones(tmp_path / "tones.wav", rate=44_100)
    path = wav if suffix == "wav" else convert(wav, tmp_path / f"tones.{suffix}")
    states, blocks = collect(open_file(path).blocks())
    customer, agent = joined(blocks), joined(blocks, "agent")
    assert dominant_frequency(customer) == pytest.approx(RIGHT_HZ, abs=2)  # auto: customer right
    assert dominant_frequency(agent) == pytest.approx(LEFT_HZ, abs=2)
    # MP3 and Vorbis add a little encoder padding; never more than a tenth of a second.
    assert len(customer) / 16_000 == pytest.approx(2.0, abs=0.1)
    assert [s.status for s in states] == [AudioStatus.LISTENING, AudioStatus.ENDED]


@pytest.mark.parametrize("rate", [8_000, 48_000])
def test_other_rates_are_resampled_keeping_pitch_and_length(tmp_path: Path, rate: int) -> None:
    path = tmp_path / f"tone-{rate}.wav"
    soundfile.write(path, tone(RIGHT_HZ, 1.5, rate), rate, subtype="PCM_16")
    _, blocks = collect(open_file(path).blocks())
    audio = joined(blocks)
    assert len(audio) == 24_000  # exactly 1.5 s at 16 kHz
    assert dominant_frequency(audio) == pytest.approx(RIGHT_HZ, abs=1)
    middle = audio[4000:-4000]  # away from the edges, a clean tone keeps its level
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)
    assert all(b.agent is None for b in blocks)


def test_mono_file_is_the_customer_with_no_agent(tmp_path: Path) -> None:
    path = tmp_path / "mono.wav"
    soundfile.write(path, tone(RIGHT_HZ, 0.5), 16_000)
    _, blocks = collect(open_file(path).blocks())
    assert all(b.agent is None for b in blocks)
    assert dominant_frequency(joined(blocks)) == pytest.approx(RIGHT_HZ, abs=2)


def test_channels_chosen_by_name_and_number(tmp_path: Path) -> None:
    path = stereo_tones(tmp_path / "tones.wav")
    _, blocks = collect(open_file(path, customer_channel="left", agent_channel="2").blocks())
    assert dominant_frequency(joined(blocks)) == pytest.approx(LEFT_HZ, abs=2)
    assert dominant_frequency(joined(blocks, "agent")) == pytest.approx(RIGHT_HZ, abs=2)
    _, blocks = collect(open_file(path, customer_channel="1", agent_channel=None).blocks())
    assert dominant_frequency(joined(blocks)) == pytest.approx(LEFT_HZ, abs=2)
    assert all(b.agent is None for b in blocks)


def test_mono_setting_mixes_both_channels(tmp_path: Path) -> None:
    path = write_stereo(tmp_path / "halves.wav", np.full(8000, 0.5, np.float32),
                        np.full(8000, -0.25, np.float32))
    _, blocks = collect(open_file(path, customer_channel="mono", agent_channel="").blocks())
    np.testing.assert_allclose(joined(blocks)[100:-100], 0.125, atol=1e-3)


# --- files: blocks, time, pace ---------------------------------------------------------------------

def test_blocks_are_contiguous_in_time_and_of_the_block_size(tmp_path: Path) -> None:
    path = stereo_tones(tmp_path / "tones.wav", seconds=1.01)
    states, blocks = collect(open_file(path, block_ms=20).blocks())
    assert all(len(b.customer) == 320 and len(b.agent) == 320 for b in blocks[:-1])  # type: ignore[arg-type]
    assert 0 < len(blocks[-1].customer) <= 320
    expected_t = np.cumsum([0] + [len(b.customer) for b in blocks[:-1]]) / 16_000
    np.testing.assert_allclose([b.t for b in blocks], expected_t)
    assert states[-1].t == pytest.approx(1.01)
    assert states[-1].detail == "end of file"


def test_real_pace_takes_the_recording_length(tmp_path: Path) -> None:
    path = tmp_path / "second.wav"
    soundfile.write(path, silence(1.0), 16_000)
    started = time.monotonic()
    _, blocks = collect(open_file(path, speed="real").blocks())
    elapsed = time.monotonic() - started
    assert 0.95 <= elapsed < 1.6
    assert sum(len(b.customer) for b in blocks) == 16_000


def test_stop_ends_a_real_paced_replay_early(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    soundfile.write(path, silence(30.0), 16_000)
    source = open_file(path, speed="real")
    threading.Timer(0.3, source.stop).start()
    started = time.monotonic()
    states, blocks = collect(source.blocks())
    assert time.monotonic() - started < 2.0
    assert states[-1].status is AudioStatus.ENDED and states[-1].detail == "stopped"
    assert 0.2 < sum(len(b.customer) for b in blocks) / 16_000 < 1.0
    assert source.description == "long.wav"


# --- files: bad input ------------------------------------------------------------------------------

def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="does not exist"):
        open_file(tmp_path / "nope.wav")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        open_file(tmp_path / "empty.wav")


def test_directory_is_not_a_recording(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not a file"):
        open_file(tmp_path)


@pytest.mark.parametrize("name,content", [
    ("corrupt.wav", b"RIFF\x10\x00\x00\x00WAVEfmt garbage garbage garbage"),
    ("notes.mp3", b"these are meeting notes, not audio\n" * 20),
    ("call.xyz", bytes(range(256)) * 8),
])
def test_unreadable_files_name_the_formats_that_work(tmp_path: Path, name: str,
                                                     content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(AudioError, match="WAV, FLAC, OGG or MP3"):
        open_file(tmp_path / name)


def test_header_with_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "header-only.wav"
    soundfile.write(path, np.zeros(0, np.float32), 16_000)
    with pytest.raises(AudioError, match="no samples"):
        open_file(path)


def test_right_channel_of_a_mono_file(tmp_path: Path) -> None:
    path = tmp_path / "mono.wav"
    soundfile.write(path, tone(RIGHT_HZ, 0.2), 16_000)
    with pytest.raises(AudioError, match=r"needs 2 channels but mono.wav has 1"):
        open_file(path, customer_channel="right")


@pytest.mark.parametrize("spec", ["middle", "0", "-1"])
def test_nonsense_channel(tmp_path: Path, spec: str) -> None:
    path = stereo_tones(tmp_path / "tones.wav", seconds=0.2)
    with pytest.raises(AudioError, match="not left, right, mono or a channel number"):
        open_file(path, customer_channel=spec)


# --- device lookup (no PortAudio needed) ------------------------------------------------------------

FAKE_DEVICES = [
    InputDevice(0, "Microphone (Realtek Audio)", "MME", 2, 44_100.0, False),
    InputDevice(1, "Stereo Mix (Realtek Audio)", "MME", 2, 44_100.0, True),
    InputDevice(5, "CABLE Output (VB-Audio Virtual Cable)", "WASAPI", 2, 48_000.0, True),
    InputDevice(7, "Microphone", "WASAPI", 1, 48_000.0, False),
]


@pytest.fixture
def fake_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "list_devices", lambda: FAKE_DEVICES)
    monkeypatch.setattr(devices, "default_input_index", lambda: 7)


@pytest.mark.usefixtures("fake_devices")
def test_find_input_by_part_of_name_index_exact_name_or_default() -> None:
    assert find_input("stereo MIX").index == 1
    assert find_input("cable output").index == 5
    assert find_input("5").index == 5
    assert find_input("microphone").index == 7  # an exact name beats partial matches
    assert find_input("realtek").index == 0  # several partial matches: the first
    assert find_input("").index == 7


@pytest.mark.usefixtures("fake_devices")
def test_find_input_tells_what_to_do_when_nothing_matches() -> None:
    with pytest.raises(AudioError, match=r"no input device matches 'Headset'; run `assist devices`"):
        find_input("Headset")
    with pytest.raises(AudioError, match="no input device has index 3"):
        find_input("3")


@pytest.mark.parametrize("name,far", [
    ("Monitor of Built-in Audio Analog Stereo", True), ("BlackHole 2ch", True),
    ("VoiceMeeter Output (VB-Audio VoiceMeeter VAIO)", True), ("What U Hear (Sound Blaster)", True),
    ("USB Headset Microphone", False), ("pulse", False),
])
def test_far_end_devices_are_recognised(name: str, far: bool) -> None:
    assert looks_like_far_end(name) is far


# --- live source health, on a scripted stream (the real device paths are in test_live_capture
# --- and test_device_loss) ---------------------------------------------------------------------

class ScriptedStream:
    """Stands in for a PortAudio stream: chunks of 32 ms arrive at scripted times after open()."""

    def __init__(self, *schedules: list[float]) -> None:
        self.schedules = list(schedules)
        self.spec, self.picks, self.speaker = "fake", (0,), sources.Speaker.CUSTOMER
        self.device = InputDevice(9, "Fake Mic", "test", 1, 16_000.0, False)
        self.rate, self.dropped, self.broken, self.opens = 16_000, 0, False, 0
        self.is_open = False
        self._due: list[float] = []

    def open(self) -> None:
        self.opens += 1
        now = time.monotonic()
        self._due = [now + at for at in (self.schedules.pop(0) if self.schedules else [])]
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def read(self, timeout: float) -> sources._Chunk | None:
        wait = (self._due[0] - time.monotonic()) if self._due else timeout + 1
        if wait > timeout:
            time.sleep(timeout)
            return None
        time.sleep(max(wait, 0.0))
        self._due.pop(0)
        return sources._Chunk(time.monotonic(), np.full((512, 1), 0.1, np.float32))


def test_live_source_reports_silence_stall_and_recovery(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = ScriptedStream([0.0, 0.032, 0.064, 0.6], [0.05])
    monkeypatch.setattr(sources, "NO_AUDIO_S", 0.3)
    monkeypatch.setattr(sources, "STALL_S", 0.8)
    monkeypatch.setattr(sources, "find_input", lambda spec: stream.device)
    monkeypatch.setattr(sources, "_rescan_devices", lambda: None)
    source = sources.LiveSource([stream], AudioConfig(reconnect_seconds=0.1))  # type: ignore[list-item]
    started = time.monotonic()
    seen: list[tuple[float, AudioBlock | AudioState]] = []
    for item in source.blocks():
        seen.append((time.monotonic() - started, item))
        if isinstance(item, AudioBlock) and stream.opens == 2:
            source.stop()
    statuses = [i.status for _, i in seen if isinstance(i, AudioState)]
    assert statuses == [AudioStatus.LISTENING, AudioStatus.NO_AUDIO, AudioStatus.RESUMED,
                        AudioStatus.NO_AUDIO, AudioStatus.DEVICE_LOST,  # a stall: reopened
                        AudioStatus.RESUMED, AudioStatus.ENDED]
    assert stream.opens == 2
    blocks = [(at, b) for at, b in seen if isinstance(b, AudioBlock)]
    assert [round(b.t, 3) for _, b in blocks[:3]] == [0.0, 0.032, 0.064]
    # After each gap, audio time catches up with the wall clock instead of running behind it.
    for at, block in blocks[3:]:
        assert block.t + 0.032 == pytest.approx(at, abs=0.1)
    assert blocks[-1][1].t > 1.3


def test_callback_drops_the_oldest_audio_when_the_reader_falls_behind() -> None:
    device = InputDevice(9, "Fake Mic", "test", 1, 16_000.0, False)
    stream = sources._DeviceStream("fake", (0,), sources.Speaker.CUSTOMER, AudioConfig(), device)
    for value in (1.0, 2.0, 3.0):  # the queue of a stream not yet opened holds one chunk
        stream._callback(np.full((512, 1), value, np.float32), 512, None, None)
    assert stream.dropped == 1024
    chunk = stream.read(0.0)
    assert chunk is not None and chunk.frames[0, 0] == 3.0
    assert stream.read(0.0) is None
