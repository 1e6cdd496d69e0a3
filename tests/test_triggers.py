"""Named triggers: what fires, with which words, and what a negation or a benign idiom stops."""

from __future__ import annotations

import pytest

from assist.escalation import EscalationSettings
from assist.events import Stage, TriggerHit
from assist.scoring import WordScorer
from assist.scoring.settings import parse_scoring_settings
from assist.scoring.triggers import ABUSE, TriggerMatcher

MATCHER = TriggerMatcher()


@pytest.mark.parametrize(("text", "name", "words"), [
    ("Let me speak to your manager.", "manager_request", "speak to your manager"),
    ("I want to talk to a supervisor now", "manager_request", "talk to a supervisor"),
    # "Supervisor" as tiny.en heard it from synthetic callers.
    ("I'd like to speak to a super minor, please.", "manager_request", "speak to a super minor"),
    ("I'd like to speak to a supermiser, please", "manager_request", "speak to a supermiser"),
    ("I'd like to speak to the service manager, please.", "manager_request",
     "speak to the service manager"),
    ("I want a formal complaint logged, not just a refund.", "manager_request",
     "formal complaint"),
    ("Please escalate this today", "manager_request", "escalate this"),
    ("Put me through to someone higher up", "manager_request", "someone higher up"),
    ("Just get me someone who can actually fix it!", "manager_request",
     "someone who can actually"),
    ("I want to cancel my subscription", "cancel_threat", "want to cancel"),
    ("I'll take my business elsewhere", "cancel_threat", "take my business elsewhere"),
    ("I'm calling my lawyer", "legal_threat", "lawyer"),
    ("I will sue you", "legal_threat", "will sue"),
    ("Sue them for it, I will.", "legal_threat", "Sue them"),
    ("See you in court", "legal_threat", "See you in court"),
    ("or we'll be going to court over it", "legal_threat", "going to court"),
    ("Waive the fee, or I'm going to Ofcom", "legal_threat", "Ofcom"),
    ("I'll be talking to the press about this", "legal_threat", "talking to the press"),
    ("I'm going to the ombudsman", "legal_threat", "ombudsman"),
    ("I'm taking you to an employment tribunal", "legal_threat", "tribunal"),
    ("I will report you to trading standards", "legal_threat", "report you to"),
    ("I'm reporting your garage to the council", "legal_threat", "reporting your garage to"),
    ("They can come and check your testers, the DVSA", "legal_threat", "the DVSA"),
    ("You're an idiot", "insult", "You're an idiot"),
    ("this company is useless", "insult", "this company is useless"),
    ("Are you people completely useless, or is it just you?", "insult",
     "you people completely useless"),
    ("You're all useless, the whole bloody lot of you.", "insult", "You're all useless"),
    ("you lot are useless", "insult", "you lot are useless"),
    ("a bunch of useless bloody cowboys", "insult", "bunch of useless"),
    ("or do they train you to be this useless?", "insult", "be this useless"),
    ("You people are a bunch of thieves.", "insult", "You people are a bunch of thieves"),
    ("what the fuck is going on", "profanity", "fuck"),
    ("this is bullshit", "profanity", "bullshit"),
    ("I know where you live", "threat", "I know where you live"),
    ("I'll kill you", "threat", "I'll kill you"),
    ("This is the third time I've called", "repeat_contact", "third time I've called"),
    ("I have called three times about this", "repeat_contact", "called three times"),
    ("I called 5 times", "repeat_contact", "called 5 times"),
    ("I called yesterday and nobody knew", "repeat_contact", "called yesterday and"),
    ("So, this is my third call about it", "repeat_contact", "this is my third call"),
    ("I've explained this twice already", "repeat_contact", "explained this twice already"),
    ("I've told you this three times", "repeat_contact", "told you this three times"),
    ("Which I've done twice.", "repeat_contact", "I've done twice"),
    ("I've sent it three times now", "repeat_contact", "I've sent it three times"),
])
def test_trigger_fires_with_its_words(text: str, name: str, words: str) -> None:
    hits = MATCHER.find(text)
    assert TriggerHit(name=name, words=words) in hits, hits


