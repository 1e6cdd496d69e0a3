"""Anger from the words: VADER, the call-centre lexicon, triggers, and intensity.

    vader   = sigmoid(VADER_SLOPE * (-compound - VADER_MIDPOINT))   on the text with benign
                                                                    idioms ("no problem") blanked
    phrases = 1 - prod(1 - w)   over the strongest lexicon or trigger hit of each label,
              then * (1 - POSITIVE_DAMPING * max(0, compound))  (warm wording softens it)
    base    = 1 - (1 - vader) * (1 - phrases)                       (either one can raise it)
    anger   = base + (1 - base) * intensity * min(1, base / INTENSITY_GATE)

``intensity`` comes from exclamation marks, ALL-CAPS words and repeated words or letters; the
gate keeps "Thanks!!!" calm while "This is ridiculous!!!" climbs. The sigmoid is monotonic in
VADER's compound, so ranking by it alone is exactly ranking by plain VADER; it puts a neutral
sentence near 0.08 and a plainly negative one above 0.5.

The constants were set by hand and checked only on the GoEmotions TUNE half (see
assist/scoring/evaluation.py); the reported figure comes from the SCORE half.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from assist.events import TriggerHit
from assist.scoring.lexicon import (
    BUILTIN_LEXICON,
    LexiconEntry,
    LexiconHit,
    find_hits,
    mask_benign,
    normalize,
    pack_entries,
)
from assist.scoring.settings import ScoringSettings
from assist.scoring.triggers import TriggerMatcher

VADER_SLOPE = 4.0
VADER_MIDPOINT = 0.6
"""Sigmoid over -compound: 0 -> 0.08, -0.5 -> 0.40, -0.9 -> 0.77 (set by hand, see above)."""

POSITIVE_DAMPING = 0.5
"""Warm wording elsewhere in the sentence softens a hit: "holy shit, I love it" is not anger."""

TRIGGER_WEIGHTS = {
    "manager_request": 0.5, "cancel_threat": 0.5, "legal_threat": 0.6, "insult": 0.8,
    "profanity": 0.6, "threat": 0.9, "repeat_contact": 0.5,
}
"""How angry each trigger sounds as words; unknown (pack-defined) triggers get the default."""
DEFAULT_TRIGGER_WEIGHT = 0.5

EXCLAMATION_STEP = 0.08
"""Per "!" (up to three): "ridiculous!!!" is louder on the page than "ridiculous"."""
CAPS_BOOST = 0.15
REPEAT_BOOST = 0.1
MAX_EXCLAMATIONS = 3
INTENSITY_GATE = 0.3
"""Below this base anger, intensity only partly applies: shouting "THANK YOU!!" is not anger."""

_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")
_CAPS_EXEMPT = frozenset({"USA", "ATM", "PIN", "SIM", "USB", "FAQ", "CEO", "BBB", "LOL", "OMG",
                          "WTF", "IBAN", "VAT", "NHS", "DVD", "GPS"})
"""Abbreviations are written in capitals without anyone shouting."""
_REPEATED_WORD = re.compile(r"\b(\w{2,})(?:\W+\1\b){1,}", re.IGNORECASE)
_STRETCHED = re.compile(r"([a-z])\1{2,}", re.IGNORECASE)
_NUMBER_WORDS = frozenset({"oh", "zero", "one", "two", "three", "four", "five", "six", "seven",
                           "eight", "nine", "ten", "double", "triple"})


@dataclass(frozen=True)
class WordScore:
    anger: float
    evidence: tuple[str, ...]
    triggers: tuple[TriggerHit, ...]
    vader_compound: float


class WordScorer:
    """Scores text; built once per call (compiles the pack's lexicon and triggers)."""

    def __init__(self, settings: ScoringSettings | None = None) -> None:
        settings = settings or ScoringSettings()
        self._entries: tuple[LexiconEntry, ...] = (
            BUILTIN_LEXICON + tuple(pack_entries(settings.lexicon)))
        self.triggers = TriggerMatcher(settings.triggers)
        self._vader = SentimentIntensityAnalyzer()

    def find_triggers(self, text: str) -> tuple[TriggerHit, ...]:
        """Triggers alone, for partial text where a full score would be wasted work."""
        return self.triggers.find(normalize(text))

    def score(self, text: str) -> WordScore:
        text = normalize(text)
        masked = mask_benign(text)
        compound = float(self._vader.polarity_scores(masked)["compound"]) if masked.strip() else 0.0
        triggers = self.triggers.find(text)
        hits = strongest_per_label(_trigger_hits(triggers) + list(find_hits(text, self._entries)))
        vader = vader_anger(compound)
        phrases = 1.0 - math.prod(1.0 - hit.weight for hit in hits)
        phrases *= 1.0 - POSITIVE_DAMPING * max(0.0, compound)
        base = 1.0 - (1.0 - vader) * (1.0 - phrases)
        intensity = intensity_of(text)
        anger = base + (1.0 - base) * intensity * min(1.0, base / INTENSITY_GATE)
        return WordScore(anger=_clip(anger), evidence=_evidence(hits, compound, intensity),
                         triggers=triggers, vader_compound=compound)


def vader_anger(compound: float) -> float:
    return 1.0 / (1.0 + math.exp(-VADER_SLOPE * (-compound - VADER_MIDPOINT)))


def intensity_of(text: str) -> float:
    """0..~0.5 from exclamation marks, shouted words and repetition ("no no no", "sooo")."""
    exclamations = min(text.count("!"), MAX_EXCLAMATIONS)
    caps = [w for w in _CAPS_WORD.findall(text) if w not in _CAPS_EXEMPT]
    repeated = _has_repetition(text)
    return (EXCLAMATION_STEP * exclamations + (CAPS_BOOST if caps else 0.0)
            + (REPEAT_BOOST if repeated else 0.0))


def _has_repetition(text: str) -> bool:
    """ "no, no, no" or "sooo"; not "three three" in a read-out number or postcode."""
    words = (m.group(1).lower() for m in _REPEATED_WORD.finditer(text))
    return any(w not in _NUMBER_WORDS for w in words) or bool(_STRETCHED.search(text))


def strongest_per_label(hits: list[LexiconHit]) -> list[LexiconHit]:
    """Overlapping patterns of one label ("on hold", "waiting for hours") count once.

    A phrase already counted inside a longer hit ("useless" within "you are useless") is
    dropped too, so one phrase never counts twice under two labels.
    """
    best: dict[str, LexiconHit] = {}
    for hit in hits:
        if any(hit.words.lower() in kept.words.lower() for kept in best.values()
               if kept.label != hit.label):
            continue
        if hit.label not in best or hit.weight > best[hit.label].weight:
            best[hit.label] = hit
    return sorted(best.values(), key=lambda h: -h.weight)


def _trigger_hits(triggers: tuple[TriggerHit, ...]) -> list[LexiconHit]:
    return [LexiconHit(t.words, TRIGGER_WEIGHTS.get(t.name, DEFAULT_TRIGGER_WEIGHT),
                       t.name.replace("_", " ")) for t in triggers]


def _evidence(hits: list[LexiconHit], compound: float, intensity: float) -> tuple[str, ...]:
    evidence = [hit.evidence for hit in hits]
    if compound <= -0.3:
        evidence.append(f"negative wording (VADER {compound:+.2f})")
    if intensity > 0:
        evidence.append("shouting or repetition in the text")
    return tuple(evidence)


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))
