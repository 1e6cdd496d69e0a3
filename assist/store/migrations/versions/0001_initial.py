"""The first call store: calls, utterances, stage changes, prompts, triggers, agent actions,
levels, supervisor notes and users.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _call_id() -> sa.Column[str]:
    return sa.Column("call_id", sa.String(64), sa.ForeignKey("calls.id", ondelete="CASCADE"),
                     nullable=False, index=True)


def upgrade() -> None:
    stamp = sa.DateTime(timezone=True)
    op.create_table(
        "calls",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("agent", sa.String(128), nullable=False, index=True),
        sa.Column("host", sa.String(255), nullable=False, index=True),
        sa.Column("source", sa.String(512), nullable=False),
        sa.Column("started_at", stamp, nullable=False, index=True),
        sa.Column("ended_at", stamp),
        sa.Column("last_event_at", stamp, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("end_reason", sa.String(64)),
        sa.Column("peak_anger", sa.Float, nullable=False),
        sa.Column("peak_level", sa.Float, nullable=False),
        sa.Column("top_stage", sa.String(16), nullable=False),
        sa.Column("final_stage", sa.String(16), nullable=False),
        sa.Column("flagged", sa.Boolean, nullable=False, index=True),
        sa.Column("flag_reasons", sa.Text, nullable=False),
        sa.Column("reviewed", sa.Boolean, nullable=False, index=True),
        sa.Column("reviewed_by", sa.String(128)),
        sa.Column("reviewed_at", stamp),
        sa.Column("summary", sa.Text),
    )
    op.create_table(
        "utterances",
        _id(), _call_id(),
        sa.Column("utterance_id", sa.Integer, nullable=False),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("end", sa.Float, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("word_anger", sa.Float),
        sa.Column("voice_arousal", sa.Float),
        sa.Column("anger", sa.Float),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("voice_cue", sa.String(255), nullable=False),
        sa.Column("audio_flac", sa.LargeBinary),
        sa.UniqueConstraint("call_id", "speaker", "utterance_id"),
    )
    op.create_table(
        "stage_changes",
        _id(), _call_id(),
        sa.Column("t", sa.Float, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False, index=True),
        sa.Column("previous", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("level", sa.Float, nullable=False),
        sa.Column("trend", sa.Float, nullable=False),
        sa.Column("created_at", stamp, nullable=False),
    )
    op.create_table(
        "prompts",
        _id(), _call_id(),
        sa.Column("t", sa.Float, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("headline", sa.Text, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
    )
    op.create_table(
        "triggers",
        _id(), _call_id(),
        sa.Column("utterance_id", sa.Integer, nullable=False),
        sa.Column("t", sa.Float, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("words", sa.Text, nullable=False),
    )
    op.create_table(
        "agent_actions",
        _id(), _call_id(),
        sa.Column("t", sa.Float, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "levels",
        _id(), _call_id(),
        sa.Column("t", sa.Float, nullable=False),
        sa.Column("level", sa.Float, nullable=False),
        sa.Column("trend", sa.Float, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
    )
    op.create_table(
        "notes",
        _id(), _call_id(),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "users",
        _id(),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
    )


def downgrade() -> None:
    for table in ("users", "notes", "levels", "agent_actions", "triggers", "prompts",
                  "stage_changes", "utterances", "calls"):
        op.drop_table(table)
