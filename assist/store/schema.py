"""The call store's tables (SQLAlchemy 2 declarative models).

The same models serve SQLite (one agent, no set-up) and PostgreSQL (a team writing to one
server); Alembic migrations under ``migrations/`` create and evolve them. Times inside a call
(``t``, ``start``, ``end``) are audio seconds since the call started (the recorder counts
them from the call's CallStarted); wall clock times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent: Mapped[str] = mapped_column(String(128), index=True)
    host: Mapped[str] = mapped_column(String(255), index=True)
    source: Mapped[str] = mapped_column(String(512), default="")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_event_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    peak_anger: Mapped[float] = mapped_column(Float, default=0.0)
    peak_level: Mapped[float] = mapped_column(Float, default=0.0)
    top_stage: Mapped[str] = mapped_column(String(16), default="calm")
    final_stage: Mapped[str] = mapped_column(String(16), default="calm")
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    flag_reasons: Mapped[str] = mapped_column(Text, default="")
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(128))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    summary: Mapped[str | None] = mapped_column(Text)  # a CallSummarized as JSON, redacted
    outcome: Mapped[str | None] = mapped_column(String(32), index=True)  # the summary's outcome

    utterances: Mapped[list[Utterance]] = relationship(
        back_populates="call", order_by="Utterance.start", cascade="all, delete-orphan")
    stage_changes: Mapped[list[StageChangeRow]] = relationship(
        order_by="StageChangeRow.t", cascade="all, delete-orphan")
    prompts: Mapped[list[PromptRow]] = relationship(
        order_by="PromptRow.t", cascade="all, delete-orphan")
    triggers: Mapped[list[TriggerRow]] = relationship(
        order_by="TriggerRow.t", cascade="all, delete-orphan")
    actions: Mapped[list[ActionRow]] = relationship(
        order_by="ActionRow.t", cascade="all, delete-orphan")
    levels: Mapped[list[LevelRow]] = relationship(
        order_by="LevelRow.t", cascade="all, delete-orphan")
    notes: Mapped[list[NoteRow]] = relationship(
        order_by="NoteRow.created_at", cascade="all, delete-orphan")

    @property
    def flag_reason_list(self) -> list[str]:
        return [r for r in self.flag_reasons.split("\n") if r]


def _call_fk() -> Mapped[str]:
    return mapped_column(String(64), ForeignKey("calls.id", ondelete="CASCADE"), index=True)


class Utterance(Base):
    __tablename__ = "utterances"
    __table_args__ = (UniqueConstraint("call_id", "speaker", "utterance_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = _call_fk()
    utterance_id: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text, default="")
    word_anger: Mapped[float | None] = mapped_column(Float)
    voice_arousal: Mapped[float | None] = mapped_column(Float)
    anger: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text, default="")
    voice_cue: Mapped[str] = mapped_column(String(255), default="")
    # Only with store.keep_audio; deferred so listing a transcript never drags the audio along.
    audio_flac: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    call: Mapped[Call] = relationship(back_populates="utterances")

    @property
    def evidence_list(self) -> list[str]:
        return [e for e in self.evidence.split("\n") if e]


class StageChangeRow(Base):
    __tablename__ = "stage_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = _call_fk()
    t: Mapped[float] = mapped_column(Float)
    stage: Mapped[str] = mapped_column(String(16), index=True)
    previous: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[float] = mapped_column(Float)
    trend: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PromptRow(Base):
    __tablename__ = "prompts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = _call_fk()
    t: Mapped[float] = mapped_column(Float)
    stage: Mapped[str] = mapped_column(String(16))
    headline: Mapped[str] = mapped_column(Text, default="")
    line: Mapped[str] = mapped_column(Text, default="")


class TriggerRow(Base):
    __tablename__ = "triggers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = _call_fk()
    utterance_id: Mapped[int] = mapped_column(Integer)
    t: Mapped[float] = mapped_column(Float)
    name: Mapped[str] = mapped_column(String(64))
    words: Mapped[str] = mapped_column(Text, default="")


class ActionRow(Base):
    """What the agent did in the overlay: flag, feedback, snooze."""

    __tablename__ = "agent_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = _call_fk()
    t: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text, default="")


class LevelRow(Base):
    """The smoothed anger level after each scored utterance, for the review chart."""

    __tablename__ = "levels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = _call_fk()
    t: Mapped[float] = mapped_column(Float)
    level: Mapped[float] = mapped_column(Float)
    trend: Mapped[float] = mapped_column(Float)
    stage: Mapped[str] = mapped_column(String(16))


class NoteRow(Base):
    """A supervisor's note on a call."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = _call_fk()
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    text: Mapped[str] = mapped_column(Text)


class User(Base):
    """A supervisor account for the review app; the password is an argon2 hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
