"""Bad input on the command line: one line on stderr, exit code 2, no traceback, nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assist.events import SAMPLE_RATE


def assist(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assist.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("assist: error: ")
    for word in words:
        assert word.lower() in lines[0].lower()


@pytest.fixture
def mono_wav(tmp_path: Path) -> Path:
    path = tmp_path / "mono.wav"
    sf.write(str(path), np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    return path


@pytest.mark.parametrize("command", ["transcribe", "replay"])
def test_missing_file(command: str, tmp_path: Path) -> None:
    assert_one_line_error(assist(command, str(tmp_path / "absent.wav")), "absent.wav")


@pytest.mark.parametrize("command", ["transcribe", "replay"])
def test_corrupt_file(command: str, tmp_path: Path) -> None:
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" + os.urandom(2000))
    assert_one_line_error(assist(command, str(path)), "corrupt.wav")


@pytest.mark.parametrize("command", ["transcribe", "replay"])
def test_empty_file(command: str, tmp_path: Path) -> None:
    path = tmp_path / "empty.flac"
    path.write_bytes(b"")
    assert_one_line_error(assist(command, str(path)), "empty")


def test_mono_file_with_right_customer_channel(mono_wav: Path) -> None:
    assert_one_line_error(assist("replay", str(mono_wav), "--customer-channel", "right"), "mono")


def test_bad_config_value(tmp_path: Path, mono_wav: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[segmenter]\nend_silence_ms = -3\n", encoding="utf-8")
    assert_one_line_error(assist("--config", str(config), "replay", str(mono_wav)),
                          "segmenter.end_silence_ms")


def test_unknown_config_key(tmp_path: Path, mono_wav: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[asr]\nmodle = 'base'\n", encoding="utf-8")
    assert_one_line_error(assist("--config", str(config), "transcribe", str(mono_wav)), "asr.modle")


def test_device_that_does_not_exist(tmp_path: Path) -> None:
    config = tmp_path / "live.toml"
    config.write_text("[audio]\ncustomer_device = 'no such headset 9000'\n", encoding="utf-8")
    assert_one_line_error(assist("--config", str(config), "run", "--no-overlay", "--no-store"),
                          "no such headset 9000")


def test_missing_model_directory(mono_wav: Path, tmp_path: Path) -> None:
    assert_one_line_error(assist("transcribe", str(mono_wav), "--model", str(tmp_path / "nomodel")),
                          "nomodel")


def test_unknown_subcommand_and_option() -> None:
    assert_one_line_error(assist("frobnicate"))
    assert_one_line_error(assist("replay", "--speed", "warp", "x.wav"))
