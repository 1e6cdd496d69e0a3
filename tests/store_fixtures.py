"""Test fixtures for the store and of anything that records into it.

``flagged_call_events`` builds the events of a short call that escalates and calms down, the
way the pipeline would emit them; ``temporary_database`` makes a throw-away PostgreSQL
database on a test server (scripts/lib/postgres.sh starts one).
"""

from __future__ import annotations

import contextlib
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from assist.events import (
    AgentAction,
    CallEnded,
    CallStarted,
    Event,
    FinalText,
    LevelUpdate,
    PromptShown,
    Speaker,
    Stage,
    StageChanged,
    TriggerHit,
    UtteranceScored,
)

# (speaker, start, end, text, anger) for the customer's and the agent's lines.
SAMPLE_LINES: tuple[tuple[Speaker, float, float, str, float], ...] = (
    (Speaker.AGENT, 0.5, 2.5, "Thanks for calling, how can I help?", 0.0),
    (Speaker.CUSTOMER, 3.0, 7.0, "My refund never came and this is the third time I call.", 0.45),
    (Speaker.AGENT, 7.5, 10.0, "So your refund still has not arrived.", 0.0),
    (Speaker.CUSTOMER, 10.5, 15.0, "This is ridiculous, I want to speak to your manager.", 0.7),
    (Speaker.CUSTOMER, 15.5, 20.0, "If this is not fixed today my lawyer will hear about it.",
     0.9),
    (Speaker.AGENT, 20.5, 24.0, "I'm bringing my manager in so we can settle this today.", 0.0),
    (Speaker.CUSTOMER, 30.0, 33.0, "Okay, thank you, that sorts it.", 0.15),
)
SAMPLE_STAGES: tuple[tuple[float, Stage, Stage, str], ...] = (
    (7.1, Stage.REFLECT, Stage.CALM, "anger rose above 0.35"),
    (15.1, Stage.EMPATHIZE, Stage.REFLECT, "anger kept rising (trend +0.20)"),
    (20.1, Stage.ESCALATE, Stage.EMPATHIZE, "legal threat and a manager request"),
    (33.1, Stage.CLOSE, Stage.ESCALATE, "anger fell below 0.30 after being raised"),
)


def flagged_call_events(call_id: str = "", agent: str = "ann", *,
                        lines: Sequence[tuple[Speaker, float, float, str, float]] = SAMPLE_LINES,
                        wall: float = 1_790_000_000.0) -> list[Event]:
    """Events of a call that reaches escalate (so it is flagged) and ends calmly."""
    call_id = call_id or uuid.uuid4().hex
    events: list[Event] = [CallStarted(t=0.0, wall=wall, call_id=call_id, agent=agent,
                                       source="test")]
    level = 0.0
    for uid, (speaker, start, end, words, anger) in enumerate(lines, start=1):
        events.append(FinalText(t=end, wall=wall + end, speaker=speaker, utterance_id=uid,
                                start=start, end=end, text=words))
        if speaker is Speaker.CUSTOMER:
            level = 0.5 * level + 0.5 * anger
            events += _scored(uid, start, end, words, anger, level, wall)
        events += _stage_events(end, wall)
    events.append(AgentAction(t=25.0, wall=wall + 25, action="flag", value="threatened to sue"))
    events.append(AgentAction(t=34.0, wall=wall + 34, action="feedback", value="helpful"))
    events.append(CallEnded(t=35.0, wall=wall + 35, call_id=call_id))
    return events


def _scored(uid: int, start: float, end: float, words: str, anger: float, level: float,
            wall: float) -> list[Event]:
    triggers: tuple[TriggerHit, ...] = ()
    if "lawyer" in words:
        triggers = (TriggerHit(name="legal_threat", words="my lawyer"),)
    elif "manager" in words:
        triggers = (TriggerHit(name="manager_request", words="speak to your manager"),)
    return [
        UtteranceScored(t=end + 0.05, wall=wall + end, utterance_id=uid, start=start, end=end,
                        text=words, word_anger=anger, voice_arousal=min(1.0, anger + 0.1),
                        anger=anger, evidence=(f"words: {words[:20]}",),
                        voice_cue="louder" if anger > 0.6 else "", triggers=triggers),
        LevelUpdate(t=end + 0.05, wall=wall + end, level=level, trend=0.1, stage=Stage.CALM),
    ]


def _stage_events(end: float, wall: float) -> list[Event]:
    out: list[Event] = []
    for t, stage, previous, reason in SAMPLE_STAGES:
        if end < t <= end + 0.2:
            out.append(StageChanged(t=t, wall=wall + t, stage=stage, previous=previous,
                                    reason=reason, level=0.5, trend=0.1))
            out.append(PromptShown(t=t, wall=wall + t, stage=stage, headline=f"{stage.value}",
                                   line=f"Prompt for {stage.value}"))
    return out


@contextlib.contextmanager
def temporary_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``; dropped afterwards."""
    name = f"assist_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(admin, name)
        admin.dispose()


DROP_ATTEMPTS = 20


def _drop(admin: Engine, name: str) -> None:
    """Drop a test database. FORCE may not end a backend of another role (an autovacuum worker
    that has just started on it), so a refusal is retried; a database left behind after that
    goes with the throw-away server when scripts/test stops it."""
    for _ in range(DROP_ATTEMPTS):
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except ProgrammingError:
            time.sleep(0.25)
    warnings.warn(f"could not drop the test database {name}; the server keeps it", stacklevel=2)
