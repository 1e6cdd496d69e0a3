"""Scoring settings a trainer can change in a prompt pack's top-level scoring tables.

A pack may say::

    [fusion]
    words = 0.6
    voice = 0.4
    trigger_boost = 0.15
    tone = 1.0

    [lexicon]
    "chargeback" = 0.5                   # a phrase (or regex) and how angry it sounds, 0..1

    [triggers]
    cancel_threat = ["port my number"]   # extra phrases (or regexes) for a named trigger

Lexicon and trigger entries are added to the built-ins, never replace them. Every phrase is
matched case-insensitively on word boundaries, so ``"sue"`` does not fire on ``"issue"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from assist.errors import PackError


@dataclass(frozen=True)
class FusionWeights:
    """How words and voice combine into one anger score (see assist.scoring.fusion)."""

    words: float = 0.6
    """Weight of the word score in the blend."""
    voice: float = 0.4
    """Weight of the voice arousal in the blend; 0 ignores the voice."""
    trigger_boost: float = 0.15
    """Added to the fused score when a trigger (manager request, insult, ...) is heard."""
    tone: float = 1.0
    """How far the tone of the whole line (assist.scoring.tone) moves the word score;
    0 leaves the word score to VADER and the lexicon."""


def _empty_mapping() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class ScoringSettings:
    fusion: FusionWeights = field(default_factory=FusionWeights)
    lexicon: Mapping[str, float] = field(default_factory=_empty_mapping)
    """Extra phrases (or regexes) and their anger weight 0..1, added to the built-in lexicon."""
    triggers: Mapping[str, tuple[str, ...]] = field(default_factory=_empty_mapping)
    """Trigger name -> extra phrases (or regexes), added to the built-in triggers."""


_SECTIONS = ("fusion", "lexicon", "triggers")


def parse_scoring_settings(raw: Mapping[str, Any], where: str) -> ScoringSettings:
    """Build settings from a pack's ``[fusion]``, ``[lexicon]`` and ``[triggers]`` tables;
    PackError names the bad dotted key."""
    _reject_unknown(raw, _SECTIONS, where, prefix="")
    return ScoringSettings(
        fusion=_parse_fusion(_table(raw, "fusion", where), where),
        lexicon=MappingProxyType(_parse_lexicon(_table(raw, "lexicon", where), where)),
        triggers=MappingProxyType(_parse_triggers(_table(raw, "triggers", where), where)),
    )


def _table(raw: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, Mapping):
        raise PackError(f"{where}: '{name}' must be a table [{name}]")
    return value


def _reject_unknown(raw: Mapping[str, Any], known: tuple[str, ...], where: str,
                    prefix: str) -> None:
    for key in raw:
        if key not in known:
            raise PackError(f"{where}: unknown key '{prefix}{key}' "
                            f"(known here: {', '.join(known)})")


def _parse_fusion(raw: Mapping[str, Any], where: str) -> FusionWeights:
    names = ("words", "voice", "trigger_boost", "tone")
    _reject_unknown(raw, names, where, prefix="fusion.")
    values = {name: _unit_number(raw[name], f"fusion.{name}", where)
              for name in names if name in raw}
    weights = FusionWeights(**values)
    if weights.words + weights.voice <= 0:
        raise PackError(f"{where}: 'fusion.words' and 'fusion.voice' cannot both be 0; "
                        "give the words a weight")
    return weights


def _parse_lexicon(raw: Mapping[str, Any], where: str) -> dict[str, float]:
    lexicon: dict[str, float] = {}
    for phrase, weight in raw.items():
        key = f"lexicon.{phrase}"
        _check_pattern(phrase, key, where)
        lexicon[phrase] = _unit_number(weight, key, where)
    return lexicon


def _parse_triggers(raw: Mapping[str, Any], where: str) -> dict[str, tuple[str, ...]]:
    triggers: dict[str, tuple[str, ...]] = {}
    for name, phrases in raw.items():
        key = f"triggers.{name}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise PackError(f"{where}: trigger name '{name}' must be lower_case_with_underscores")
        if isinstance(phrases, str):
            phrases = [phrases]
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise PackError(f"{where}: '{key}' must be a list of phrases, e.g. [\"port my number\"]")
        for phrase in phrases:
            _check_pattern(phrase, key, where)
        triggers[name] = tuple(phrases)
    return triggers


def _unit_number(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PackError(f"{where}: '{key}' must be a number from 0 to 1, not {value!r}")
    number = float(value)
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise PackError(f"{where}: '{key}' = {value} is out of range (0 to 1)")
    return number


def _check_pattern(phrase: str, key: str, where: str) -> None:
    if not phrase.strip():
        raise PackError(f"{where}: '{key}' has an empty phrase; remove it")
    try:
        re.compile(phrase)
    except re.error as e:
        raise PackError(f"{where}: '{key}': {phrase!r} is not a valid pattern ({e}); "
                        "escape special characters such as ( ) ? + with a backslash") from e
