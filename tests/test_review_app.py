"""The review app through httpx's TestClient: login, pages, CSRF, hostile input, exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import socket
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from store_fixtures import flagged_call_events

from assist.config import StoreConfig
from assist.events import (
    SAMPLE_RATE,
    CallStarted,
    FinalText,
    Speaker,
    Stage,
    StageChanged,
    UtteranceEnded,
    UtteranceScored,
)
from assist.review import auth, create_app
from assist.review import chart as review_chart
from assist.store import StoreSink, open_engine, queries, session_factory

PASSWORD = "correct horse battery"
HOSTILE = "<script>alert('x')</script><b>bold</b> & \"quotes\""


def hostile_call() -> list:
    return [CallStarted(t=0, call_id="hostile", agent="bob"),
            FinalText(t=2, speaker=Speaker.CUSTOMER, utterance_id=1, start=0, end=2,
                      text=HOSTILE),
            UtteranceScored(t=2, utterance_id=1, start=0, end=2, text=HOSTILE, word_anger=0.2,
                            voice_arousal=0.1, anger=0.2, evidence=("<img src=x onerror=1>",))]


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    sink = StoreSink(store_url, StoreConfig())
    for event in [*flagged_call_events("flagged-1", "ann"), *hostile_call()]:
        sink(event)
    sink.close()
    engine = open_engine(store_url)
    with session_factory(engine).begin() as session:
        queries.save_user(session, "sue", auth.hash_password(PASSWORD), dt.datetime.now(dt.UTC))
    yield engine
    engine.dispose()


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, "k" * 40), follow_redirects=False) as c:
        yield c


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def log_in(client: TestClient, password: str = PASSWORD) -> int:
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": "sue", "password": password,
                                           "csrf_token": token, "next": "/"})
    return response.status_code


@pytest.fixture
def logged_in(client: TestClient) -> TestClient:
    assert log_in(client) == 303
    return client


@pytest.mark.parametrize("path", ["/", "/calls/flagged-1", "/calls/flagged-1/export.json",
                                  "/calls/flagged-1/export.csv", "/?q=refund"])
def test_nothing_without_logging_in(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert "refund" not in response.text


def test_alert_api_wants_a_login_too(client: TestClient) -> None:
    response = client.get("/api/alerts?after=0")
    assert response.status_code == 401 and "alerts" not in response.json()


def test_wrong_password_is_refused(client: TestClient) -> None:
    assert log_in(client, "wrong password") == 401
    assert client.get("/").status_code == 303


def test_session_cookie_is_signed_httponly_and_lax(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": "sue", "password": PASSWORD,
                                           "csrf_token": token})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    # A cookie made up without the key is worthless.
    forged = TestClient(client.app, follow_redirects=False,
                        cookies={"assist_review": "eyJ1c2VyIjoic3VlIn0=.x.y"})
    assert forged.get("/").status_code == 303


def test_login_only_redirects_within_the_site(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": "sue", "password": PASSWORD,
                                           "csrf_token": token, "next": "//evil.example/x"})
    assert response.headers["location"] == "/"


def test_flagged_calls_come_first_with_their_reasons(logged_in: TestClient) -> None:
    page = logged_in.get("/").text
    assert page.index("/calls/flagged-1") < page.index("/calls/hostile")
    assert "reached escalate" in page and "legal threat: my lawyer" in page
    assert logged_in.get("/?agent=bob").text.count("/calls/") == 1
    assert "/calls/flagged-1" in logged_in.get("/?stage=escalate&reviewed=no").text
    assert "/calls/flagged-1" not in logged_in.get("/?min_anger=0.95").text
    assert "is not a date" in logged_in.get("/?date_from=yesterday").text


def test_call_page_shows_transcript_chart_evidence_and_feedback(logged_in: TestClient) -> None:
    page = logged_in.get("/calls/flagged-1").text
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="timeline"' in page
    assert page.count('class="band band-') == 5  # calm, reflect, empathize, escalate, close
    assert page.count('class="prompt"') == 4 and page.count('class="trigger"') == 2
    assert page.count('class="anger-dot"') == 4
    assert "My refund never came" in page and "0.90" in page
    assert "legal threat and a manager request" in page
    assert "threatened to sue" in page and "helpful" in page
    # Times into the call as m:ss, as on the chart; stages and triggers by their names.
    assert "<strong>calm → reflect back</strong> at 0:07" in page
    assert "0:25 · flag: threatened to sue" in page and "manager request: “" in page
    legend = page[page.index('<p class="legend">'):]
    legend = legend[:legend.index("</p>")]
    assert "offer solution" not in legend and "set a boundary" not in legend  # not in this call
    # A supervisor reading one call still hears of another escalating.
    assert 'id="alert"' in page and '<script src="/static/alerts.js">' in page
    assert logged_in.get("/calls/nope").status_code == 404


def test_the_stage_colours_of_the_page_and_the_chart_agree() -> None:
    # The page's CSS cannot be generated (the CSP forbids inline styles), so it is checked.
    css = (Path(review_chart.__file__).parent / "static" / "style.css").read_text(encoding="utf-8")
    in_css = dict(re.findall(r"\.stage-(\w+) \{ background: (#[0-9a-f]{6}); \}", css))
    assert in_css == review_chart.STAGE_COLOURS
    assert len(set(in_css.values())) == len(in_css), "two stages share a colour"


def test_hostile_transcript_is_escaped(logged_in: TestClient) -> None:
    page = logged_in.get("/calls/hostile").text
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(" in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<img src=x" not in page
    headers = logged_in.get("/calls/hostile").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize(("query", "expected"), [
    ("' OR 1=1 --", []),
    ("%", []),
    ("_", []),
    ("refund", ["flagged-1"]),
    ("\"quotes\"", ["hostile"]),
    ("'); DROP TABLE calls; --", []),
])
def test_search_with_sql_metacharacters_is_harmless(logged_in: TestClient, query: str,
                                                    expected: list[str]) -> None:
    response = logged_in.get("/", params={"q": query})
    assert response.status_code == 200
    assert re.findall(r'href="/calls/([^"/]+)"', response.text) == expected
    assert "/calls/flagged-1" in logged_in.get("/").text, "the calls table must survive"


def test_every_post_without_the_csrf_token_is_refused(logged_in: TestClient) -> None:
    for path in ("/calls/flagged-1/review", "/calls/flagged-1/notes", "/logout", "/login"):
        assert logged_in.post(path, data={"text": "x"}).status_code == 403, path
        assert logged_in.post(path, data={"text": "x", "csrf_token": "forged"}).status_code == 403
    page = logged_in.get("/calls/flagged-1").text
    assert "not yet" in page and "x</p>" not in page


def test_mark_reviewed_and_add_a_note(logged_in: TestClient) -> None:
    listed = logged_in.get("/").text
    assert "1 flagged call needs review" in listed
    assert listed.index("/calls/flagged-1") < listed.index("/calls/hostile")
    token = csrf_of(logged_in.get("/calls/flagged-1").text)
    assert logged_in.post("/calls/flagged-1/review", data={"csrf_token": token}).status_code == 303
    listed = logged_in.get("/").text
    # Reviewed, it no longer heads the list: the newer call comes first, the flag greyed.
    assert "No flagged call is waiting for review." in listed
    assert listed.index("/calls/hostile") < listed.index("/calls/flagged-1")
    assert '<tr class="reviewed">' in listed
    response = logged_in.post("/calls/flagged-1/notes",
                              data={"csrf_token": token, "text": "Coach on <early> empathy"})
    assert response.status_code == 303
    page = logged_in.get("/calls/flagged-1").text
    assert "yes, by sue" in page and "Coach on &lt;early&gt; empathy" in page
    assert "/calls/flagged-1" in logged_in.get("/?reviewed=yes").text
    assert "/calls/flagged-1" not in logged_in.get("/?reviewed=no").text
    empty = logged_in.post("/calls/flagged-1/notes", data={"csrf_token": token, "text": "  "})
    # A page in the app, saying what was wrong, with the way back to the call.
    assert empty.status_code == 400 and empty.headers["content-type"].startswith("text/html")
    assert "A note needs 1 to 5000 characters." in empty.text
    assert '<a href="/calls/flagged-1">Back</a>' in empty.text
    missing = logged_in.get("/calls/nope")
    assert missing.status_code == 404 and "No such call." in missing.text and "<main>" in missing.text
    assert logged_in.get("/api/alerts?after=x").headers["content-type"] == "application/json"


def test_exports(logged_in: TestClient) -> None:
    data = json.loads(logged_in.get("/calls/flagged-1/export.json").content)
    assert data["id"] == "flagged-1" and data["flagged"] and data["top_stage"] == "escalate"
    assert len(data["utterances"]) == 7 and len(data["stage_changes"]) == 4
    csv_response = logged_in.get("/calls/flagged-1/export.csv")
    assert csv_response.headers["content-disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    # utterances, stage changes, prompts, triggers, agent actions, the summary
    assert len(rows) == 7 + 4 + 4 + 2 + 2 + 1 and rows[-1]["kind"] == "summary"
    # Each row says whose call it is, so several exports can share one sheet.
    assert {(r["call_id"], r["agent"]) for r in rows} == {("flagged-1", "ann")}
    stages = [r for r in rows if r["kind"] == "stage"]
    assert stages[0]["stage"] == "reflect back" and stages[0]["detail"].startswith("from calm")
    assert all(len(r["anger"].partition(".")[2]) <= 3 for r in rows if r["anger"])


def test_alerts_report_new_escalations(logged_in: TestClient, engine: Engine,
                                       store_url: str) -> None:
    latest = logged_in.get("/api/alerts?after=0").json()["latest"]
    assert latest > 0
    assert logged_in.get(f"/api/alerts?after={latest}").json()["alerts"] == []
    sink = StoreSink(store_url, StoreConfig(agent="cat"))
    sink(CallStarted(t=0, call_id="live", agent="cat"))
    sink(StageChanged(t=3, stage=Stage.BOUNDARY, previous=Stage.CALM, reason="insults",
                      level=0.7, trend=0.2))
    sink.close()
    alerts = logged_in.get(f"/api/alerts?after={latest}").json()["alerts"]
    assert [(a["call_id"], a["agent"], a["stage"], a["stage_label"]) for a in alerts] == [
        ("live", "cat", "boundary", "set a boundary")]


def test_logout_ends_the_session(logged_in: TestClient) -> None:
    token = csrf_of(logged_in.get("/").text)
    assert logged_in.post("/logout", data={"csrf_token": token}).status_code == 303
    assert logged_in.get("/").status_code == 303


def test_assist_review_serves_on_a_free_port(store_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n', encoding="utf-8")
    command = [sys.executable, "-m", "assist.cli", "--config", str(config), "review", "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, f"no URL printed: {line!r}"
        response = _get_when_up(f"http://127.0.0.1:{found.group(1)}/")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    finally:
        server.terminate()
        _, err = server.communicate(timeout=20)
    assert "no supervisor accounts yet" in err


def _get_when_up(url: str) -> httpx.Response:
    deadline = time.monotonic() + 15
    while True:
        try:
            return httpx.get(url, follow_redirects=False, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_times_are_shown_in_the_configured_time_zone(engine: Engine) -> None:
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    with session_factory(engine)() as session:
        started = queries.as_utc(queries.get_call(session, "flagged-1").started_at)  # type: ignore[union-attr]
    assert started is not None
    with TestClient(create_app(engine, "k" * 40, zone=tokyo), follow_redirects=False) as c:
        assert log_in(c) == 303
        in_tokyo = started.astimezone(tokyo).strftime("%Y-%m-%d %H:%M JST")
        assert in_tokyo in c.get("/").text
        assert in_tokyo in c.get("/calls/flagged-1").text
        assert started.strftime("%H:%M UTC") not in c.get("/calls/flagged-1").text


def test_an_unknown_time_zone_is_one_line(store_url: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from assist import cli

    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n[review]\ntimezone = "Mars/Olympus"\n',
                      encoding="utf-8")
    assert cli.main(["--config", str(config), "review", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("assist: error: review.timezone") and "Mars/Olympus" in err
    assert len(err.splitlines()) == 1


def test_assist_review_refuses_a_busy_port(store_url: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from assist import cli

    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n', encoding="utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert cli.main(["--config", str(config), "review", "--port", str(port)]) == 2
    assert "already in use" in capsys.readouterr().err


def test_kept_audio_plays_for_logged_in_supervisors_only(logged_in: TestClient,
                                                         store_url: str) -> None:
    audio = (np.sin(np.linspace(0, 300, SAMPLE_RATE // 2)) * 0.3).astype(np.float32)
    sink = StoreSink(store_url, StoreConfig(keep_audio=True))
    for event in (CallStarted(t=0, call_id="heard"),
                  UtteranceEnded(t=1, speaker=Speaker.CUSTOMER, utterance_id=1, start=0.5,
                                 end=1, last_voiced=1, audio=audio),
                  FinalText(t=1, speaker=Speaker.CUSTOMER, utterance_id=1, start=0.5, end=1,
                            text="listen to this")):
        sink(event)
    sink.close()
    page = logged_in.get("/calls/heard").text
    found = re.search(r'<audio controls preload="none" src="([^"]+)"', page)
    assert found, "no audio player on the line"
    response = logged_in.get(found.group(1))
    assert response.status_code == 200 and response.headers["content-type"] == "audio/flac"
    decoded, rate = sf.read(io.BytesIO(response.content), dtype="float32")
    assert rate == SAMPLE_RATE and len(decoded) == len(audio)
    assert "<audio" not in logged_in.get("/calls/flagged-1").text
    stranger = TestClient(logged_in.app, follow_redirects=False)
    assert stranger.get(found.group(1)).status_code == 303
    too_big = re.sub(r"/audio/\d+\.flac", "/audio/99999999999999999999.flac", found.group(1))
    assert logged_in.get(too_big).status_code == 404


def test_repeated_wrong_passwords_are_throttled(client: TestClient) -> None:
    for _ in range(5):
        assert log_in(client, "wrong password") == 401
    assert log_in(client) == 429  # even the right password, for a while


def test_login_throttle_forgets_old_failures() -> None:
    throttle = auth.LoginThrottle(max_failures=2, window_s=60)
    throttle.failed("Sue", "1.2.3.4", now=0)
    throttle.failed("sue", "1.2.3.4", now=10)
    assert throttle.blocked("sue", "1.2.3.4", now=20)
    assert not throttle.blocked("sue", "5.6.7.8", now=20)
    assert not throttle.blocked("sue", "1.2.3.4", now=61)
    throttle.failed("sue", "1.2.3.4", now=62)
    throttle.succeeded("sue", "1.2.3.4")
    assert not throttle.blocked("sue", "1.2.3.4", now=63)
