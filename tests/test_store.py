"""The call store: recording events through StoreSink on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import textwrap
import zoneinfo
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select, text
from store_fixtures import SAMPLE_LINES, flagged_call_events
from store_helpers import load_call, record

from assist import cli
from assist.config import StoreConfig
from assist.errors import StoreError
from assist.events import (
    SAMPLE_RATE,
    AgentAction,
    CallEnded,
    CallStarted,
    Event,
    FinalText,
    Speaker,
    Stage,
    StageChanged,
    UtteranceEnded,
    UtteranceScored,
)
from assist.review import auth
from assist.store import StoreSink, open_engine, queries, session_factory
from assist.store.recorder import ENDED_ABRUPTLY, mark_abrupt_ends, since_start
from assist.store.schema import Call, User, Utterance
from assist.store.writer import host_name


def test_a_whole_call_is_recorded_with_scores_stages_prompts_and_feedback(store_url: str) -> None:
    record(store_url, flagged_call_events("call-1", "ann"), flag_anger=0.8)
    call = load_call(store_url, "call-1")

    assert (call.agent, call.host, call.end_reason) == ("ann", host_name(), "ended")
    assert call.ended_at is not None and call.duration == pytest.approx(35.0)
    assert [u.text for u in call.utterances] == [line[3] for line in SAMPLE_LINES]
    customer = [u for u in call.utterances if u.speaker == "customer"]
    assert [u.anger for u in customer] == pytest.approx([0.45, 0.7, 0.9, 0.15])
    assert all(u.anger is None for u in call.utterances if u.speaker == "agent")
    assert customer[1].evidence_list == ["words: This is ridiculous, "]
    assert customer[1].voice_cue == "louder"
    assert [s.stage for s in call.stage_changes] == ["reflect", "empathize", "escalate", "close"]
    assert call.stage_changes[2].reason == "legal threat and a manager request"
    assert [p.stage for p in call.prompts] == ["reflect", "empathize", "escalate", "close"]
    assert [(t.name, t.words) for t in call.triggers] == [
        ("manager_request", "speak to your manager"), ("legal_threat", "my lawyer")]
    assert [(a.action, a.value) for a in call.actions] == [
        ("flag", "threatened to sue"), ("feedback", "helpful")]
    assert len(call.levels) == 4 and call.peak_level == max(lv.level for lv in call.levels)
    assert call.peak_anger == pytest.approx(0.9)
    assert (call.top_stage, call.final_stage) == ("escalate", "close")
    assert call.flagged
    assert set(call.flag_reason_list) == {
        "reached escalate", "legal threat: my lawyer", "agent: threatened to sue",
        "peak anger at or above 0.80"}
    # No CallSummarized came (these events are not the pipeline's), so the store summarised
    # the call from its rows when it ended: it reached escalate.
    assert queries.outcome(call) == call.outcome == "escalated"


def test_scores_join_their_text_whatever_order_they_arrive_in(store_url: str) -> None:
    scored = UtteranceScored(t=2, utterance_id=7, start=0, end=2, text="scorer's copy",
                             word_anger=0.2, voice_arousal=None, anger=0.3)
    final = FinalText(t=2, speaker=Speaker.CUSTOMER, utterance_id=7, start=0, end=2,
                      text="the transcript")
    record(store_url, [CallStarted(t=0, call_id="c"), scored, final])
    [row] = load_call(store_url, "c").utterances
    assert (row.text, row.anger, row.voice_arousal) == ("the transcript", 0.3, None)


def test_a_calm_call_is_not_flagged_and_boundary_is(store_url: str) -> None:
    calm = [CallStarted(t=0, call_id="calm"),
            UtteranceScored(t=1, utterance_id=1, start=0, end=1, text="fine thanks",
                            word_anger=0.1, voice_arousal=0.1, anger=0.1)]
    rude = [CallStarted(t=0, call_id="rude"),
            StageChanged(t=1, stage=Stage.BOUNDARY, previous=Stage.CALM, reason="insult",
                         level=0.6, trend=0.3)]
    record(store_url, calm + rude, flag_anger=0.75)
    assert not load_call(store_url, "calm").flagged
    rude_call = load_call(store_url, "rude")
    assert rude_call.flagged and rude_call.flag_reason_list == ["set a boundary"]
    assert rude_call.top_stage == "boundary"
    # A new CallStarted ends the previous call; a closed sink ends the last one.
    assert load_call(store_url, "calm").end_reason == "stopped"
    assert rude_call.end_reason == "stopped"


def test_audio_is_kept_only_when_configured(store_url: str) -> None:
    audio = np.sin(np.linspace(0, 400, SAMPLE_RATE)).astype(np.float32) * 0.5
    events = [CallStarted(t=0, call_id="a"),
              UtteranceEnded(t=1, speaker=Speaker.CUSTOMER, utterance_id=1, start=0, end=1,
                             last_voiced=1, audio=audio),
              FinalText(t=1, speaker=Speaker.CUSTOMER, utterance_id=1, start=0, end=1,
                        text="hello")]
    record(store_url, events)
    record(store_url, [CallStarted(t=0, call_id="b"), *events[1:]], keep_audio=True)
    engine = open_engine(store_url)
    with session_factory(engine)() as session:
        rows = {c: queries.get_call(session, c).utterances[0].id for c in "ab"}  # type: ignore[union-attr]
        assert queries.utterances_with_audio(session, "a") == set()
        assert queries.utterances_with_audio(session, "b") == {rows["b"]}
        assert queries.utterance_audio(session, "a", rows["a"]) is None
        flac = queries.utterance_audio(session, "b", rows["b"])
    engine.dispose()
    assert flac is not None
    decoded, rate = sf.read(io.BytesIO(flac), dtype="float32")
    assert rate == SAMPLE_RATE and np.allclose(decoded, audio, atol=1e-4)


def test_unfinished_calls_of_only_this_agent_and_host_are_ended_abruptly(store_url: str) -> None:
    engine = open_engine(store_url)
    now = dt.datetime.now(dt.UTC)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        for call_id, agent, host in (("mine", "ann", host_name()), ("bob", "bob", host_name()),
                                     ("ann-elsewhere", "ann", "other-host")):
            session.add(Call(id=call_id, agent=agent, host=host, source="", started_at=now,
                             last_event_at=now, duration=3.0, peak_anger=0, peak_level=0,
                             top_stage="calm", final_stage="calm", flagged=False,
                             flag_reasons="", reviewed=False))
    engine.dispose()

    StoreSink(store_url, StoreConfig(agent="ann")).close()

    assert load_call(store_url, "mine").end_reason == ENDED_ABRUPTLY
    assert load_call(store_url, "mine").ended_at is not None
    assert load_call(store_url, "bob").ended_at is None
    assert load_call(store_url, "ann-elsewhere").ended_at is None
    assert queries.outcome(load_call(store_url, "mine")) == "ended abruptly"


KILL_CHILD = textwrap.dedent("""
    import sys, time
    from sqlalchemy import func, select
    from assist.config import StoreConfig
    from assist.events import CallStarted, FinalText, Speaker, UtteranceScored
    from assist.store import StoreSink, open_engine, session_factory
    from assist.store.schema import Utterance

    url = sys.argv[1]
    sink = StoreSink(url, StoreConfig(agent="killed"))
    check = session_factory(open_engine(url))
    sink(CallStarted(t=0, call_id="doomed", agent="killed"))
    for i in range(1, 1000):
        sink(FinalText(t=i, speaker=Speaker.CUSTOMER, utterance_id=i, start=i - 1, end=i,
                       text=f"utterance number {i} is here"))
        sink(UtteranceScored(t=i, utterance_id=i, start=i - 1, end=i, text="", word_anger=0.1,
                             voice_arousal=0.2, anger=0.3))
        while True:
            with check() as session:
                row = session.scalars(select(Utterance).where(
                    Utterance.utterance_id == i)).first()
                if row is not None and row.anger is not None:
                    break
            time.sleep(0.005)
        print(f"stored {i}", flush=True)
