"""Comparing what was said with what Whisper heard, loosely enough for tiny.en."""

from __future__ import annotations

import re


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def overlap(said: str, heard: str) -> float:
    """Share of the words said that were heard (order-free; enough to tell lines apart)."""
    said_words, heard_words = words(said), set(words(heard))
    return sum(w in heard_words for w in said_words) / max(1, len(said_words))


def assert_lines_heard_in_order(said: list[str], heard: list[str]) -> None:
    """Each scripted line is found, in order, in the utterances heard (which may split a line)."""
    joined = [" ".join(heard[i:i + 3]) for i in range(len(heard))]
    position = 0
    for line in said:
        found = next((i for i in range(position, len(joined)) if overlap(line, joined[i]) >= 0.6),
                     None)
        assert found is not None, f"not heard (in order): {line!r} in {heard[position:]}"
        position = found
