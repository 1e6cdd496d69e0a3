"""Arousal from the voice, against this caller's own baseline.

Per utterance (16 kHz mono), on 32 ms frames every 10 ms:
- loudness: 80th percentile of frame RMS in dBFS over speech frames (within 30 dB of the
  loudest frame);
- pitch: a YIN-style F0 tracker (cumulative-mean-normalised difference from an FFT
  autocorrelation, 70-600 Hz); median and 10-90 % range in semitones over the frames where it
  finds a period (a rough, shouted voice often has too few: then pitch is left out);
- rate: syllable nuclei (energy-envelope peaks) per second of speech frames;
- effort: energy above 1 kHz against below 1 kHz in dB (a strained, shouting voice tilts its
  spectrum up; unlike loudness it survives a phone line's automatic gain control).

Each feature is taken against the caller's baseline (the first calm utterances of the call, or
given calm clips) and the changes are combined by a logistic model,
``arousal = sigmoid(BIAS + sum(WEIGHTS[f] * change[f]))``, whose weights were fitted on
RAVDESS actors 1-6 only (``scripts/eval_detection --fit-voice``) and are reported on actors
7-12. Before a baseline exists the changes are taken against POPULATION and halved, so an
unknown voice is judged conservatively.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from assist.events import SAMPLE_RATE

FRAME = 512
"""32 ms: two periods of a 70 Hz voice fit in a frame, which YIN needs."""
HOP = 160
"""10 ms between frames."""
FFT_SIZE = 1024
F0_MIN_HZ = 70.0
F0_MAX_HZ = 600.0
TAU_MIN = int(SAMPLE_RATE / F0_MAX_HZ)
TAU_MAX = int(SAMPLE_RATE / F0_MIN_HZ)
YIN_THRESHOLD = 0.25
"""De Cheveigne & Kawahara (2002) use 0.1-0.2; a little higher keeps more of a rough voice."""
SILENCE_DBFS = -70.0
ACTIVE_RANGE_DB = 30.0
"""Frames more than this below the utterance's loudest frame are pauses or breath."""
EFFORT_SPLIT_HZ = 1000.0
EFFORT_TOP_HZ = 4000.0
EFFORT_BOTTOM_HZ = 60.0
NUCLEUS_PROMINENCE_DB = 3.0
NUCLEUS_HALF_WIDTH = 8
"""Peaks at least 80 ms apart: syllables come 3-8 per second."""
MIN_SPEECH_S = 0.25
"""Less speech than this says nothing reliable about the voice."""
MIN_PITCHED_S = 0.1
"""Fewer frames with a clear period than this: the pitch is not judged."""
MIN_SPEECH_RATE = 1.0
"""Syllable beats per second below which a clip is a held tone, a hum or music, not talk."""


@dataclass(frozen=True)
class VoiceFeatures:
    loudness_db: float
    pitch_st: float | None
    """Median F0 in semitones above 100 Hz; None when too few frames had a clear period."""
    pitch_range_st: float | None
    rate_syl_s: float
    effort_db: float
    speech_s: float


@dataclass(frozen=True)
class VoiceBaseline:
    loudness_db: float
    pitch_st: float
    pitch_range_st: float
    rate_syl_s: float
    effort_db: float
    utterances: int = 0
    """How many utterances it was built from; 0 for the population defaults."""

    @classmethod
    def from_features(cls, samples: Sequence[VoiceFeatures]) -> VoiceBaseline:
        """The median of each feature over calm samples (robust to one odd utterance)."""
        if not samples:
            return POPULATION
        return cls(**{name: _median_known([getattr(s, name) for s in samples],
                                          getattr(POPULATION, name))
                      for name in _BASELINE_FIELDS}, utterances=len(samples))

    def adapted(self, features: VoiceFeatures, rate: float) -> VoiceBaseline:
        """Moved a step ``rate`` (0..1) towards ``features``."""
        moved = {name: _step(getattr(self, name), getattr(features, name), rate)
                 for name in _BASELINE_FIELDS}
        return replace(self, **moved, utterances=self.utterances + 1)


