"""The call session: coaching cues (talking over an upset customer, long silences) and what
the agent's own words do to the stage."""

from __future__ import annotations

import pytest

from assist.events import (
    Cue,
    Event,
    FinalText,
    PartialText,
    PromptShown,
    Speaker,
    Stage,
    StageChanged,
    UtteranceEnded,
    UtteranceStarted,
)
from assist.prompts import load_pack
from assist.session import CallSession, CueSettings


def started(t: float, speaker: Speaker, uid: int) -> UtteranceStarted:
    return UtteranceStarted(t=t, speaker=speaker, utterance_id=uid, start=t)


def ended(t: float, speaker: Speaker, uid: int) -> UtteranceEnded:
    return UtteranceEnded(t=t, speaker=speaker, utterance_id=uid, start=t - 2, end=t,
                          last_voiced=t - 0.4)


def cues(events: list[Event]) -> list[str]:
    return [e.kind for e in events if isinstance(e, Cue)]


def upset_session() -> CallSession:
    session = CallSession(load_pack("default"), CueSettings(agent_audio=True))
    session.handle(started(1.0, Speaker.CUSTOMER, 1))
    session.handle(PartialText(t=2.0, speaker=Speaker.CUSTOMER, utterance_id=1, start=1.0,
                               end=2.0, text="listen to me you useless idiot"))
    assert session.stage is Stage.BOUNDARY
    return session


def test_agent_talking_over_an_upset_customer_gets_a_cue() -> None:
    session = upset_session()
    out = session.handle(started(2.5, Speaker.AGENT, 2))
    assert cues(out) == ["talk_over"]


def test_no_talk_over_cue_when_the_customer_has_finished_or_is_calm() -> None:
    session = upset_session()
    session.handle(ended(3.0, Speaker.CUSTOMER, 1))
    assert cues(session.handle(started(3.2, Speaker.AGENT, 2))) == []
    calm = CallSession(load_pack("default"), CueSettings(agent_audio=True))
    calm.handle(started(1.0, Speaker.CUSTOMER, 1))
    assert cues(calm.handle(started(1.5, Speaker.AGENT, 2))) == []


def test_a_long_silence_is_cued_once_and_only_with_agent_audio() -> None:
    session = CallSession(load_pack("default"), CueSettings(agent_audio=True, silence_cue_s=20))
    session.handle(ended(5.0, Speaker.AGENT, 1))
    assert cues(session.tick(20.0)) == []
    assert cues(session.tick(25.5)) == ["silence"]
    assert cues(session.tick(40.0)) == []  # once per silence
    session.handle(started(41.0, Speaker.CUSTOMER, 2))
    session.handle(ended(43.0, Speaker.CUSTOMER, 2))
    assert cues(session.tick(64.0)) == ["silence"]  # a new silence, a new cue

    customer_only = CallSession(load_pack("default"), CueSettings(agent_audio=False))
    customer_only.handle(ended(5.0, Speaker.CUSTOMER, 1))
    assert cues(customer_only.tick(60.0)) == []


def said(t: float, speaker: Speaker, uid: int, text: str) -> FinalText:
    return FinalText(t=t, speaker=speaker, utterance_id=uid, start=t - 3, end=t, text=text)


def test_the_agent_bringing_in_a_supervisor_shows_escalate_with_its_prompt() -> None:
    session = CallSession(load_pack("default"))
    out = session.handle(said(8.0, Speaker.AGENT, 1, "I hear you. I'm going to bring in my "
                                                     "team leader so we can settle this today."))
    change = next(e for e in out if isinstance(e, StageChanged))
    assert change.stage is Stage.ESCALATE
    assert "bring in my team leader" in change.reason
    assert any(isinstance(e, PromptShown) and e.stage is Stage.ESCALATE for e in out)


@pytest.mark.parametrize(("agent", "customer", "stage", "reason"), [
    ("What I can do is send an engineer on Thursday.", "Thursday? No. Absolutely not.",
     Stage.ESCALATE, "turned down the agent's offer ('What I can do is'): 'Absolutely not'"),
    ("I understand how frustrating it is to take a day off for nothing.",
     "It's the third day I've lost.", Stage.SOLUTION,
     "still upset after the agent acknowledged the feelings ('I understand how')"),
    ("So the engineer never came, and you'd taken the day off. What's the postcode?",
     "B S six, four Q T. And nobody rang to say.", Stage.EMPATHIZE,
     "still upset after the agent reflected back the problem ('So the')"),
])
def test_the_customers_answer_to_what_the_agent_did_moves_the_stage_with_its_prompt(
        agent: str, customer: str, stage: Stage, reason: str) -> None:
    session = CallSession(load_pack("default"))
    assert session.handle(said(8.0, Speaker.AGENT, 1, agent)) == [], "the answer decides"
    out = session.handle(said(12.0, Speaker.CUSTOMER, 2, customer))
    change = next(e for e in out if isinstance(e, StageChanged))
    assert (change.stage, change.reason) == (stage, reason)
    assert any(isinstance(e, PromptShown) and e.stage is stage for e in out)


def test_a_refusal_with_no_offer_before_it_does_not_escalate() -> None:
    session = CallSession(load_pack("default"))
    session.handle(said(8.0, Speaker.AGENT, 1, "Can I take your postcode?"))
    session.handle(said(12.0, Speaker.CUSTOMER, 2, "Absolutely not, I'm not giving you that."))
    assert session.stage is not Stage.ESCALATE


def test_other_agent_words_leave_the_stage_alone() -> None:
    session = CallSession(load_pack("default"))
    for line in ["I'll put you through to billing.", "Our engineer will look at it.",
                 "I can't get my manager right now, but I can take a note.",
                 "Here's what I can do: a refund today."]:
        assert session.handle(said(5.0, Speaker.AGENT, 1, line)) == []
    assert session.stage is Stage.CALM
