"""Reading the store: the review app's lists and pages, exports, alerts, history, users."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from assist.events import CallSummarized, Outcome, Stage, event_to_dict, stage_label
from assist.store.recorder import ENDED_ABRUPTLY, STAGE_RANK
from assist.store.schema import Call, NoteRow, StageChangeRow, User, Utterance
from assist.store.summaries import rebuild_summary, summary_from_json
from assist.summary import render_card

ALERT_STAGES = (Stage.ESCALATE.value, Stage.BOUNDARY.value)
OUTCOMES = tuple(o.value for o in Outcome)  # what the list can filter calls.outcome by
LIKE_ESCAPE = "\\"
DEFAULT_LIMIT = 200


@dataclass(frozen=True)
class CallFilter:
    """What the supervisor asked the list for; every field is optional."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    agent: str = ""
    stage: str = ""             # calls that reached this stage
    min_anger: float | None = None
    reviewed: bool | None = None
    search: str = ""            # words in the (redacted) transcript
    outcome: str = ""           # the summary's outcome, e.g. "ended angry"
    zone: dt.tzinfo | None = dt.UTC  # whose midnight the dates mean; None: this machine's
    limit: int = DEFAULT_LIMIT


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands datetimes back naive; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def in_zone(value: dt.datetime | None, zone: dt.tzinfo | None) -> dt.datetime | None:
    """A stored time as the clock in ``zone`` showed it (None: this machine's time zone)."""
    stamp = as_utc(value)
    return stamp.astimezone(zone) if stamp else None


def like_pattern(words: str) -> str:
    """A LIKE pattern matching ``words`` literally anywhere (``%`` and ``_`` escaped)."""
    escaped = (words.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%")
               .replace("_", LIKE_ESCAPE + "_"))
    return f"%{escaped}%"


def list_calls(session: Session, wanted: CallFilter) -> Sequence[Call]:
    """Matching calls: flagged and not yet reviewed first (what needs a supervisor), then the
    rest, newest first. Reviewed flags sink, so weeks of them never bury today's."""
    needs_review = case((and_(Call.flagged.is_(True), Call.reviewed.is_(False)), 0), else_=1)
    statement = _filtered(select(Call), wanted)
    statement = statement.order_by(needs_review, Call.started_at.desc()).limit(wanted.limit)
    return session.scalars(statement).all()


def needing_review(session: Session) -> int:
    """Flagged calls nobody has reviewed yet, whatever the list's filters."""
    return session.scalar(select(func.count()).select_from(Call).where(
        Call.flagged.is_(True), Call.reviewed.is_(False))) or 0


def _filtered(statement: Select[Call], wanted: CallFilter) -> Select[Call]:
    if wanted.date_from:
        statement = statement.where(Call.started_at >= _midnight(wanted.date_from, wanted.zone))
    if wanted.date_to:
        statement = statement.where(
            Call.started_at < _midnight(wanted.date_to + dt.timedelta(days=1), wanted.zone))
    if wanted.agent:
        statement = statement.where(Call.agent == wanted.agent)
    if wanted.stage:
        statement = statement.where(or_(Call.top_stage == wanted.stage, exists().where(
            StageChangeRow.call_id == Call.id, StageChangeRow.stage == wanted.stage)))
    if wanted.min_anger is not None:
        statement = statement.where(Call.peak_anger >= wanted.min_anger)
    if wanted.outcome:
        statement = statement.where(Call.outcome == wanted.outcome)
    if wanted.reviewed is not None:
        statement = statement.where(Call.reviewed.is_(wanted.reviewed))
    if wanted.search:
        statement = statement.where(exists().where(
            Utterance.call_id == Call.id,
            Utterance.text.ilike(like_pattern(wanted.search), escape=LIKE_ESCAPE)))
    return statement


def _midnight(day: dt.date, zone: dt.tzinfo | None) -> dt.datetime:
    """The UTC instant at which ``day`` begins in ``zone`` (None: this machine's time zone)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    # A naive datetime's astimezone() reads it as this machine's local time, with the
    # daylight-saving rule of that date (not today's offset).
    return start.astimezone(dt.UTC)


def agents(session: Session) -> Sequence[str]:
    return session.scalars(select(Call.agent).distinct().order_by(Call.agent)).all()


def get_call(session: Session, call_id: str) -> Call | None:
    """One call with everything recorded about it."""
    return session.scalars(
        select(Call).where(Call.id == call_id).options(
            selectinload(Call.utterances), selectinload(Call.stage_changes),
            selectinload(Call.prompts), selectinload(Call.triggers), selectinload(Call.actions),
            selectinload(Call.levels), selectinload(Call.notes))).first()


def utterances_with_audio(session: Session, call_id: str) -> set[int]:
    """Row ids of the call's utterances whose audio was kept."""
    return set(session.scalars(select(Utterance.id).where(
        Utterance.call_id == call_id, Utterance.audio_flac.is_not(None))))


