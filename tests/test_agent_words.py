"""Handovers to a supervisor in the agent's own words (assist.scoring.agent)."""

from __future__ import annotations

import pytest

from assist.scoring.agent import find_handover


@pytest.mark.parametrize(("line", "words"), [
    ("I'm going to bring in my team leader so we can settle this today.",
     "bring in my team leader"),
    ("I'll bring my supervisor in now.", "bring my supervisor"),
    ("I'm bringing in a senior specialist from our accounts team.",
     "bringing in a senior specialist"),
    ("I'm passing your case to my team leader.", "passing your case to my team leader"),
    ("I'm going to pass this to our appeals supervisor.",
     "pass this to our appeals supervisor"),
    ("This needs someone with authority, so I'm escalating it to installations.",
     "I'm escalating it"),
    ("Please hold, and my supervisor will be with you shortly.",
     "my supervisor will be with you"),
    # "Supervisor" as tiny.en heard it from espeak-ng in the blind calls.
    ("I'm going to ring in my super minor.", "ring in my super minor"),
    ("I'll bring my supermiser in now.", "bring my supermiser"),
])
def test_handovers_are_found_with_their_words(line: str, words: str) -> None:
    assert find_handover(line) == words


@pytest.mark.parametrize("line", [
    "I'll put you through to billing.",
    "Our engineer will look at it first thing.",
    "I can't get my manager right now.",
    "I'll report it to the duty manager.",
    "Can I take your postcode, please?",
])
def test_transfers_fixes_and_refusals_are_no_handover(line: str) -> None:
    assert find_handover(line) == ""
