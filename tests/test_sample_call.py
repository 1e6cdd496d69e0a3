"""The bundled calls (assist/data) are what the demo, the evaluation and the tuning replay:
check they are the calls their scripts describe, and that scripts/make_call reproduces them."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from assist import paths
from assist.events import SAMPLE_RATE, Stage

MAKE_CALL = paths.PROJECT_ROOT / "scripts" / "make_call"
CALLS_DIR = paths.PROJECT_ROOT / "assist" / "data" / "calls"
ALL_CALLS = [paths.sample_call(), *sorted(CALLS_DIR.glob("*.ogg"))]
CHANNEL_OF = {"agent": 0, "customer": 1}  # agent on the left, customer on the right

# A speaker's channel must be this much louder (RMS) than the other one during their turn:
# the other side carries only line noise (~ -66 dBFS) against speech peaking near -18 dBFS.
MIN_CHANNEL_SEPARATION = 10.0
LADDER = ["calm", "reflect", "empathize", "solution", "close"]


def load_labels(ogg: Path) -> list[dict[str, Any]]:
    labels: list[dict[str, Any]] = json.loads(
        ogg.with_name(ogg.stem + ".labels.json").read_text(encoding="utf-8")
    )
    return labels


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def alone_mask(labels: list[dict[str, Any]], turn: dict[str, Any], frames: int) -> np.ndarray:
    """The samples of ``turn`` during which the other side is not also talking."""
    mask = np.zeros(frames, dtype=bool)
    mask[int(turn["start"] * SAMPLE_RATE) : int(turn["end"] * SAMPLE_RATE)] = True
    for other in labels:
        if other["speaker"] != turn["speaker"]:
            mask[int(other["start"] * SAMPLE_RATE) : int(other["end"] * SAMPLE_RATE)] = False
    return mask


def test_sample_call_is_a_short_stereo_16k_recording(sample_call: Path) -> None:
    info = sf.info(str(sample_call))
    assert (info.channels, info.samplerate) == (2, SAMPLE_RATE)
    assert 45.0 <= info.duration <= 90.0
    assert sample_call.stat().st_size < 2 * 1024 * 1024


def test_scripted_calls_cover_the_arcs(scripted_calls: list[tuple[Path, Path]]) -> None:
    assert len(scripted_calls) >= 5
    total_bytes = paths.sample_call().stat().st_size
    for ogg, labels_path in scripted_calls:
        info = sf.info(str(ogg))
        assert (info.channels, info.samplerate) == (2, SAMPLE_RATE), ogg.name
        assert 30.0 <= info.duration <= 90.0, ogg.name
        assert labels_path.is_file(), f"{ogg.name} has no labels file"
        total_bytes += ogg.stat().st_size
    assert total_bytes < 3.5 * 1024 * 1024
    final_stages = {ogg.stem: load_labels(ogg)[-1]["stage"] for ogg, _ in scripted_calls}
    assert final_stages["manager_request"] == "escalate"
    assert final_stages["slow_burn"] == "escalate"
    assert final_stages["abuse_boundary"] == "close"


@pytest.mark.parametrize("ogg", ALL_CALLS, ids=lambda p: p.stem)
def test_each_speaker_is_on_their_own_channel(ogg: Path) -> None:
    audio, rate = sf.read(str(ogg), dtype="float32", always_2d=True)
    assert rate == SAMPLE_RATE
    labels = load_labels(ogg)
    for turn in labels:
        mine = CHANNEL_OF[turn["speaker"]]
        alone = alone_mask(labels, turn, len(audio))
        assert alone.sum() > 0.5 * SAMPLE_RATE, f"turn {turn['turn']} is mostly overlapped"
        ratio = rms(audio[alone, mine]) / rms(audio[alone, 1 - mine])
        assert ratio > MIN_CHANNEL_SEPARATION, f"{ogg.stem} turn {turn['turn']}: {ratio:.1f}"


@pytest.mark.parametrize("ogg", ALL_CALLS, ids=lambda p: p.stem)
def test_labels_follow_the_audio(ogg: Path) -> None:
    duration = sf.info(str(ogg)).duration
    labels = load_labels(ogg)
    assert [label["turn"] for label in labels] == list(range(len(labels)))
    for label in labels:
        assert 0.0 <= label["start"] < label["end"] <= duration
        assert label["t"] > label["end"], "a stage label must come after its turn has ended"
        Stage(label["stage"])  # raises for a name the stage machine does not know
    starts = [label["start"] for label in labels]
    assert starts == sorted(starts)


def test_sample_call_climbs_the_ladder_then_closes(sample_call: Path) -> None:
    customer = [label for label in load_labels(sample_call) if label["speaker"] == "customer"]
    stages = [label["stage"] for label in customer]
    first_seen = sorted(set(stages), key=stages.index)
    assert first_seen == LADDER


def test_sample_call_customer_gets_louder_as_anger_rises(sample_call: Path) -> None:
    audio, _ = sf.read(str(sample_call), dtype="float32", always_2d=True)
    loudness: dict[str, float] = {}
    for turn in load_labels(sample_call):
        if turn["speaker"] == "customer":
            span = audio[int(turn["start"] * SAMPLE_RATE) : int(turn["end"] * SAMPLE_RATE), 1]
            loudness[turn["mood"]] = rms(span)
    assert loudness["calm"] < loudness["annoyed"] < loudness["angry"] < loudness["furious"]
    assert loudness["relieved"] < loudness["angry"]


def run_make_call(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MAKE_CALL), *args], capture_output=True, text=True, check=False
    )


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are needed to regenerate the calls (scripts/setup installs them)",
)
def test_regenerating_the_sample_call_gives_the_same_call(tmp_path: Path, sample_call: Path) -> None:
    out = tmp_path / "again.ogg"
    result = run_make_call(str(CALLS_DIR / "sample_call.toml"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert sf.info(str(out)).duration == pytest.approx(sf.info(str(sample_call)).duration, abs=1.0)
    again = json.loads((tmp_path / "again.labels.json").read_text(encoding="utf-8"))
    assert again == load_labels(sample_call)


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are needed to regenerate the calls (scripts/setup installs them)",
)
def test_another_customer_voice_changes_only_the_customer(tmp_path: Path,
                                                          sample_call: Path) -> None:
    out = tmp_path / "other.ogg"
    result = run_make_call(str(CALLS_DIR / "sample_call.toml"), "-o", str(out),
                           "--customer-voice", "en-us+m3")
    assert result.returncode == 0, result.stderr
    original = load_labels(sample_call)
    other = json.loads((tmp_path / "other.labels.json").read_text(encoding="utf-8"))
    assert [t["text"] for t in other] == [t["text"] for t in original]
    first_customer = next(i for i, t in enumerate(original) if t["speaker"] == "customer")
    assert other[:first_customer] == original[:first_customer]  # the agent's opening is untouched
    changed = [(a["end"] - a["start"], b["end"] - b["start"])
               for a, b in zip(original, other, strict=True) if a["speaker"] == "customer"]
    assert any(abs(x - y) > 0.05 for x, y in changed)  # another voice speaks at its own pace


def test_customer_voice_needs_an_output_so_the_committed_call_is_kept() -> None:
    result = run_make_call(str(CALLS_DIR / "slow_burn.toml"), "--customer-voice", "en-gb")
    assert result.returncode == 2
    assert "--customer-voice needs --output" in result.stderr


def test_a_piper_render_needs_an_output_so_the_committed_call_is_kept() -> None:
    result = run_make_call(str(CALLS_DIR / "slow_burn.toml"), "--piper", "voice.onnx")
    assert result.returncode == 2
    assert "--piper needs --output" in result.stderr


@pytest.mark.skipif(shutil.which("piper") is not None, reason="piper is installed here")
def test_a_piper_render_without_piper_says_how_to_install_it(tmp_path: Path) -> None:
    result = run_make_call(str(CALLS_DIR / "slow_burn.toml"), "-o", str(tmp_path / "n.ogg"),
                           "--piper", str(tmp_path / "voice.onnx"))
    assert result.returncode == 2
    assert "piper not found; install with: pip install piper-tts" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "n.ogg").exists()


def test_make_call_rejects_an_unknown_mood_in_one_line(tmp_path: Path) -> None:
    script = tmp_path / "bad.toml"
    script.write_text('[[turns]]\nspeaker = "customer"\ntext = "hi"\nmood = "livid"\n')
    result = run_make_call(str(script))
    assert result.returncode == 2
    assert "turns[0].mood" in result.stderr
    assert "Traceback" not in result.stderr


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def record_while_playing(wav: Path, seconds: float) -> np.ndarray:
    """Play ``wav`` into the null sink "call" and record its monitor through sounddevice."""
    import sounddevice as sd  # only after scripts/test has started PulseAudio

    blocks: queue.Queue[np.ndarray] = queue.Queue()
    started = threading.Event()

    def on_block(data: np.ndarray, frames: int, time: Any, status: Any) -> None:
        blocks.put(data.copy())
        started.set()

    with sd.InputStream(
        device="pulse", samplerate=SAMPLE_RATE, channels=2, dtype="float32", callback=on_block
    ):
        # PortAudio's first callback can take half a second; playing earlier loses the start.
        assert started.wait(5.0), "no audio callback from the 'pulse' device"
        subprocess.run(["paplay", "--device=call", str(wav)], check=True, timeout=seconds + 10)
        sd.sleep(500)  # the monitor runs a little behind the sink: catch the last samples
    return np.concatenate(list(blocks.queue))


@pytest.mark.live
@pytest.mark.slow
def test_sample_call_keeps_its_channels_through_pulseaudio(
    require_pulse: str, sample_call: Path, tmp_path: Path
) -> None:
    from scipy.signal import correlate

    audio, _ = sf.read(str(sample_call), dtype="float32", always_2d=True)
    excerpt = audio[: int(10.0 * SAMPLE_RATE)]  # the agent's greeting, then the customer
    wav = tmp_path / "excerpt.wav"
    sf.write(str(wav), excerpt, SAMPLE_RATE, subtype="PCM_16")
    recorded = record_while_playing(wav, seconds=10.0)
    assert len(recorded) >= len(excerpt)
    lag = int(np.argmax(correlate(recorded[:, 0], excerpt[:, 0], mode="valid")))
    aligned = recorded[lag : lag + len(excerpt)]
    agent = similarity(aligned[:, 0], excerpt[:, 0])
    customer = similarity(aligned[:, 1], excerpt[:, 1])
    assert agent > 0.95 and customer > 0.95, (agent, customer)
    assert abs(similarity(aligned[:, 0], excerpt[:, 1])) < 0.1, "left and right got mixed"