_BASELINE_FIELDS = tuple(f.name for f in fields(VoiceFeatures) if f.name != "speech_s")


def _median_known(values: Sequence[float | None], fallback: float) -> float:
    known = [v for v in values if v is not None]
    return float(np.median(known)) if known else fallback


def _step(old: float, new: float | None, rate: float) -> float:
    return old if new is None else (1 - rate) * old + rate * new


def _difference(value: float | None, reference: float) -> float:
    """No pitch measured means no evidence either way, not "same as the baseline" by luck."""
    return 0.0 if value is None else value - reference


POPULATION = VoiceBaseline(loudness_db=-26.0, pitch_st=8.0, pitch_range_st=6.3,
                           rate_syl_s=4.0, effort_db=-11.0)
"""Before a caller's baseline exists. Loudness: the nominal active speech level on a phone
line (-26 dBov, ITU-T P.56); pitch: 160 Hz, between typical men (~120) and women (~210);
range, rate and effort: medians of calm and neutral clips of RAVDESS actors 1-6."""

WEIGHTS = {"loudness_db": 0.50, "pitch_st": 0.10, "pitch_range_st": 0.13, "rate_syl_s": 1.0,
           "effort_db": 0.74}
BIAS = -2.81
"""Fitted on RAVDESS actors 1-6, angry vs neutral+calm, each actor against their own neutral
clips (assist.scoring.evaluation.fit_voice_weights; pitch and rate held at small floors)."""
NO_BASELINE_SHRINK = 0.5


@dataclass(frozen=True)
class Changes:
    """Each feature's change from the baseline, in the units the cue speaks in."""

    loudness_db: float
    pitch_st: float
    pitch_range_st: float
    rate_syl_s: float
    """Relative: 0.3 is 30 % faster."""
    effort_db: float


def changes_from(features: VoiceFeatures, baseline: VoiceBaseline) -> Changes:
    return Changes(
        loudness_db=features.loudness_db - baseline.loudness_db,
        pitch_st=_difference(features.pitch_st, baseline.pitch_st),
        pitch_range_st=_difference(features.pitch_range_st, baseline.pitch_range_st),
        rate_syl_s=features.rate_syl_s / max(baseline.rate_syl_s, 0.5) - 1.0,
        effort_db=features.effort_db - baseline.effort_db,
    )


def arousal_of(features: VoiceFeatures, baseline: VoiceBaseline) -> float:
    change = changes_from(features, baseline)
    shrink = NO_BASELINE_SHRINK if baseline.utterances == 0 else 1.0
    logit = BIAS + shrink * sum(w * getattr(change, name) for name, w in WEIGHTS.items())
    return 1.0 / (1.0 + math.exp(-logit))


NOTABLE = {"loudness_db": 4.0, "pitch_st": 2.0, "rate_syl_s": 0.2, "effort_db": 3.0}
"""Changes big enough to mention: about what a listener notices (4 dB, 2 semitones, 20 %)."""
CALM_AROUSAL = 0.35
"""Below this the voice is described as close to the baseline, whatever moved."""
MAX_CUE_PARTS = 2


def describe(features: VoiceFeatures, baseline: VoiceBaseline) -> str:
    """The biggest notable changes, in words an agent reads at a glance."""
    change = changes_from(features, baseline)
    reference = "their baseline" if baseline.utterances else "a typical caller"
    notable = [name for name, least in NOTABLE.items() if getattr(change, name) >= least]
    if arousal_of(features, baseline) < CALM_AROUSAL or not notable:
        return f"voice close to {reference}"
    notable.sort(key=lambda name: -WEIGHTS[name] * getattr(change, name))
    parts = [_phrase(name, change) for name in notable[:MAX_CUE_PARTS]]
    return f"{', '.join(parts)} (vs {reference})"


