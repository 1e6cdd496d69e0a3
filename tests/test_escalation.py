"""The stage machine on scripted sequences of scored utterances, voice cues and triggers."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from assist import paths
from assist.escalation import (
    BEFORE_EMPATHY,
    FEELINGS_FIRST,
    LADDER,
    EnterThresholds,
    EscalationSettings,
    ExitThresholds,
    StageMachine,
    ordering_problem,
)
from assist.events import (
    Event,
    FinalText,
    LevelUpdate,
    Speaker,
    Stage,
    StageChanged,
    TriggerHit,
    UtteranceScored,
    VoiceCue,
)
from assist.prompts import load_pack
from assist.scoring import CallScorer
from assist.scoring.agent import AgentSaid

SETTINGS = EscalationSettings()
_ids = itertools.count(1)


@dataclass(frozen=True)
class Say:
    """One customer utterance in a script: it ends at ``end`` after ``seconds`` of speech."""

    end: float
    anger: float
    words: float | None = None
    seconds: float = 4.0
    triggers: tuple[TriggerHit, ...] = ()
    text: str = "something the customer said"
    arousal: float | None = None
    """Voice arousal, sent as a VoiceCue when the utterance ends (before its text is scored)."""
    apology: str = ""
    thanks: str = ""
    refusal: str = ""
    aimed: bool = True
    sentiment: float = 0.0


def scored(say: Say, utterance_id: int | None = None) -> UtteranceScored:
    return UtteranceScored(
        t=say.end, utterance_id=utterance_id or next(_ids), start=say.end - say.seconds,
        end=say.end,
        text=say.text, word_anger=say.anger if say.words is None else say.words,
        voice_arousal=say.arousal, anger=say.anger, triggers=say.triggers, apology=say.apology,
        thanks=say.thanks, refusal=say.refusal, aimed=say.aimed, sentiment=say.sentiment)


def play(machine: StageMachine, script: Iterable[Say], *, until: float | None = None,
         tick_s: float = 0.5) -> list[Event]:
    """Feed a script as the coordinator would: ticks while time passes, then each utterance."""
    out: list[Event] = []
    now = 0.0
    for say in script:
        out += ticks(machine, now, say.end, tick_s)
        utterance_id = next(_ids)
        if say.arousal is not None:
            out += machine.on_voice(VoiceCue(t=say.end, utterance_id=utterance_id,
                                             arousal=say.arousal, cue="voice"))
        out += machine.on_scored(scored(say, utterance_id))
        now = say.end
    if until is not None:
        out += ticks(machine, now, until, tick_s)
    return out


def ticks(machine: StageMachine, start: float, end: float, step: float) -> list[Event]:
    out: list[Event] = []
    t = start + step
    while t < end:
        out += machine.tick(t)
        t += step
    return out


def changes(events: Sequence[Event]) -> list[StageChanged]:
    return [e for e in events if isinstance(e, StageChanged)]


def stages(events: Sequence[Event]) -> list[Stage]:
    return [e.stage for e in changes(events)]


def every(seconds: float, angers: Sequence[float], start: float = 10.0, **kw: object) -> list[Say]:
    return [Say(end=start + i * seconds, anger=a, **kw) for i, a in enumerate(angers)]  # type: ignore[arg-type]


# --- the ladder -----------------------------------------------------------------------------


def test_steady_escalation_climbs_rung_by_rung_in_order() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, every(10, [0.1, 0.15, 0.35, 0.45, 0.55, 0.7, 0.75, 0.8, 0.8]))
    assert stages(events) == [Stage.REFLECT, Stage.EMPATHIZE, Stage.SOLUTION, Stage.ESCALATE]
    for change in changes(events):
        if change.stage in LADDER:
            assert LADDER.index(change.stage) == LADDER.index(change.previous) + 1


def test_a_sudden_jump_still_climbs_one_rung_at_a_time() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, every(10, [0.1, 0.9, 0.9, 0.9]))
    assert stages(events)[:3] == [Stage.REFLECT, Stage.EMPATHIZE, Stage.SOLUTION]


def test_calm_call_never_moves() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, every(8, [0.08, 0.15, 0.2, 0.12, 0.05, 0.18]), until=120)
    assert changes(events) == []
    assert machine.stage is Stage.CALM


def test_single_loud_outlier_with_calm_words_does_not_move_the_stage() -> None:
    # The customer shouts at the dog: the voice pushes the fused score up, the words don't.
    script = every(8, [0.1, 0.12, 0.55, 0.1, 0.1])
    script[2] = dataclasses.replace(script[2], words=0.05)
    machine = StageMachine(SETTINGS)
    assert changes(play(machine, script, until=100)) == []


def test_the_same_voice_reading_twice_in_a_row_does_climb() -> None:
    script = every(8, [0.1, 0.55, 0.55], words=0.05)
    assert stages(play(StageMachine(SETTINGS), script)) == [Stage.REFLECT]


def test_one_calm_sentence_in_an_angry_stretch_does_not_drop_the_stage() -> None:
    machine = StageMachine(SETTINGS)
    play(machine, every(10, [0.45, 0.5, 0.6]))
    assert machine.stage is Stage.SOLUTION
    events = play(machine, [Say(end=42, anger=0.05, seconds=2.0, text="It's four seven two nine.")],
                  until=50)
    assert changes(events) == []


def test_frustration_that_persists_moves_the_ladder_on_without_rising() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, every(10, [0.36, 0.36, 0.36, 0.36]))
    assert stages(events) == [Stage.REFLECT, Stage.EMPATHIZE, Stage.SOLUTION]
    assert all(c.level < SETTINGS.enter.empathize for c in changes(events))
    assert "still frustrated after 1 reply in reflect back" in changes(events)[1].reason


def test_a_problem_described_in_negative_words_is_no_climb_on_its_own() -> None:
    # "I'm calling about a water damage claim": VADER reads it as negative (about 0.4).
    machine = StageMachine(SETTINGS)
    described = Say(end=10, anger=0.4, text="I'm calling about a water damage claim.")
    assert changes(play(machine, [described, Say(end=20, anger=0.05)], until=40)) == []


def test_a_plainly_angry_opening_climbs_on_its_own() -> None:
    events = play(StageMachine(SETTINGS), [Say(end=10, anger=0.5)])
    assert stages(events) == [Stage.REFLECT]


def test_harsh_words_about_a_thing_are_no_climb_on_their_own() -> None:
    # "The frost absolutely murdered my hedge": strong words, aimed at no one.
    hedge = Say(end=10, anger=0.9, aimed=False, text="The frost absolutely murdered my hedge.")
    order = Say(end=20, anger=0.02, text="I'd like fifteen cherry laurels, please.")
    assert changes(play(StageMachine(SETTINGS), [hedge, order], until=40)) == []
    aimed = dataclasses.replace(hedge, aimed=True, text="Your crew absolutely wrecked my hedge.")
    assert stages(play(StageMachine(SETTINGS), [aimed, order])) == [Stage.REFLECT]
    trusting = dataclasses.replace(SETTINGS, words_aimed=False)
    assert stages(play(StageMachine(trusting), [hedge, order])) == [Stage.REFLECT]


def test_harsh_words_twice_in_a_row_do_climb() -> None:
    script = every(10, [0.9, 0.9], aimed=False)
    assert stages(play(StageMachine(SETTINGS), script)) == [Stage.REFLECT]


def test_a_raised_voice_with_neutral_words_in_a_row_leaves_calm() -> None:
    # "Friday. Brilliant." then "I work from home, in case that matters": the words read as
    # neutral or warm, the voice does not.
    machine = StageMachine(SETTINGS)
    events = play(machine, every(12, [0.2, 0.22], words=0.02, arousal=0.6))
    assert stages(events) == [Stage.REFLECT]
    assert "sounded frustrated in 2 utterances in a row" in changes(events)[0].reason


def test_one_raised_voice_between_calm_ones_stays_calm() -> None:
    script = [Say(end=10, anger=0.05, arousal=0.1), Say(end=20, anger=0.3, words=0.05,
                                                        arousal=0.8),
              Say(end=30, anger=0.05, arousal=0.1), Say(end=40, anger=0.3, words=0.05,
                                                        arousal=0.8)]
    assert changes(play(StageMachine(SETTINGS), script, until=60)) == []


def test_a_raised_voice_that_thanks_the_agent_is_not_frustration() -> None:
    script = every(12, [0.2, 0.22], words=0.0, arousal=0.6, thanks="thank you")
    assert changes(play(StageMachine(SETTINGS), script, until=40)) == []


def test_a_raised_voice_keeps_the_ladder_moving_as_frustration_persists() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, every(12, [0.2, 0.22, 0.22, 0.22], words=0.02, arousal=0.55))
    assert stages(events) == [Stage.REFLECT, Stage.EMPATHIZE, Stage.SOLUTION]


def test_a_trainer_can_leave_frustration_to_the_words() -> None:
    machine = StageMachine(dataclasses.replace(SETTINGS, voice_frustrated=1.0))
    assert changes(play(machine, every(12, [0.2, 0.22, 0.22], words=0.02, arousal=0.6))) == []


def test_a_neutral_reply_is_not_persisting_frustration() -> None:
    machine = StageMachine(SETTINGS)
    script = [Say(end=10, anger=0.45), Say(end=20, anger=0.08, seconds=1.5,
                                            text="It's order four seven two nine.")]
    assert stages(play(machine, script, until=30)) == [Stage.REFLECT]


def test_anger_held_high_through_the_offer_escalates_with_a_reason() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, every(10, [0.4, 0.5, 0.6, 0.66, 0.66, 0.66]))
    escalated = changes(events)[-1]
    assert (escalated.previous, escalated.stage) == (Stage.SOLUTION, Stage.ESCALATE)
    assert escalated.reason.startswith("anger stayed above 0.60 for ")
    assert escalated.reason.endswith(" s in offer solution")
    assert escalated.t - changes(events)[-2].t >= SETTINGS.escalate_after_s


def test_anger_rising_after_the_offer_escalates_sooner() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, [*every(10, [0.45, 0.5, 0.6]), Say(end=39, anger=0.9)])
    escalated = changes(events)[-1]
    assert (escalated.previous, escalated.stage) == (Stage.SOLUTION, Stage.ESCALATE)
    assert escalated.t - changes(events)[-2].t < SETTINGS.escalate_after_s
    assert "after the offer" in escalated.reason


def test_thanks_for_the_offer_said_angrily_is_not_the_offer_failing() -> None:
    # "Thank you, that is all I wanted someone to say. But I'm sick of chasing you."
    rising = [*every(10, [0.45, 0.5, 0.6]), Say(end=39, anger=0.9, thanks="Thank you")]
    machine = StageMachine(SETTINGS)
    assert Stage.ESCALATE not in stages(play(machine, rising))
    unthanked = [*rising[:-1], dataclasses.replace(rising[-1], thanks="")]
    assert Stage.ESCALATE in stages(play(StageMachine(SETTINGS), unthanked))


def test_an_offer_that_lands_does_not_escalate() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, every(10, [0.4, 0.5, 0.6, 0.45, 0.5, 0.5]))
    assert Stage.ESCALATE not in stages(events)
    assert machine.stage is Stage.SOLUTION


# --- triggers ---------------------------------------------------------------------------------


def test_manager_request_goes_straight_to_escalate() -> None:
    machine = StageMachine(SETTINGS)
    hit = TriggerHit(name="manager_request", words="let me speak to your manager")
    events = play(machine, [Say(end=6, anger=0.3, triggers=(hit,))])
    assert stages(events) == [Stage.ESCALATE]
    assert changes(events)[0].reason == "asked for a manager: 'let me speak to your manager'"


def test_a_trigger_in_partial_text_acts_before_the_utterance_ends() -> None:
    machine = StageMachine(SETTINGS)
    hit = TriggerHit(name="legal_threat", words="my solicitor")
    events = machine.on_triggers(3.0, (hit,))
    assert stages(events) == [Stage.ESCALATE]
    # The final text carries the same trigger again: nothing new happens.
    assert stages(play(machine, [Say(end=5, anger=0.5, triggers=(hit,))])) == []


def test_a_trigger_the_final_text_does_not_confirm_is_taken_back() -> None:
    machine = StageMachine(SETTINGS)
    misheard = TriggerHit(name="legal_threat", words="lawsuit")
    assert stages(machine.on_triggers(8.0, (misheard,))) == [Stage.ESCALATE]
    events = play(machine, [Say(end=11, anger=0.05, text="Hello Sue, it's plot twenty-two.")])
    assert stages(events) == [Stage.CALM]
    assert changes(events)[0].reason == "misheard 'lawsuit': the final words do not have it"


def test_a_misheard_insult_lifts_the_boundary_back_to_the_rung_before() -> None:
    machine = StageMachine(SETTINGS)
    play(machine, every(10, [0.5, 0.5]))
    before = machine.stage
    machine.on_triggers(33.0, (TriggerHit(name="profanity", words="bitch"),))
    assert machine.stage is Stage.BOUNDARY
    play(machine, [Say(end=35, anger=0.3, text="Which is a bit much.")])
    assert machine.stage is before


# --- the agent's words ------------------------------------------------------------------------


@pytest.mark.parametrize("angers", [[], [0.1, 0.5], [0.1, 0.5, 0.6, 0.7]])
def test_the_agent_bringing_in_a_supervisor_escalates_from_any_stage(
        angers: list[float]) -> None:
    machine = StageMachine(SETTINGS)
    play(machine, every(10, angers))
    before = machine.stage
    events = machine.on_agent(60.0, AgentSaid(handover="bring in my team leader"))
    assert stages(events) == [Stage.ESCALATE]
    assert changes(events)[0].previous is before
    assert changes(events)[0].reason == ("the agent is bringing in a supervisor: "
                                         "'bring in my team leader'")
    again = AgentSaid(handover="my supervisor will be with you")
    assert machine.on_agent(62.0, again) == [], "already there"


def test_the_trainer_can_switch_the_handover_rule_off() -> None:
    machine = StageMachine(dataclasses.replace(SETTINGS, agent_handover=False))
    assert machine.on_agent(5.0, AgentSaid(handover="bring in my team leader")) == []
    assert machine.stage is Stage.CALM


@pytest.mark.parametrize("angers", [[0.1], [0.1, 0.5]])
def test_turning_down_the_agents_offer_flatly_escalates(angers: list[float]) -> None:
    machine = StageMachine(SETTINGS)
    play(machine, every(10, angers))
    before = machine.stage
    offer = AgentSaid(offer="What I can do is")
    assert machine.on_agent(30.0, offer) == [], "an offer alone changes nothing"
    events = play(machine, [Say(end=36, anger=0.5, refusal="Absolutely not")])
    assert changes(events)[0].stage is Stage.ESCALATE
    assert changes(events)[0].previous is before
    assert changes(events)[0].reason == ("turned down the agent's offer ('What I can do is'): "
                                         "'Absolutely not'")


def test_a_refusal_counts_only_as_the_reply_to_an_offer() -> None:
    machine = StageMachine(SETTINGS)
    no_offer = play(machine, [Say(end=10, anger=0.1, refusal="Absolutely not")])
    assert Stage.ESCALATE not in stages(no_offer)
    machine.on_agent(12.0, AgentSaid(offer="I can offer"))
    answered = play(machine, [Say(end=16, anger=0.1, text="When would that be?"),
                              Say(end=22, anger=0.1, refusal="no chance")])
    assert Stage.ESCALATE not in stages(answered), "the offer was answered by a question"


def test_the_trainer_can_switch_the_refusal_rule_off() -> None:
    machine = StageMachine(dataclasses.replace(SETTINGS, offer_refused=False))
    machine.on_agent(5.0, AgentSaid(offer="I can offer"))
    play(machine, [Say(end=10, anger=0.1, refusal="Absolutely not")])
    assert machine.stage is Stage.CALM


EMPATHY_ANSWERED = (AgentSaid(empathy="I understand how"), 40.0,
                    Say(end=46, anger=0.2, text="And I've still got no heating."), FEELINGS_FIRST,
                    Stage.SOLUTION,
                    "still upset after the agent acknowledged the feelings ('I understand how')")
REFLECTION_ANSWERED = (AgentSaid(reflection="So you"), 30.0,
                       Say(end=36, anger=0.05, text="Yes. Same email as the last two times."),
                       BEFORE_EMPATHY, Stage.EMPATHIZE,
                       "still upset after the agent reflected back the problem ('So you')")


@pytest.mark.parametrize(("angers", "case"), [
    *[(angers, EMPATHY_ANSWERED) for angers in ([0.1], [0.1, 0.5], [0.1, 0.5, 0.6])],
    *[(angers, REFLECTION_ANSWERED) for angers in ([], [0.1], [0.1, 0.5])],
])
def test_still_upset_after_what_the_agent_did_moves_on_to_the_next_rung(
        angers: list[float], case: tuple[AgentSaid, float, Say, frozenset[Stage], Stage, str],
) -> None:
    """Reflected back: empathize next; feelings acknowledged: offer solution next."""
    said, at, answer, starts_in, stage, reason = case
    machine = StageMachine(SETTINGS)
    play(machine, every(10, angers))
    before = machine.stage
    assert before in starts_in
    assert machine.on_agent(at, said) == [], "the customer's answer decides"
    events = play(machine, [answer])
    assert stages(events) == [stage]
    assert changes(events)[0].previous is before
    assert changes(events)[0].reason == reason


def test_thanks_or_a_calm_answer_below_still_upset_does_not_move_to_solution() -> None:
    thanked = StageMachine(SETTINGS)
    stricter = StageMachine(dataclasses.replace(SETTINGS, still_upset=0.3))
    for machine, say in [(thanked, Say(end=16, anger=0.2, thanks="thank you")),
                         (stricter, Say(end=16, anger=0.2, text="It's account four four one."))]:
        machine.on_agent(10.0, AgentSaid(empathy="I do apologise"))
        assert machine.stage is Stage.CALM and stages(play(machine, [say])) == []


def test_the_answer_to_the_agents_empathy_is_weighed_once() -> None:
    machine = StageMachine(SETTINGS)
    machine.on_agent(10.0, AgentSaid(empathy="I do apologise"))
    play(machine, [Say(end=16, anger=0.0, thanks="thanks")])
    assert stages(play(machine, [Say(end=24, anger=0.2)])) == [], "a later line is no answer"


def test_empathy_leaves_escalate_and_boundary_alone_and_can_be_switched_off() -> None:
    machine = StageMachine(SETTINGS)
    empathy = AgentSaid(empathy="I do apologise")
    machine.on_agent(5.0, AgentSaid(handover="bring in my manager"))
    machine.on_agent(8.0, empathy)
    play(machine, [Say(end=12, anger=0.3)])
    assert machine.stage is Stage.ESCALATE
    insult = TriggerHit(name="insult", words="you idiot")
    play(machine, [Say(end=16, anger=0.9, triggers=(insult,))])
    machine.on_agent(18.0, empathy)
    play(machine, [Say(end=20, anger=0.9, triggers=(insult,))])
    assert machine.stage is Stage.BOUNDARY
    switched_off = StageMachine(dataclasses.replace(SETTINGS, agent_empathy=False))
    switched_off.on_agent(5.0, empathy)
    play(switched_off, [Say(end=10, anger=0.2)])
    assert switched_off.stage is Stage.CALM


def test_a_reflection_answered_with_thanks_or_said_past_empathize_moves_nothing() -> None:
    thanked = StageMachine(SETTINGS)
    thanked.on_agent(10.0, AgentSaid(reflection="So the"))
    assert stages(play(thanked, [Say(end=16, anger=0.0, thanks="thanks")])) == []
    offered = StageMachine(SETTINGS)
    offered.on_agent(10.0, AgentSaid(empathy="I do apologise"))
    play(offered, [Say(end=16, anger=0.3)])
    offered.on_agent(20.0, AgentSaid(reflection="So you"))
    assert stages(play(offered, [Say(end=26, anger=0.3)])) == [], "no rung down to empathize"
    both = StageMachine(SETTINGS)
    both.on_agent(10.0, AgentSaid(reflection="So you", empathy="I do apologise"))
    assert stages(play(both, [Say(end=16, anger=0.2)])) == [Stage.SOLUTION], \
        "empathy done as well: the rung after it"
    switched_off = StageMachine(dataclasses.replace(SETTINGS, agent_reflect=False))
    switched_off.on_agent(10.0, AgentSaid(reflection="So you"))
    assert stages(play(switched_off, [Say(end=16, anger=0.2)])) == []


def test_abuse_sets_a_boundary_then_returns_to_the_ladder_once_it_stops() -> None:
    machine = StageMachine(SETTINGS)
    insult = TriggerHit(name="insult", words="you idiot")
    script = [Say(end=10, anger=0.45), Say(end=20, anger=0.85, triggers=(insult,)),
              Say(end=31, anger=0.3), Say(end=40, anger=0.3)]
    found = changes(play(machine, script))
    assert [c.stage for c in found[:3]] == [Stage.REFLECT, Stage.BOUNDARY, Stage.EMPATHIZE]
    boundary, back = found[1:3]
    assert boundary.reason == "abuse: 'you idiot'"
    # The outburst counts as anger rising: the ladder resumes one rung above reflect.
    assert back.previous is Stage.BOUNDARY
    assert back.t - 20 >= SETTINGS.boundary_clear_s
    assert "no abuse for" in back.reason


def test_more_abuse_keeps_the_boundary_up() -> None:
    machine = StageMachine(SETTINGS)
    insult = TriggerHit(name="profanity", words="bloody")
    script = [Say(end=t, anger=0.3, triggers=(insult,)) for t in (10, 16, 22, 28)]
    events = play(machine, script, until=34)
    assert stages(events) == [Stage.BOUNDARY]


INSULT = TriggerHit(name="insult", words="you idiot")
OUTBURST = [Say(end=10, anger=0.45), Say(end=20, anger=0.9, triggers=(INSULT,))]


def test_an_apology_ends_the_boundary_even_while_the_complaint_is_still_angry() -> None:
    machine = StageMachine(SETTINGS)
    # Anger 0.6 stays above exit.boundary: without the apology the boundary would hold.
    events = play(machine, [*OUTBURST, Say(end=24, anger=0.6, apology="sorry")], until=40)
    found = changes(events)
    assert [c.stage for c in found] == [Stage.REFLECT, Stage.BOUNDARY, Stage.EMPATHIZE]
    back = found[-1]
    assert back.reason == "the customer apologised ('sorry')"
    # Not before the boundary has been on screen for its minimum dwell.
    assert back.t >= 20 + SETTINGS.min_dwell_s.boundary


def test_without_the_apology_the_same_anger_keeps_the_boundary() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, [*OUTBURST, Say(end=24, anger=0.6)], until=40)
    assert stages(events)[-1] is Stage.BOUNDARY


def test_an_apology_taken_back_by_a_new_insult_keeps_the_boundary() -> None:
    machine = StageMachine(SETTINGS)
    script = [*OUTBURST, Say(end=23, anger=0.6, apology="sorry"),
              Say(end=26, anger=0.8, triggers=(INSULT,))]
    assert stages(play(machine, script, until=32))[-1] is Stage.BOUNDARY


def test_an_apology_with_an_insult_in_the_same_breath_is_not_one() -> None:
    machine = StageMachine(SETTINGS)
    script = [*OUTBURST, Say(end=24, anger=0.8, apology="sorry", triggers=(INSULT,))]
    assert stages(play(machine, script, until=32))[-1] is Stage.BOUNDARY


def test_a_trainer_can_turn_the_apology_rule_off() -> None:
    machine = StageMachine(dataclasses.replace(SETTINGS, apology_ends_boundary=False))
    events = play(machine, [*OUTBURST, Say(end=24, anger=0.6, apology="sorry")], until=40)
    assert stages(events)[-1] is Stage.BOUNDARY


def test_abuse_outranks_a_manager_request_in_the_same_breath() -> None:
    machine = StageMachine(SETTINGS)
    hits = (TriggerHit(name="manager_request", words="get me your manager"),
            TriggerHit(name="insult", words="you moron"))
    assert stages(machine.on_triggers(4.0, hits)) == [Stage.BOUNDARY]


def test_a_trigger_without_a_force_entry_does_not_move_the_stage() -> None:
    machine = StageMachine(SETTINGS)
    hit = TriggerHit(name="repeat_contact", words="third time I've called")
    assert machine.on_triggers(4.0, (hit,)) == []


# --- calming down ------------------------------------------------------------------------------


RAISED_TO_SOLUTION = every(10, [0.4, 0.5, 0.6, 0.7])
COLD = [Say(end=50, anger=0.1, text="Fine. I've heard it all before, but fine."),
        Say(end=60, anger=0.05, text="Three to five days. Course it can.")]
WARM = Say(end=70, anger=0.05, sentiment=0.6, text="Okay, that works. Sorry I snapped.",
           apology="sorry I snapped")


def test_recovery_after_a_raised_call_leads_to_close() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, [*RAISED_TO_SOLUTION, *COLD, WARM])
    assert stages(events) == [Stage.REFLECT, Stage.EMPATHIZE, Stage.SOLUTION, Stage.CLOSE]
    assert changes(events)[-1].reason.startswith("anger down to ")


def test_cold_acceptance_holds_the_stage_until_the_caller_sounds_warm() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, [*RAISED_TO_SOLUTION, *COLD], until=69)
    assert stages(events)[-1] is Stage.SOLUTION
    assert stages(play(machine, [WARM])) == [Stage.CLOSE]
    unwarmed = StageMachine(dataclasses.replace(SETTINGS, close_needs_warmth=False))
    assert stages(play(unwarmed, [*RAISED_TO_SOLUTION, *COLD]))[-1] is Stage.CLOSE


def test_a_brief_blip_goes_back_to_calm_not_close() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, [Say(end=10, anger=0.5), Say(end=17, anger=0.05),
                            Say(end=22, anger=0.05)])
    assert stages(events) == [Stage.REFLECT, Stage.CALM]


def test_renewed_anger_after_close_climbs_again_from_reflect() -> None:
    machine = StageMachine(SETTINGS)
    play(machine, [*RAISED_TO_SOLUTION, *COLD, WARM])
    assert machine.stage is Stage.CLOSE
    events = play(machine, every(10, [0.5, 0.6], start=90))
    assert stages(events) == [Stage.REFLECT, Stage.EMPATHIZE]


def test_long_silence_decays_the_level_toward_calm() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, every(10, [0.6, 0.7, 0.7]))
    level = [e for e in events if isinstance(e, LevelUpdate)][-1].level
    half = machine.level_at(30 + SETTINGS.silence_half_life_s)
    assert half == pytest.approx(level / 2, rel=0.01)
    later = play(machine, [], until=30 + 4 * SETTINGS.silence_half_life_s)
    updates = [e for e in later if isinstance(e, LevelUpdate)]
    assert updates, "a decaying level is reported while nobody speaks"
    assert updates[-1].level < level / 8 + SETTINGS.level_report_step
    assert [u.level for u in updates] == sorted((u.level for u in updates), reverse=True)


def test_a_pause_counts_as_time_before_the_next_utterance() -> None:
    quick, slow = StageMachine(SETTINGS), StageMachine(SETTINGS)
    play(quick, [Say(end=10, anger=0.7), Say(end=16, anger=0.3)])
    play(slow, [Say(end=10, anger=0.7), Say(end=136, anger=0.3)])
    assert slow.level_at(136) < quick.level_at(16) - 0.1


# --- voice ---------------------------------------------------------------------------------------


def voice(t: float, utterance: int, arousal: float, *, partial: bool = False) -> VoiceCue:
    return VoiceCue(t=t, utterance_id=utterance, arousal=arousal, cue="louder, higher",
                    partial=partial)


def test_raised_voice_in_two_utterances_moves_calm_to_reflect_early() -> None:
    machine = StageMachine(SETTINGS)
    assert machine.on_voice(voice(4, 1, 0.9, partial=True)) == []
    assert machine.on_voice(voice(5, 1, 0.92)) == []
    events = machine.on_voice(voice(11, 2, 0.88, partial=True))
    assert stages(events) == [Stage.REFLECT]
    assert "raised voice in 2 utterances" in changes(events)[0].reason


def test_one_shout_between_calm_utterances_stays_calm() -> None:
    machine = StageMachine(SETTINGS)
    cues = [voice(4, 1, 0.95), voice(9, 2, 0.3), voice(14, 3, 0.95), voice(19, 4, 0.2)]
    assert [e for cue in cues for e in machine.on_voice(cue)] == []


def test_voice_early_can_be_switched_off() -> None:
    machine = StageMachine(dataclasses.replace(SETTINGS, voice_early=False))
    cues = [voice(4, 1, 0.95), voice(9, 2, 0.95), voice(14, 3, 0.95)]
    assert [e for cue in cues for e in machine.on_voice(cue)] == []


# --- invariants ----------------------------------------------------------------------------------


def random_script(rng: random.Random, *, with_triggers: bool) -> list[Say]:
    script: list[Say] = []
    t = 0.0
    names = ["insult", "manager_request", "repeat_contact"]
    for _ in range(rng.randint(5, 40)):
        t += rng.choice([0.5, 2.0, 5.0, 9.0, 30.0, 120.0]) * rng.random() + 0.5
        seconds = min(rng.uniform(0.3, 10.0), t)
        hits: tuple[TriggerHit, ...] = ()
        if with_triggers and rng.random() < 0.1:
            hits = (TriggerHit(name=rng.choice(names), words="words"),)
        script.append(Say(end=t, anger=rng.random(), words=rng.random(), seconds=seconds,
                          triggers=hits, arousal=rng.random()))
    return script


def forced_by_trigger(change: StageChanged) -> bool:
    return change.reason.startswith(("abuse:", "asked for a manager:"))


@pytest.mark.parametrize("seed", range(60))
def test_no_stage_is_shorter_than_its_minimum_dwell(seed: int) -> None:
    rng = random.Random(seed)
    machine = StageMachine(SETTINGS)
    events = play(machine, random_script(rng, with_triggers=seed % 2 == 1),
                  tick_s=rng.choice([0.1, 0.5, 2.0]))
    entered = 0.0
    for change in changes(events):
        shown = change.t - entered
        if not forced_by_trigger(change):
            assert shown >= SETTINGS.min_dwell_s.of(change.previous) - 1e-9, change
        assert change.previous is not change.stage
        assert change.reason
        assert 0.0 <= change.level <= 1.0
        entered = change.t


@pytest.mark.parametrize("seed", range(20))
def test_every_scored_utterance_gets_a_level_update(seed: int) -> None:
    rng = random.Random(1000 + seed)
    machine = StageMachine(SETTINGS)
    for say in random_script(rng, with_triggers=True):
        out = machine.on_scored(scored(say))
        assert isinstance(out[-1], LevelUpdate)
        assert out[-1].stage is machine.stage
        assert all(isinstance(e, StageChanged) for e in out[:-1])


def test_stage_changes_carry_level_and_trend() -> None:
    machine = StageMachine(SETTINGS)
    events = play(machine, every(6, [0.1, 0.3, 0.5, 0.7]))
    first = changes(events)[0]
    assert first.stage is Stage.REFLECT
    assert first.reason.startswith("anger ") and "rising over 20 s" in first.reason
    assert first.trend > SETTINGS.rising_trend
    assert first.level >= SETTINGS.enter.reflect


def test_a_new_pack_takes_effect_mid_call() -> None:
    machine = StageMachine(SETTINGS)
    play(machine, every(8, [0.2, 0.25]))
    assert machine.stage is Stage.CALM
    machine.settings = dataclasses.replace(SETTINGS, enter=EnterThresholds(reflect=0.15),
                                           exit=ExitThresholds(reflect=0.1))
    assert ordering_problem(machine.settings) is None
    assert stages(play(machine, every(8, [0.25, 0.25], start=30))) == [Stage.REFLECT]


@pytest.mark.parametrize(("change", "key"), [
    ({"exit": ExitThresholds(reflect=0.35)}, "exit.reflect"),
    ({"enter": EnterThresholds(reflect=0.5, empathize=0.45)}, "enter.empathize"),
    ({"escalate_level": 0.4}, "escalate_level"),
    ({"min_weight_s": 8.0, "max_weight_s": 4.0}, "max_weight_s"),
])
def test_out_of_order_thresholds_are_named(change: dict[str, object], key: str) -> None:
    problem = ordering_problem(dataclasses.replace(SETTINGS, **change))  # type: ignore[arg-type]
    assert problem is not None and problem[0] == key


def test_default_settings_are_in_order() -> None:
    assert ordering_problem(SETTINGS) is None


# --- the real scorer and the real default pack on the project's scripted calls -------------------

CALLS = paths.PROJECT_ROOT / "assist" / "data"


def replay_transcript(labels: Path) -> list[StageChanged]:
    """The customer's words of a scripted call through the real word scorer and default pack.

    Words only (no audio here), so the voice's share of each score is missing: the assertions
    are about the shape of the call, not every turn's label.
    """
    pack = load_pack("default")
    scorer, machine = CallScorer(pack.scoring), StageMachine(pack.escalation)
    events: list[Event] = []
    now = 0.0
    for number, turn in enumerate(json.loads(labels.read_text(encoding="utf-8"))):
        events += ticks(machine, now, turn["end"], 0.5)
        if turn["speaker"] == "customer":
            text = FinalText(t=turn["end"] + 0.7, speaker=Speaker.CUSTOMER, utterance_id=number,
                             start=turn["start"], end=turn["end"], text=turn["text"])
            events += machine.on_scored(scorer.on_text(text))
        events += ticks(machine, turn["end"], turn["t"], 0.5)
        now = turn["t"]
    return changes(events)


def test_the_sample_call_climbs_the_ladder_and_closes() -> None:
    found = replay_transcript(CALLS / "sample_call.labels.json")
    assert [c.stage for c in found] == [Stage.REFLECT, Stage.EMPATHIZE, Stage.SOLUTION,
                                        Stage.CLOSE]


@pytest.mark.parametrize("call", ["calm_call", "loud_outlier"])
def test_calm_scripted_calls_stay_calm(call: str) -> None:
    assert replay_transcript(CALLS / "calls" / f"{call}.labels.json") == []


def test_the_manager_request_call_escalates_and_stays() -> None:
    found = replay_transcript(CALLS / "calls" / "manager_request.labels.json")
    assert [c.stage for c in found] == [Stage.ESCALATE]
    assert found[0].reason.startswith("asked for a manager: ")


def test_the_abuse_call_sets_a_boundary_and_recovers() -> None:
    found = [c.stage for c in replay_transcript(CALLS / "calls" / "abuse_boundary.labels.json")]
    assert Stage.BOUNDARY in found
    after = found[found.index(Stage.BOUNDARY) + 1:]
    # Words alone: the apology takes it back onto the ladder; closing needs two calm replies,
    # and the script has one (the voice, in the real replay, supplies the rest).
    assert after and after[0] in LADDER and Stage.BOUNDARY not in after


def test_the_slow_burn_climbs_in_order_on_its_words_alone() -> None:
    # Its calm opening names a broken promise ("leaking again") but is no climb on its own;
    # the escalation needs the voice of the later turns (tests/test_pipeline_real.py).
    found = replay_transcript(CALLS / "calls" / "slow_burn.labels.json")
    assert [c.stage for c in found] == [Stage.REFLECT, Stage.EMPATHIZE, Stage.SOLUTION]
    assert found[0].t > 20.0


def test_asking_about_the_fix_is_no_relief_until_it_thanks() -> None:
    def after(text: str, thanks: str = "") -> list[Stage]:
        machine = StageMachine(SETTINGS)
        play(machine, every(10, [0.4, 0.5, 0.6]))
        reply = scored(Say(end=42, anger=0.0, text=text, thanks=thanks))
        found = machine.on_scored(dataclasses.replace(reply, sentiment=0.62)) + machine.tick(50)
        return stages(found)

    assert after("Great. And how long does the refund take?") == []
    assert after("Great, thank you. How long does the refund take?", thanks="thank you") \
        == [Stage.CLOSE]
    assert after("Great. That's the refund sorted then.") == [Stage.CLOSE]


def test_thanks_for_the_fix_closes_at_once_but_a_calm_fact_does_not() -> None:
    raised = every(10, [0.4, 0.5, 0.6])
    fact = StageMachine(SETTINGS)
    play(fact, raised)
    events = play(fact, [Say(end=42, anger=0.0, seconds=4.0, text="It's four seven two nine.")],
                  until=50)
    assert changes(events) == []
    relieved = StageMachine(SETTINGS)
    play(relieved, raised)
    thanks = scored(Say(end=42, anger=0.0, seconds=4.0, text="Okay, that would help, thank you."))
    found = changes(relieved.on_scored(dataclasses.replace(thanks, sentiment=0.7)) +
                    relieved.tick(50.0))
    assert [c.stage for c in found] == [Stage.CLOSE]
