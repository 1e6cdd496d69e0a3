"""Turning pipeline events into rows: one short transaction per event.

:class:`CallRecorder` is the synchronous heart of :class:`assist.store.writer.StoreSink`: it
knows which call is open and commits every event it is given before returning, so a test can
drive it directly and a crash loses nothing already handed over. All free text (transcripts,
trigger words, prompt lines that echo the caller, reasons, feedback) is redacted first.
Every call that ends gets a summary: the pipeline's own, or one rebuilt from the rows when the
call was stopped, or killed mid-way (then it is summarised as ended abruptly on the next start).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from assist.events import (
    SAMPLE_RATE,
    AgentAction,
    CallEnded,
    CallStarted,
    CallSummarized,
    Event,
    FinalText,
    LevelUpdate,
    PromptShown,
    Speaker,
    Stage,
    StageChanged,
    UtteranceEnded,
    UtteranceScored,
)
from assist.store.redaction import redact
from assist.store.schema import (
    ActionRow,
    Call,
    LevelRow,
    PromptRow,
    StageChangeRow,
    TriggerRow,
    Utterance,
)
from assist.store.summaries import rebuild_summary, store_summary

log = logging.getLogger(__name__)

ENDED_ABRUPTLY = "ended_abruptly"
STOPPED = "stopped"
FLAG_STAGES = {Stage.ESCALATE: "reached escalate", Stage.BOUNDARY: "set a boundary"}
LEGAL_TRIGGER_WORD = "legal"  # trigger names like "legal_threat" flag the call
MAX_PENDING_AUDIO = 32  # utterances whose audio waits for their text (keep_audio only)
# How far up the de-escalation ladder a stage is, for "stage reached" (close and calm are
# where a call rests, boundary is the sharpest turn a call can take).
STAGE_RANK = {Stage.CALM: 0, Stage.CLOSE: 0, Stage.REFLECT: 1, Stage.EMPATHIZE: 2,
              Stage.SOLUTION: 3, Stage.ESCALATE: 4, Stage.BOUNDARY: 5}


@dataclass(frozen=True)
class RecorderSettings:
    agent: str
    host: str
    flag_anger: float
    keep_audio: bool = False


def utc(wall: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(wall, dt.UTC)


def mark_abrupt_ends(session: Session, agent: str, host: str, keep: str | None = None) -> int:
    """End this agent's unfinished calls on this host (a crash or kill), each with a summary
    rebuilt from what was stored; other agents' calls and other hosts' are left alone."""
    statement = (
        select(Call)
        .where(Call.agent == agent, Call.host == host, Call.ended_at.is_(None))
        .options(selectinload(Call.utterances), selectinload(Call.stage_changes),
                 selectinload(Call.prompts), selectinload(Call.triggers),
                 selectinload(Call.levels))
        # Two overlays of one agent starting at once must not both summarise the same call.
        .with_for_update()
    )
    if keep is not None:
        statement = statement.where(Call.id != keep)
    calls = session.scalars(statement).all()
    for call in calls:
        call.ended_at = call.last_event_at
        call.end_reason = ENDED_ABRUPTLY
        store_summary(call, rebuild_summary(call, abrupt=True))
    if calls:
        log.warning("marked %d unfinished call(s) of %s on %s as ended abruptly",
                    len(calls), agent, host)
    return len(calls)


class CallRecorder:
    """Writes one agent's calls, event by event, each in its own committed transaction.

    Stored times are seconds since the call started. The pipeline's clock counts from the
    start of the audio, where only a session's first call begins; later calls are counted
    from their own CallStarted.
    """

    def __init__(self, sessions: sessionmaker[Session], settings: RecorderSettings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._call_id: str | None = None
        self._last_call_id: str | None = None
        """The call that ended last: a flag from its summary card, or its last line's text
        arriving after it ended, still belongs to it."""
        self._origin = 0.0
        self._audio: OrderedDict[int, np.ndarray] = OrderedDict()
        self._handlers: dict[type, Callable[[Session, Call, Event], None]] = {
            FinalText: self._final_text,  # type: ignore[dict-item]
            UtteranceScored: self._scored,  # type: ignore[dict-item]
            StageChanged: self._stage_changed,  # type: ignore[dict-item]
            PromptShown: self._prompt,  # type: ignore[dict-item]
            AgentAction: self._action,  # type: ignore[dict-item]
            LevelUpdate: self._level,  # type: ignore[dict-item]
            CallSummarized: self._summarized,  # type: ignore[dict-item]
            CallEnded: self._ended,  # type: ignore[dict-item]
        }

    def record(self, event: Event) -> None:
        """Commit what ``event`` says about the call; audio and display-only events are skipped."""
        if isinstance(event, CallStarted):
            agent = event.agent or self._settings.agent
            self._start(event.call_id, agent, event.source, event.wall)
            self._origin = event.t
            return
        if isinstance(event, UtteranceEnded):
            self._keep_audio(event)
            return
        handler = self._handlers.get(type(event))
        if handler is None:
            return
        call_id = self._call_id or self._last_call_id
        if call_id is None:
            log.warning("%s arrived before any call; recording it under a new call",
                        type(event).__name__)
            self._start(uuid.uuid4().hex, self._settings.agent, "", event.wall)
            call_id = self._call_id
        with self._sessions.begin() as session:
            call = session.get(Call, call_id)
            if call is None:
                log.error("call %s vanished from the store; dropping %s", call_id,
                          type(event).__name__)
                return
            event = since_start(event, self._origin)
            if call_id == self._call_id:
                call.duration = max(call.duration or 0.0, event.t)
            call.last_event_at = utc(event.wall)
            handler(session, call, event)
        if isinstance(event, CallEnded):
            self._last_call_id, self._call_id = call_id, None

    def close(self, wall: float) -> None:
        """End a call that is still open when the pipeline shuts down."""
        if self._call_id is not None:
            with self._sessions.begin() as session:
                call = session.get(Call, self._call_id)
                if call is not None and call.ended_at is None:
                    call.ended_at = utc(wall)
                    call.end_reason = STOPPED
                    _ensure_summary(call)
            self._call_id = None

    # --- call lifecycle -------------------------------------------------------------------

    def _start(self, call_id: str, agent: str, source: str, wall: float) -> None:
        if self._call_id is not None:
            self.close(wall)
        with self._sessions.begin() as session:
            mark_abrupt_ends(session, agent, self._settings.host, keep=call_id)
            if session.get(Call, call_id) is not None:
                log.warning("call id %s is already in the store; recording under a new id", call_id)
                call_id = f"{call_id}-{uuid.uuid4().hex[:8]}"
            session.add(Call(
                id=call_id, agent=agent, host=self._settings.host, source=source,
                started_at=utc(wall), last_event_at=utc(wall), duration=0.0, peak_anger=0.0,
                peak_level=0.0, top_stage=Stage.CALM.value, final_stage=Stage.CALM.value,
                flagged=False, flag_reasons="", reviewed=False))
        self._call_id = call_id
        self._audio.clear()

    def _summarized(self, session: Session, call: Call, event: CallSummarized) -> None:
        store_summary(call, event)

    def _ended(self, session: Session, call: Call, event: CallEnded) -> None:
        call.ended_at = utc(event.wall)
        call.end_reason = event.reason or "ended"
        _ensure_summary(call)

    # --- utterances -------------------------------------------------------------------------

    def _utterance(self, session: Session, call: Call, speaker: Speaker, utterance_id: int,
                   start: float, end: float) -> Utterance:
        row = session.scalars(select(Utterance).where(
            Utterance.call_id == call.id, Utterance.speaker == speaker.value,
            Utterance.utterance_id == utterance_id)).first()
        if row is None:
            row = Utterance(call_id=call.id, utterance_id=utterance_id, speaker=speaker.value,
                            start=start, end=end, text="", evidence="", voice_cue="")
            session.add(row)
        return row

    def _final_text(self, session: Session, call: Call, event: FinalText) -> None:
        if not event.text.strip():
            return  # Whisper heard nothing worth a line (noise, a cough)
        row = self._utterance(session, call, event.speaker, event.utterance_id, event.start,
                              event.end)
        row.text = redact(event.text)
        if event.speaker is Speaker.CUSTOMER and event.utterance_id in self._audio:
            row.audio_flac = _flac(self._audio.pop(event.utterance_id))

    def _scored(self, session: Session, call: Call, event: UtteranceScored) -> None:
        row = self._utterance(session, call, Speaker.CUSTOMER, event.utterance_id, event.start,
                              event.end)
        if not row.text:
            row.text = redact(event.text)
        row.word_anger = event.word_anger
        row.voice_arousal = event.voice_arousal
        row.anger = event.anger
        row.evidence = "\n".join(redact(e) for e in event.evidence)
        row.voice_cue = redact(event.voice_cue)
        for hit in event.triggers:
            session.add(TriggerRow(call_id=call.id, utterance_id=event.utterance_id, t=event.end,
                                   name=hit.name, words=redact(hit.words)))
            if LEGAL_TRIGGER_WORD in hit.name:
                _flag(call, f"legal threat: {redact(hit.words)}")
        call.peak_anger = max(call.peak_anger or 0.0, event.anger)
        if call.peak_anger >= self._settings.flag_anger:
            _flag(call, f"peak anger at or above {self._settings.flag_anger:.2f}")

    def _keep_audio(self, event: UtteranceEnded) -> None:
        if not self._settings.keep_audio or event.speaker is not Speaker.CUSTOMER:
            return
        self._audio[event.utterance_id] = event.audio
        while len(self._audio) > MAX_PENDING_AUDIO:
            self._audio.popitem(last=False)

    # --- stages, prompts, agent ------------------------------------------------------------

    def _stage_changed(self, session: Session, call: Call, event: StageChanged) -> None:
        session.add(StageChangeRow(
            call_id=call.id, t=event.t, stage=event.stage.value, previous=event.previous.value,
            reason=redact(event.reason), level=event.level, trend=event.trend,
            created_at=utc(event.wall)))
        call.final_stage = event.stage.value
        if STAGE_RANK[event.stage] > STAGE_RANK[Stage(call.top_stage)]:
            call.top_stage = event.stage.value
        if event.stage in FLAG_STAGES:
            _flag(call, FLAG_STAGES[event.stage])

    def _prompt(self, session: Session, call: Call, event: PromptShown) -> None:
        session.add(PromptRow(call_id=call.id, t=event.t, stage=event.stage.value,
                              headline=redact(event.headline), line=redact(event.line)))

    def _action(self, session: Session, call: Call, event: AgentAction) -> None:
        value = redact(event.value)
        session.add(ActionRow(call_id=call.id, t=event.t, action=event.action, value=value))
        if event.action == "flag":
            _flag(call, f"agent: {value}" if value else "agent flagged the call")

    def _level(self, session: Session, call: Call, event: LevelUpdate) -> None:
        session.add(LevelRow(call_id=call.id, t=event.t, level=event.level, trend=event.trend,
                             stage=event.stage.value))
        call.peak_level = max(call.peak_level or 0.0, event.level)


def since_start(event: Event, origin: float) -> Event:
    """``event`` with its times counted from ``origin``, the audio time its call started."""
    if not origin:
        return event
    shifted: dict[str, Any] = {name: getattr(event, name) - origin
                               for name in ("t", "start", "end") if hasattr(event, name)}
    if isinstance(event, CallSummarized):
        shifted["prompts"] = tuple(dataclasses.replace(p, t=p.t - origin) for p in event.prompts)
    return dataclasses.replace(event, **shifted)


def _ensure_summary(call: Call) -> None:
    """A call that ended without the pipeline's summary (older callers, tests) still gets one."""
    if call.summary is None:
        store_summary(call, rebuild_summary(call, abrupt=False))


def _flag(call: Call, reason: str) -> None:
    call.flagged = True
    reasons = call.flag_reason_list
    if reason not in reasons:
        call.flag_reasons = "\n".join([*reasons, reason])


def _flac(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(audio, dtype=np.float32), SAMPLE_RATE, format="FLAC")
    return buffer.getvalue()