def _phrase(name: str, change: Changes) -> str:
    if name == "loudness_db":
        return f"voice {change.loudness_db:.0f} dB louder"
    if name == "pitch_st":
        return f"pitch {change.pitch_st:.0f} semitones up"
    if name == "rate_syl_s":
        return f"speaking {100 * change.rate_syl_s:.0f}% faster"
    return f"voice strained ({change.effort_db:.0f} dB more high-frequency energy)"


def sounds_like_speech(features: VoiceFeatures) -> bool:
    """A voice with a pitch and a syllable rhythm, as a calm reference must have."""
    return features.pitch_st is not None and features.rate_syl_s >= MIN_SPEECH_RATE


# --- feature extraction ----------------------------------------------------------------------


def extract_features(audio: np.ndarray) -> VoiceFeatures | None:
    """Features of one utterance, or None when it has too little speech."""
    if len(audio) < FRAME:
        return None
    frames = sliding_window_view(np.asarray(audio, dtype=np.float32), FRAME)[::HOP]
    level_db = _frame_level_db(frames)
    speech = level_db > max(float(level_db.max()) - ACTIVE_RANGE_DB, SILENCE_DBFS)
    speech_s = float(speech.sum()) * HOP / SAMPLE_RATE
    if speech_s < MIN_SPEECH_S:
        return None
    centred = frames[speech] - frames[speech].mean(axis=1, keepdims=True)
    spectra = np.fft.rfft(centred, n=FFT_SIZE, axis=1)
    power = spectra.real ** 2 + spectra.imag ** 2   # one FFT serves both pitch and effort
    f0 = _yin_f0(centred, power)
    pitch_st, pitch_range_st = _pitch_stats(f0[f0 > 0])
    return VoiceFeatures(
        loudness_db=float(np.percentile(level_db[speech], 80)),
        pitch_st=pitch_st,
        pitch_range_st=pitch_range_st,
        rate_syl_s=_syllable_nuclei(level_db, speech) / speech_s,
        effort_db=_effort_db(power),
        speech_s=speech_s,
    )


def _pitch_stats(f0: np.ndarray) -> tuple[float | None, float | None]:
    """Median and 10-90 % range of F0 in semitones above 100 Hz."""
    if len(f0) * HOP / SAMPLE_RATE < MIN_PITCHED_S:
        return None, None
    semitones = 12.0 * np.log2(f0 / 100.0)
    low, mid, high = np.percentile(semitones, [10, 50, 90])
    return float(mid), float(high - low)


def _frame_level_db(frames: np.ndarray) -> np.ndarray:
    energy = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / frames.shape[1]
    return 10.0 * np.log10(energy + 1e-12)


def _yin_f0(centred: np.ndarray, power: np.ndarray) -> np.ndarray:
    """F0 in Hz per frame, 0 where unvoiced (no dip below YIN_THRESHOLD in the pitch range).

    ``power`` is the zero-padded power spectrum of the ``centred`` frames, so its inverse is
    their linear autocorrelation.
    """
    acf = np.fft.irfft(power, n=FFT_SIZE, axis=1)[:, : TAU_MAX + 1]
    squares = np.cumsum(centred.astype(np.float64) ** 2, axis=1)
    total = squares[:, -1:]
    taus = np.arange(TAU_MAX + 1)
    head = squares[:, FRAME - 1 - taus]                       # energy of x[0 : N - tau]
    tail = total - np.concatenate([np.zeros((len(centred), 1)), squares[:, taus[1:] - 1]],
                                  axis=1)                   # energy of x[tau : N]
    diff = np.maximum(head + tail - 2.0 * acf, 0.0)
    running = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * taus[1:] / np.maximum(running, 1e-12)
    return _first_dips(cmnd)


def _first_dips(cmnd: np.ndarray) -> np.ndarray:
    """YIN's rule: the first lag under the threshold, then down to the bottom of that dip."""
    search = cmnd[:, TAU_MIN:]
    below = search < YIN_THRESHOLD
    found = below.any(axis=1)
    first = np.argmax(below, axis=1)
    span = TAU_MIN // 2
    window = np.minimum(first[:, None] + np.arange(span)[None, :], search.shape[1] - 1)
    bottom = first + np.argmin(np.take_along_axis(search, window, axis=1), axis=1)
    tau = bottom + TAU_MIN
    return np.where(found, SAMPLE_RATE / tau, 0.0)


