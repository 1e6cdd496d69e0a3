"""Call summaries on the record: stored as JSON with the call, and rebuilt from its rows.

The pipeline sends a :class:`~assist.events.CallSummarized` before every CallEnded; the store
keeps it (free text redacted) in ``calls.summary`` and its outcome in ``calls.outcome``. A call
that never got one (the overlay was killed mid-call, or it was recorded by an older assist)
is summarised from what was stored about it, through the same :func:`assist.summary.summarize`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from assist.events import (
    CallSummarized,
    Event,
    FinalText,
    LevelUpdate,
    Outcome,
    PromptOutcome,
    PromptShown,
    Speaker,
    Stage,
    StageChanged,
    TriggerHit,
    UtteranceScored,
    event_to_dict,
)
from assist.store.redaction import redact
from assist.store.schema import Call, Utterance
from assist.summary import summarize

log = logging.getLogger(__name__)


def redacted(summary: CallSummarized) -> CallSummarized:
    """The summary with the text that may echo the caller (headlines, promises) redacted."""
    prompts = tuple(dataclasses.replace(p, headline=redact(p.headline)) for p in summary.prompts)
    return dataclasses.replace(summary, prompts=prompts,
                               follow_ups=tuple(redact(f) for f in summary.follow_ups))


def store_summary(call: Call, summary: CallSummarized) -> None:
    """Keep ``summary`` on the call row, redacted, under the call's own id."""
    kept = redacted(dataclasses.replace(summary, call_id=call.id))
    call.summary = json.dumps(event_to_dict(kept), ensure_ascii=False)
    call.outcome = kept.outcome.value


def summary_from_json(stored: str | None) -> CallSummarized | None:
    """The summary kept on a call row; None when there is none or it cannot be read."""
    if not stored:
        return None
    try:
        return _summary_from_dict(json.loads(stored))
    except (ValueError, KeyError, TypeError) as e:
        # Not a summary this version wrote (hand-edited, or free text from an older store).
        log.warning("ignoring an unreadable stored call summary (%s)", e)
        return None


def _summary_from_dict(data: dict[str, Any]) -> CallSummarized:
    return CallSummarized(
        t=float(data["t"]), wall=float(data.get("wall", 0.0)), call_id=str(data["call_id"]),
        duration_s=float(data["duration_s"]), peak_anger=float(data["peak_anger"]),
        final_anger=float(data["final_anger"]),
        stage_seconds=tuple((Stage(stage), float(seconds))
                            for stage, seconds in data["stage_seconds"]),
        prompts=tuple(_prompt_from_dict(p) for p in data["prompts"]),
        triggers=tuple(str(t) for t in data["triggers"]), outcome=Outcome(data["outcome"]),
        follow_ups=tuple(str(f) for f in data.get("follow_ups", ())))


def _prompt_from_dict(data: dict[str, Any]) -> PromptOutcome:
    after = data["anger_after"]
    fell = data["fell"]
    return PromptOutcome(t=float(data["t"]), stage=Stage(data["stage"]),
                         headline=str(data["headline"]), anger_before=float(data["anger_before"]),
                         anger_after=None if after is None else float(after),
                         fell=None if fell is None else bool(fell))


def rebuild_summary(call: Call, *, abrupt: bool) -> CallSummarized:
    """Summarise a call from its stored rows, as the pipeline would have from its events."""
    return summarize(call.id, events_from_rows(call), call.duration or 0.0, abrupt=abrupt)


def events_from_rows(call: Call) -> list[Event]:
    """The events a summary needs, reconstructed from the call's rows, in audio-time order."""
    triggers: dict[int, list[TriggerHit]] = {}
    for row in call.triggers:
        triggers.setdefault(row.utterance_id, []).append(TriggerHit(name=row.name,
                                                                    words=row.words))
    events: list[Event] = []
    for utterance in call.utterances:
        events += _utterance_events(utterance, tuple(triggers.get(utterance.utterance_id, ())))
    events += [StageChanged(t=s.t, stage=Stage(s.stage), previous=Stage(s.previous),
                            reason=s.reason, level=s.level, trend=s.trend)
               for s in call.stage_changes]
    events += [PromptShown(t=p.t, stage=Stage(p.stage), headline=p.headline, line=p.line)
               for p in call.prompts]
    events += [LevelUpdate(t=lv.t, level=lv.level, trend=lv.trend, stage=Stage(lv.stage))
               for lv in call.levels]
    # Stable: at one instant a stage change still comes before the prompt it brought.
    return sorted(events, key=lambda event: event.t)


def _utterance_events(row: Utterance, triggers: tuple[TriggerHit, ...]) -> list[Event]:
    if row.speaker == Speaker.AGENT.value and row.text:
        return [FinalText(t=row.end, speaker=Speaker.AGENT, utterance_id=row.utterance_id,
                          start=row.start, end=row.end, text=row.text)]
    if row.speaker == Speaker.CUSTOMER.value and row.anger is not None:
        return [UtteranceScored(t=row.end, utterance_id=row.utterance_id, start=row.start,
                                end=row.end, text=row.text, word_anger=row.word_anger or 0.0,
                                voice_arousal=row.voice_arousal, anger=row.anger,
                                evidence=tuple(row.evidence_list), voice_cue=row.voice_cue,
                                triggers=triggers)]
    return []  # a customer line Whisper finished but the scorer never reached
