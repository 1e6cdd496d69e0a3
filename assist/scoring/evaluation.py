"""How well the scorer separates angry from calm, measured on real data (scripts/eval_detection).

Words, on GoEmotions (../shared/data/goemotions-dev, Reddit comments with emotion labels):
    positive  = a comment labelled anger or annoyance (whatever else it carries);
    negative  = a comment whose labels are all neutral or positive emotions
                (NEUTRAL_OR_POSITIVE below) -- sad, fearful, disapproving, ... comments are
                left out, they are neither anger nor calm;
    figure    = ROC AUC of our word score, beside plain VADER's -compound on the same rows.

Voice, on RAVDESS (../shared/data/ravdess-dev, acted speech, the same two sentences in every
emotion): each actor's baseline comes ONLY from that actor's neutral clips. A neutral clip
being scored is left out of its own baseline (leave-one-out), otherwise the neutral clips
would sit at exactly zero change and flatter the figure. Figures: ROC AUC of voice arousal for
angry vs neutral+calm, and for angry vs happy, surprised and fearful (reported only).
The angry vs neutral+calm figure is also reported as heard down a phone line (PHONE_LINES):
band-limited to 300-3400 Hz at 8 kHz, and that again with every clip levelled to one loudness,
the worst an automatic gain control can do to the loudness cue.

Call lines, on the blind-written scripted calls (evaluation/blind_calls): the customer turns
as written, upset (annoyed, angry, furious) against calm (calm, relieved), scored by the same
word score and by plain VADER: how the words read callers rather than Reddit comments. The
tuning calls are reported for reference; the scoring set is the figure nothing was chosen on.

Split discipline: anything tuned (lexicon weights, the tone model, voice feature weights) is
tuned on the TUNE split and reported on the disjoint SCORE split. GoEmotions rows go to a split
by a hash of their comment id; RAVDESS actors 1-6 tune, actors 7-12 score.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assist.errors import AudioError, ConfigError
from assist.events import SAMPLE_RATE
from assist.scoring.tone import ToneWeights, load_embedder, tone_input
from assist.scoring.voice import (
    WEIGHTS,
    VoiceBaseline,
    VoiceFeatures,
    arousal_of,
    changes_from,
    extract_features,
)

if TYPE_CHECKING:
    from assist.scoring.words import WordScorer

ANGRY_LABELS = frozenset({"anger", "annoyance"})
NEUTRAL_OR_POSITIVE = frozenset({
    "neutral", "admiration", "amusement", "approval", "caring", "desire", "excitement",
    "gratitude", "joy", "love", "optimism", "pride", "relief",
})
TUNE_ACTORS = frozenset(range(1, 7))
SCORE_ACTORS = frozenset(range(7, 13))
CALM_EMOTIONS = ("neutral", "calm")
OTHER_AROUSED = ("happy", "surprised", "fearful")


class Split(StrEnum):
    TUNE = "tune"
    SCORE = "score"


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """ROC AUC as the Mann-Whitney U statistic: P(pos > neg) + P(pos == neg) / 2."""
    if not positives or not negatives:
        raise ValueError("AUC needs at least one positive and one negative score")
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.sort(np.asarray(negatives, dtype=np.float64))
    below = np.searchsorted(neg, pos, side="left")
    not_above = np.searchsorted(neg, pos, side="right")
    wins = below.sum() + 0.5 * (not_above - below).sum()
    return float(wins / (len(pos) * len(neg)))


def auc_standard_error(value: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982): how much an AUC from this many rows moves by chance alone."""
    q1 = value / (2.0 - value)
    q2 = 2.0 * value * value / (1.0 + value)
    variance = (value * (1.0 - value) + (positives - 1) * (q1 - value * value)
                + (negatives - 1) * (q2 - value * value)) / (positives * negatives)
    return float(np.sqrt(max(variance, 0.0)))


# --- words: GoEmotions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Comment:
    id: str
    text: str
    angry: bool


def split_of_id(comment_id: str) -> Split:
    """Stable across runs and machines (unlike hash()): first byte of SHA-1, even -> tune."""
    return Split.TUNE if hashlib.sha1(comment_id.encode()).digest()[0] % 2 == 0 else Split.SCORE


