"""Did a prompt help? Anger after each prompt, and the agents' marks, from the call store.

For every prompt shown (grouped by stage and headline): the customer's anger in the minute
after it, minus their anger just before it, measured as the overlay's summary card measures it
(:func:`assist.summary.anger_around`). A prompt with no scored utterance on either side is
counted as shown but gives no change. Agents' feedback (the overlay's ``feedback``
action, ``useful`` or ``not_useful``) counts for the last prompt shown before it in that call.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from assist.store.schema import ActionRow, PromptRow, Utterance
from assist.summary import PROMPT_EFFECT_WINDOW_S, anger_around

R = TypeVar("R", PromptRow, Utterance, ActionRow)
USEFUL = "useful"
NOT_USEFUL = "not_useful"


@dataclass(frozen=True)
class PromptEffect:
    stage: str
    headline: str
    shown: int
    changes: tuple[float, ...]
    useful: int
    not_useful: int

    @property
    def mean_change(self) -> float | None:
        return sum(self.changes) / len(self.changes) if self.changes else None


@dataclass
class _Tally:
    shown: int = 0
    changes: list[float] = field(default_factory=list)
    useful: int = 0
    not_useful: int = 0


@dataclass(frozen=True)
class _CallRows:
    prompts: list[PromptRow]
    angers: list[tuple[float, float]]  # (start, anger) of scored customer utterances
    feedback: list[ActionRow]


def prompt_effects(session: Session, *, window_s: float = PROMPT_EFFECT_WINDOW_S) -> list[PromptEffect]:
    """One row per (stage, headline) across every stored call, most shown first."""
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for rows in _calls(session):
        _tally_call(rows, tallies, window_s)
    effects = [PromptEffect(stage=stage, headline=headline, shown=t.shown,
                            changes=tuple(t.changes), useful=t.useful, not_useful=t.not_useful)
               for (stage, headline), t in tallies.items()]
    return sorted(effects, key=lambda e: (-e.shown, e.stage, e.headline))


def _calls(session: Session) -> Iterable[_CallRows]:
    prompts = _by_call(session.scalars(select(PromptRow).order_by(PromptRow.t)))
    utterances = _by_call(session.scalars(
        select(Utterance).where(Utterance.speaker == "customer", Utterance.anger.is_not(None))
        .order_by(Utterance.start)))
    feedback = _by_call(session.scalars(
        select(ActionRow).where(ActionRow.action == "feedback").order_by(ActionRow.t)))
    for call_id, call_prompts in prompts.items():
        angers = [(u.start, float(u.anger)) for u in utterances.get(call_id, [])
                  if u.anger is not None]
        yield _CallRows(call_prompts, angers, feedback.get(call_id, []))


def _by_call(rows: Iterable[R]) -> dict[str, list[R]]:
    grouped: dict[str, list[R]] = defaultdict(list)
    for row in rows:
        grouped[row.call_id].append(row)
    return grouped


def _tally_call(rows: _CallRows, tallies: dict[tuple[str, str], _Tally], window_s: float) -> None:
    for prompt in rows.prompts:
        tally = tallies[(prompt.stage, prompt.headline)]
        tally.shown += 1
        before, after = anger_around(rows.angers, prompt.t, window_s)
        if before is not None and after is not None:
            tally.changes.append(after - before)
    prompt_times = [p.t for p in rows.prompts]
    for action in rows.feedback:
        i = bisect.bisect_right(prompt_times, action.t)
        if not i:
            continue
        tally = tallies[(rows.prompts[i - 1].stage, rows.prompts[i - 1].headline)]
        if action.value == USEFUL:
            tally.useful += 1
        elif action.value == NOT_USEFUL:
            tally.not_useful += 1
