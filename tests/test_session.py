"""The call session's coaching cues: talking over an upset customer, and long silences."""

from __future__ import annotations

from assist.events import (
    Cue,
    Event,
    PartialText,
    Speaker,
    Stage,
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