def load_goemotions(folder: Path, split: Split) -> list[Comment]:
    """The comments of one split that are angry or neutral-or-positive (see module doc)."""
    labels = _read_lines(folder / "labels.txt")
    comments = []
    for row in _read_tsv(folder / "dev.tsv"):
        text, ids, comment_id = row[0], row[1], row[2]
        names = {labels[int(i)] for i in ids.split(",")}
        if split_of_id(comment_id) is not split:
            continue
        if names & ANGRY_LABELS:
            comments.append(Comment(comment_id, text, True))
        elif names <= NEUTRAL_OR_POSITIVE:
            comments.append(Comment(comment_id, text, False))
    return comments


@dataclass(frozen=True)
class WordsResult:
    split: Split
    angry: int
    calm: int
    auc_ours: float
    auc_lexicon: float
    """Our word score with the tone model left out (``fusion.tone = 0``)."""
    auc_vader: float
    cpu_ms_per_line: float
    """CPU time (time.process_time) of one full word score, tone model included."""


def evaluate_words(comments: Sequence[Comment], split: Split) -> WordsResult:
    """Our word score and plain VADER's -compound (on the raw text) over the same rows."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    if not comments:
        raise ConfigError(f"no GoEmotions rows in the {split} split; check the data folder")
    scorer, vader = _word_scorer(), SentimentIntensityAnalyzer()
    lexicon_only = _word_scorer(tone=0.0)
    flags = [c.angry for c in comments]
    started = time.process_time()
    ours = [scorer.score(c.text).anger for c in comments]
    cpu_ms_per_line = (time.process_time() - started) * 1000 / len(comments)
    lexicon = [lexicon_only.score(c.text).anger for c in comments]
    plain = [-float(vader.polarity_scores(c.text)["compound"]) for c in comments]
    return WordsResult(split=split, angry=sum(flags), calm=len(flags) - sum(flags),
                       auc_ours=_auc_by_flag(ours, flags),
                       auc_lexicon=_auc_by_flag(lexicon, flags),
                       auc_vader=_auc_by_flag(plain, flags), cpu_ms_per_line=cpu_ms_per_line)


TONE_L2 = 1 / 0.3
"""Ridge penalty of the tone regression. Chosen by five-fold cross-validation on the TUNE half
(three shuffles): penalties 1/0.1, 1/0.3, 1/1 and 1/3 with tone weights 0.5-1.5 gave word-score
AUCs of 0.904-0.909 against 0.900 without the tone; 1/0.3 with weight 1.0 was best and gained
on both sub-halves. Reading the text as VADER does, in lower case: 0.908."""
NEWTON_STEPS = 25


def fit_tone(comments: Sequence[Comment]) -> ToneWeights:
    """Ridge logistic regression of angry against calm comments on their tone embeddings.

    Newton's method (the problem is small: a few thousand rows, 256 columns); the intercept is
    not penalised. ``calm_probability`` is the median over the calm rows, so an ordinary calm
    line adds nothing to the word score. TUNE comments only: the SCORE half reports the result.
    """
    if any(split_of_id(c.id) is not Split.TUNE for c in comments):
        raise ValueError("fit the tone model on the TUNE half only")
    x = load_embedder().embed_all([tone_input(c.text) for c in comments]).astype(np.float64)
    y = np.array([c.angry for c in comments], dtype=np.float64)
    design = np.hstack([x, np.ones((len(y), 1))])
    penalty = np.full(design.shape[1], TONE_L2)
    penalty[-1] = 0.0
    theta = np.zeros(design.shape[1])
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        gradient = design.T @ (p - y) + penalty * theta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        theta -= np.linalg.solve(hessian, gradient)
    calm = 1.0 / (1.0 + np.exp(-(design[y == 0] @ theta)))
    return ToneWeights(weights=theta[:-1].astype(np.float32), bias=float(theta[-1]),
                       calm_probability=float(np.median(calm)))


# --- call lines: the customer turns of labelled scripted calls -----------------------------------

UPSET_MOODS = frozenset({"annoyed", "angry", "furious"})
CALM_MOODS = frozenset({"calm", "relieved"})


@dataclass(frozen=True)
class CallLine:
    call: str
    text: str
    upset: bool


def load_call_lines(folders: Iterable[Path]) -> list[CallLine]:
    """Every customer turn of the labelled calls in ``folders`` whose writer marked it upset
    (annoyed, angry, furious) or calm (calm, relieved).

    A turn delivered angrily but labelled calm (a shout at the TV mid-call) is left out: it is
    loud, not angry with anyone on the line.
    """
    lines = []
    for folder in folders:
        for path in sorted(folder.glob("*.labels.json")):
            call = path.name.removesuffix(".labels.json")
            lines += [CallLine(call, turn["text"], turn["mood"] in UPSET_MOODS)
                      for turn in _read_json(path) if _is_call_line(turn)]
    if not lines:
        raise ConfigError(f"no labelled customer turns in {', '.join(map(str, folders))}")
    return lines


def tuning_call_folders(root: Path) -> tuple[Path, ...]:
    """The labelled calls that settings were chosen on: the development calls and the
    blind-written calls already scored and retired into tuning."""
    return root / "assist" / "data" / "calls", root / "evaluation" / "blind_calls" / "tuning"


def scoring_call_folder(root: Path) -> Path:
    """The newest blind-written calls: nothing was chosen on them."""
    return root / "evaluation" / "blind_calls" / "scoring"


@dataclass(frozen=True)
class CallLinesResult:
    name: str
    upset: int
    calm: int
    auc_ours: float
    auc_lexicon: float
    """Our word score with the tone model left out (``fusion.tone = 0``)."""
    auc_vader: float


def evaluate_call_lines(lines: Sequence[CallLine], name: str) -> CallLinesResult:
    """Our word score against plain VADER on the customer turns of labelled calls (their script
    text, as a perfect recogniser would hear it): how the words read callers rather than
    Reddit comments."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    ours, lexicon_only = _word_scorer(), _word_scorer(tone=0.0)
    flags = [line.upset for line in lines]
    return CallLinesResult(
        name=name, upset=sum(flags), calm=len(flags) - sum(flags),
        auc_ours=_auc_by_flag([ours.score(line.text).anger for line in lines], flags),
        auc_lexicon=_auc_by_flag([lexicon_only.score(line.text).anger for line in lines], flags),
        auc_vader=_auc_by_flag([-float(vader.polarity_scores(line.text)["compound"])
                                for line in lines], flags))


def _word_scorer(**fusion: float) -> WordScorer:
    from assist.scoring.settings import FusionWeights, ScoringSettings
    from assist.scoring.words import WordScorer

    return WordScorer(ScoringSettings(fusion=FusionWeights(**fusion)))


def _is_call_line(turn: dict[str, Any]) -> bool:
    if turn.get("speaker") != "customer":
        return False
    mood = turn.get("mood")
    return mood in CALM_MOODS or (mood in UPSET_MOODS and turn.get("stage") != "calm")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from e


def _auc_by_flag(scores: Sequence[float], flags: Sequence[bool]) -> float:
    return auc([s for s, f in zip(scores, flags, strict=True) if f],
               [s for s, f in zip(scores, flags, strict=True) if not f])


# --- voice: RAVDESS ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    path: Path
    emotion: str
    intensity: str
    actor: int


def load_ravdess(folder: Path, actors: Iterable[int]) -> list[Clip]:
    wanted = set(actors)
    try:
        with (folder / "labels.csv").open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise ConfigError(f"cannot read {folder / 'labels.csv'}: {e}; point --data at "
                        "../shared/data") from e
    clips = [Clip(folder / r["file"], r["emotion"], r["intensity"], int(r["actor"]))
             for r in rows if int(r["actor"]) in wanted]
    if not clips:
        raise ConfigError(f"no RAVDESS clips for actors {sorted(wanted)} in {folder}")
    return clips


FeatureCache = dict[Path, VoiceFeatures | None]


@dataclass(frozen=True)
class ClipFeatures:
    features: FeatureCache
    cpu_s: float
    """CPU time (time.process_time) spent extracting features, reading files excluded."""
    audio_s: float

    @property
    def cpu_ms_per_audio_s(self) -> float:
        return 1000.0 * self.cpu_s / self.audio_s if self.audio_s else 0.0


Transform = Callable[[np.ndarray], np.ndarray]
"""Changes a clip's 16 kHz mono audio before its features are taken (a phone line, say)."""


