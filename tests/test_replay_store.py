"""The bundled sample call replayed through the REAL pipeline (real Whisper) into the store.

`assist replay --store` runs as a subprocess with its own data directory, so the store is the
one an agent's overlay would write; one test kills it mid-call with SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from store_helpers import only_call

from assist.config import StoreConfig
from assist.events import Outcome, Stage
from assist.store import StoreSink, open_engine, redact, session_factory
from assist.store.recorder import ENDED_ABRUPTLY
from assist.store.schema import Call, Utterance
from assist.store.summaries import summary_from_json

pytestmark = pytest.mark.slow

REPLAY_TIMEOUT_S = 300
COMMIT_WAIT_S = 20.0  # the store's writer thread commits a moment after the JSON line prints
CUSTOMER_LINES_BEFORE_KILL = 3
DEFAULT_FLAG_ANGER = StoreConfig().flag_anger


def replay(sample_call: Path, data_dir: Path, *options: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ASSIST_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "assist.cli", "replay", str(sample_call), "--store", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def store_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'calls.sqlite3'}"


def test_replayed_sample_call_is_stored_flagged_and_summarised(sample_call: Path,
                                                              tmp_path: Path) -> None:
    child = replay(sample_call, tmp_path / "data", "--speed", "max")
    _out, err = child.communicate(timeout=REPLAY_TIMEOUT_S)
    assert child.returncode == 0, err

    call = only_call(store_url(tmp_path / "data"))
    assert call.end_reason == "ended" and call.ended_at is not None
    customer = [u for u in call.utterances if u.speaker == "customer" and u.anger is not None]
    assert len(customer) >= 4 and call.peak_anger == max(u.anger or 0.0 for u in customer)
    # The sample call's peak is ~0.84: over the default store.flag_anger (0.75), so flagged for
    # that, and for nothing else (it never reaches escalate or a boundary, and has no legal threat).
    assert call.peak_anger >= DEFAULT_FLAG_ANGER
    assert call.flagged
    assert call.flag_reason_list == [f"peak anger at or above {DEFAULT_FLAG_ANGER:.2f}"]

    summary = summary_from_json(call.summary)
    assert summary is not None and summary.call_id == call.id
    assert summary.outcome is Outcome.CALMED and call.outcome == "calmed down"
    assert summary.peak_anger == pytest.approx(call.peak_anger, abs=1e-3)
    assert [p.stage.value for p in summary.prompts] == [
        p.stage for p in call.prompts if p.stage != Stage.CALM.value]
    _stage_times_match_the_stored_changes(summary.stage_seconds, summary.t - summary.duration_s,
                                          summary.t, call)


def _stage_times_match_the_stored_changes(stage_seconds: tuple[tuple[Stage, float], ...],
                                          start: float, end: float, call: Call) -> None:
    assert call.stage_changes, "the sample call should leave calm"
    expected: dict[str, float] = {}
    stage, since = Stage.CALM.value, start
    for change in call.stage_changes:
        assert change.previous == stage, "stored stage changes do not chain"
        expected[stage] = expected.get(stage, 0.0) + change.t - since
        stage, since = change.stage, change.t
    expected[stage] = expected.get(stage, 0.0) + end - since
    got = {s.value: seconds for s, seconds in stage_seconds}
    assert got.keys() == {s for s, v in expected.items() if round(v, 1) > 0}
    for name, seconds in got.items():
        assert seconds == pytest.approx(expected[name], abs=0.06), name
    assert sum(got.values()) == pytest.approx(end - start, abs=0.2)


def test_sigkill_mid_replay_keeps_finished_utterances_and_ends_the_call_abruptly(
        sample_call: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    child = replay(sample_call, data_dir, "--speed", "real", "--json")
    try:
        printed = _customer_lines(child, CUSTOMER_LINES_BEFORE_KILL)
        # The JSON sink prints an event before the store's writer thread commits it, so an
        # utterance counts as completed once it is committed (bounded wait), then we kill.
        _wait_until_stored(store_url(data_dir), printed)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL

    killed = only_call(store_url(data_dir))
    assert killed.ended_at is None and killed.summary is None
    stored = {u.text for u in killed.utterances if u.speaker == "customer"}
    assert {redact(text) for text in printed} <= stored

    StoreSink(store_url(data_dir), StoreConfig()).close()  # the overlay's next start

    call = only_call(store_url(data_dir))
    assert call.end_reason == ENDED_ABRUPTLY and call.outcome == "ended abruptly"
    summary = summary_from_json(call.summary)
    assert summary is not None and summary.outcome is Outcome.ENDED_ABRUPTLY
    assert summary.peak_anger == pytest.approx(call.peak_anger, abs=1e-3)
    assert summary.duration_s == pytest.approx(call.duration, abs=1e-3)
    assert summary.duration_s < 60, "the kill came well before the end of the 73 s call"


def _customer_lines(child: subprocess.Popen[str], wanted: int) -> list[str]:
    """Read the replay's JSON lines until ``wanted`` customer lines of text were printed."""
    assert child.stdout is not None
    texts: list[str] = []
    for line in child.stdout:
        event = json.loads(line)
        if (event["type"] == "FinalText" and event["speaker"] == "customer"
                and event["text"].strip()):
            texts.append(event["text"])
            if len(texts) == wanted:
                return texts
    pytest.fail(f"the replay ended after {len(texts)} customer lines: "
                f"{child.stderr.read() if child.stderr else ''}")


def _wait_until_stored(url: str, texts: list[str]) -> None:
    wanted = {redact(text) for text in texts}
    deadline = time.monotonic() + COMMIT_WAIT_S
    engine = open_engine(url)
    try:
        while time.monotonic() < deadline:
            with session_factory(engine)() as session:
                stored = set(session.scalars(select(Utterance.text)))
            if wanted <= stored:
                return
            time.sleep(0.05)
    finally:
        engine.dispose()
    pytest.fail(f"not stored within {COMMIT_WAIT_S:.0f} s: {sorted(wanted - stored)}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_polite_kill_of_the_overlay_ends_the_call_as_stopped_with_everything_heard(
        sample_call: Path, tmp_path: Path, signum: signal.Signals) -> None:
    # The overlay (its terminal view here) is what agents run; a logout or a service
    # manager stops it with SIGHUP or SIGTERM, which must not cost the call.
    data_dir = tmp_path / "data"
    env = {key: value for key, value in os.environ.items() if key != "DISPLAY"}
    child = subprocess.Popen(
        [sys.executable, "-m", "assist.cli", "replay", str(sample_call), "--store", "--overlay",
         "--speed", "real"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**env, "ASSIST_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"})
    try:
        _wait_for_customer_lines(store_url(data_dir), 2)
        child.send_signal(signum)
        _out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err
    call = only_call(store_url(data_dir))
    assert call.end_reason == "stopped" and call.summary is not None
    assert len([u for u in call.utterances if u.speaker == "customer"]) >= 2
    assert 5 < call.duration < 60, "stopped well before the end of the 73 s call"


def _wait_for_customer_lines(url: str, wanted: int) -> None:
    # Read the file directly: open_engine would migrate it, racing the replay that is
    # creating the very same tables.
    path = Path(url.removeprefix("sqlite:///"))
    deadline = time.monotonic() + REPLAY_TIMEOUT_S
    while time.monotonic() < deadline:
        if _stored_customer_lines(path) >= wanted:
            return
        time.sleep(0.2)
    pytest.fail(f"fewer than {wanted} customer lines were stored")


def _stored_customer_lines(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return int(db.execute("SELECT count(*) FROM utterances WHERE speaker = 'customer' "
                                  "AND text != ''").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the tables are still being made
