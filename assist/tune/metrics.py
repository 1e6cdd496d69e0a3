"""How well a setting's stages match a call's labels.

For each call, from its stage changes and its labels:

- agreement: the share of label moments at which the stage showing is the labelled one;
- missed escalations: runs of consecutive labels asking for escalate (or for a boundary)
  during which that stage never showed, up to the run's last label;
- unwanted prompts: stage changes to a stage that neither the label before nor the label
  after asked for (the change happened somewhere between them, so either is fair), per hour;
- how early: for each escalation that was caught, seconds between the stage showing and the
  label moment that wanted it (positive: ahead of it).

Settings are ranked by :meth:`Scorecard.rank_key`: no missed escalation first (a supervisor
who is never called is the costliest mistake), then agreement, then fewer unwanted prompts,
then earlier escalation.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assist.events import Stage, StageChanged
from assist.tune.labels import Label

ESCALATION_STAGES = frozenset({Stage.ESCALATE, Stage.BOUNDARY})
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Scorecard:
    labels: int
    agreed: int
    escalations: int
    missed: int
    unwanted_prompts: int
    hours: float
    early_s: tuple[float, ...] = ()

    @property
    def agreement(self) -> float:
        return self.agreed / self.labels if self.labels else 1.0

    @property
    def unwanted_per_hour(self) -> float:
        return self.unwanted_prompts / self.hours if self.hours else 0.0

    @property
    def mean_early_s(self) -> float | None:
        return sum(self.early_s) / len(self.early_s) if self.early_s else None

    def rank_key(self) -> tuple[float, ...]:
        """Smaller is better (for ``min``/``sorted``)."""
        early = self.mean_early_s
        return (self.missed, -self.agreement, self.unwanted_per_hour,
                -(early if early is not None else -1e9))

    def __add__(self, other: Scorecard) -> Scorecard:
        return Scorecard(labels=self.labels + other.labels, agreed=self.agreed + other.agreed,
                         escalations=self.escalations + other.escalations,
                         missed=self.missed + other.missed,
                         unwanted_prompts=self.unwanted_prompts + other.unwanted_prompts,
                         hours=self.hours + other.hours, early_s=self.early_s + other.early_s)


EMPTY = Scorecard(labels=0, agreed=0, escalations=0, missed=0, unwanted_prompts=0, hours=0.0)


def total(cards: Iterable[Scorecard]) -> Scorecard:
    return sum(cards, EMPTY)


class StageTimeline:
    """Which stage was showing at any moment, from a call's stage changes."""

    def __init__(self, changes: Sequence[StageChanged]) -> None:
        self.times = [c.t for c in changes]
        self.stages = [c.stage for c in changes]

    def at(self, t: float) -> Stage:
        i = bisect.bisect_right(self.times, t)
        return self.stages[i - 1] if i else Stage.CALM

    def first_entry(self, stage: Stage, after: float, until: float) -> float | None:
        """When ``stage`` was first showing in (after, until]; ``after`` itself counts if it was."""
        if self.at(after) is stage:
            return after
        lo = bisect.bisect_right(self.times, after)
        hi = bisect.bisect_right(self.times, until)
        for i in range(lo, hi):
            if self.stages[i] is stage:
                return self.times[i]
        return None


def score_call(changes: Sequence[StageChanged], labels: Sequence[Label],
               duration: float) -> Scorecard:
    timeline = StageTimeline(changes)
    agreed = sum(1 for label in labels if timeline.at(label.t) is label.stage)
    episodes = _escalation_episodes(labels)
    early: list[float] = []
    missed = 0
    for previous_t, episode in episodes:
        entered = timeline.first_entry(episode[0].stage, previous_t, episode[-1].t)
        if entered is None:
            missed += 1
        else:
            early.append(episode[0].t - entered)
    return Scorecard(labels=len(labels), agreed=agreed, escalations=len(episodes),
                     missed=missed, unwanted_prompts=_unwanted(changes, labels),
                     hours=duration / SECONDS_PER_HOUR, early_s=tuple(early))


def _escalation_episodes(labels: Sequence[Label]) -> list[tuple[float, list[Label]]]:
    """Runs of labels wanting the same escalation stage, each with the label time before it."""
    episodes: list[tuple[float, list[Label]]] = []
    previous_t = 0.0
    current: list[Label] = []
    for label in labels:
        if current and label.stage is not current[0].stage:
            current = []
        if label.stage in ESCALATION_STAGES:
            if not current:
                current = [label]
                episodes.append((previous_t, current))
            else:
                current.append(label)
        previous_t = label.t
    return episodes


def _unwanted(changes: Sequence[StageChanged], labels: Sequence[Label]) -> int:
    if not labels:
        return 0
    times = [label.t for label in labels]
    unwanted = 0
    for change in changes:
        i = bisect.bisect_left(times, change.t)
        before = labels[i - 1].stage if i else Stage.CALM
        after = labels[i].stage if i < len(labels) else labels[-1].stage
        if change.stage not in (before, after):
            unwanted += 1
    return unwanted
