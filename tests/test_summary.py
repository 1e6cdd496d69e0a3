"""The call summary: stage times, prompt effect, outcome, follow-up reminders."""

from __future__ import annotations

import pytest

from assist.events import (
    Event,
    FinalText,
    LevelUpdate,
    Outcome,
    PromptShown,
    Speaker,
    Stage,
    StageChanged,
    TriggerHit,
    UtteranceScored,
)
from assist.summary import follow_ups_in, render_card, summarize


def change(t: float, stage: Stage, previous: Stage) -> StageChanged:
    return StageChanged(t=t, stage=stage, previous=previous, reason="test", level=0.5, trend=0.0)


def level(t: float, value: float, stage: Stage = Stage.CALM) -> LevelUpdate:
    return LevelUpdate(t=t, level=value, trend=0.0, stage=stage)


def scored(t: float, anger: float, *triggers: str) -> UtteranceScored:
    return UtteranceScored(t=t, utterance_id=int(t), start=t - 2, end=t, text="x",
                           word_anger=anger, voice_arousal=None, anger=anger,
                           triggers=tuple(TriggerHit(name=n, words=n) for n in triggers))


def prompt(t: float, stage: Stage) -> PromptShown:
    return PromptShown(t=t, stage=stage, headline=stage.value, line="")


def calming_call() -> list[Event]:
    return [
        scored(10, 0.4), level(10, 0.4), change(10, Stage.REFLECT, Stage.CALM),
        prompt(10, Stage.REFLECT),
        scored(20, 0.7, "repeat_contact"), level(20, 0.6), change(20, Stage.EMPATHIZE, Stage.REFLECT),
        prompt(20, Stage.EMPATHIZE),
        scored(40, 0.2), level(40, 0.3), level(50, 0.1), change(50, Stage.CLOSE, Stage.EMPATHIZE),
        prompt(50, Stage.CLOSE),
    ]


def test_stage_times_add_up_to_the_call() -> None:
    summary = summarize("c1", calming_call(), end_t=60.0)
    seconds = dict(summary.stage_seconds)
    assert seconds == {Stage.CALM: 10, Stage.REFLECT: 10, Stage.EMPATHIZE: 30, Stage.CLOSE: 10}
    assert sum(seconds.values()) == pytest.approx(summary.duration_s)


def test_outcome_and_peak() -> None:
    summary = summarize("c1", calming_call(), end_t=60.0)
    assert summary.outcome is Outcome.CALMED
    assert summary.peak_anger == 0.7
    assert summary.final_anger == 0.1
    assert summary.triggers == ("repeat_contact",)


def test_prompt_effect_looks_at_the_minute_after() -> None:
    outcomes = summarize("c1", calming_call(), end_t=60.0).prompts
    assert [p.stage for p in outcomes] == [Stage.REFLECT, Stage.EMPATHIZE, Stage.CLOSE]
    reflect, empathize, close = outcomes
    # After reflect the customer's lines were 0.7 and 0.2: on average angrier than the 0.4
    # it answered. After empathize, 0.2 against 0.7. After close, no line: too soon to tell.
    assert (reflect.anger_before, reflect.anger_after, reflect.fell) == (0.4, 0.45, False)
    assert (empathize.anger_before, empathize.anger_after, empathize.fell) == (0.7, 0.2, True)
    assert close.anger_after is None and close.fell is None


def test_a_prompt_forced_mid_sentence_answers_that_sentence() -> None:
    # A manager request heard in a preview forces escalate at 9 s, before the line (7-10 s,
    # anger 0.83) is scored: "before" is that line, not the calm before it.
    events: list[Event] = [scored(5, 0.1), prompt(9, Stage.ESCALATE), scored(10, 0.83),
                           scored(20, 0.5)]
    [escalate] = summarize("c", events, end_t=30).prompts
    assert (escalate.anger_before, escalate.anger_after, escalate.fell) == (0.83, 0.5, True)


@pytest.mark.parametrize(("events", "abrupt", "expected"), [
    ([], False, Outcome.CALM),
    ([change(5, Stage.ESCALATE, Stage.CALM), level(6, 0.2)], False, Outcome.ESCALATED),
    ([change(5, Stage.EMPATHIZE, Stage.CALM), level(6, 0.8)], False, Outcome.ENDED_ANGRY),
    ([change(5, Stage.EMPATHIZE, Stage.CALM), level(6, 0.8)], True, Outcome.ENDED_ABRUPTLY),
])
def test_outcomes(events: list[Event], abrupt: bool, expected: Outcome) -> None:
    assert summarize("c", events, end_t=30.0, abrupt=abrupt).outcome is expected


def test_agent_promises_become_reminders_and_customer_lines_do_not() -> None:
    events: list[Event] = [
        FinalText(t=5, speaker=Speaker.AGENT, utterance_id=1, start=1, end=5,
                  text="Okay. I will email you the tracking link, and I'll call you back tomorrow."),
        FinalText(t=9, speaker=Speaker.CUSTOMER, utterance_id=2, start=6, end=9,
                  text="I'll call my bank then."),
    ]
    assert summarize("c", events, end_t=10).follow_ups == (
        "email you the tracking link", "call you back tomorrow")


def test_no_promise_no_reminder() -> None:
    assert follow_ups_in("I understand how frustrating that is.") == []
    assert follow_ups_in("Let me check that for you") == ["check that for you"]


def test_card_is_short_and_names_the_outcome() -> None:
    card = render_card(summarize("c1", calming_call(), end_t=60.0))
    assert card.splitlines()[0].startswith("Calmed down · 1:00")
    assert "repeat contact" in card
    assert len(card.splitlines()) <= 6