@pytest.mark.parametrize("text", [
    "I don't need a manager",
    "no need to cancel my account",
    "I'm not going to sue anyone",
    "I won't cancel, it's fine",
    "That's an issue I have with the bill",   # "sue" inside "issue" must not fire
    "Of course, thanks for the help",         # "court" inside "course" must not fire
    "The address is 18 Maple Court",          # nor a street name
    "I got a court summons for jury service",  # nor a court that is no threat
    "It's the first time I've called",
    "Thank you so much, that sorted it",
    "We should talk to a super nice couple",  # "super" alone is no supervisor
    "And look, sorry about the idiots thing.",  # an insult quoted to take it back
    "Sorry for calling you useless earlier.",
    "Thank you, Jess. And look, I'm sorry I called you an idiot. I was just frightened.",
    "I shouldn't have called you useless, that was out of line.",
    # "Useless" said of a thing by a calm caller.
    "Half the lenses were torn. Completely useless, I just threw them out.",
    "My hearing aid is pretty useless in noisy places now.",
    "I need someone who can fix my boiler this week.",  # a calm request for an engineer
    "Can I speak to you about my bill?",  # the agent, not someone above them
    "I don't want a formal complaint, I just want it fixed.",
    "I've done it once before, so I know the steps.",
    "I'd like to go to the manager's special on Friday.",  # no "to a manager" after the verb
    # Contempt, but no insult: the blind writers kept the ladder going, with no boundary.
    "Every single time with you people.",
    "The police caught the thieves who took my bike.",
])
def test_negated_or_harmless_sentences_fire_nothing(text: str) -> None:
    assert MATCHER.find(text) == ()


def test_an_apology_then_an_insult_is_still_an_insult() -> None:
    assert [h.name for h in MATCHER.find("Sorry, but you're an idiot.")] == ["insult"]


def test_negation_does_not_reach_across_a_clause() -> None:
    hits = MATCHER.find("I didn't want this, but now I want to cancel my account")
    assert [h.name for h in hits] == ["cancel_threat"]


def test_profanity_and_insults_stay_abuse_after_a_negator() -> None:
    names = {h.name for h in MATCHER.find("I don't give a shit, don't be stupid people")}
    assert {"profanity", "insult"} <= names


def test_hits_are_in_order_of_appearance_one_per_name() -> None:
    hits = MATCHER.find("Third time I've called, you're useless, get me a manager")
    assert [h.name for h in hits] == ["repeat_contact", "insult", "manager_request"]


def test_abuse_is_insult_profanity_and_threat_and_each_sets_a_boundary() -> None:
    assert frozenset({"insult", "profanity", "threat"}) == ABUSE
    force = EscalationSettings().force
    assert {name for name, stage in force.items() if stage is Stage.BOUNDARY} == ABUSE


def test_pack_adds_phrases_and_new_triggers() -> None:
    settings = parse_scoring_settings(
        {"triggers": {"cancel_threat": ["port my number"], "press": ["call the newspaper"]}},
        "pack.toml")
    matcher = TriggerMatcher(settings.triggers)
    assert TriggerHit(name="cancel_threat", words="port my number") in matcher.find(
        "I will port my number tomorrow")
    assert matcher.find("I'm going to call the newspaper") == (
        TriggerHit(name="press", words="call the newspaper"),)
    assert MATCHER.find("I will port my number tomorrow") == ()


def test_mild_swearing_is_frustration_not_abuse() -> None:
    text = "where the hell is my bloody parcel"
    assert MATCHER.find(text) == (), "mild words must not force 'set a boundary'"
    assert WordScorer().score(text).anger > 0.4
    assert [h.name for h in MATCHER.find("this is fucking ridiculous")] == ["profanity"]


def test_a_manager_demand_survives_a_misheard_verb() -> None:
    matcher = TriggerMatcher({})
    hits = matcher.find("I'm not going through this again, but me from your manager right now.")
    assert [h.name for h in hits] == ["manager_request"]
    assert matcher.find("I will ask my manager about the refund later") == ()
    stuck = matcher.find("No offence, I want to stick to a manager, someone who can do it.")
    assert "manager_request" in [h.name for h in stuck]
