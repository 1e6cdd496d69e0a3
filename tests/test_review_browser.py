"""The supervisor's review flow in a real Chromium (Debian's, driven by Playwright): on
synthetic calls, and on the bundled sample call replayed through the real pipeline."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_fixtures import flagged_call_events
from store_helpers import only_call

from assist.config import StoreConfig
from assist.events import CallStarted, FinalText, Speaker, Stage, StageChanged
from assist.review import auth, create_app
from assist.store import StoreSink, open_engine, queries, session_factory
from assist.store.summaries import summary_from_json

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("ASSIST_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"
TIMEOUT_MS = 15_000


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ASSIST_DATA_DIR", str(tmp_path / "data"))
    url = f"sqlite:///{tmp_path / 'calls.sqlite3'}"
    sink = StoreSink(url, StoreConfig())
    calm = [CallStarted(t=0, call_id="calm-1", agent="bob"),
            FinalText(t=2, speaker=Speaker.CUSTOMER, utterance_id=1, start=0, end=2,
                      text="Just checking my <b>delivery</b> date.")]
    for event in [*calm, *flagged_call_events("flagged-1", "ann")]:
        sink(event)
    sink.close()
    _add_supervisor(url)
    return url


def _add_supervisor(url: str) -> None:
    engine = open_engine(url)
    with session_factory(engine).begin() as session:
        queries.save_user(session, "sue", auth.hash_password(PASSWORD), dt.datetime.now(dt.UTC))
    engine.dispose()


@pytest.fixture
def server(store_url: str) -> Iterator[str]:
    with serving(store_url) as base:
        yield base


@contextlib.contextmanager
def serving(store_url: str) -> Iterator[str]:
    """The review app on a free local port, in a thread, until the block ends."""
    import uvicorn

    engine = open_engine(store_url)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = create_app(engine, auth.load_secret())
    served = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=served.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        served.should_exit = True
        thread.join(10)
        listener.close()
        engine.dispose()


@pytest.fixture
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_supervisor_reviews_a_flagged_call(browser, server: str, store_url: str,
                                           tmp_path: Path) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)

    page.goto(server + "/")
    expect(page).to_have_url(f"{server}/login?next=%2F")
    page.fill("input[name=name]", "sue")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(server + "/")

    rows = page.locator("table.calls tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_class("flagged")
    expect(rows.first).to_contain_text("reached escalate")

    _live_alert_shows(page, store_url)
    page.screenshot(path=str(tmp_path / "review-list.png"))

    rows.first.locator("a.call-link").click()
    expect(page).to_have_url(server + "/calls/flagged-1")
    chart = page.locator("svg#timeline")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["width"] > 600
    expect(chart.locator("rect.band")).to_have_count(5)
    expect(page.locator("#transcript tbody tr")).to_have_count(7)
    expect(page.locator("#transcript")).to_contain_text("my lawyer will hear about it")

    _mark_reviewed_and_note(page, "Good hand-over; coach on earlier empathy.",
                            shows="coach on earlier empathy")

    shot = tmp_path / "review-call.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")

    _stranger_sees_nothing(browser, server)
    context.close()


def _mark_reviewed_and_note(page, note: str, *, shows: str) -> None:
    """Sue marks the open call reviewed and adds a note; both show on the page."""
    from playwright.sync_api import expect

    page.click("#mark-reviewed")
    expect(page.locator("#reviewed")).to_contain_text("yes, by sue")
    page.fill("textarea[name=text]", note)
    page.click("#add-note")
    expect(page.locator("blockquote.note")).to_contain_text(shows)


def _log_in(page, server: str) -> None:
    from playwright.sync_api import expect

    page.goto(server + "/")
    page.fill("input[name=name]", "sue")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(server + "/")


@pytest.fixture
def replayed_store(sample_call: Path, tmp_path: Path) -> str:
    """A store holding the sample call, replayed by `assist replay --store` (real Whisper)."""
    data_dir = tmp_path / "replayed"
    done = subprocess.run(
        [sys.executable, "-m", "assist.cli", "replay", str(sample_call), "--speed", "max",
         "--store"], env={**os.environ, "ASSIST_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"},
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    url = f"sqlite:///{data_dir / 'calls.sqlite3'}"
    _add_supervisor(url)
    return url


@pytest.mark.slow
def test_supervisor_reviews_the_replayed_sample_call(browser, replayed_store: str,
                                                    tmp_path: Path) -> None:
    from playwright.sync_api import expect

    call = only_call(replayed_store)
    summary = summary_from_json(call.summary)
    assert summary is not None
    with serving(replayed_store) as server:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        _log_in(page, server)

        rows = page.locator("table.calls tbody tr")
        expect(rows).to_have_count(1)
        row = rows.first
        expect(row).to_have_class("flagged")
        expect(row).to_contain_text("peak anger at or above 0.75")
        expect(row.locator("td.outcome")).to_have_text("calmed down")
        expect(row.locator("td.peak")).to_have_text(f"{call.peak_anger:.2f}")

        row.locator("a.call-link").click()
        expect(page).to_have_url(f"{server}/calls/{call.id}")
        expect(page.locator("#summary h2")).to_have_text("Summary: calmed down")
        expect(page.locator("#summary-prompts tbody tr")).to_have_count(len(summary.prompts))
        expect(page.locator("#summary-anger")).to_have_text(
            f"peak {summary.peak_anger:.2f}, final {summary.final_anger:.2f}")
        chart = page.locator("svg#timeline")
        expect(chart).to_be_visible()
        expect(chart.locator("rect.band")).to_have_count(len(call.stage_changes) + 1)
        expect(page.locator("#transcript tbody tr")).to_have_count(len(call.utterances))
        expect(page.locator("#transcript")).to_contain_text("third time")

        _mark_reviewed_and_note(page, "Refund and reship offered; calmed well.",
                                shows="calmed well")
        page.screenshot(path=str(tmp_path / "review-sample-call.png"), full_page=True)
        context.close()
    reviewed = only_call(replayed_store)
    assert reviewed.reviewed and reviewed.reviewed_by == "sue"
    assert [n.text for n in reviewed.notes] == ["Refund and reship offered; calmed well."]




def _live_alert_shows(page, store_url: str) -> None:
    from playwright.sync_api import expect

    alert = page.locator("#alert")
    expect(alert).to_be_hidden()
    sink = StoreSink(store_url, StoreConfig(agent="cat"))
    sink(CallStarted(t=0, call_id="live-1", agent="cat"))
    sink(StageChanged(t=4, stage=Stage.ESCALATE, previous=Stage.SOLUTION,
                      reason="asked for a manager", level=0.8, trend=0.2))
    sink.close()
    expect(alert).to_be_visible(timeout=TIMEOUT_MS)
    expect(alert).to_contain_text("cat's call reached escalate")
    expect(alert.locator("a")).to_have_attribute("href", "/calls/live-1")


def _stranger_sees_nothing(browser, server: str) -> None:
    from playwright.sync_api import expect

    stranger = browser.new_context()
    page = stranger.new_page()
    page.goto(server + "/calls/flagged-1")
    expect(page).to_have_url(f"{server}/login?next=%2Fcalls%2Fflagged-1")
    secret = "never came"  # words of the flagged call's transcript
    assert secret not in page.content()
    for path in ("/calls/flagged-1/export.json", "/calls/flagged-1/export.csv", "/?q=refund"):
        body = stranger.request.get(server + path).text()
        assert secret not in body and "Supervisor log in" in body, path
    assert stranger.request.get(server + "/api/alerts?after=0").status == 401
    stranger.close()
