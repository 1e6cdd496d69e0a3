"""Voice arousal: the pitch tracker, features against a baseline, cues, and the CPU budget."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from audio_helpers import require_tool, run_tool, speak_to_file

from assist.cli import main
from assist.events import PartialWindow, Speaker, UtteranceEnded
from assist.scoring import CallScorer
from assist.scoring.voice import (
    BASELINE_UTTERANCES,
    POPULATION,
    CallerVoice,
    VoiceFeatures,
    arousal_of,
    extract_features,
)

RATE = 16_000


def voiced(f0: float = 120.0, *, seconds: float = 2.0, level: float = 0.05,
           syllables_per_s: float = 4.0, tilt: float = 1.0) -> np.ndarray:
    """A vowel-like harmonic sound in syllable-sized bursts.

    ``tilt`` is how fast the harmonics fall off (amplitude 1/k**tilt): a lower tilt has more
    high-frequency energy, as a strained, shouting voice does.
    """
    t = np.arange(round(seconds * RATE)) / RATE
    harmonics = np.arange(1, int(4000 // f0) + 1)
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k**tilt for k in harmonics)
    envelope = np.abs(np.sin(np.pi * syllables_per_s * t)) ** 0.7
    signal = wave * envelope
    return (level * signal / np.sqrt(np.mean(signal**2))).astype(np.float32)


def ended(audio: np.ndarray, utterance_id: int = 1) -> UtteranceEnded:
    end = len(audio) / RATE
    return UtteranceEnded(t=end, speaker=Speaker.CUSTOMER, utterance_id=utterance_id,
                          start=0.0, end=end, last_voiced=end, audio=audio)


def features_of(audio: np.ndarray) -> VoiceFeatures:
    features = extract_features(audio)
    assert features is not None, "expected enough speech for voice features"
    return features


def calm_voice() -> CallerVoice:
    voice = CallerVoice()
    for f0 in (118.0, 120.0, 122.0):
        voice.add_calm(features_of(voiced(f0)))
    return voice


@pytest.mark.parametrize("f0", [85.0, 120.0, 180.0, 240.0, 330.0])
def test_pitch_tracker_finds_the_fundamental(f0: float) -> None:
    features = features_of(voiced(f0))
    assert features.pitch_st is not None
    measured = 100.0 * 2 ** (features.pitch_st / 12)
    assert measured == pytest.approx(f0, rel=0.03)


def test_loudness_is_in_dbfs() -> None:
    quiet = features_of(voiced(level=0.01))
    loud = features_of(voiced(level=0.1))
    assert loud.loudness_db - quiet.loudness_db == pytest.approx(20.0, abs=1.5)


def test_syllable_rate_follows_the_bursts() -> None:
    slow = features_of(voiced(syllables_per_s=3.0, seconds=3.0))
    fast = features_of(voiced(syllables_per_s=6.0, seconds=3.0))
    assert fast.rate_syl_s > 1.5 * slow.rate_syl_s


def test_silence_and_tiny_clips_have_no_features() -> None:
    assert extract_features(np.zeros(RATE, np.float32)) is None
    assert extract_features(voiced(seconds=0.1)) is None
    assert extract_features(np.zeros(10, np.float32)) is None


@pytest.mark.parametrize(("aroused", "cue_word"), [
    ({"level": 0.2}, "dB louder"),
    ({"f0": 190.0}, "semitones up"),
])
def test_each_aroused_change_raises_arousal_and_names_itself(aroused: dict[str, float],
                                                             cue_word: str) -> None:
    voice = calm_voice()
    calm = voice.assess(features_of(voiced(121.0)))
    excited = voice.assess(features_of(voiced(**aroused)))
    assert calm.arousal < 0.35
    assert calm.cue == "voice close to their baseline"
    assert excited.arousal > calm.arousal + 0.2
    assert cue_word in excited.cue and "their baseline" in excited.cue


def test_speaking_faster_raises_arousal_and_is_named_beside_loudness() -> None:
    voice = calm_voice()
    calm = voice.assess(features_of(voiced(121.0)))
    faster = voice.assess(features_of(voiced(syllables_per_s=7.0)))
    # Rate carries little weight on its own (fitted on RAVDESS, where it barely separates
    # anger), so it only nudges arousal; with a louder voice it is named in the cue.
    assert faster.arousal > calm.arousal
    both = voice.assess(features_of(voiced(level=0.1, syllables_per_s=7.0)))
    assert both.arousal > 0.5
    assert "dB louder" in both.cue and "% faster" in both.cue


def test_shouting_is_scored_high_with_a_cue_in_decibels() -> None:
    voice = calm_voice()
    shout = voice.assess(features_of(voiced(170.0, level=0.3, tilt=0.6)))
    assert shout.arousal > 0.9
    assert shout.cue.startswith("voice 1") and "dB louder" in shout.cue


def test_without_a_baseline_the_population_is_used_conservatively() -> None:
    loud = features_of(voiced(level=0.3))
    against_population = arousal_of(loud, POPULATION)
    as_if_known = arousal_of(loud, dataclasses.replace(POPULATION, utterances=3))
    assert against_population < as_if_known
    assert "typical caller" in CallerVoice().assess(loud).cue


def test_baseline_forms_from_the_first_calm_utterances_and_ignores_anger() -> None:
    voice = CallerVoice()
    for _ in range(BASELINE_UTTERANCES):
        voice.learn(voice.assess(features_of(voiced(level=0.02))))
    assert voice.formed
    formed = voice.baseline
    shout = features_of(voiced(level=0.3, f0=180.0))
    for _ in range(10):
        voice.learn(voice.assess(shout))
    assert voice.baseline == formed, "the baseline must not chase an angry caller"
    slightly_louder = features_of(voiced(level=0.025))
    voice.learn(voice.assess(slightly_louder))
    assert voice.baseline.loudness_db > formed.loudness_db, "calm speech keeps adapting it"


def test_a_caller_who_opens_shouting_is_not_their_own_calm_reference() -> None:
    voice = CallerVoice()
    shout = features_of(voiced(level=0.5, f0=200.0, tilt=0.6))
    voice.learn(voice.assess(shout))
    assert voice.baseline is POPULATION


def test_partial_windows_are_scored_but_never_learned_into_the_baseline() -> None:
    scorer = CallScorer()
    calm = voiced(level=0.02)
    for utterance_id in range(1, 5):
        cue = scorer.on_audio(PartialWindow(t=1.0, speaker=Speaker.CUSTOMER,
                                            utterance_id=utterance_id, start=0.0, end=1.0,
                                            audio=calm))
        assert cue.partial and cue.utterance_id == utterance_id
    assert "typical caller" in scorer.on_audio(ended(calm, utterance_id=5)).cue
    for utterance_id in (6, 7):
        scorer.on_audio(ended(calm, utterance_id=utterance_id))
    assert "their baseline" in scorer.on_audio(ended(calm, utterance_id=8)).cue


def test_no_speech_gives_a_zero_cue_and_words_alone() -> None:
    scorer = CallScorer()
    cue = scorer.on_audio(ended(np.zeros(RATE, np.float32), utterance_id=3))
    assert cue.arousal == 0.0 and "too little speech" in cue.cue


def espeak(text: str, folder: Path, name: str, *sox_effects: str) -> np.ndarray:
    plain = speak_to_file(text, folder / f"{name}-plain.wav", words_per_minute=150)
    if not sox_effects:
        samples, _ = soundfile.read(plain, dtype="float32")
        return np.asarray(samples)
    shaped = folder / f"{name}.wav"
    run_tool(require_tool("sox"), plain, shaped, *sox_effects)
    samples, rate = soundfile.read(shaped, dtype="float32")
    assert rate == RATE
    return np.asarray(samples)


@pytest.mark.slow
def test_real_speech_louder_higher_faster_is_more_aroused(tmp_path: Path) -> None:
    scorer = CallScorer()
    calm_lines = ("I am calling about my account.", "Could you check the order for me?",
                  "It was sent last week to my home address.")
    for i, line in enumerate(calm_lines):
        assert scorer.add_calm_audio(espeak(line, tmp_path, f"calm{i}", "gain", "-n", "-26"))
    line = "Where is my parcel? I have waited two weeks for it."
    calm = scorer.on_audio(ended(espeak(line, tmp_path, "same", "gain", "-n", "-26"), 1))
    aroused = scorer.on_audio(ended(espeak(line, tmp_path, "aroused", "pitch", "400",
                                           "tempo", "1.3", "gain", "-n", "-12"), 2))
    assert calm.arousal < 0.35, calm.cue
    assert aroused.arousal > 0.8, aroused.cue
    assert "louder" in aroused.cue


def test_cpu_cost_per_second_of_audio_is_small() -> None:
    """The budget is 20 ms of CPU per second of audio; asserted loosely, only to catch a blow-up.

    The real figure, over RAVDESS, comes from scripts/eval_detection.
    """
    audio = np.concatenate([voiced(f0, seconds=3.0) for f0 in (100.0, 150.0, 220.0)])
    started = time.process_time()
    for _ in range(5):
        extract_features(audio)
    spent = time.process_time() - started
    ms_per_s = 1000.0 * spent / (5 * len(audio) / RATE)
    print(f"voice features: {ms_per_s:.1f} ms CPU per second of audio")
    assert ms_per_s < 100.0


# --- assist score --audio, on real recordings -------------------------------------------------


def ravdess(shared: Path, emotion: int, intensity: int, statement: int, repetition: int,
            actor: int) -> str:
    name = f"03-01-{emotion:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}.flac"
    return str(shared / "ravdess-dev" / name)


def score_rows(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert main(["score", *argv]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_score_audio_against_calm_clips_of_the_same_speaker(
        shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    angry = ravdess(shared_data, 5, 2, 1, 1, 9)
    neutral = ravdess(shared_data, 1, 1, 1, 1, 9)
    baseline = [ravdess(shared_data, 1, 1, 2, 1, 9), ravdess(shared_data, 1, 1, 2, 2, 9)]
    rows = score_rows(["--audio", angry, neutral, "--baseline", *baseline], capsys)
    assert [r["input"] for r in rows] == [angry, neutral]
    assert rows[0]["voice_arousal"] > 0.8 > 0.35 > rows[1]["voice_arousal"]  # type: ignore[operator]
    assert "dB louder" in str(rows[0]["voice_cue"]) and rows[0]["baseline"] == "given calm clips"
    assert rows[0]["anger"] is None and rows[0]["text"] is None, "no words without --transcribe"


def held_tone(hz: float = 440.0, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.1 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_a_tone_or_hiss_is_refused_as_a_calm_baseline() -> None:
    tone = held_tone()
    hiss = np.random.default_rng(3).normal(0, 0.05, 2 * RATE).astype(np.float32)
    voice = CallerVoice()
    assert not voice.add_calm_audio(tone) and not voice.add_calm_audio(hiss)
    assert voice.baseline is POPULATION
    assert voice.add_calm_audio(voiced(120.0)), "a voice with a syllable rhythm is speech"
    assert voice.baseline.utterances == 1


def test_score_names_a_baseline_clip_that_is_not_speech(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tone = tmp_path / "hold-tone.wav"
    soundfile.write(tone, held_tone(), RATE)
    speech = tmp_path / "speech.wav"
    soundfile.write(speech, voiced(120.0), RATE)
    assert main(["score", "--audio", str(speech), "--baseline", str(tone)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert f"baseline clip {tone} does not sound like speech" in captured.err
    assert "talking calmly" in captured.err


@pytest.mark.slow
def test_score_audio_with_transcription_scores_the_words_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    speech = speak_to_file("Let me speak to your manager right now.", tmp_path / "ask.wav",
                           words_per_minute=150)
    rows = score_rows(["--audio", str(speech), "--transcribe"], capsys)
    assert "manager" in str(rows[0]["text"]).lower()
    assert [t["name"] for t in rows[0]["triggers"]] == ["manager_request"]  # type: ignore[attr-defined]
    assert rows[0]["anger"] >= rows[0]["word_anger"] > 0.4  # type: ignore[operator]
    assert rows[0]["baseline"] == "population defaults"
