"""Call summaries on the record: stored with the call, shown to supervisors, rebuilt after a kill,
and listed in `assist history` (SQLite, and a real PostgreSQL under scripts/test)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from store_fixtures import SAMPLE_LINES, flagged_call_events
from store_helpers import load_call, record

from assist import cli
from assist.config import StoreConfig
from assist.events import AgentAction, CallEnded, CallSummarized, Event, Outcome, Speaker, Stage
from assist.review import auth, create_app
from assist.store import StoreSink, open_engine, queries, session_factory
from assist.store.db import MIGRATIONS_DIR
from assist.store.recorder import ENDED_ABRUPTLY
from assist.store.schema import Call
from assist.store.summaries import summary_from_json
from assist.store.writer import host_name
from assist.summary import render_card, summarize

PASSWORD = "correct horse battery"
PHONE = "07700 900123"
PROMISE = f"I'll call you back on {PHONE} tomorrow. Thanks for waiting."
# The sample call plus an agent's promise that holds a phone number (redacted on the record).
LINES = (*SAMPLE_LINES[:-1], (Speaker.AGENT, 25.0, 29.0, PROMISE, 0.0), SAMPLE_LINES[-1])



def summarized_call(call_id: str, agent: str = "ann") -> tuple[list[Event], CallSummarized]:
    """The sample call's events with the pipeline's summary just before CallEnded."""
    events = flagged_call_events(call_id, agent, lines=LINES)
    *body, ended = events
    assert isinstance(ended, CallEnded)
    summary = summarize(call_id, body, ended.t)
    return [*body, summary, ended], summary








def test_the_pipelines_summary_is_stored_redacted_with_its_outcome(store_url: str) -> None:
    events, summary = summarized_call("s-1")
    assert summary.follow_ups == (f"call you back on {PHONE} tomorrow",)
    record(store_url, events)

    call = load_call(store_url, "s-1")
    assert call.outcome == Outcome.ESCALATED.value == queries.outcome(call)
    assert call.summary is not None and PHONE not in call.summary
    stored = summary_from_json(call.summary)
    assert stored is not None
    assert stored.follow_ups == ("call you back on [phone] tomorrow",)
    assert stored.stage_seconds == summary.stage_seconds
    assert stored.prompts == summary.prompts
    assert (stored.peak_anger, stored.final_anger, stored.triggers, stored.duration_s) == (
        summary.peak_anger, summary.final_anger, summary.triggers, summary.duration_s)
    # Anger rose after reflect, fell after empathize and escalate; close came at the end.
    assert [p.fell for p in stored.prompts] == [False, True, True, None]


def test_summary_shown_in_the_review_page_the_list_and_the_exports(store_url: str) -> None:
    events, summary = summarized_call("s-2")
    calm = [e for e in flagged_call_events("calm-2", "bob", lines=(SAMPLE_LINES[0],))
            if not isinstance(e, AgentAction)]  # no agent flag: a quiet call
    record(store_url, [*events, *calm])
    engine = open_engine(store_url)
    with session_factory(engine).begin() as session:
        queries.save_user(session, "sue", auth.hash_password(PASSWORD), dt.datetime.now(dt.UTC))
    try:
        with TestClient(create_app(engine, "k" * 40), follow_redirects=False) as client:
            _log_in(client)
            _page_shows_the_summary(client.get("/calls/s-2").text, summary)
            _list_shows_outcome_and_peak(client)
            _exports_carry_the_summary(client, summary)
    finally:
        engine.dispose()


def _log_in(client: TestClient) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    response = client.post("/login", data={"name": "sue", "password": PASSWORD,
                                           "csrf_token": token.group(1), "next": "/"})
    assert response.status_code == 303


def _page_shows_the_summary(page: str, summary: CallSummarized) -> None:
    top = page[page.index('id="summary"'):page.index("Timeline")]
    assert "Summary: <span class=\"outcome\">escalated</span>" in top
    assert "0:35" in top and "peak 0.90, final " + f"{summary.final_anger:.2f}" in top
    for stage, seconds in summary.stage_seconds:
        assert f"{stage.label} {seconds:.0f} s" in top
    assert "manager request, legal threat" in top
    fell = re.findall(r'<td class="fell">([^<]*)</td>', top)
    assert fell == ["no", "yes", "yes", "too soon to tell"]
    assert "call you back on [phone] tomorrow" in top and PHONE not in page


def _list_shows_outcome_and_peak(client: TestClient) -> None:
    page = client.get("/").text
    rows = re.findall(r'<td class="peak">([^<]*)</td>\s*<td>.*?</td>\s*'
                      r'<td class="outcome">([^<]*)</td>', page, re.S)
    assert rows == [("0.90", "escalated"), ("0.00", "calm throughout")]
    only = client.get("/?outcome=calm+throughout").text
    assert "/calls/calm-2" in only and "/calls/s-2" not in only


def _exports_carry_the_summary(client: TestClient, summary: CallSummarized) -> None:
    data = json.loads(client.get("/calls/s-2/export.json").content)
    assert data["outcome"] == "escalated"
    exported = data["summary"]
    assert exported["outcome"] == "escalated" and exported["peak_anger"] == 0.9
    assert exported["stage_seconds"] == [[s.value, v] for s, v in summary.stage_seconds]
    assert [p["fell"] for p in exported["prompts"]] == [False, True, True, None]
    assert exported["follow_ups"] == ["call you back on [phone] tomorrow"]
    rows = list(csv.DictReader(io.StringIO(client.get("/calls/s-2/export.csv").text)))
    last = rows[-1]
    assert (last["kind"], last["anger"]) == ("summary", "0.9")
    assert last["text"].startswith("Escalated")
    assert "Prompts: 4 shown, anger fell after 2" in last["text"]
    assert last["detail"] == "call you back on [phone] tomorrow"


KILLED_FEEDER = textwrap.dedent("""
    import sys, time
    from sqlalchemy import func, select
    from assist.config import StoreConfig
    from assist.events import CallEnded
    from assist.store import StoreSink, open_engine, session_factory
    from assist.store.schema import LevelRow, PromptRow
    sys.path.insert(0, "tests")  # the test modules import each other as top-level modules
    from store_fixtures import flagged_call_events
    from test_store_summary import LINES

    url, call_id = sys.argv[1:3]
    events = [e for e in flagged_call_events(call_id, "kim", lines=LINES)
              if not isinstance(e, CallEnded)]
    sink = StoreSink(url, StoreConfig(agent="kim"))
    for event in events:
        sink(event)
    check = session_factory(open_engine(url))
    while True:  # until the writer thread has committed the last prompt and level
        with check() as session:
            prompts = session.scalar(select(func.count()).select_from(PromptRow))
            levels = session.scalar(select(func.count()).select_from(LevelRow))
        if (prompts, levels) == (4, 4):
            break
        time.sleep(0.01)
    print("all stored", flush=True)
    time.sleep(600)