def _syllable_nuclei(level_db: np.ndarray, speech: np.ndarray) -> int:
    """Local maxima of the smoothed envelope, in speech, that stand out from their surroundings."""
    # Edge-padded: zero padding would read as 0 dBFS, a loud peak at both ends of every clip.
    smooth = np.convolve(np.pad(level_db, 2, mode="edge"), np.ones(5) / 5, mode="valid")
    width = 2 * NUCLEUS_HALF_WIDTH + 1
    padded = np.pad(smooth, NUCLEUS_HALF_WIDTH, mode="edge")
    windows = sliding_window_view(padded, width)
    is_peak = smooth >= windows.max(axis=1)
    prominent = smooth - windows.min(axis=1) >= NUCLEUS_PROMINENCE_DB
    return int(np.count_nonzero(is_peak & prominent & speech))


def _effort_db(power: np.ndarray) -> float:
    freqs = np.fft.rfftfreq(FFT_SIZE, 1.0 / SAMPLE_RATE)
    low = power[:, (freqs >= EFFORT_BOTTOM_HZ) & (freqs < EFFORT_SPLIT_HZ)].sum(axis=1)
    high = power[:, (freqs >= EFFORT_SPLIT_HZ) & (freqs < EFFORT_TOP_HZ)].sum(axis=1)
    return float(np.median(10.0 * np.log10((high + 1e-12) / (low + 1e-12))))


# --- the caller's baseline over a call ---------------------------------------------------------

BASELINE_UTTERANCES = 3
"""The first few utterances of a call (or given calm clips) form the caller's baseline."""
FORMING_MAX_AROUSAL = 0.7
"""A caller who opens shouting is not taken as their own calm reference..."""
FORMING_MAX_REJECTS = 2
"""...unless it keeps happening: then the line is simply hot and their level is the norm."""
ADAPT_RATE = 0.1
"""Per calm utterance, once formed: slow enough that one odd utterance barely moves it."""


@dataclass(frozen=True)
class VoiceAssessment:
    arousal: float
    cue: str
    features: VoiceFeatures


class CallerVoice:
    """One caller's voice baseline, learned only from calm speech so it never chases anger."""

    def __init__(self) -> None:
        self.baseline = POPULATION
        self._forming: list[VoiceFeatures] = []
        self._rejects = 0

    @property
    def formed(self) -> bool:
        return len(self._forming) >= BASELINE_UTTERANCES

    def add_calm(self, features: VoiceFeatures) -> None:
        """A clip known to be calm (e.g. ``assist score --baseline``) joins the baseline."""
        self._forming.append(features)
        self.baseline = VoiceBaseline.from_features(self._forming)

    def add_calm_audio(self, audio: np.ndarray) -> bool:
        """:meth:`add_calm` from raw audio; False if the clip does not sound like speech.

        A tone or hold music as the reference would make every later utterance sound many
        times faster than "their baseline".
        """
        features = extract_features(audio)
        if features is None or not sounds_like_speech(features):
            return False
        self.add_calm(features)
        return True

    def assess(self, features: VoiceFeatures) -> VoiceAssessment:
        return VoiceAssessment(arousal_of(features, self.baseline),
                               describe(features, self.baseline), features)

    def learn(self, assessment: VoiceAssessment) -> None:
        """Fold a finished utterance into the baseline if the caller sounded calm in it."""
        if self.formed:
            if assessment.arousal < CALM_AROUSAL:
                self.baseline = self.baseline.adapted(assessment.features, ADAPT_RATE)
            return
        if assessment.arousal < FORMING_MAX_AROUSAL or self._rejects >= FORMING_MAX_REJECTS:
            self.add_calm(assessment.features)
            self._rejects = 0
        else:
            self._rejects += 1
