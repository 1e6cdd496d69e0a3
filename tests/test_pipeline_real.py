"""The real pipeline end to end: real recordings, the real Silero VAD and the real tiny.en.

These are the slow tests (a few seconds of Whisper each); scripts/test runs them all.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly
from transcript_helpers import assert_lines_heard_in_order, overlap

from assist.asr import load_transcriber
from assist.audio.sources import open_file
from assist.config import Config
from assist.events import FinalText, Speaker, Stage, StageChanged
from assist.paths import PROJECT_ROOT, sample_call
from assist.pipeline import final_texts, run_to_end
from assist.prompts import load_pack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def transcriber() -> object:
    return load_transcriber(None, Config().asr)


def replay(path: Path, transcriber: object, **channels: str | None) -> list[FinalText]:
    source = open_file(path, speed="max", **channels)  # type: ignore[arg-type]
    events = run_to_end(source, Config(), transcriber=transcriber,  # type: ignore[arg-type]
                        pack=load_pack("default"))
    return final_texts(events)


def test_stereo_channels_come_out_as_two_speakers(shared_data: Path, transcriber: object) -> None:
    finals = replay(shared_data / "speech-wer" / "stereo_diarization.wav", transcriber)
    by_speaker = {s: " ".join(f.text for f in finals if f.speaker is s) for s in Speaker}
    assert overlap("he began a confused complaint against the wizard", by_speaker[Speaker.AGENT]) > 0.7
    assert overlap("the horizon seems extremely distant", by_speaker[Speaker.CUSTOMER]) > 0.7
    assert overlap("the horizon seems extremely distant", by_speaker[Speaker.AGENT]) < 0.3
    assert overlap("confused complaint against the wizard", by_speaker[Speaker.CUSTOMER]) < 0.3


@pytest.mark.parametrize("rate", [8_000, 48_000])
def test_other_sample_rates_are_resampled(rate: int, shared_data: Path, tmp_path: Path,
                                          transcriber: object) -> None:
    audio, native = sf.read(str(shared_data / "speech-wer" / "jfk.flac"), dtype="float32")
    path = tmp_path / f"jfk_{rate}.wav"
    sf.write(str(path), resample_poly(audio, rate, native).astype(np.float32), rate)
    heard = " ".join(f.text for f in replay(path, transcriber))
    assert overlap("ask not what your country can do for you ask what you can do for your "
                   "country", heard) > 0.8


def sample_lines(speaker: str) -> list[str]:
    labels = json.loads(sample_call().with_suffix(".labels.json").read_text(encoding="utf-8"))
    return [turn["text"] for turn in labels if turn["speaker"] == speaker]


def test_sample_call_customer_lines_in_order_and_agent_never_customer(transcriber: object) -> None:
    finals = replay(sample_call(), transcriber)
    heard = [f.text for f in finals if f.speaker is Speaker.CUSTOMER]
    assert_lines_heard_in_order(sample_lines("customer"), heard)
    for agent_line in sample_lines("agent"):
        assert all(overlap(agent_line, h) < 0.5 for h in heard), agent_line


def test_cli_transcribe_prints_a_timed_transcript(shared_data: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "assist.cli", "transcribe",
                             str(shared_data / "speech-wer" / "stereo_diarization.wav")],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert any(re.match(r"\[\d\d:\d\d\.\d - \d\d:\d\d\.\d\] agent: .*wizard", li, re.I)
               for li in lines), lines
    assert any(re.match(r"\[\d\d:\d\d\.\d - \d\d:\d\d\.\d\] customer: .*horizon", li, re.I)
               for li in lines), lines


def test_cli_replay_json_is_one_event_per_line(shared_data: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "assist.cli", "replay", "--json",
                             "--customer-channel", "mono", "--agent-channel", "none",
                             str(shared_data / "speech-wer" / "jfk.flac")],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "CallStarted" and types[-1] == "CallEnded"
    assert {"UtteranceStarted", "UtteranceEnded", "FinalText", "VoiceCue",
            "UtteranceScored"} <= set(types)
    finals = [e for e in events if e["type"] == "FinalText"]
    assert all(e["speaker"] == "customer" for e in finals)  # no agent channel: all customer
    assert overlap("ask not what your country can do for you", " ".join(e["text"] for e in finals)) > 0.8


def stage_at(changes: list[StageChanged], t: float) -> Stage:
    shown = [c.stage for c in changes if c.t <= t]
    return shown[-1] if shown else Stage.CALM


def test_the_slow_burn_shows_each_labelled_stage_in_time(transcriber: object) -> None:
    """Words and voice together: the climb comes turn by turn, escalate after the offer."""
    call = PROJECT_ROOT / "assist" / "data" / "calls" / "slow_burn.ogg"
    labels = json.loads(call.with_suffix("").with_suffix(".labels.json").read_text("utf-8"))
    events = run_to_end(open_file(call, speed="max"), Config(),
                        transcriber=transcriber, pack=load_pack("default"))  # type: ignore[arg-type]
    changes = [e for e in events if isinstance(e, StageChanged)]
    assert [c.stage for c in changes] == [Stage.REFLECT, Stage.EMPATHIZE, Stage.SOLUTION,
                                          Stage.ESCALATE]
    # "Ten percent? That's a joke!" turns the offer down; anger held in offer solution would
    # escalate a moment later too.
    assert "turned down the agent's offer" in changes[-1].reason
    assert [(turn["t"], stage_at(changes, turn["t"]).value) for turn in labels] == \
        [(turn["t"], turn["stage"]) for turn in labels]


def test_the_agent_bringing_in_a_team_leader_escalates_a_call_the_customer_never_did(
        transcriber: object, tmp_path: Path) -> None:
    """The agent's channel, heard by the real recogniser, escalates the call; no customer line
    in this blind-written call reads angry enough to, so the handover is the only way."""
    script = PROJECT_ROOT / "evaluation" / "blind_calls" / "tuning" / "broadband_outage_escalate.toml"
    call = tmp_path / "broadband.ogg"
    rendered = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "make_call"),
                               str(script), "-o", str(call)], capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stderr
    labels = json.loads(script.with_suffix(".labels.json").read_text("utf-8"))
    events = run_to_end(open_file(call, speed="max"), Config(),
                        transcriber=transcriber, pack=load_pack("default"))  # type: ignore[arg-type]
    changes = [e for e in events if isinstance(e, StageChanged)]
    escalations = [c for c in changes if c.stage is Stage.ESCALATE]
    assert [c.reason for c in escalations] == \
        ["the agent is bringing in a supervisor: 'bring in my team leader'"]
    handover = next(turn for turn in labels if "team leader" in turn["text"])
    assert handover["speaker"] == "agent"
    assert escalations[0].t <= handover["t"], "escalate shows by the agent's handover label"
    assert stage_at(changes, labels[-1]["t"]) is Stage.ESCALATE
