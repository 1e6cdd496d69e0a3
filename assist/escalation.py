"""The stage machine: from scored utterances, voice cues and triggers to the de-escalation stage.

Pure: every method takes the audio time, nothing reads a clock, starts a thread or touches a
window, so a live call, a replay and a test drive exactly the same logic.

How the stage moves (all numbers live in :class:`EscalationSettings`, i.e. a pack's
``[escalation]`` table, and prompts/README.md explains them for trainers):

- **Level.** Each customer utterance pulls a smoothed level toward its fused anger; how far
  depends on how long it was (``speech_half_life_s``), so a two-word "no" moves it less than a
  long complaint. Between utterances the level decays toward calm (``silence_half_life_s``),
  so a long pause counts as time and an angry moment fades.
- **Trend.** The least-squares slope of the level over ``trend_window_s``, expressed as the
  change across that window: +0.2 means "rose 0.2 over the window".
- **Ladder.** calm -> reflect -> empathize -> solution, one rung at a time (feelings before
  the problem). A rung is climbed when the level reaches the next rung's ``enter`` threshold.
  An utterance whose *words* alone are angry enough
  (``words_confirm``) is evidence on its own; otherwise (a raised voice with neutral words)
  the climb needs ``confirm_utterances`` in a row, so one loud outlier never moves it. Out of
  calm, the words must also be aimed (``words_aimed``): a calm caller who says the storm
  "absolutely murdered" the hedge blames no one.
  Frustration that persists also moves on: after ``persist_replies`` customer replies in
  reflect (or empathize) that still sound frustrated on their own, the next rung comes.
- **Frustrated** means anger at or above ``enter.reflect`` (the bottom of "annoyed"), or a
  voice raised to ``voice_frustrated`` against the caller's own baseline unless the words
  thank the agent. Curt, sarcastic and polite-but-cold callers use words that read as neutral
  or even warm ("Friday. Brilliant."), and their voice is what carries it; joy is as loud as
  anger, hence the thanks. ``voice_utterances`` frustrated utterances in a row leave calm (or
  close) for reflect back, so one loud moment (a shout at the dog) never moves it.
- **Escalate** when the level stays at or above ``escalate_level`` in offer solution for
  ``escalate_after_replies`` replies that do not thank the agent, and either
  ``escalate_after_s`` has passed or the level rose by ``escalate_rise`` since the offer (it
  made things worse); or at once on a trigger that the ``force`` table maps to escalate (a
  manager request, a legal threat).
- **Escalate** also at once when the agent says they are bringing in a supervisor
  (``agent_handover``; needs the agent's channel, see :mod:`assist.scoring.agent`): they
  have escalated, and the escalate prompt (hand over everything said and done) is what they
  need on screen.
- **Empathize** once the agent has reflected back the problem ("So you cancelled in March and
  were charged again"; ``agent_reflect``; needs the agent's channel) and the customer's answer
  is neither thanks nor relief: the playbook's "frustration persists". The agent heard the
  frustration that made them reflect, even when the words and voice scored low.
- **Offer solution** once the agent has acknowledged the customer's feelings ("I understand how
  frustrating that is"; ``agent_empathy``; needs the agent's channel) and the customer's
  answer is neither thanks nor relief: the playbook's "feelings acknowledged, anger still
  present". The agent heard the upset even when the words and voice scored low.
- **Escalate** also at once when the customer flatly turns down what the agent just offered
  ("No. Absolutely not."; ``offer_refused``; needs the agent's channel): the playbook's
  "still dissatisfied after real effort". The offer alone changes nothing.
- **Boundary** at once on an abuse trigger (insult, profanity, threat). It is left once no
  abuse was heard for ``boundary_clear_s`` and the level is below ``exit.boundary``, or,
  with ``apology_ends_boundary``, once the customer apologises without new abuse (the
  complaint may still be angry; the abuse is what stopped). Then back to escalate if the call
  had been escalated, else one rung above where the ladder was (the outburst counts as anger
  rising; the complaint behind it still needs hearing).
- **Close** when the level stays below the current stage's ``exit`` threshold for
  ``confirm_utterances`` in a row (one calm sentence in an angry stretch is not recovery),
  after the call has been raised for ``close_after_raised_s``; a shorter blip goes back to
  calm. With ``close_needs_warmth``, close also waits until the customer has sounded warm in
  this stage (thanks, relief, an apology): a cold "Fine. Course it can." holds the stage.
  From close, renewed anger climbs again from reflect.
- **Dwell.** No level-driven change before the current stage has been shown for its
  ``min_dwell_s``; enter/exit thresholds differ (hysteresis). Together they stop one noisy
  utterance flipping the prompt back and forth. Triggers act at once, whatever the dwell,
  even from partial text; a stage forced that way is taken back if the utterance's final text
  does not have the trigger (a mishearing, not a threat).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from assist.config import setting
from assist.events import (
    Event,
    LevelUpdate,
    Stage,
    StageChanged,
    TriggerHit,
    UtteranceScored,
    VoiceCue,
)
from assist.scoring.agent import AgentSaid
from assist.scoring.triggers import ABUSE

log = logging.getLogger(__name__)

LADDER = (Stage.CALM, Stage.REFLECT, Stage.EMPATHIZE, Stage.SOLUTION)
"""The rungs climbed in order; escalate, boundary and close sit beside them."""

RAISED = frozenset({Stage.REFLECT, Stage.EMPATHIZE, Stage.SOLUTION, Stage.ESCALATE,
                    Stage.BOUNDARY})
FEELINGS_FIRST = frozenset({Stage.CALM, Stage.REFLECT, Stage.EMPATHIZE})
"""Stages in which the agent acknowledging the feelings moves the ladder on to offer solution."""
BEFORE_EMPATHY = frozenset({Stage.CALM, Stage.REFLECT})
"""Stages in which the agent reflecting back the problem moves the ladder on to empathize."""
FORCEABLE = frozenset({Stage.ESCALATE, Stage.BOUNDARY})
"""Stages a trigger may force; the ladder rungs are earned by the level alone."""

TRIGGER_LABELS: Mapping[str, str] = MappingProxyType({
    "manager_request": "asked for a manager", "legal_threat": "threatened legal action",
    **{name: "abuse" for name in ABUSE},
})

MIN_TREND_SPAN_S = 1.0
"""Points closer together than this give no meaningful slope."""


@dataclass(frozen=True)
class EnterThresholds:
    """Level at which the ladder climbs onto each rung (must rise from rung to rung)."""

    reflect: float = setting(0.30, "Level that moves calm (or close) to reflect back.",
                             lo=0.0, hi=1.0)
    empathize: float = setting(0.42, "Level that moves reflect back to empathize.",
                               lo=0.0, hi=1.0)
    solution: float = setting(0.52, "Level that moves empathize to offer solution.",
                              lo=0.0, hi=1.0)


@dataclass(frozen=True)
class ExitThresholds:
    """Level below which a stage is done (each below the level that entered it)."""

    reflect: float = setting(0.20, "Below this, reflect back ends (calm, or close if the "
                             "call was raised for a while).", lo=0.0, hi=1.0)
    empathize: float = setting(0.30, "Below this, empathize ends in close.", lo=0.0, hi=1.0)
    solution: float = setting(0.30, "Below this, offer solution ends in close.", lo=0.0, hi=1.0)
    escalate: float = setting(0.0, "Below this, escalate ends in close; 0 holds escalate to "
                              "the end of the call.", lo=0.0, hi=1.0)
    boundary: float = setting(0.50, "Below this (and with no abuse for boundary_clear_s), "
                              "set a boundary ends.", lo=0.0, hi=1.0)


@dataclass(frozen=True)
class DwellTimes:
    """Minimum seconds each stage stays on screen before the level may move it."""

    calm: float = setting(0.0, "Minimum time in calm.", lo=0.0, hi=600.0)
    reflect: float = setting(5.0, "Minimum time in reflect back.", lo=0.0, hi=600.0)
    empathize: float = setting(5.0, "Minimum time in empathize.", lo=0.0, hi=600.0)
    solution: float = setting(8.0, "Minimum time in offer solution.", lo=0.0, hi=600.0)
    escalate: float = setting(15.0, "Minimum time in escalate.", lo=0.0, hi=600.0)
    boundary: float = setting(8.0, "Minimum time in set a boundary.", lo=0.0, hi=600.0)
    close: float = setting(8.0, "Minimum time in close.", lo=0.0, hi=600.0)

    def of(self, stage: Stage) -> float:
        return float(getattr(self, stage.value))


@dataclass(frozen=True)
class PersistReplies:
    """Customer utterances after which frustration that merely persists moves the ladder on."""

    reflect: int = setting(1, "Frustrated replies (anger at or above enter.reflect) in "
                           "reflect back before empathize; 0 waits for the level to rise.",
                           lo=0, hi=20)
    empathize: int = setting(1, "Frustrated replies in empathize before offer solution; 0 "
                             "waits for the level to rise.", lo=0, hi=20)


def _default_force() -> Mapping[str, Stage]:
    return MappingProxyType({
        "manager_request": Stage.ESCALATE, "legal_threat": Stage.ESCALATE,
        **{name: Stage.BOUNDARY for name in ABUSE},
    })


@dataclass(frozen=True)
class EscalationSettings:
    """Every threshold, time and weight of the stage machine (a pack's [escalation] table)."""

    speech_half_life_s: float = setting(
        2.0, "Seconds of customer speech that pull the level halfway to that speech's anger.",
        lo=0.1, hi=120.0)
    silence_half_life_s: float = setting(
        45.0, "Seconds without customer speech that halve the level (decay toward calm).",
        lo=1.0, hi=3600.0)
    min_weight_s: float = setting(
        1.0, "An utterance counts as at least this many seconds of speech.", lo=0.0, hi=60.0)
    max_weight_s: float = setting(
        6.0, "An utterance counts as at most this many seconds, so one long rant cannot "
        "swing the level alone.", lo=0.1, hi=60.0)
    trend_window_s: float = setting(
        20.0, "Window over which the trend (change of the level) is measured.", lo=2.0, hi=600.0)
    rising_trend: float = setting(
        0.05, "A trend at or above this reads as rising in the reasons (and below its "
        "negative as falling).", lo=0.0, hi=1.0)
    confirm_utterances: int = setting(
        2, "Utterances in a row above a rung's enter threshold needed to climb when the "
        "words alone are not angry enough, and below a stage's exit threshold to leave it.",
        lo=1, hi=10)
    words_confirm: float = setting(
        0.45, "Word anger at which one utterance is evidence enough to climb.", lo=0.0, hi=1.0)
    words_aimed: bool = setting(
        True, "Leave calm on one utterance's words only when they are aimed: a grievance, a "
        "trigger, a feeling named, or someone blamed. Harsh words about a thing alone (\"the "
        "frost murdered my hedge\") then need confirm_utterances in a row.")
    calm_confirm: float = setting(
        0.05, "Fused anger at or below which one utterance that also sounds relieved (see "
        "relief_sentiment) is evidence enough to leave a stage.", lo=0.0, hi=1.0)
    relief_sentiment: float = setting(
        0.40, "Sentiment (VADER compound) at or above which a calm utterance reads as relief "
        "or thanks (\"okay, that would help, thank you\").", lo=-1.0, hi=1.0)
    voice_early: bool = setting(
        True, "Let a raised voice move calm to reflect back before the words are transcribed.")
    voice_arousal: float = setting(
        0.80, "Voice arousal (0..1 against the caller's baseline) that counts as raised.",
        lo=0.0, hi=1.0)
    voice_utterances: int = setting(
        2, "Utterances in a row with a raised voice (early move) or frustrated (on their "
        "words or voice_frustrated) before calm moves to reflect back.", lo=1, hi=10)
    voice_frustrated: float = setting(
        0.40, "Voice arousal at which an utterance sounds frustrated whatever its words, "
        "unless it thanks the agent; 1 lets only the words decide.", lo=0.0, hi=1.0)
    escalate_level: float = setting(
        0.60, "Level that, held in offer solution, leads to escalate.", lo=0.0, hi=1.0)
    escalate_after_s: float = setting(
        10.0, "How long the level must stay at escalate_level in offer solution.",
        lo=0.0, hi=3600.0)
    escalate_rise: float = setting(
        0.10, "A rise of the level at least this big since offer solution appeared escalates "
        "without waiting for escalate_after_s: the offer made things worse.", lo=0.0, hi=1.0)
    escalate_after_replies: int = setting(
        1, "Customer replies in offer solution at escalate_level (not counting one that "
        "thanks the agent) before escalating.",
        lo=1, hi=20)
    agent_handover: bool = setting(
        True, "Show escalate as soon as the agent says they are bringing in a supervisor or "
        "manager (needs the agent's channel).")
    agent_reflect: bool = setting(
        True, "Move on to empathize when the agent has reflected back the problem (\"So you "
        "cancelled in March and...\") and the answer is not thanks and at least still_upset; "
        "needs the agent's channel.")
    agent_empathy: bool = setting(
        True, "Move on to offer solution when the agent has acknowledged the customer's "
        "feelings (\"I understand how frustrating that is\") and the answer is not thanks "
        "and at least still_upset; needs the agent's channel.")
    still_upset: float = setting(
        0.0, "Fused anger at or above which the customer's answer to the agent's reflection "
        "or empathy counts as still upset; 0 counts any answer that is not thanks or relief "
        "(the agent heard the upset).", lo=0.0, hi=1.0)
    offer_refused: bool = setting(
        True, "Show escalate as soon as the customer flatly turns down the agent's offer "
        "(\"No. Absolutely not.\" after \"what I can do is...\"); needs the agent's channel.")
    close_after_raised_s: float = setting(
        15.0, "A call raised at least this long ends in close when anger falls; a shorter "
        "blip goes back to calm.", lo=0.0, hi=3600.0)
    close_needs_warmth: bool = setting(
        True, "A raised call ends in close only once the customer has sounded warm (thanks "
        "or relief at relief_sentiment, or an apology); a cold \"Fine. Whatever.\" holds the "
        "stage however far the level has fallen.")
    boundary_clear_s: float = setting(
        8.0, "Seconds without abuse before set a boundary may end.", lo=0.0, hi=600.0)
    apology_ends_boundary: bool = setting(
        True, "An apology with no new abuse (\"sorry for snapping\") ends set a boundary after "
        "its minimum dwell, however angry the complaint still sounds.")
    level_report_step: float = setting(
        0.02, "Between utterances, a LevelUpdate goes out when the decaying level has moved "
        "this much.", lo=0.001, hi=1.0)
    enter: EnterThresholds = field(default_factory=EnterThresholds)
    exit: ExitThresholds = field(default_factory=ExitThresholds)
    min_dwell_s: DwellTimes = field(default_factory=DwellTimes)
    persist_replies: PersistReplies = field(default_factory=PersistReplies)
    force: Mapping[str, Stage] = field(default_factory=_default_force)
    """Trigger name -> the stage it forces at once (escalate or boundary)."""


def ordering_problem(settings: EscalationSettings) -> tuple[str, str] | None:
    """The first threshold that is out of order, as (dotted key, what to do), or None."""
    enter, out = settings.enter, settings.exit
    checks = [
        ("enter.empathize", enter.empathize > enter.reflect,
         f"must be above enter.reflect ({enter.reflect})"),
        ("enter.solution", enter.solution > enter.empathize,
         f"must be above enter.empathize ({enter.empathize})"),
        ("escalate_level", settings.escalate_level >= enter.solution,
         f"must be at least enter.solution ({enter.solution})"),
        ("exit.reflect", out.reflect < enter.reflect,
         f"must be below enter.reflect ({enter.reflect})"),
        ("exit.empathize", out.empathize < enter.empathize,
         f"must be below enter.empathize ({enter.empathize})"),
        ("exit.solution", out.solution < enter.solution,
         f"must be below enter.solution ({enter.solution})"),
        ("exit.escalate", out.escalate < settings.escalate_level,
         f"must be below escalate_level ({settings.escalate_level})"),
        ("max_weight_s", settings.max_weight_s >= settings.min_weight_s,
         f"must be at least min_weight_s ({settings.min_weight_s})"),
    ]
    for key, ok, message in checks:
        if not ok:
            return key, message
    for name, stage in settings.force.items():
        if stage not in FORCEABLE:
            return f"force.{name}", "must be \"escalate\" or \"boundary\""
    return None


def trigger_label(name: str) -> str:
    return TRIGGER_LABELS.get(name, name.replace("_", " "))


class StageMachine:
    """One call's stage. Feed it events in audio-time order; it returns the events it causes.

    ``settings`` may be replaced mid-call (a hot-reloaded pack); the level and stage carry on.
    """

    def __init__(self, settings: EscalationSettings) -> None:
        self.settings = settings
        self._stage = Stage.CALM
        self._since = 0.0
        self._now = 0.0
        self._level = 0.0
        self._level_t = 0.0
        self._reported = 0.0
        # The call starts calm: a first angry utterance reads as a rise, not as "steady".
        self._history: deque[tuple[float, float]] = deque([(0.0, 0.0)])
        self._climb_streak = 0
        self._fall_streak = 0
        self._frustrated_replies = 0
        self._frustrated_run = 0
        self._warmed = False
        self._entry_level = 0.0
        self._high_since: float | None = None
        self._high_replies = 0
        self._acknowledged = ""
        self._reflected = ""
        self._partial_force: tuple[Stage, TriggerHit] | None = None
        self._raised_since: float | None = None
        self._last_abuse: float | None = None
        self._apology = ""
        self._before_boundary = Stage.CALM
        self._voice_streak = 0
        self._voice_last_id: int | None = None
        self._offer = ""

    @property
    def stage(self) -> Stage:
        return self._stage

    def level_at(self, t: float) -> float:
        """The smoothed level at audio time ``t``, decayed through any silence since."""
        quiet = max(0.0, t - self._level_t)
        return self._level * 0.5 ** (quiet / self.settings.silence_half_life_s)

    def trend_at(self, t: float) -> float:
        """Change of the level across the trend window (least-squares slope x window)."""
        window = self.settings.trend_window_s
        points = [(pt, lv) for pt, lv in self._history if pt >= t - window]
        if not points or t - points[-1][0] >= MIN_TREND_SPAN_S:
            points.append((t, self.level_at(t)))
        if len(points) < 2 or points[-1][0] - points[0][0] < MIN_TREND_SPAN_S:
            return 0.0
        return _slope(points) * window

    # --- inputs ---------------------------------------------------------------------------

    def on_scored(self, event: UtteranceScored) -> list[Event]:
        """A customer utterance scored from words and voice: LevelUpdate, maybe StageChanged."""
        now = self._advance(event.t)
        # The apology first: an insult in the same breath then takes it back at once.
        self._note_apology(event)
        out = (self._misheard(now, event) + self._apply_triggers(now, event.triggers)
               or self._turned_down(now, event))
        self._absorb(event)
        if not out:
            out = self._still_upset(now, event) or self._evaluate(now)
        level = self.level_at(now)
        self._reported = level
        out.append(LevelUpdate(t=now, level=level, trend=self.trend_at(now), stage=self._stage))
        return out

    def on_voice(self, event: VoiceCue) -> list[Event]:
        """A voice cue; a raised voice in several utterances in a row may leave calm early."""
        now = self._advance(event.t)
        settings = self.settings
        if event.arousal >= settings.voice_arousal:
            if event.utterance_id != self._voice_last_id:
                self._voice_streak += 1
                self._voice_last_id = event.utterance_id
        elif not event.partial:
            # The final cue speaks for the whole utterance: a calm one ends the run.
            self._voice_streak = 0
            self._voice_last_id = None
        if (settings.voice_early and self._stage in (Stage.CALM, Stage.CLOSE)
                and self._voice_streak >= settings.voice_utterances and self._dwell_over(now)):
            cue = f" ({event.cue})" if event.cue else ""
            reason = (f"raised voice in {self._voice_streak} utterances in a row{cue}, "
                      f"arousal {event.arousal:.2f}")
            return [self._move(now, Stage.REFLECT, reason)]
        return []

    def on_triggers(self, t: float, hits: tuple[TriggerHit, ...]) -> list[Event]:
        """Triggers heard in partial text, before the utterance is scored. They act at once,
        but the final text must confirm them (see :meth:`_misheard`)."""
        before = self._partial_force[0] if self._partial_force else self._stage
        out = self._apply_triggers(self._advance(t), hits)
        strongest = self._strongest_force(hits)
        if out and strongest is not None:
            self._partial_force = (before, strongest[1])
        return out

    def on_agent(self, t: float, said: AgentSaid) -> list[Event]:
        """What the agent has just done: a handover escalates at once; a reflection, empathy
        and an offer wait for the customer's answer (see :meth:`_still_upset` and
        :meth:`_turned_down`)."""
        now = self._advance(t)
        if said.offer:
            self._offer = said.offer
        settings = self.settings
        if said.handover and settings.agent_handover and self._stage is not Stage.ESCALATE:
            return [self._move(now, Stage.ESCALATE,
                               f"the agent is bringing in a supervisor: '{said.handover}'")]
        if said.empathy:
            self._acknowledged = said.empathy
        if said.reflection:
            self._reflected = said.reflection
        return []

    def tick(self, t: float) -> list[Event]:
        """Time passing: dwell ends, abuse clears, the level decays through silence."""
        now = self._advance(t)
        out = self._evaluate(now)
        level = self.level_at(now)
        if out or abs(level - self._reported) >= self.settings.level_report_step:
            self._reported = level
            out.append(LevelUpdate(t=now, level=level, trend=self.trend_at(now),
                                   stage=self._stage))
        return out

    # --- level bookkeeping -------------------------------------------------------------------

    def _advance(self, t: float) -> float:
        # Events from different threads can arrive a little out of order; time never runs back.
        self._now = max(self._now, t)
        return self._now

    def _absorb(self, event: UtteranceScored) -> None:
        settings = self.settings
        start_level = self.level_at(event.start) if event.start > self._level_t else self._level
        weight_s = min(max(event.end - event.start, settings.min_weight_s), settings.max_weight_s)
        pull = 1.0 - 0.5 ** (weight_s / settings.speech_half_life_s)
        self._level = start_level + pull * (event.anger - start_level)
        self._level_t = max(self._level_t, event.end)
        self._remember(self._level_t, self._level)
        frustrated = self._sounds_frustrated(event)
        self._frustrated_run = self._frustrated_run + 1 if frustrated else 0
        if event.start >= self._since and frustrated:
            self._frustrated_replies += 1
        self._count_climb(event)
        self._count_fall(event)
        self._warmed = self._warmed or self._sounds_warm(event)
        self._track_high(event)

    def _remember(self, t: float, level: float) -> None:
        self._history.append((t, level))
        # Keep a little more than the window: trend_window_s may grow on a pack reload.
        while self._history and self._history[0][0] < t - 2 * self.settings.trend_window_s:
            self._history.popleft()

    def _sounds_frustrated(self, event: UtteranceScored) -> bool:
        if event.anger >= self.settings.enter.reflect:
            return True
        arousal = event.voice_arousal
        return arousal is not None and arousal >= self.settings.voice_frustrated \
            and not event.thanks

    def _count_climb(self, event: UtteranceScored) -> None:
        rung = self._next_rung()
        threshold = self._enter(rung) if rung else math.inf
        if self._level < threshold:
            self._climb_streak = 0
            return
        self._climb_streak += 1
        if self._words_alone_climb(event):
            self._climb_streak = max(self._climb_streak, self.settings.confirm_utterances)

    def _words_alone_climb(self, event: UtteranceScored) -> bool:
        """Whether this utterance's words are evidence enough to climb on their own."""
        if event.word_anger < self.settings.words_confirm:
            return False
        return event.aimed or not self.settings.words_aimed or self._stage is not Stage.CALM

    def _count_fall(self, event: UtteranceScored) -> None:
        if self._level >= self._exit(self._stage):
            self._fall_streak = 0
            return
        self._fall_streak += 1
        if self._sounds_relieved(event):
            self._fall_streak = max(self._fall_streak, self.settings.confirm_utterances)

    def _sounds_relieved(self, event: UtteranceScored) -> bool:
        """Thanks for a fix ends recovery at once; a calm order number read out does not.

        Only on the ladder: once a supervisor is being brought in (or a boundary was set),
        a polite "thank you" is not yet the end of it.
        """
        return (self._stage in LADDER
                and event.anger <= self.settings.calm_confirm
                and self._warm_words(event))

    def _sounds_warm(self, event: UtteranceScored) -> bool:
        """Thanks, relief or an apology: what lets a fallen level end in close. Judged on the
        words, as joy is loud too."""
        if event.apology:
            return True
        return event.word_anger < self.settings.enter.reflect and self._warm_words(event)

    def _warm_words(self, event: UtteranceScored) -> bool:
        """Thanks or relief in the words, and not a question about the fix."""
        return (event.sentiment >= self.settings.relief_sentiment
                and not _checks_the_fix(event))

    def _track_high(self, event: UtteranceScored) -> None:
        if self._stage is not Stage.SOLUTION or self._level < self.settings.escalate_level:
            self._high_since = None
            self._high_replies = 0
            return
        if self._high_since is None:
            self._high_since = max(self._since, event.start)
        # A reply that thanks the agent ("thank you, that's all I wanted someone to say. But
        # I'm sick of chasing you") is still angry, but the effort landed.
        if event.start >= self._since and not event.thanks:
            self._high_replies += 1

    # --- decisions ---------------------------------------------------------------------------

    def _evaluate(self, now: float) -> list[Event]:
        if not self._dwell_over(now):
            return []
        level = self.level_at(now)
        decision = self._decide(now, level)
        if decision is None:
            return []
        stage, reason = decision
        return [self._move(now, stage, reason)]

    def _decide(self, now: float, level: float) -> tuple[Stage, str] | None:
        stage = self._stage
        if stage is Stage.BOUNDARY:
            return self._leave_boundary(now, level)
        if stage is Stage.ESCALATE:
            return self._calmed(now, level)
        climb = self._climb(now, level)
        if climb:
            return climb
        if stage is Stage.SOLUTION:
            return self._escalate_on_persistence(now, level) or self._calmed(now, level)
        if stage in (Stage.REFLECT, Stage.EMPATHIZE):
            return self._calmed(now, level) or self._persisted(level)
        return self._frustrated_in_a_row(level)

    def _climb(self, now: float, level: float) -> tuple[Stage, str] | None:
        rung = self._next_rung()
        if rung is None or level < self._enter(rung):
            return None
        if self._climb_streak < self.settings.confirm_utterances:
            return None
        trend = self.trend_at(now)
        return rung, f"anger {level:.2f} {self._trend_word(trend)} over " \
                     f"{self.settings.trend_window_s:.0f} s"

    def _persisted(self, level: float) -> tuple[Stage, str] | None:
        stage = self._stage
        needed = int(getattr(self.settings.persist_replies, stage.value))
        replies = self._frustrated_replies
        if needed <= 0 or replies < needed:
            return None
        rung = self._next_rung()
        assert rung is not None, "persistence applies to reflect and empathize only"
        return rung, (f"still frustrated after {replies} {'reply' if replies == 1 else 'replies'}"
                      f" in {stage.label} (anger {level:.2f})")

    def _frustrated_in_a_row(self, level: float) -> tuple[Stage, str] | None:
        """Calm (or close) to reflect back on frustration the level has not caught up with."""
        run = self._frustrated_run
        if run < self.settings.voice_utterances:
            return None
        return Stage.REFLECT, f"sounded frustrated in {run} utterances in a row (anger {level:.2f})"

    def _escalate_on_persistence(self, now: float, level: float) -> tuple[Stage, str] | None:
        settings = self.settings
        if self._high_since is None or level < settings.escalate_level:
            return None
        held = now - self._high_since
        if self._high_replies < settings.escalate_after_replies:
            return None
        if held >= settings.escalate_after_s:
            return Stage.ESCALATE, (f"anger stayed above {settings.escalate_level:.2f} for "
                                    f"{held:.0f} s in offer solution")
        if level - self._entry_level >= settings.escalate_rise:
            return Stage.ESCALATE, (f"anger rose from {self._entry_level:.2f} to {level:.2f} "
                                    "after the offer")
        return None

    def _calmed(self, now: float, level: float) -> tuple[Stage, str] | None:
        if level >= self._exit(self._stage):
            return None
        if self._fall_streak < self.settings.confirm_utterances:
            return None
        raised_for = now - self._raised_since if self._raised_since is not None else 0.0
        if raised_for >= self.settings.close_after_raised_s:
            if self.settings.close_needs_warmth and not self._warmed:
                return None
            return Stage.CLOSE, f"anger down to {level:.2f} after {raised_for:.0f} s raised"
        return Stage.CALM, f"anger back to {level:.2f}: a passing moment"

    def _note_apology(self, event: UtteranceScored) -> None:
        """An apology counts only inside a boundary; abuse heard after it (even "sorry, but
        you're an idiot") takes it back in _apply_triggers."""
        if self._stage is Stage.BOUNDARY and event.apology:
            self._apology = event.apology

    def _leave_boundary(self, now: float, level: float) -> tuple[Stage, str] | None:
        if self._apology and self.settings.apology_ends_boundary:
            return self._after_boundary(), f"the customer apologised ('{self._apology}')"
        quiet = now - (self._last_abuse if self._last_abuse is not None else self._since)
        if quiet < self.settings.boundary_clear_s or level >= self.settings.exit.boundary:
            return None
        return self._after_boundary(), f"no abuse for {quiet:.0f} s and anger down to {level:.2f}"

    def _after_boundary(self) -> Stage:
        """Escalated calls stay escalated; otherwise the outburst counts as anger rising, so
        the ladder resumes one rung above where it was (never past offer solution)."""
        before = self._before_boundary
        if before is Stage.ESCALATE:
            return Stage.ESCALATE
        if before is Stage.CLOSE or before not in LADDER:
            return Stage.REFLECT
        return LADDER[min(LADDER.index(before) + 1, len(LADDER) - 1)]

    def _still_upset(self, now: float, event: UtteranceScored) -> list[Event]:
        """The next rung once the agent has done this one and the customer's answer is not
        thanks or relief: empathize after a reflection ("frustration persists"), offer
        solution after empathy ("feelings acknowledged, anger still present"). Judged after
        the answer is absorbed, so an offer is later weighed against the level the answer
        left, not against the level before it."""
        empathy, self._acknowledged = self._acknowledged, ""
        reflection, self._reflected = self._reflected, ""
        settings = self.settings
        if (event.thanks or self._sounds_relieved(event)
                or event.anger < settings.still_upset):
            return []
        if empathy and settings.agent_empathy and self._stage in FEELINGS_FIRST:
            return [self._move(now, Stage.SOLUTION, f"still upset after the agent acknowledged "
                                                    f"the feelings ('{empathy}')")]
        if reflection and settings.agent_reflect and self._stage in BEFORE_EMPATHY:
            return [self._move(now, Stage.EMPATHIZE, f"still upset after the agent reflected "
                                                     f"back the problem ('{reflection}')")]
        return []

    def _turned_down(self, now: float, event: UtteranceScored) -> list[Event]:
        """Escalate if this utterance flatly refuses the offer the agent has just made."""
        offer, self._offer = self._offer, ""
        if (not offer or not event.refusal or not self.settings.offer_refused
                or self._stage in (Stage.ESCALATE, Stage.BOUNDARY)):
            return []
        return [self._move(now, Stage.ESCALATE,
                           f"turned down the agent's offer ('{offer}'): '{event.refusal}'")]

    def _apply_triggers(self, now: float, hits: tuple[TriggerHit, ...]) -> list[Event]:
        strongest = self._strongest_force(hits)
        if strongest is None:
            return []
        stage, hit = strongest
        if stage is Stage.BOUNDARY:
            self._last_abuse = now
            self._apology = ""  # taken back by the next insult
        if stage is self._stage:
            return []
        return [self._move(now, stage, f"{trigger_label(hit.name)}: '{hit.words}'")]

    def _strongest_force(self, hits: tuple[TriggerHit, ...]) -> tuple[Stage, TriggerHit] | None:
        """The stage these triggers force and the hit that forces it; abuse comes first, as
        a boundary is set before anything else can be worked on."""
        forced = [(self.settings.force[hit.name], hit) for hit in hits
                  if hit.name in self.settings.force]
        return max(forced, key=lambda pair: pair[0] is Stage.BOUNDARY) if forced else None

    def _misheard(self, now: float, event: UtteranceScored) -> list[Event]:
        """Undo a stage that a trigger in partial text forced if the final text, the
        recogniser's better hearing of the same words, does not have that trigger: "Hello
        Sue" heard for a moment as "the lawsuit" must not escalate a calm call."""
        if self._partial_force is None:
            return []
        before, hit = self._partial_force
        self._partial_force = None
        forced = self.settings.force.get(hit.name)
        if hit.name in {final.name for final in event.triggers} or self._stage is not forced:
            return []
        if forced is Stage.BOUNDARY:
            self._last_abuse = None
        return [self._move(now, before, f"misheard '{hit.words}': the final words do not "
                                        "have it")]

    # --- helpers -----------------------------------------------------------------------------

    def _move(self, now: float, stage: Stage, reason: str) -> StageChanged:
        previous = self._stage
        if stage in RAISED and self._raised_since is None:
            self._raised_since = now
        if stage not in RAISED:
            self._raised_since = None
        if stage is Stage.BOUNDARY:
            self._before_boundary = previous
        self._apology = ""
        self._stage = stage
        self._since = now
        self._climb_streak = 0
        self._fall_streak = 0
        self._frustrated_replies = 0
        self._frustrated_run = 0
        self._warmed = False
        level = self.level_at(now)
        self._entry_level = level
        # Offer solution entered while already plainly angry: the clock for escalating runs
        # from now, not from the first reply.
        high = stage is Stage.SOLUTION and level >= self.settings.escalate_level
        self._high_since = now if high else None
        self._high_replies = 0
        self._voice_streak = 0
        self._voice_last_id = None
        log.info("stage %s -> %s at %.1f s: %s", previous.value, stage.value, now, reason)
        return StageChanged(t=now, stage=stage, previous=previous, reason=reason, level=level,
                            trend=self.trend_at(now))

    def _dwell_over(self, now: float) -> bool:
        return now - self._since >= self.settings.min_dwell_s.of(self._stage)

    def _next_rung(self) -> Stage | None:
        if self._stage is Stage.CLOSE:
            return Stage.REFLECT
        if self._stage not in LADDER or self._stage is LADDER[-1]:
            return None
        return LADDER[LADDER.index(self._stage) + 1]

    def _enter(self, rung: Stage) -> float:
        return float(getattr(self.settings.enter, rung.value))

    def _exit(self, stage: Stage) -> float:
        """The stage's exit threshold; calm and close have none (nothing is below them)."""
        return float(getattr(self.settings.exit, stage.value, -math.inf))

    def _trend_word(self, trend: float) -> str:
        if trend >= self.settings.rising_trend:
            return "rising"
        if trend <= -self.settings.rising_trend:
            return "falling"
        return "steady"


def _checks_the_fix(event: UtteranceScored) -> bool:
    """A reply that ends by asking about the fix, with no thanks or apology ("Great. And how
    long does the refund take?", "You're sure there's room?"), is the caller pinning the offer
    down, not relief: its warm opening words are how a wary caller takes an offer too."""
    return event.text.rstrip().endswith("?") and not (event.thanks or event.apology)


def _slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread
