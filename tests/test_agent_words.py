"""What the agent's own words say they have done: a handover to a supervisor, a reflection of
the problem, empathy, an offer of a fix (assist.scoring.agent)."""

from __future__ import annotations

import pytest

from assist.scoring.agent import (
    AgentSaid,
    find_empathy,
    find_handover,
    find_offer,
    find_reflection,
    read_agent,
)


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
    ("I'm going to ring in my super mama, Gareth.", "ring in my super mama"),
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


@pytest.mark.parametrize(("line", "words"), [
    ("What I can do is book you in for Thursday morning.", "What I can do is"),
    ("I can offer you a fifty pound credit on the account.", "I can offer"),
    ("I'll waive the fee as a goodwill gesture.", "I'll waive"),
    ("The earliest slot we have is the nineteenth.", "The earliest slot"),
    ("How about a refund of the difference?", "How about"),
    ("Would you like me to rebook you on the morning sailing?", "Would you like"),
    ("The most I can authorise myself is a refund of the Sunday share.",
     "The most I can authorise"),
])
def test_offers_of_a_fix_are_found_with_their_words(line: str, words: str) -> None:
    assert find_offer(line) == words


@pytest.mark.parametrize("line", [
    "Let me check that for you.",
    "I can see the charge on your account.",
    "I can't refund that, I'm afraid.",
    "I'll put you through to billing.",
    "I'm so sorry, that sounds really stressful.",
])
def test_checks_sympathy_and_refusals_are_no_offer(line: str) -> None:
    assert find_offer(line) == ""


@pytest.mark.parametrize(("line", "words"), [
    ("I understand how frustrating it is to be kept waiting.", "I understand how"),
    ("That sounds really stressful, with the baby at home.", "stressful"),
    ("I do apologise for the wasted day.", "I do apologise"),
    ("I'm so sorry, that's not the service you should get.", "I'm so sorry"),
    ("That must have been a horrible evening.", "That must have been"),
    ("I can hear how upset you are.", "I can hear how"),
])
def test_acknowledged_feelings_are_found_with_their_words(line: str, words: str) -> None:
    assert find_empathy(line) == words


@pytest.mark.parametrize("line", [
    "Sorry, could you spell the surname for me?",
    "I'm sorry, the line dropped for a second.",
    "I don't understand why the system did that.",
    "Right, let me have a look at the account.",
])
def test_a_bare_sorry_or_a_puzzle_is_no_empathy(line: str) -> None:
    assert find_empathy(line) == ""


@pytest.mark.parametrize(("line", "words"), [
    ("So the parcel that should have come on Monday still hasn't arrived.", "So the"),
    ("So you cancelled in March, and you've been charged again. Can I take the email?",
     "So you"),
    ("Okay, so you can't get into the app at all, and your rent is due today.",
     "Okay, so you"),
    ("Oh no. So you've arrived after a five hour drive and the barn isn't ready.",
     "Oh no. So you've"),
    # As tiny.en writes a spoken "So ...": with a comma.
    ("So, the letter says the claim is split liability.", "So, the"),
    ("Right. Let me make sure I've got this right: the engineer never came?",
     "Let me make sure I've got this"),
])
def test_the_problem_said_back_is_a_reflection(line: str, words: str) -> None:
    assert find_reflection(line) == words


@pytest.mark.parametrize("line", [
    "So you'd like to move your flight to the eleventh?",
    "So you want the full gym and swim membership?",
    "So you can pick it up from the depot after two.",
    "So the earliest slot is Thursday morning.",
    "I'll check that now, so you don't have to ring back.",
    "Sure, let me pull that up. What's the last name?",
])
def test_a_request_a_next_step_or_a_mid_sentence_so_is_no_reflection(line: str) -> None:
    assert find_reflection(line) == ""


def test_one_utterance_can_acknowledge_and_offer_at_once() -> None:
    said = read_agent("I do apologise for that. What I can do is send a new one today.")
    assert said == AgentSaid(empathy="I do apologise", offer="What I can do is")
    assert read_agent("So your boiler's gone again. Let me check.") == AgentSaid(
        reflection="So your")
    assert not read_agent("Can I take your postcode, please?")
