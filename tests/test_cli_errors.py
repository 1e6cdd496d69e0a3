"""Bad input on the command line: one line on stderr, exit code 2, no traceback, nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assist.commands.common import printer
from assist.events import SAMPLE_RATE, AudioState, AudioStatus


def assist(*args: str, timeout: float = 120, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assist.cli", *args], capture_output=True,
                          text=True, timeout=timeout,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


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


def test_a_reader_that_goes_away_ends_a_replay_quietly(sample_call: Path) -> None:
    # The README's own example: the first event, then the pipe closes.
    reader = subprocess.Popen(["head", "-n", "1"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    writer = subprocess.run([sys.executable, "-m", "assist.cli", "replay", str(sample_call),
                             "--json"], stdout=reader.stdin, stderr=subprocess.PIPE, text=True,
                            timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert reader.stdin is not None and reader.stdout is not None
    reader.stdin.close()
    first = reader.stdout.read()
    reader.wait(30)
    assert '"type": "CallStarted"' in first
    assert writer.returncode == 0 and writer.stderr == ""


def test_the_printing_sink_falls_silent_once_its_reader_has_gone() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    closed: list[bool] = []
    with open(write_end, "w", encoding="utf-8") as out:
        sink = printer(True, out=out, on_closed=lambda: closed.append(True))
        for t in range(3):
            sink(AudioState(t=float(t), status=AudioStatus.LISTENING))
    assert closed == [True]


@pytest.mark.parametrize("command", ["transcribe", "replay"])
def test_a_corrupt_model_is_one_line_before_any_output(command: str, tmp_path: Path,
                                                       mono_wav: Path) -> None:
    model = tmp_path / "broken-model"
    model.mkdir()
    (model / "model.bin").write_bytes(np.random.default_rng(1).bytes(3000))
    (model / "config.json").write_text("{", encoding="utf-8")
    result = assist(command, str(mono_wav), "--model", str(model))
    assert_one_line_error(result, "cannot load the Whisper model", "broken-model")
    assert result.stdout == ""


def broken_wordllama(tmp_path: Path, *, corrupt: bool) -> dict[str, str]:
    """An environment in which ``wordllama`` is a package without its model files, or with
    corrupt ones, ahead of the real one on the path."""
    package = tmp_path / "shadow" / "wordllama"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    if corrupt:
        for folder, name in (("weights", "l2_supercat_256.safetensors"),
                             ("tokenizers", "l2_supercat_tokenizer_config.json")):
            (package / folder).mkdir()
            (package / folder / name).write_bytes(b"not a model")
    return {"PYTHONPATH": str(package.parent)}


def test_a_missing_tone_model_is_one_line_before_the_call_starts(tmp_path: Path,
                                                                  mono_wav: Path) -> None:
    result = assist("replay", str(mono_wav), env=broken_wordllama(tmp_path, corrupt=False))
    assert_one_line_error(result, "wordllama", "reinstall")
    assert result.stdout == ""


def test_a_corrupt_tone_model_is_one_line(tmp_path: Path) -> None:
    document = tmp_path / "lines.txt"
    document.write_text("this is unacceptable\n", encoding="utf-8")
    result = assist("score", str(document), env=broken_wordllama(tmp_path, corrupt=True))
    assert_one_line_error(result, "cannot read wordllama", "reinstall")


@pytest.mark.skipif(os.name == "nt", reason="Windows file names are always text")
def test_a_file_name_that_is_not_utf8_still_opens(mono_wav: Path, tmp_path: Path) -> None:
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caller-\xff.wav"))
    odd.write_bytes(mono_wav.read_bytes())
    result = assist("replay", str(odd), "--json")
    assert result.returncode == 0, result.stderr
    assert '"type": "CallEnded"' in result.stdout


def test_score_refuses_a_line_too_long_to_be_one_utterance(tmp_path: Path) -> None:
    document = tmp_path / "pasted.txt"
    document.write_text("you people are useless " * 4000 + "\n", encoding="utf-8")
    assert_one_line_error(assist("score", str(document), timeout=30), "pasted.txt:1", "split")


@pytest.mark.skipif(os.name == "nt", reason="a POSIX shell closes standard input")
def test_score_with_no_standard_input_says_what_to_give() -> None:
    result = subprocess.run(["sh", "-c", f'exec "{sys.executable}" -m assist.cli score <&-'],
                            capture_output=True, text=True, timeout=60)
    assert_one_line_error(result, "no standard input")


def test_an_unusable_data_folder_is_one_line(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "calls.txt"
    not_a_folder.write_text("notes", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "assist.cli", "history"], capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "ASSIST_DATA_DIR": str(not_a_folder)})
    assert_one_line_error(result, "calls.txt", "ASSIST_DATA_DIR")
    assert not_a_folder.read_text(encoding="utf-8") == "notes"


def test_a_password_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "assist.cli", "review", "add-user", "bob",
                             "--password-stdin"], input=b"a\xff\xfebcdefghijkl\n",
                            capture_output=True, timeout=60,
                            env={**os.environ, "ASSIST_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert result.stderr.decode().strip() == (
        "assist: error: the password is not UTF-8 text; type it in a UTF-8 terminal or pipe "
        "it from a UTF-8 file")


@pytest.mark.parametrize(("stereo", "options"), [
    (True, ("--customer-channel", "right", "--agent-channel", "right")),
    (False, ("--agent-channel", "left")),  # a mono file has one channel for both
])
def test_the_agent_on_the_customers_channel_is_refused(
        tmp_path: Path, stereo: bool, options: tuple[str, ...]) -> None:
    path = tmp_path / "call.wav"
    sf.write(str(path), np.zeros((SAMPLE_RATE, 2 if stereo else 1), np.float32), SAMPLE_RATE)
    assert_one_line_error(assist("replay", str(path), *options), "same channel", "call.wav")


def test_a_stray_option_points_at_its_commands_help(mono_wav: Path) -> None:
    assert_one_line_error(assist("replay", str(mono_wav), "--bogus"), "`assist replay --help`")