def clip_features(clips: Sequence[Clip], transform: Transform | None = None) -> ClipFeatures:
    """Voice features of every clip, timing only the feature extraction."""
    features: FeatureCache = {}
    cpu_s = audio_s = 0.0
    for clip in clips:
        mono = _read_clip(clip)
        if transform is not None:
            mono = transform(mono)
        started = time.process_time()
        features[clip.path] = extract_features(mono)
        cpu_s += time.process_time() - started
        audio_s += len(mono) / SAMPLE_RATE
    return ClipFeatures(features, cpu_s, audio_s)


def _read_clip(clip: Clip) -> np.ndarray:
    import soundfile

    audio, rate = soundfile.read(clip.path, dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise AudioError(f"{clip.path}: expected 16 kHz audio, got {rate} Hz; use the "
                         "RAVDESS copy in ../shared/data")
    return np.asarray(audio.mean(axis=1), dtype=np.float32)


# --- what a phone line does to a voice ----------------------------------------------------------

NARROWBAND_RATE = 8000
PHONE_BAND_HZ = (300.0, 3400.0)
"""The classic telephone passband (ITU-T G.712) at the 8 kHz of G.711 narrowband calls."""
LEVELLED_DBFS = -26.0
"""The nominal active speech level on a phone line (ITU-T P.56), as in voice.POPULATION."""


def narrowband(audio: np.ndarray) -> np.ndarray:
    """16 kHz audio as a narrowband phone call delivers it: down to 8 kHz, band-passed, and
    back up to 16 kHz (the pipeline resamples every source to 16 kHz the same way)."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    factor = SAMPLE_RATE // NARROWBAND_RATE
    band = butter(4, PHONE_BAND_HZ, btype="bandpass", fs=NARROWBAND_RATE, output="sos")
    on_the_line = sosfiltfilt(band, resample_poly(audio, 1, factor))
    return np.asarray(resample_poly(on_the_line, factor, 1), dtype=np.float32)


def levelled(audio: np.ndarray) -> np.ndarray:
    """The whole clip scaled so its speech sits at LEVELLED_DBFS: shouted and calm clips arrive
    equally loud, as behind an automatic gain control that has fully caught up."""
    magnitude = np.abs(audio)
    speech = audio[magnitude > 0.01 * float(magnitude.max(initial=0.0))]
    speech_rms = float(np.sqrt(np.mean(np.square(speech, dtype=np.float64)))) if speech.size else 0.0
    gain = 10.0 ** (LEVELLED_DBFS / 20.0) / max(speech_rms, 1e-9)
    return np.clip(audio * gain, -1.0, 1.0).astype(np.float32)


PHONE_LINES: dict[str, Transform] = {
    "narrowband phone line": narrowband,
    "narrowband and levelled": lambda audio: levelled(narrowband(audio)),
}


def leave_one_out_baseline(clip: Clip, clips: Sequence[Clip],
                           features: FeatureCache) -> VoiceBaseline:
    """The actor's neutral clips, without the clip being scored."""
    neutral = [f for c in clips
               if c.actor == clip.actor and c.emotion == "neutral" and c.path != clip.path
               and (f := features[c.path]) is not None]
    return VoiceBaseline.from_features(neutral)


def clip_arousals(clips: Sequence[Clip], features: FeatureCache) -> dict[Path, float]:
    """Arousal of each clip against its own actor's neutral clips (0 if too little speech)."""
    arousals = {}
    for clip in clips:
        found = features[clip.path]
        arousals[clip.path] = (0.0 if found is None else
                               arousal_of(found, leave_one_out_baseline(clip, clips, features)))
    return arousals


@dataclass(frozen=True)
class VoiceResult:
    split: Split
    actors: tuple[int, ...]
    clips: int
    angry: int
    calm: int
    auc_angry_vs_calm: float
    auc_angry_vs_other: dict[str, float]
    cpu_ms_per_audio_s: float
    auc_on_phone_lines: dict[str, float]
    """Angry vs neutral+calm again, each clip first passed through one of PHONE_LINES."""


def evaluate_voice(clips: Sequence[Clip], split: Split) -> VoiceResult:
    extracted = clip_features(clips)
    arousals = clip_arousals(clips, extracted.features)

    def of(*emotions: str) -> list[float]:
        return [arousals[c.path] for c in clips if c.emotion in emotions]

    angry, calm = of("angry"), of(*CALM_EMOTIONS)
    on_lines = {}
    for name, line in PHONE_LINES.items():
        heard = clip_features(clips, line).features
        on_lines[name] = _angry_vs_calm_auc(clips, clip_arousals(clips, heard))
    return VoiceResult(
        split=split,
        actors=tuple(sorted({c.actor for c in clips})),
        clips=len(clips),
        angry=len(angry),
        calm=len(calm),
        auc_angry_vs_calm=auc(angry, calm),
        auc_angry_vs_other={e: auc(angry, of(e)) for e in OTHER_AROUSED if of(e)},
        cpu_ms_per_audio_s=extracted.cpu_ms_per_audio_s,
        auc_on_phone_lines=on_lines,
    )


def _angry_vs_calm_auc(clips: Sequence[Clip], arousals: dict[Path, float]) -> float:
    return auc([arousals[c.path] for c in clips if c.emotion == "angry"],
               [arousals[c.path] for c in clips if c.emotion in CALM_EMOTIONS])


@dataclass(frozen=True)
class VoiceFit:
    bias: float
    weights: dict[str, float]
    tune_auc: float


FIT_L2 = 0.01
FIT_STEPS = 3000
FIT_LEARNING_RATE = 0.05
MIN_WEIGHTS = {"loudness_db": 0.0, "pitch_st": 0.1, "pitch_range_st": 0.0, "rate_syl_s": 1.0,
               "effort_db": 0.0}
"""Floors for the fit. More of any feature means more arousal, so no weight goes negative (that
would only exploit shouting raising the pitch, and make the cue text lie). Pitch and rate keep
a little weight even where RAVDESS, loud and acted, does not need them: on a phone line the
automatic gain control flattens loudness and they are what is left."""


def fit_voice_weights(clips: Sequence[Clip]) -> VoiceFit:
    """Logistic regression of angry vs neutral+calm on the baseline changes, TUNE actors only.

    Projected gradient descent (weights held at MIN_WEIGHTS or above) with a small L2 penalty.
    The result is copied by hand into assist/scoring/voice.py (WEIGHTS, BIAS): the product
    never trains at run time.
    """
    if any(c.actor not in TUNE_ACTORS for c in clips):
        raise ValueError("fit the voice weights on the TUNE actors only")
    features = clip_features(clips).features
    names = list(WEIGHTS)
    rows: list[list[float]] = []
    labels: list[bool] = []
    for clip in clips:
        found = features[clip.path]
        if clip.emotion in ("angry", *CALM_EMOTIONS) and found is not None:
            change = changes_from(found, leave_one_out_baseline(clip, clips, features))
            rows.append([getattr(change, n) for n in names])
            labels.append(clip.emotion == "angry")
    x, y = np.array(rows), np.array(labels, dtype=np.float64)
    floor = np.array([MIN_WEIGHTS[n] for n in names])
    w, b = floor.copy(), 0.0
    for _ in range(FIT_STEPS):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        w = np.maximum(w - FIT_LEARNING_RATE * (x.T @ (p - y) / len(y) + FIT_L2 * w), floor)
        b -= FIT_LEARNING_RATE * float(np.mean(p - y))
    logits = x @ w + b
    return VoiceFit(bias=b, weights=dict(zip(names, map(float, w), strict=True)),
                    tune_auc=auc(list(logits[y == 1]), list(logits[y == 0])))


# --- the whole evaluation ----------------------------------------------------------------------

WORDS_TARGET = 0.88
VOICE_TARGET = 0.95


@dataclass(frozen=True)
class Report:
    words: dict[Split, WordsResult]
    voice: dict[Split, VoiceResult]
    subset: int | None
    calls: tuple[CallLinesResult, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "subset": self.subset,
            "splits": {"goemotions": "rows by SHA-1 of comment id: first byte even -> tune, "
                                     "odd -> score",
                       "ravdess": "actors 1-6 tune, 7-12 score"},
            "targets": {"words_auc": WORDS_TARGET, "voice_auc_angry_vs_calm": VOICE_TARGET},
            "words": {str(k): dataclasses.asdict(v) for k, v in self.words.items()},
            "voice": {str(k): dataclasses.asdict(v) for k, v in self.voice.items()},
            "call_lines": [dataclasses.asdict(c) for c in self.calls],
        }

    def lines(self) -> list[str]:
        out = [f"subset: {self.subset or 'all rows'}",
               "GoEmotions split: SHA-1 of comment id, even first byte = TUNE, odd = SCORE",
               "RAVDESS split: actors 1-6 = TUNE, actors 7-12 = SCORE "
               "(baseline = the actor's neutral clips, leave-one-out)",
               "+/- is one standard error of the AUC (Hanley & McNeil 1982)"]
        for split, w in self.words.items():
            out.append(f"words [{split}] anger/annoyance {w.angry} vs neutral/positive {w.calm}: "
                       f"AUC ours {w.auc_ours:.3f} (+/- {_se(w.auc_ours, w.angry, w.calm)}), "
                       f"without the tone model {w.auc_lexicon:.3f}, "
                       f"plain VADER {w.auc_vader:.3f}"
                       f"{_target_note(split, w.auc_ours, WORDS_TARGET)}; "
                       f"CPU {w.cpu_ms_per_line:.2f} ms per line")
        for split, v in self.voice.items():
            others = ", ".join(f"{e} {a:.3f}" for e, a in v.auc_angry_vs_other.items())
            out.append(f"voice [{split}] actors {v.actors[0]}-{v.actors[-1]}, {v.clips} clips: "
                       f"AUC angry vs neutral+calm {v.auc_angry_vs_calm:.3f} "
                       f"(+/- {_se(v.auc_angry_vs_calm, v.angry, v.calm)})"
                       f"{_target_note(split, v.auc_angry_vs_calm, VOICE_TARGET)}; "
                       f"angry vs {others}; CPU {v.cpu_ms_per_audio_s:.1f} ms per s of audio")
            lines = ", ".join(f"{name} {a:.3f}" for name, a in v.auc_on_phone_lines.items())
            out.append(f"voice [{split}] angry vs neutral+calm over the phone (reported only): "
                       f"{lines}")
        for c in self.calls:
            out.append(f"call lines [{c.name}] upset {c.upset} vs calm {c.calm} customer turns: "
                       f"AUC ours {c.auc_ours:.3f} (+/- {_se(c.auc_ours, c.upset, c.calm)}), "
                       f"without the tone model {c.auc_lexicon:.3f}, "
                       f"plain VADER {c.auc_vader:.3f}")
        return out


def _se(value: float, positives: int, negatives: int) -> str:
    return f"{auc_standard_error(value, positives, negatives):.3f}"


def _target_note(split: Split, value: float, target: float) -> str:
    if split is not Split.SCORE:
        return " (tuning split, for reference)"
    return f" (target >= {target:.2f}: {'met' if value >= target else 'NOT met'})"


def run_evaluation(data: Path, subset: int | None = None, calls: Path | None = None) -> Report:
    """Both evaluations on both splits; ``subset`` caps the rows or clips taken per split.

    With ``calls`` (a checkout), the word score is also measured on the customer turns of the
    labelled calls: those settings were chosen on (for reference) and the blind
    scoring set, which nothing was chosen on.
    """
    words = {split: evaluate_words(_first(load_goemotions(data / "goemotions-dev", split),
                                          subset), split) for split in Split}
    voice = {}
    for split, actors in ((Split.TUNE, TUNE_ACTORS), (Split.SCORE, SCORE_ACTORS)):
        clips = load_ravdess(data / "ravdess-dev", actors)
        voice[split] = evaluate_voice(_voice_subset(clips, subset), split)
    call_results = () if calls is None else (
        evaluate_call_lines(load_call_lines(tuning_call_folders(calls)),
                            "tuning calls, for reference"),
        evaluate_call_lines(load_call_lines([scoring_call_folder(calls)]), "blind scoring set"))
    return Report(words, voice, subset, call_results)


def _first(comments: list[Comment], subset: int | None) -> list[Comment]:
    return comments if subset is None else comments[:subset]


def _voice_subset(clips: list[Clip], subset: int | None) -> list[Clip]:
    """The clips the figures use; a subset keeps whole actors so every clip has its baseline."""
    used = [c for c in clips if c.emotion in (*CALM_EMOTIONS, "angry", *OTHER_AROUSED)]
    if subset is None:
        return used
    actors = sorted({c.actor for c in used})
    per_actor = len(used) // len(actors)
    keep = set(actors[: max(1, subset // per_actor)])
    return [c for c in used if c.actor in keep]


# --- shared helpers ---------------------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}; point --data at ../shared/data") from e


def _read_tsv(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}; point --data at ../shared/data") from e
    return [row for row in rows if len(row) >= 3]
