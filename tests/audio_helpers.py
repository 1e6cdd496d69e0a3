"""Make test audio: speech with espeak-ng, conversions with sox/ffmpeg, tones and silence.

Shared by every test that needs real audio. Speech is synthesised on the fly (nothing
binary is committed); each helper skips the calling test when its tool is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

RATE = 16_000


def require_tool(name: str) -> str:
    """Path of an external program, or skip the test that needs it."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (scripts/setup installs it)")
    return path


def run_tool(*args: str | Path) -> None:
    """Run a program and fail the test with its stderr when it fails."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}")


def speak_to_file(text: str, path: Path, *, rate: int = RATE, words_per_minute: int = 160,
                  voice: str = "en-us") -> Path:
    """espeak-ng speech saved as mono WAV at ``rate``."""
    require_tool("espeak-ng")
    require_tool("sox")
    raw = path.with_suffix(".espeak.wav")
    run_tool("espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", raw, text)
    run_tool("sox", raw, "-r", str(rate), "-c", "1", "-b", "16", path)
    raw.unlink()
    return path


def speech(text: str, workdir: Path, **kwargs: int | str) -> np.ndarray:
    """espeak-ng speech as 16 kHz float32 samples."""
    name = f"speech-{abs(hash(text)) % 10**8}.wav"
    path = speak_to_file(text, workdir / name, **kwargs)  # type: ignore[arg-type]
    samples, rate = soundfile.read(path, dtype="float32")
    assert rate == RATE
    return np.asarray(samples, np.float32)


def silence(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(round(seconds * rate), np.float32)


def tone(freq: float, seconds: float, rate: int = RATE, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_stereo(path: Path, left: np.ndarray, right: np.ndarray, rate: int = RATE) -> Path:
    """A 16-bit stereo WAV; the shorter channel is padded with silence."""
    length = max(len(left), len(right))
    frames = np.zeros((length, 2), np.float32)
    frames[: len(left), 0] = left
    frames[: len(right), 1] = right
    soundfile.write(path, frames, rate, subtype="PCM_16")
    return path


def convert(source: Path, target: Path, *args: str) -> Path:
    """Convert with ffmpeg (any format it writes; extra args e.g. ``-ar 8000`` go before the target)."""
    require_tool("ffmpeg")
    run_tool("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", source, *args, target)
    return target


def loud_spans(audio: np.ndarray, *, threshold_db: float = -35.0, min_gap_s: float = 0.4,
               rate: int = RATE) -> list[tuple[float, float]]:
    """(start, end) seconds of stretches louder than ``threshold_db`` in 10 ms windows,
    merging stretches closer than ``min_gap_s``: a reference for where speech really is."""
    window = rate // 100
    usable = len(audio) // window * window
    rms = np.sqrt(np.mean(np.square(audio[:usable].reshape(-1, window), dtype=np.float64), axis=1))
    loud = 20 * np.log10(np.maximum(rms, 1e-10)) > threshold_db
    spans: list[tuple[float, float]] = []
    for index in np.flatnonzero(loud):
        start, end = index * window / rate, (index + 1) * window / rate
        if spans and start - spans[-1][1] < min_gap_s:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def dominant_frequency(audio: np.ndarray, rate: int = RATE) -> float:
    """The strongest frequency in ``audio`` (Hz), from a Hann-windowed FFT."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[int(np.argmax(spectrum))])