def utterance_audio(session: Session, call_id: str, row_id: int) -> bytes | None:
    """One utterance's kept audio as FLAC, if there is any."""
    return session.scalars(select(Utterance.audio_flac).where(
        Utterance.call_id == call_id, Utterance.id == row_id)).first()


def mark_reviewed(session: Session, call: Call, reviewer: str, now: dt.datetime) -> None:
    call.reviewed = True
    call.reviewed_by = reviewer
    call.reviewed_at = now


def add_note(session: Session, call: Call, author: str, text: str, now: dt.datetime) -> None:
    session.add(NoteRow(call_id=call.id, author=author, text=text, created_at=now))


def latest_alert_id(session: Session) -> int:
    newest = session.scalars(select(StageChangeRow.id).where(
        StageChangeRow.stage.in_(ALERT_STAGES)).order_by(StageChangeRow.id.desc()).limit(1)).first()
    return newest or 0


def alerts_after(session: Session, after_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """Calls that reached escalate or a boundary since alert ``after_id``, oldest first."""
    rows = session.execute(
        select(StageChangeRow, Call.agent).join(Call, Call.id == StageChangeRow.call_id)
        .where(StageChangeRow.id > after_id, StageChangeRow.stage.in_(ALERT_STAGES))
        .order_by(StageChangeRow.id).limit(limit)).all()
    return [{"id": change.id, "call_id": change.call_id, "agent": agent, "stage": change.stage,
             "reason": change.reason, "at": _iso(change.created_at)} for change, agent in rows]


def recent_calls(session: Session, agent: str, limit: int = 20) -> Sequence[Call]:
    return session.scalars(select(Call).where(Call.agent == agent)
                           .order_by(Call.started_at.desc()).limit(limit)).all()


def outcome(call: Call) -> str:
    """A few words on how the call ended: its summary's outcome, else read from its stages."""
    if call.ended_at is None:
        return "in progress"
    if call.outcome:
        return call.outcome
    # Calls recorded before summaries existed have no outcome column to go by.
    if call.end_reason == ENDED_ABRUPTLY:
        return "ended abruptly"
    final = Stage(call.final_stage)
    if final in (Stage.ESCALATE, Stage.BOUNDARY):
        return f"ended at {final.value}"
    if STAGE_RANK[Stage(call.top_stage)] > 0 and final in (Stage.CLOSE, Stage.CALM):
        return "calmed down"
    if STAGE_RANK[Stage(call.top_stage)] == 0:
        return "calm"
    return f"ended at {final.value}"


def summary_of(call: Call) -> CallSummarized:
    """The call's stored summary; for a call recorded before summaries, one from its rows."""
    stored = summary_from_json(call.summary)
    if stored is not None:
        return stored
    return rebuild_summary(call, abrupt=call.end_reason == ENDED_ABRUPTLY)


def find_call(session: Session, call_id: str, agent: str) -> Call | None:
    """One of ``agent``'s calls, with everything recorded about it."""
    call = get_call(session, call_id)
    return call if call is not None and call.agent == agent else None


# --- export ----------------------------------------------------------------------------------


def call_to_dict(call: Call) -> dict[str, Any]:
    """Everything about a call, JSON-ready (no audio)."""
    return {
        "id": call.id, "agent": call.agent, "host": call.host, "source": call.source,
        "started_at": _iso(call.started_at), "ended_at": _iso(call.ended_at),
        "duration": call.duration, "end_reason": call.end_reason, "outcome": outcome(call),
        "peak_anger": call.peak_anger, "peak_level": call.peak_level,
        "top_stage": call.top_stage, "flagged": call.flagged,
        "flag_reasons": call.flag_reason_list, "reviewed": call.reviewed,
        "reviewed_by": call.reviewed_by, "reviewed_at": _iso(call.reviewed_at),
        "utterances": [
            {"utterance_id": u.utterance_id, "speaker": u.speaker, "start": u.start,
             "end": u.end, "text": u.text, "word_anger": u.word_anger,
             "voice_arousal": u.voice_arousal, "anger": u.anger, "evidence": u.evidence_list,
             "voice_cue": u.voice_cue} for u in call.utterances],
        "stage_changes": [
            {"t": s.t, "stage": s.stage, "previous": s.previous, "reason": s.reason,
             "level": s.level, "trend": s.trend} for s in call.stage_changes],
        "prompts": [{"t": p.t, "stage": p.stage, "headline": p.headline, "line": p.line}
                    for p in call.prompts],
        "triggers": [{"t": t.t, "utterance_id": t.utterance_id, "name": t.name,
                      "words": t.words} for t in call.triggers],
        "agent_actions": [{"t": a.t, "action": a.action, "value": a.value}
                          for a in call.actions],
        "levels": [{"t": lv.t, "level": lv.level, "trend": lv.trend, "stage": lv.stage}
                   for lv in call.levels],
        "notes": [{"author": n.author, "at": _iso(n.created_at), "text": n.text}
                  for n in call.notes],
        "summary": _summary_dict(call),
    }


def _summary_dict(call: Call) -> dict[str, Any] | None:
    if call.ended_at is None:
        return None  # still being recorded: nothing final to say yet
    fields = event_to_dict(summary_of(call))
    return {key: value for key, value in fields.items() if key not in ("type", "wall")}


CSV_COLUMNS = ("call_id", "agent", "started_at", "t", "kind", "speaker", "stage", "text", "anger",
               "word_anger", "voice_arousal", "detail")
"""Every row names its call, so exports of several calls can be put in one sheet."""


def call_to_csv(call: Call) -> str:
    """The call as one time-ordered CSV row per utterance, stage change, prompt, trigger, action;
    seconds into the call to a tenth, scores to three places, stages by their playbook names."""
    rows: list[dict[str, Any]] = []
    rows += [{"t": u.start, "kind": "utterance", "speaker": u.speaker, "text": u.text,
              "anger": u.anger, "word_anger": u.word_anger, "voice_arousal": u.voice_arousal,
              "detail": "; ".join(u.evidence_list)} for u in call.utterances]
    rows += [{"t": s.t, "kind": "stage", "stage": stage_label(s.stage), "text": s.reason,
              "detail": f"from {stage_label(s.previous)}, level {s.level:.2f}"}
             for s in call.stage_changes]
    rows += [{"t": p.t, "kind": "prompt", "stage": stage_label(p.stage), "text": p.line,
              "detail": p.headline} for p in call.prompts]
    rows += [{"t": t.t, "kind": "trigger", "text": t.words, "detail": t.name.replace("_", " ")}
             for t in call.triggers]
    rows += [{"t": a.t, "kind": f"agent {a.action}", "text": a.value} for a in call.actions]
    rows.sort(key=lambda row: row["t"])
    if call.ended_at is not None:
        rows.append(_summary_row(call))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    whose = {"call_id": call.id, "agent": call.agent, "started_at": _iso(call.started_at)}
    for row in rows:
        writer.writerow({key: _csv_safe(_rounded(key, value))
                         for key, value in {**whose, **row}.items()})
    return out.getvalue()


def _summary_row(call: Call) -> dict[str, Any]:
    """The call's summary as the last row: the card's lines (outcome first) and follow-ups."""
    summary = summary_of(call)
    return {"t": summary.t, "kind": "summary",
            "text": render_card(summary).replace("\n", " | "), "anger": summary.peak_anger,
            "detail": "; ".join(summary.follow_ups)}


def _rounded(column: str, value: Any) -> Any:
    if not isinstance(value, float):
        return value
    return round(value, 1) if column == "t" else round(value, 3)


def _csv_safe(value: Any) -> Any:
    # A transcript line starting with "=" must not become a formula in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _iso(value: dt.datetime | None) -> str | None:
    stamp = as_utc(value)
    return stamp.isoformat() if stamp else None


# --- users -----------------------------------------------------------------------------------


def find_user(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == name)).first()


def save_user(session: Session, name: str, password_hash: str, now: dt.datetime) -> bool:
    """Create the user, or replace their password; True when the user is new."""
    user = find_user(session, name)
    if user is None:
        session.add(User(name=name, password_hash=password_hash, created_at=now))
        return True
    user.password_hash = password_hash
    return False