""")


def test_sigkill_mid_call_keeps_every_finished_utterance(store_url: str, tmp_path: Path) -> None:
    wanted = 12
    child = subprocess.Popen([sys.executable, "-c", KILL_CHILD, store_url],
                             stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == f"stored {wanted}":
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    call = load_call(store_url, "doomed")
    assert call.ended_at is None, "a killed call must not look finished yet"
    ids = [u.utterance_id for u in call.utterances]
    assert ids[:wanted] == list(range(1, wanted + 1)), "an utterance stored before the kill is missing"
    assert ids == list(range(1, len(ids) + 1)), "utterances are not a gap-free prefix"
    assert all(u.text == f"utterance number {u.utterance_id} is here" for u in call.utterances)

    StoreSink(store_url, StoreConfig(agent="killed")).close()  # the next start
    call = load_call(store_url, "doomed")
    assert call.end_reason == ENDED_ABRUPTLY
    assert call.ended_at is not None


def test_migrations_are_idempotent_and_reach_head(store_url: str) -> None:
    for _ in range(2):
        engine = open_engine(store_url)
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        engine.dispose()
        assert version == "0002"


def test_a_store_from_a_newer_assist_is_refused_with_advice(store_url: str) -> None:
    engine = open_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="upgrade assist"):
        open_engine(store_url)


def test_store_opening_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        open_engine("not a url")
    with pytest.raises(StoreError, match="unsupported database"):
        open_engine("nosuchdb://x/y")
    with pytest.raises(StoreError, match="unsupported database 'mysql'"):
        open_engine("mysql://u:p@127.0.0.1:1/db")  # known to SQLAlchemy, driver not installed
    with pytest.raises(StoreError, match=r"cannot reach the call store.*check that the database"):
        open_engine("postgresql+psycopg://nobody:secret@127.0.0.1:9/none")
    try:
        open_engine("postgresql+psycopg://nobody:secret@127.0.0.1:9/none")
    except StoreError as e:
        assert "secret" not in str(e), "the password leaked into the message"


def test_list_filters_and_literal_search(store_url: str) -> None:
    lines = ((Speaker.CUSTOMER, 0.0, 2.0, "I got 100% wrong_item again", 0.2),)
    record(store_url, [*flagged_call_events("flagged", "ann"),
                       *flagged_call_events("quiet", "bob", lines=lines, wall=1_780_000_000.0)])
    engine = open_engine(store_url)
    with session_factory(engine)() as session:
        def ids(**wanted: object) -> list[str]:
            return [c.id for c in queries.list_calls(session, queries.CallFilter(**wanted))]  # type: ignore[arg-type]

        assert ids() == ["flagged", "quiet"]  # flagged first
        assert ids(agent="bob") == ["quiet"]
        assert ids(stage="escalate") == ["flagged"]
        assert ids(min_anger=0.5) == ["flagged"]
        assert ids(reviewed=True) == []
        assert ids(search="100%") == ["quiet"]
        assert ids(search="%") == ["quiet"]
        assert ids(search="_") == ["quiet"]
        assert ids(search="REFUND") == ["flagged"]
        assert ids(search="' OR 1=1 --") == []
        day = dt.datetime.fromtimestamp(1_780_000_000.0, dt.UTC).date()
        assert ids(date_from=day, date_to=day) == ["quiet"]
        # 20:26 UTC on 28 May is 05:26 on 29 May in Tokyo: the day the supervisor there means.
        tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
        next_day = day + dt.timedelta(days=1)
        assert "quiet" in ids(date_from=next_day, date_to=next_day, zone=tokyo)
        assert "quiet" not in ids(date_from=day, date_to=day, zone=tokyo)
        assert queries.agents(session) == ["ann", "bob"]
    engine.dispose()


def test_history_lists_the_agents_own_calls(store_url: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    record(store_url, [*flagged_call_events("mine", "ann"), *flagged_call_events("his", "bob")])
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\nagent = "ann"\n', encoding="utf-8")
    assert cli.main(["--config", str(config), "history"]) == 0
    out = capsys.readouterr().out
    assert "escalated" in out and "escalate" in out and "0.90" in out
    assert "0:35" in out and "reached escalate" in out
    assert cli.main(["--config", str(config), "history", "--agent", "nobody"]) == 0
    assert "No calls recorded for nobody" in capsys.readouterr().out
    assert cli.main(["--config", str(config), "history", "--limit", "0"]) == 2
    assert "--limit must be" in capsys.readouterr().err


def test_review_add_user_hashes_the_password(store_url: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n', encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    assert cli.main(["--config", str(config), "review", "add-user", "sue", "--password-stdin"]) == 0
    assert "created supervisor sue" in capsys.readouterr().out
    engine = open_engine(store_url)
    with session_factory(engine)() as session:
        user = session.scalars(select(User).where(User.name == "sue")).one()
        assert user.password_hash.startswith("$argon2")
        assert "correct horse" not in user.password_hash
        assert auth.verify_password(user.password_hash, "correct horse battery")
        assert not auth.verify_password(user.password_hash, "wrong")
    engine.dispose()

    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert cli.main(["--config", str(config), "review", "add-user", "sue", "--password-stdin"]) == 2
    assert "too short" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("long enough password\n"))
    assert cli.main(["--config", str(config), "review", "add-user", "bad name!",
                     "--password-stdin"]) == 2


def test_mark_abrupt_ends_counts_only_open_calls(store_url: str) -> None:
    record(store_url, flagged_call_events("done", "ann"))
    engine = open_engine(store_url)
    with session_factory(engine).begin() as session:
        assert mark_abrupt_ends(session, "ann", host_name()) == 0
        assert session.scalars(select(Utterance)).first() is not None
    engine.dispose()


def test_events_before_any_call_start_get_a_call_of_their_own(store_url: str) -> None:
    record(store_url, [FinalText(t=1, speaker=Speaker.AGENT, utterance_id=1, start=0, end=1,
                                 text="hello, you're through to support"),
                       FinalText(t=2, speaker=Speaker.CUSTOMER, utterance_id=1, start=1, end=2,
                                 text="   ")], agent="dan")
    engine = open_engine(store_url)
    with session_factory(engine)() as session:
        [call] = queries.recent_calls(session, "dan")
        assert [u.text for u in queries.get_call(session, call.id).utterances] == [  # type: ignore[union-attr]
            "hello, you're through to support"]
    engine.dispose()


def test_a_later_call_is_stored_in_its_own_time_from_its_start(store_url: str) -> None:
    # The pipeline's clock runs from the start of the audio: the second call of a session
    # starts at 100 s, and every time it carries is 100 s on.
    later = [since_start(event, -100.0) for event in flagged_call_events("second", "ann")]
    record(store_url, flagged_call_events("first", "ann") + later)
    first, second = load_call(store_url, "first"), load_call(store_url, "second")
    assert second.duration == pytest.approx(first.duration) == pytest.approx(35.0)
    assert [(u.start, u.end) for u in second.utterances] == [
        (pytest.approx(line[1]), pytest.approx(line[2])) for line in SAMPLE_LINES]
    assert [s.t for s in second.stage_changes] == pytest.approx([s.t for s in first.stage_changes])
    assert [a.t for a in second.actions] == pytest.approx([25.0, 34.0])
    assert [lv.t for lv in second.levels] == pytest.approx([lv.t for lv in first.levels])


def test_a_flag_after_the_call_ended_flags_that_call(store_url: str) -> None:
    # The agent flags from the summary card, after CallEnded; a late transcript of the
    # last line arrives after it too. Both belong to the call that just ended.
    events = [*calm_call_events("calm"),
              FinalText(t=12, speaker=Speaker.CUSTOMER, utterance_id=9, start=10, end=12,
                        text="and one more thing"),
              AgentAction(t=13, action="flag", value="check the refund")]
    record(store_url, events, agent="eve")
    engine = open_engine(store_url)
    with session_factory(engine)() as session:
        [call] = queries.recent_calls(session, "eve")
    engine.dispose()
    stored = load_call(store_url, call.id)
    assert stored.id == "calm" and stored.flagged
    assert stored.flag_reason_list == ["agent: check the refund"]
    assert stored.utterances[-1].text == "and one more thing"
    assert stored.duration == pytest.approx(5.0)  # what happened after the end is not call time


def calm_call_events(call_id: str) -> list[Event]:
    return [CallStarted(t=0, call_id=call_id, agent="eve"),
            UtteranceScored(t=1, utterance_id=1, start=0, end=1, text="fine thanks",
                            word_anger=0.1, voice_arousal=0.1, anger=0.1),
            CallEnded(t=5, call_id=call_id)]
