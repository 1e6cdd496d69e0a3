"""The tone model: the whole line's lean towards anger, fitted on the GoEmotions TUNE half."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from assist.errors import ConfigError, PackError
from assist.scoring import WordScorer
from assist.scoring.evaluation import Comment, Split, fit_tone, load_goemotions
from assist.scoring.settings import FusionWeights, ScoringSettings, parse_scoring_settings
from assist.scoring.tone import (
    FUNCTION_WORDS,
    ToneModel,
    _read_embedder,
    load_embedder,
    load_weights,
    tone_file,
)

TONE = ToneModel()


HOSTILE = ("You people are useless and I'm sick of this garbage", "Are you stupid?",
           "I hate this company", "Shut up and listen", "I am furious")
CALM = ("Thank you so much, that's really helpful", "Lovely, have a good afternoon",
        "I'd like to update the address on my account, please", "No problem at all",
        "Hi, I'm calling about my order from last week.", "The postcode is CV33 9JE")


def test_hostile_lines_lean_angry_and_calm_lines_add_next_to_nothing() -> None:
    """A weak model on its own (AUC 0.82, cross-validated on the TUNE half): a modest margin."""
    hostile = [TONE.score(t).lift for t in HOSTILE]
    calm = [TONE.score(t).lift for t in CALM]
    assert min(hostile) > 0.05 and max(calm) < 0.04, (hostile, calm)


def test_the_evidence_names_words_of_the_line_and_never_function_words() -> None:
    text = "You people are useless and I'm sick of this garbage"
    words = TONE.score(text).words
    assert words and all(w.lower() in text.lower() for w in words)
    assert not set(words) & FUNCTION_WORDS
    assert any(w in {"useless", "sick", "garbage"} for w in words)


def test_capitals_are_left_to_the_emphasis_cue() -> None:
    assert TONE.score("THIS IS A PATHETIC EXCUSE").lift == pytest.approx(
        TONE.score("this is a pathetic excuse").lift)


def test_an_empty_line_has_no_tone() -> None:
    assert TONE.score("").lift == 0.0 and TONE.score("   ").words == ()


def test_the_word_score_names_the_tone_and_a_zero_weight_turns_it_off() -> None:
    text = "I hate this company"
    with_tone = WordScorer().score(text)
    without = WordScorer(ScoringSettings(fusion=FusionWeights(tone=0.0))).score(text)
    assert with_tone.anger > without.anger
    assert any(e.startswith("angry tone overall") for e in with_tone.evidence)
    assert not any(e.startswith("angry tone") for e in without.evidence)


def test_a_pack_sets_the_tone_weight_within_zero_to_one() -> None:
    assert parse_scoring_settings({"fusion": {"tone": 0.5}}, "pack.toml").fusion.tone == 0.5
    with pytest.raises(PackError, match=r"fusion\.tone"):
        parse_scoring_settings({"fusion": {"tone": 2}}, "pack.toml")


def test_the_shipped_model_is_the_fit_of_the_tune_half(shared_data: Path) -> None:
    """The committed weights must come from the TUNE half alone, or the SCORE figure lies."""
    comments = load_goemotions(shared_data / "goemotions-dev", Split.TUNE)
    fitted = fit_tone(comments)
    shipped = json.loads(tone_file().read_text(encoding="utf-8"))
    assert np.allclose(fitted.weights, shipped["weights"], atol=1e-4)
    assert fitted.bias == pytest.approx(shipped["bias"], abs=1e-4)
    assert fitted.calm_probability == pytest.approx(shipped["calm_probability"], abs=1e-4)


def test_fitting_on_a_score_row_is_refused(shared_data: Path) -> None:
    score_row = load_goemotions(shared_data / "goemotions-dev", Split.SCORE)[0]
    with pytest.raises(ValueError, match="TUNE"):
        fit_tone([Comment("tune-looking", "fine", False), score_row])


@pytest.mark.parametrize("content", ["{not json", '{"embedding": "other", "bias": 0}',
                                     '{"embedding": "wordllama l2_supercat 256"}'])
def test_a_broken_model_file_is_a_one_line_config_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "tone.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read the tone model"):
        load_weights(path)


def test_threads_loading_the_vectors_at_once_share_one_copy() -> None:
    # The pipeline preloads on its own thread while a call may be starting on another.
    _read_embedder.cache_clear()
    loaded: list[object] = []
    threads = [threading.Thread(target=lambda: loaded.append(load_embedder())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loaded) == 3
    assert all(embedder is loaded[0] for embedder in loaded)
