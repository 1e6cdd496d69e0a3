"""Detection figures on real data (scripts/eval_detection), on a subset to stay quick.

A subset's AUC moves by chance, so each figure must reach its target minus three standard
errors for that many rows (Hanley & McNeil 1982): about 0.06 for the words on 800 comments per
split (~90 angry ones), about 0.02 for the voice on 6 actors. A real regression of the
scorer falls well below that; noise does not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assist.errors import ConfigError
from assist.events import SAMPLE_RATE
from assist.paths import PROJECT_ROOT
from assist.scoring import evaluation
from assist.scoring.evaluation import Split, auc_standard_error

SUBSET = 800
SIGMAS = 3.0


@pytest.fixture(scope="module")
def report(shared_data: Path) -> evaluation.Report:
    return evaluation.run_evaluation(shared_data, subset=SUBSET)


def floor(target: float, value: float, positives: int, negatives: int) -> float:
    return target - SIGMAS * auc_standard_error(value, positives, negatives)


def test_word_score_beats_plain_vader_and_meets_its_target(report: evaluation.Report) -> None:
    words = report.words[Split.SCORE]
    print(f"words (score split, {words.angry}+{words.calm} rows): ours {words.auc_ours:.3f}, "
          f"VADER {words.auc_vader:.3f}")
    assert words.angry >= 50 and words.calm >= 400
    assert words.auc_ours > words.auc_vader
    assert words.auc_ours >= floor(evaluation.WORDS_TARGET, words.auc_ours, words.angry,
                                   words.calm)


def test_voice_separates_angry_from_calm_on_unseen_actors(report: evaluation.Report) -> None:
    voice = report.voice[Split.SCORE]
    assert set(voice.actors) <= set(evaluation.SCORE_ACTORS)
    assert (voice.angry, voice.calm) == (8 * len(voice.actors), 12 * len(voice.actors))
    print(f"voice (score split, actors {voice.actors}): {voice.auc_angry_vs_calm:.3f}, "
          f"{voice.cpu_ms_per_audio_s:.1f} ms CPU per s")
    assert voice.auc_angry_vs_calm >= floor(evaluation.VOICE_TARGET, voice.auc_angry_vs_calm,
                                            voice.angry, voice.calm)
    assert set(voice.auc_angry_vs_other) == {"happy", "surprised", "fearful"}


def test_voice_still_separates_angry_from_calm_over_a_narrowband_line(
        report: evaluation.Report) -> None:
    """Most calls still reach the agent as 8 kHz narrowband; the cues must survive the band."""
    voice = report.voice[Split.SCORE]
    on_lines = voice.auc_on_phone_lines
    print(f"voice over the phone (score split): {on_lines}")
    assert set(on_lines) == set(evaluation.PHONE_LINES)
    narrow = on_lines["narrowband phone line"]
    assert narrow >= floor(evaluation.VOICE_TARGET, narrow, voice.angry, voice.calm)
    # Levelling takes the loudness cue away; pitch, rate and strain must still carry most of it.
    assert on_lines["narrowband and levelled"] > 0.8


def _tone(hz: float, amplitude: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _level_db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(audio, dtype=np.float64))))


def test_narrowband_keeps_the_speech_band_and_drops_what_a_phone_cannot_carry() -> None:
    inside, above = _tone(1000.0, 0.3), _tone(5000.0, 0.3)
    assert len(evaluation.narrowband(inside)) == len(inside)
    assert abs(_level_db(evaluation.narrowband(inside)) - _level_db(inside)) < 1.0
    assert _level_db(evaluation.narrowband(above)) < _level_db(above) - 40.0


def test_levelling_brings_a_whisper_and_a_shout_to_the_same_loudness() -> None:
    quiet, loud = evaluation.levelled(_tone(200.0, 0.01)), evaluation.levelled(_tone(200.0, 0.8))
    assert abs(_level_db(quiet) - _level_db(loud)) < 0.1
    assert abs(_level_db(loud) - evaluation.LEVELLED_DBFS) < 0.5
    assert not evaluation.levelled(np.zeros(SAMPLE_RATE, dtype=np.float32)).any()


def test_voice_stays_within_its_cpu_budget(report: evaluation.Report) -> None:
    """20 ms of CPU per second of audio is the budget; process time, so load does not count."""
    assert 0 < report.voice[Split.SCORE].cpu_ms_per_audio_s < 20.0


def test_splits_are_disjoint_and_stable(shared_data: Path) -> None:
    folder = shared_data / "goemotions-dev"
    tune = {c.id for c in evaluation.load_goemotions(folder, Split.TUNE)}
    score = {c.id for c in evaluation.load_goemotions(folder, Split.SCORE)}
    assert tune and score and not tune & score
    assert evaluation.split_of_id("eew5j0j") is evaluation.split_of_id("eew5j0j")
    assert evaluation.TUNE_ACTORS.isdisjoint(evaluation.SCORE_ACTORS)


def test_voice_fit_refuses_scoring_actors(shared_data: Path) -> None:
    clips = evaluation.load_ravdess(shared_data / "ravdess-dev", [7])
    with pytest.raises(ValueError, match="TUNE"):
        evaluation.fit_voice_weights(clips)


def test_script_prints_the_splits_and_writes_json(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "eval_detection"), "--data",
         str(shared_data), "--subset", "150", "--json", str(out)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "actors 1-6 = TUNE, actors 7-12 = SCORE" in done.stdout
    assert "words [score]" in done.stdout and "voice [score]" in done.stdout
    assert "narrowband and levelled" in done.stdout
    assert "call lines [blind scoring set]" in done.stdout
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["subset"] == 150
    assert {c["name"] for c in figures["call_lines"]} == {"tuning calls, for reference",
                                                         "blind scoring set"}
    assert 0.5 < figures["words"]["score"]["auc_ours"] <= 1.0


def test_words_read_the_callers_of_the_tuning_calls_better_than_plain_vader() -> None:
    lines = evaluation.load_call_lines(evaluation.tuning_call_folders(PROJECT_ROOT))
    result = evaluation.evaluate_call_lines(lines, "tuning")
    assert result.upset >= 100 and result.calm >= 50
    assert result.auc_ours > result.auc_vader + 0.05


def test_call_lines_are_the_customers_upset_or_calm_turns(tmp_path: Path) -> None:
    turns = [
        {"speaker": "agent", "mood": "calm", "stage": "calm", "text": "Hello, how can I help?"},
        {"speaker": "customer", "mood": "annoyed", "stage": "reflect", "text": "Again?"},
        {"speaker": "customer", "mood": "angry", "stage": "calm", "text": "Dave! The TV!"},
        {"speaker": "customer", "mood": "relieved", "stage": "close", "text": "Thanks."},
    ]
    (tmp_path / "call.labels.json").write_text(json.dumps(turns), encoding="utf-8")
    assert evaluation.load_call_lines([tmp_path]) == [
        evaluation.CallLine("call", "Again?", True), evaluation.CallLine("call", "Thanks.", False)]


def test_unreadable_call_labels_are_a_one_line_config_error(tmp_path: Path) -> None:
    (tmp_path / "call.labels.json").write_text("[{", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read"):
        evaluation.load_call_lines([tmp_path])
    with pytest.raises(ConfigError, match="no labelled customer turns"):
        evaluation.load_call_lines([tmp_path / "empty"])


def test_script_reports_missing_data_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "eval_detection"), "--data",
         str(tmp_path)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("eval_detection: error: cannot read")
    assert len(done.stderr.strip().splitlines()) == 1
