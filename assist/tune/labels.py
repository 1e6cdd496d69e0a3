"""Labels: the stages a trainer (or a call's script) intended at moments of a call.

A recording ``NAME.ogg`` may have ``NAME.labels.json`` beside it: a JSON list of objects with
at least ``t`` (seconds since the call started: the moment by which the stage should be
showing) and ``stage``; ``start``/``end`` of the turn that earned it, ``speaker`` and ``text``
(what was said) are used when present (scripts/make_call writes them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assist.errors import PackError
from assist.events import Event, FinalText, PartialText, Speaker, Stage


@dataclass(frozen=True)
class Label:
    t: float
    stage: Stage
    turn_start: float | None = None
    turn_end: float | None = None
    speaker: str = ""
    text: str = ""


def labels_path(audio: Path) -> Path:
    """``calls/x.ogg`` -> ``calls/x.labels.json``."""
    return audio.with_name(audio.name.rsplit(".", 1)[0] + ".labels.json")


def find_labels(audio: Path) -> tuple[Label, ...] | None:
    """The labels beside ``audio``, or None when it has none."""
    path = labels_path(audio)
    return load_labels(path) if path.exists() else None


def load_labels(path: Path) -> tuple[Label, ...]:
    """Read a labels file strictly; a bad one is a one-line error naming the entry."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PackError(f"cannot read labels file {path}: {e}; fix or remove it") from e
    if not isinstance(raw, list):
        raise PackError(f"{path}: labels must be a JSON list of {{\"t\": ..., \"stage\": ...}}")
    labels = [_label(entry, path, i) for i, entry in enumerate(raw)]
    return tuple(sorted(labels, key=lambda label: label.t))


def _label(entry: Any, path: Path, index: int) -> Label:
    where = f"{path}: entry {index}"
    if not isinstance(entry, dict) or "t" not in entry or "stage" not in entry:
        raise PackError(f"{where} needs \"t\" (seconds) and \"stage\"")
    try:
        stage = Stage(entry["stage"])
    except ValueError as e:
        known = ", ".join(s.value for s in Stage)
        raise PackError(f"{where}: unknown stage {entry['stage']!r} (known: {known})") from e
    return Label(t=_number(entry["t"], where, "t"), stage=stage,
                 turn_start=_optional_number(entry.get("start"), where, "start"),
                 turn_end=_optional_number(entry.get("end"), where, "end"),
                 speaker=str(entry.get("speaker", "")), text=str(entry.get("text", "")))


def _number(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PackError(f"{where}: \"{key}\" must be seconds (a number >= 0), not {value!r}")
    return float(value)


def _optional_number(value: Any, where: str, key: str) -> float | None:
    return None if value is None else _number(value, where, key)


def with_script_text(events: tuple[Event, ...], labels: tuple[Label, ...]) -> tuple[Event, ...]:
    """The customer's lines as the labels' script says them, not as the recogniser heard them.

    Each customer turn's text goes to the recognised utterance that overlaps it most (a turn
    the segmenter split in two keeps one copy, the rest fall silent); partial text is dropped,
    so no trigger comes from a misheard half-line. What is left of a disagreement is the
    scoring's, not the recogniser's.
    """
    turns = [label for label in labels if label.speaker == Speaker.CUSTOMER.value
             and label.text and label.turn_start is not None and label.turn_end is not None]
    finals = [e for e in events if isinstance(e, FinalText) and e.speaker is Speaker.CUSTOMER]
    text_of: dict[int, str] = {}
    for turn in turns:
        best = max(finals, key=lambda final: _overlap(final, turn), default=None)
        if best is not None and _overlap(best, turn) > 0:
            text_of[best.utterance_id] = f"{text_of.get(best.utterance_id, '')} {turn.text}"
    out: list[Event] = []
    for event in events:
        if isinstance(event, PartialText) and event.speaker is Speaker.CUSTOMER:
            continue
        if isinstance(event, FinalText) and event.speaker is Speaker.CUSTOMER:
            event = replace(event, text=text_of.get(event.utterance_id, "").strip())
        out.append(event)
    return tuple(out)


def _overlap(final: FinalText, turn: Label) -> float:
    assert turn.turn_start is not None and turn.turn_end is not None
    return min(final.end, turn.turn_end) - max(final.start, turn.turn_start)