""")


def test_a_call_killed_mid_way_is_summarised_as_ended_abruptly_on_the_next_start(
        store_url: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", KILLED_FEEDER, store_url, "k-1"],
                             stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "all stored"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert load_call(store_url, "k-1").summary is None, "a killed call has no summary yet"

    StoreSink(store_url, StoreConfig(agent="kim")).close()  # the next start

    call = load_call(store_url, "k-1")
    assert call.end_reason == ENDED_ABRUPTLY and call.outcome == "ended abruptly"
    stored = summary_from_json(call.summary)
    assert stored is not None and stored.outcome is Outcome.ENDED_ABRUPTLY
    sent = [e for e in flagged_call_events("k-1", "kim", lines=LINES)
            if not isinstance(e, CallEnded)]
    expected = summarize("k-1", sent, call.duration, abrupt=True)
    assert stored.stage_seconds == expected.stage_seconds
    assert dict(stored.stage_seconds)[Stage.EMPATHIZE] == pytest.approx(20.1 - 15.1)
    assert stored.prompts == expected.prompts
    assert (stored.peak_anger, stored.final_anger, stored.triggers) == (
        expected.peak_anger, expected.final_anger, expected.triggers)
    assert stored.follow_ups == ("call you back on [phone] tomorrow",)


def test_a_store_made_before_summaries_is_upgraded_and_old_calls_keep_their_outcome(
        store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as connection:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
        connection.execute(text(
            "INSERT INTO calls (id, agent, host, source, started_at, ended_at, last_event_at, "
            "duration, end_reason, peak_anger, peak_level, top_stage, final_stage, flagged, "
            "flag_reasons, reviewed) VALUES ('old', 'ann', 'h', '', :t, :t, :t, 61.0, 'ended', "
            "0.7, 0.6, 'empathize', 'close', false, '', false)"),
            {"t": dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)})
    engine.dispose()

    call = load_call(store_url, "old")  # opening migrates to 0002
    assert call.outcome is None and call.summary is None
    assert queries.outcome(call) == "calmed down"
    rebuilt = queries.summary_of(call)
    assert rebuilt.outcome is Outcome.CALM and rebuilt.duration_s == 61.0


def test_history_lists_outcomes_and_prints_a_calls_card(store_url: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    events, _ = summarized_call("h-escalated")
    calm = flagged_call_events("h-calm", "ann", lines=(SAMPLE_LINES[0],),
                               wall=1_790_100_000.0)
    record(store_url, [*events, *calm, *flagged_call_events("h-bob", "bob")])
    _add_call_from_an_older_assist(store_url)
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\nagent = "ann"\n', encoding="utf-8")

    assert cli.main(["--config", str(config), "history"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    columns = header.split("\t")
    rows = {row["call"]: row for row in (dict(zip(columns, line.split("\t"), strict=True))
                                         for line in lines)}
    assert set(rows) == {"h-escalated", "h-calm", "h-old"}
    assert rows["h-escalated"]["outcome"] == "escalated"
    assert rows["h-escalated"]["follow up"] == "call you back on [phone] tomorrow"
    assert rows["h-calm"]["outcome"] == "calm throughout"
    assert rows["h-old"]["outcome"] == "calmed down"  # no summary: read from its stages

    assert cli.main(["--config", str(config), "history", "--call", "h-escalated"]) == 0
    card = capsys.readouterr().out
    assert card.startswith("Call h-escalated · ")
    stored = summary_from_json(load_call(store_url, "h-escalated").summary)
    assert stored is not None and render_card(stored) in card
    assert "Escalated · 0:35 · peak anger 0.90" in card
    assert "Follow up: call you back on [phone] tomorrow" in card

    assert cli.main(["--config", str(config), "history", "--call", "h-bob"]) == 2
    assert "no call 'h-bob' of ann" in capsys.readouterr().err
    assert cli.main(["--config", str(config), "history", "--agent", "bob", "--call",
                     "h-bob"]) == 0
    assert "Escalated" in capsys.readouterr().out


def _add_call_from_an_older_assist(url: str) -> None:
    engine = open_engine(url)
    stamp = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
    with session_factory(engine).begin() as session:
        session.add(Call(id="h-old", agent="ann", host=host_name(), source="", started_at=stamp,
                         ended_at=stamp, last_event_at=stamp, duration=50.0, end_reason="ended",
                         peak_anger=0.6, peak_level=0.5, top_stage="reflect",
                         final_stage="close", flagged=False, flag_reasons="", reviewed=False))
    engine.dispose()
