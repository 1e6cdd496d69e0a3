"""assist tune: pack overrides, the replay cache, label metrics, sweeps, reports, prompt effect.

Data used (and what it is used for):
- synthetic calls (seeded random): a customer whose voice arousal wanders between calm and
  furious, labelled by running the real stage machine with KNOWN thresholds. Seed 1 calls tune
  (the sweep), seed 2 calls score (held out): the sweep must recover the known thresholds and
  the recovered pack must agree with the held-out labels.
- the bundled sample call through the real pipeline (Silero VAD, real tiny.en, voice features):
  fills the tune cache; a second run must not transcribe; the sweep speed is measured on it.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from assist.cli import main
from assist.config import Config
from assist.errors import PackError
from assist.events import (
    AgentAction,
    CallEnded,
    CallStarted,
    Event,
    FinalText,
    PartialText,
    PromptShown,
    Speaker,
    Stage,
    StageChanged,
    TriggerHit,
    UtteranceEnded,
    UtteranceScored,
    UtteranceStarted,
    VoiceCue,
)
from assist.prompts import load_pack
from assist.tune import cache
from assist.tune.cache import CachedCall
from assist.tune.corpus import RecordingLoader
from assist.tune.effect import prompt_effects
from assist.tune.labels import Label, find_labels, load_labels, with_script_text
from assist.tune.metrics import score_call, total
from assist.tune.overrides import (
    Override,
    Sweep,
    apply_to_raw,
    parse_set,
    parse_sweep,
    rewrite_text,
)
from assist.tune.packs import PackSource, pack_with, read_pack_source, write_pack
from assist.tune.replay import replay_call, replay_machine
from assist.tune.report import CHART_DPI, CHART_SIZE_IN, CallReport, Column, write_report
from assist.tune.sweep import Evaluator, LabelledCall, best, ranked, run_sweep

# --- overrides ----------------------------------------------------------------------------------


def test_set_reads_toml_values() -> None:
    assert parse_set("escalation.enter.empathize=0.45") == Override(
        "escalation.enter.empathize", 0.45)
    assert parse_set("escalation.persist_replies.reflect=3").value == 3
    assert parse_set("escalation.voice_early=false").value is False
    assert parse_set("pack.description=Night shift").value == "Night shift"


def test_sweep_expands_ranges_and_keeps_whole_numbers_whole() -> None:
    sweep = parse_sweep("escalation.enter.empathize=0.3:0.4:0.05")
    assert sweep == Sweep("escalation.enter.empathize", (0.3, 0.35, 0.4))
    counts = parse_sweep("escalation.persist_replies.reflect=0:2:1").values
    assert counts == (0, 1, 2) and all(isinstance(v, int) for v in counts)


@pytest.mark.parametrize("text", ["empathize=0.4", "escalation.enter.empathize", "=0.4"])
def test_malformed_set_says_how_to_write_it(text: str) -> None:
    with pytest.raises(PackError, match=r"section\.key=value"):
        parse_set(text)


@pytest.mark.parametrize("text", ["escalation.enter.empathize=0.3:0.6",
                                  "escalation.enter.empathize=0.6:0.3:0.1",
                                  "escalation.enter.empathize=0.3:0.6:0",
                                  "escalation.enter.empathize=a:b:c",
                                  "escalation.enter.empathize=0:1:0.00001"])
def test_malformed_sweep_is_refused(text: str) -> None:
    with pytest.raises(PackError, match="--sweep"):
        parse_sweep(text)


SMALL_PACK = """\
# A pack for the rewrite tests.
[escalation]
# how fast the level follows speech
speech_half_life_s = 2.5  # seconds

[escalation.enter]
reflect = 0.30   # first rung
empathize = 0.42

[fusion]
words = 0.6
"""


def test_rewrite_replaces_values_in_place_and_keeps_comments() -> None:
    overrides = [Override("escalation.enter.empathize", 0.5),
                 Override("escalation.speech_half_life_s", 4.0)]
    text = rewrite_text(SMALL_PACK, overrides)
    assert "empathize = 0.5\n" in text
    assert "speech_half_life_s = 4.0  # seconds" in text
    assert "# how fast the level follows speech" in text
    assert "reflect = 0.30   # first rung" in text


def test_rewrite_adds_missing_keys_and_tables() -> None:
    import tomllib

    overrides = [Override("escalation.enter.solution", 0.55), Override("fusion.voice", 0.3),
                 Override("escalation.exit.reflect", 0.2)]
    text = rewrite_text(SMALL_PACK, overrides)
    raw = tomllib.loads(text)
    assert raw == apply_to_raw(tomllib.loads(SMALL_PACK), overrides)
    assert raw["escalation"]["enter"]["solution"] == 0.55
    assert raw["fusion"] == {"words": 0.6, "voice": 0.3}
    assert raw["escalation"]["exit"] == {"reflect": 0.2}


def test_overrides_go_through_the_pack_validation() -> None:
    base = read_pack_source("default")
    pack = pack_with(base, [parse_set("escalation.enter.empathize=0.47"),
                            parse_set("fusion.words=0.7")])
    assert pack.escalation.enter.empathize == 0.47
    assert pack.scoring.fusion.words == 0.7
    assert pack_with(base, []).escalation == load_pack("default").escalation


@pytest.mark.parametrize(("override", "expected"), [
    ("escalation.enter.empathize=0.1", r"default\.toml:\d+: 'escalation\.enter\.empathize'.*above"),
    ("escalation.enter.empathise=0.4", r"default\.toml:\d+: 'escalation\.enter\.empathise'"),
    ("fusion.words=1.5", r"default\.toml:\d+: 'fusion\.words' = 1\.5 is out of range"),
    ("escalation.confirm_utterances=many", r"'escalation\.confirm_utterances'"),
])
def test_bad_override_names_file_line_key_and_the_override(override: str, expected: str) -> None:
    with pytest.raises(PackError, match=expected) as caught:
        pack_with(read_pack_source("default"), [parse_set(override)])
    assert f"--set {override.split('=')[0]}" in str(caught.value)


def test_cli_refuses_a_bad_override_in_one_line(sample_call: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tune", str(sample_call), "--set", "escalation.enter.empathize=0.9"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("assist: error: ") and "escalation.enter.empathize" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("option", "target", "expected"), [
    ("--out", "recording.wav", "a prompt pack is a .toml file"),
    ("--out", "folder", "a prompt pack is a .toml file"),
    ("--report", "recording.wav", "is a file; give a folder"),
])
def test_cli_refuses_an_output_path_before_any_work_and_never_overwrites_a_recording(
        sample_call: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        option: str, target: str, expected: str) -> None:
    recording = tmp_path / "recording.wav"
    recording.write_bytes(b"RIFF not to be lost")
    (tmp_path / "folder").mkdir()
    code = main(["tune", str(sample_call), "--set", "fusion.words=0.5",
                 option, str(tmp_path / target)])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1
    assert recording.read_bytes() == b"RIFF not to be lost"


def test_a_pack_that_would_not_load_never_replaces_the_file(tmp_path: Path) -> None:
    out = tmp_path / "team.toml"
    out.write_text("# the trainer's pack\n", encoding="utf-8")
    with pytest.raises(PackError):
        write_pack(read_pack_source("default"), [parse_set("fusion.words=1.5")], out)
    assert out.read_text(encoding="utf-8") == "# the trainer's pack\n"
    write_pack(read_pack_source("default"), [parse_set("fusion.words=0.5")], out)
    assert load_pack(str(out)).scoring.fusion.words == 0.5


def test_cli_refuses_a_sweep_that_no_value_makes_valid(
        sample_call: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tune", str(sample_call), "--sweep", "escalation.enter.empathise=0.3:0.5:0.1"])
    err = capsys.readouterr().err
    assert code == 2 and "no value in the range" in err and "empathise" in err
    assert len(err.strip().splitlines()) == 1


def test_cli_without_calls_says_what_to_give(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune"]) == 2
    assert "give recordings" in capsys.readouterr().err


# --- labels and metrics -----------------------------------------------------------------------


def _change(t: float, stage: Stage, previous: Stage = Stage.CALM) -> StageChanged:
    return StageChanged(t=t, stage=stage, previous=previous, reason="test", level=0.5, trend=0.0)


def test_scorecard_counts_agreement_misses_unwanted_prompts_and_earliness() -> None:
    labels = [Label(10, Stage.CALM), Label(20, Stage.REFLECT), Label(30, Stage.ESCALATE),
              Label(40, Stage.ESCALATE), Label(50, Stage.BOUNDARY)]
    changes = [_change(15, Stage.REFLECT), _change(27, Stage.ESCALATE, Stage.REFLECT),
               _change(44, Stage.SOLUTION, Stage.ESCALATE)]
    card = score_call(changes, labels, duration=360.0)
    assert (card.labels, card.agreed) == (5, 4)  # all but the boundary at 50
    assert (card.escalations, card.missed) == (2, 1)  # the boundary never showed
    assert card.unwanted_prompts == 1  # solution: wanted neither before (escalate) nor after
    assert card.unwanted_per_hour == pytest.approx(10.0)
    assert card.early_s == (3.0,)  # escalate showed at 27, wanted by 30
    assert total([card, card]).agreement == pytest.approx(0.8)


def test_labels_file_beside_the_recording(tmp_path: Path) -> None:
    audio = tmp_path / "call.ogg"
    assert find_labels(audio) is None
    (tmp_path / "call.labels.json").write_text(json.dumps(
        [{"t": 12.5, "stage": "reflect", "start": 8.0, "end": 11.0, "speaker": "customer"},
         {"t": 3, "stage": "calm"}]))
    labels = find_labels(audio)
    assert labels == (Label(3.0, Stage.CALM),
                      Label(12.5, Stage.REFLECT, 8.0, 11.0, "customer"))


@pytest.mark.parametrize(("content", "expected"), [
    ("{", "cannot read labels"), ('{"t": 1}', "JSON list"),
    ('[{"t": 1, "stage": "panic"}]', "unknown stage 'panic'"),
    ('[{"t": -1, "stage": "calm"}]', "entry 0"), ('[{"stage": "calm"}]', "needs"),
])
def test_bad_labels_file_is_a_clear_error(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "x.labels.json"
    path.write_text(content)
    with pytest.raises(PackError, match=expected):
        load_labels(path)


# --- synthetic calls with known thresholds -------------------------------------------------------

NEUTRAL_WORDS = ("Hi, I'd like to check my order status please.",
                 "Okay, that helps, thank you.", "Thanks, that sounds fine.")
# The voice alone carries the anger here (words weight 0), so each utterance's anger is the
# arousal we chose; persist_replies 0 makes the ladder climb on the level only. The labeller
# and the tuner share these settings: only the thresholds under test are unknown.
SYNTHETIC_FIXED = (Override("fusion.words", 0.0), Override("fusion.voice", 1.0),
                   Override("escalation.persist_replies.reflect", 0),
                   Override("escalation.persist_replies.empathize", 0))
THRESHOLD_SWEEPS = (Sweep("escalation.enter.empathize", tuple(round(0.34 + 0.02 * i, 2)
                                                            for i in range(9))),
                    Sweep("escalation.enter.solution", tuple(round(0.50 + 0.02 * i, 2)
                                                           for i in range(9))))


def synthetic_call(rng: random.Random, name: str, utterances: int = 18) -> CachedCall:
    """A customer whose arousal drifts toward targets that change now and then."""
    events: list[Event] = []
    voice: list[VoiceCue] = []
    t, mood, target = 2.0, rng.uniform(0.0, 0.3), rng.uniform(0.2, 0.9)
    for uid in range(1, utterances + 1):
        if rng.random() < 0.15:
            target = rng.uniform(0.0, 0.9)
        mood = min(max(mood + 0.35 * (target - mood) + rng.gauss(0, 0.05), 0.0), 1.0)
        end = round(t + rng.uniform(2.0, 5.0), 3)  # ms, as the cache keeps them
        ids = {"speaker": Speaker.CUSTOMER, "utterance_id": uid, "start": t}
        events += [UtteranceStarted(t=t, **ids),  # type: ignore[arg-type]
                   UtteranceEnded(t=end, end=end, last_voiced=end, **ids),  # type: ignore[arg-type]
                   FinalText(t=end, end=end, text=rng.choice(NEUTRAL_WORDS), **ids)]  # type: ignore[arg-type]
        voice.append(VoiceCue(t=end, utterance_id=uid, arousal=round(mood, 3), cue="synthetic"))
        t = round(end + rng.uniform(2.0, 6.0), 3)
    return CachedCall(name=name, source="synthetic", duration=t, events=tuple(events),
                      voice=tuple(voice))


def labelled_by(pack_overrides: tuple[Override, ...], calls: list[CachedCall],
                base: PackSource) -> list[LabelledCall]:
    """Label each call with the stage the machine shows 1.5 s after each customer utterance."""
    pack = pack_with(base, pack_overrides)
    out = []
    for call in calls:
        changes = replay_call(pack, call).changes
        moments = [e.t + 1.5 for e in call.events if isinstance(e, FinalText)]
        shown = [max((c for c in changes if c.t <= m), key=lambda c: c.t, default=None)
                 for m in moments]
        labels = tuple(Label(m, c.stage if c else Stage.CALM)
                       for m, c in zip(moments, shown, strict=True))
        out.append(LabelledCall(call, labels))
    return out


@pytest.fixture(scope="module")
def default_source() -> PackSource:
    return read_pack_source("default")


@pytest.mark.parametrize("truth", [(0.44, 0.60), (0.38, 0.56)])
def test_sweep_recovers_the_thresholds_that_labelled_the_calls(
        truth: tuple[float, float], default_source: PackSource) -> None:
    known = (Override("escalation.enter.empathize", truth[0]),
             Override("escalation.enter.solution", truth[1]))
    tuning_rng, scoring_rng = random.Random(1), random.Random(2)
    tuning = labelled_by(SYNTHETIC_FIXED + known,
                         [synthetic_call(tuning_rng, f"tune{i}") for i in range(16)],
                         default_source)
    held_out = labelled_by(SYNTHETIC_FIXED + known,
                           [synthetic_call(scoring_rng, f"score{i}") for i in range(16)],
                           default_source)
    rows = run_sweep(default_source, SYNTHETIC_FIXED, THRESHOLD_SWEEPS, tuning, jobs=1)
    winner = best(rows)
    assert winner is not None
    found = [float(o.value) for o in winner.setting]
    assert found == pytest.approx(list(truth), abs=0.021)  # within one grid step
    assert any(r.error and "must be above" in r.error for r in rows)  # out-of-order points
    scorer = Evaluator(default_source, SYNTHETIC_FIXED, held_out, fast=True)
    recovered = scorer.evaluate(winner.setting).card
    default = scorer.evaluate(()).card
    assert recovered is not None and default is not None
    assert recovered.agreement >= 0.95
    assert recovered.agreement > default.agreement


def test_stage_machine_only_replay_matches_the_full_session(default_source: PackSource) -> None:
    call = synthetic_call(random.Random(3), "same")
    base_pack = pack_with(default_source, SYNTHETIC_FIXED)
    inputs = replay_call(base_pack, call).inputs
    changed = pack_with(default_source, (*SYNTHETIC_FIXED,
                                         Override("escalation.enter.empathize", 0.36)))
    full = replay_call(changed, call).changes
    fast = replay_machine(changed.escalation, inputs)
    assert [(c.t, c.stage) for c in fast] == [(c.t, c.stage) for c in full]
    assert full, "the synthetic call should move the stage at all"


def test_machine_only_replay_hears_the_agent_hand_over(default_source: PackSource) -> None:
    call = synthetic_call(random.Random(4), "handover", utterances=6)
    t = call.duration
    ids = {"speaker": Speaker.AGENT, "utterance_id": 99, "start": t}
    said = FinalText(t=t + 4, end=t + 4, text="I'm going to bring in my supervisor now.",
                     **ids)  # type: ignore[arg-type]
    call = dataclasses.replace(call, events=(*call.events, said), duration=t + 6)
    pack = pack_with(default_source, ())
    full = replay_call(pack, call)
    assert [i.agent.handover for i in full.inputs
            if i.kind == "agent" and i.agent] == ["bring in my supervisor"]
    assert full.changes[-1].stage is Stage.ESCALATE
    without = pack_with(default_source, (Override("escalation.agent_handover", False),))
    assert replay_machine(pack.escalation, full.inputs)[-1].stage is Stage.ESCALATE
    assert Stage.ESCALATE not in {c.stage for c in replay_machine(without.escalation,
                                                                  full.inputs)}


def test_machine_only_replay_hears_the_offer_turned_down(default_source: PackSource) -> None:
    call = synthetic_call(random.Random(5), "offer", utterances=4)
    t = call.duration
    offer = FinalText(t=t + 3, end=t + 3, start=t, speaker=Speaker.AGENT, utterance_id=98,
                      text="What I can do is send an engineer on Thursday.")
    refusal = FinalText(t=t + 7, end=t + 7, start=t + 5, speaker=Speaker.CUSTOMER,
                        utterance_id=99, text="Thursday? No. Absolutely not.")
    call = dataclasses.replace(call, events=(*call.events, offer, refusal), duration=t + 9)
    pack = pack_with(default_source, ())
    full = replay_call(pack, call)
    assert [i.agent.offer for i in full.inputs
            if i.kind == "agent" and i.agent] == ["What I can do is"]
    assert full.changes[-1].stage is Stage.ESCALATE
    assert replay_machine(pack.escalation, full.inputs)[-1].stage is Stage.ESCALATE
    without = pack_with(default_source, (Override("escalation.offer_refused", False),))
    assert Stage.ESCALATE not in {c.stage for c in replay_machine(without.escalation,
                                                                  full.inputs)}


def test_parallel_sweep_gives_the_same_rows(default_source: PackSource) -> None:
    calls = labelled_by(SYNTHETIC_FIXED, [synthetic_call(random.Random(4), "p")],
                        default_source)
    sweeps = (Sweep("escalation.enter.empathize", (0.36, 0.4, 0.44, 0.48)),
              Sweep("escalation.min_dwell_s.reflect", tuple(float(v) for v in range(0, 14))))
    here = run_sweep(default_source, SYNTHETIC_FIXED, sweeps, calls, jobs=1)
    spread = run_sweep(default_source, SYNTHETIC_FIXED, sweeps, calls, jobs=2)
    assert [(r.setting, r.card) for r in spread] == [(r.setting, r.card) for r in here]
    assert len(ranked(here)) == 56


def test_sweeping_a_scoring_key_rescores_the_calls(default_source: PackSource) -> None:
    calls = labelled_by(SYNTHETIC_FIXED, [synthetic_call(random.Random(12), "words")],
                        default_source)
    # The labeller's settings but for the words' weight: a scoring key, so every call is
    # re-scored (the machine-only shortcut would give the same stages for every value).
    fixed = tuple(o for o in SYNTHETIC_FIXED if o.key != "fusion.words")
    rows = run_sweep(default_source, fixed, [Sweep("fusion.words", (0.0, 1.0))], calls, jobs=1)
    labeller, halved = (row.card for row in rows)
    assert labeller is not None and halved is not None
    assert labeller.agreement == 1.0
    # Neutral words weighed like the voice halve each utterance's anger: stages come later.
    assert halved.agreement < labeller.agreement


# --- cache --------------------------------------------------------------------------------------


def test_cached_call_survives_json() -> None:
    call = synthetic_call(random.Random(5), "json", utterances=3)
    scored = UtteranceScored(t=3.0, utterance_id=1, start=1.0, end=3.0, text="x",
                             word_anger=0.2, voice_arousal=None, anger=0.3,
                             evidence=("a", "b"), triggers=(TriggerHit(name="insult", words="y"),))
    call = CachedCall(name=call.name, source=call.source, duration=call.duration,
                      events=(*call.events, scored), voice=call.voice)
    back = cache.decode_call(json.loads(json.dumps(cache.encode_call(call))))
    assert back == call
    assert isinstance(back.events[-1], UtteranceScored)
    assert back.events[-1].triggers[0].name == "insult"


def test_the_cache_key_changes_with_whatever_changes_the_events(tmp_path: Path) -> None:
    audio, model = tmp_path / "call.wav", tmp_path / "model"
    audio.write_bytes(b"RIFF one")
    model.mkdir()
    (model / "model.bin").write_bytes(b"weights")
    channels = ("left", "right")

    def key(config: Config) -> str:
        return cache.cache_key(audio, model, config, channels)

    base = Config()
    changed = [
        dataclasses.replace(base, asr=dataclasses.replace(base.asr, partial_every_s=3.0)),
        dataclasses.replace(base, asr=dataclasses.replace(base.asr, beam_size=1)),
        dataclasses.replace(base, segmenter=dataclasses.replace(
            base.segmenter, end_silence_ms=base.segmenter.end_silence_ms + 100)),
    ]
    assert len({key(base), *map(key, changed)}) == 1 + len(changed)
    threads = dataclasses.replace(base, asr=dataclasses.replace(base.asr, cpu_threads=2))
    assert key(threads) == key(base)  # speed, not text
    before = key(base)
    audio.write_bytes(b"RIFF two")
    assert key(base) != before


# --- report -------------------------------------------------------------------------------------


def test_report_has_both_columns_and_charts_that_decode(tmp_path: Path,
                                                        default_source: PackSource) -> None:
    call = synthetic_call(random.Random(6), "report call")
    labels = labelled_by(SYNTHETIC_FIXED, [call], default_source)[0].labels
    columns = []
    for title, extra in (("current pack", ()), ("with override", (
            Override("escalation.enter.reflect", 0.25),))):
        pack = pack_with(default_source, (*SYNTHETIC_FIXED, *extra))
        outcome = replay_call(pack, call)
        columns.append(Column(title, outcome, pack.escalation,
                              score_call(outcome.changes, labels, outcome.duration)))
    page = write_report([CallReport(call.name, labels, tuple(columns))], tmp_path / "rep",
                        title="test report")
    text = page.read_text(encoding="utf-8")
    assert "current pack" in text and "with override" in text and "why it fired" in text
    for png in ("report-call-1.png", "report-call-2.png"):
        assert png in text
        image = matplotlib.image.imread(tmp_path / "rep" / png)
        width, height = (round(v * CHART_DPI) for v in CHART_SIZE_IN)
        assert image.shape[:2] == (height, width)
        assert float(np.std(image[..., :3])) > 0.05  # drawn, not a blank canvas
    first_reason = columns[0].outcome.changes[0].reason
    assert first_reason.split()[0] in text


def test_out_writes_a_complete_pack_that_keeps_comments(tmp_path: Path,
                                                        default_source: PackSource) -> None:
    out = write_pack(default_source, [Override("escalation.enter.empathize", 0.46)],
                     tmp_path / "tuned.toml")
    text = out.read_text(encoding="utf-8")
    assert load_pack(str(out)).escalation.enter.empathize == 0.46
    original_comments = [line for line in default_source.text.splitlines()
                         if line.lstrip().startswith("#")]
    assert all(line in text for line in original_comments)
    assert len(text.splitlines()) == len(default_source.text.splitlines())


# --- prompt effect and stored calls ------------------------------------------------------------


def _store_call(call: CachedCall, default_source: PackSource, feedback: str) -> str:
    from assist.store import StoreSink

    sink = StoreSink(None, Config().store)
    call_id = call.name
    outcome = replay_call(pack_with(default_source, SYNTHETIC_FIXED), call)
    finals = {e.utterance_id: e for e in call.events if isinstance(e, FinalText)}
    events: list[Event] = [CallStarted(t=0.0, call_id=call_id, agent="tester")]
    for event in sorted(outcome.events, key=lambda e: e.t):
        if isinstance(event, UtteranceScored):
            events.append(finals[event.utterance_id])
        events.append(event)
        if isinstance(event, PromptShown):
            events.append(AgentAction(t=event.t + 1, action="feedback", value=feedback))
    events.append(CallEnded(t=call.duration, call_id=call_id))
    for event in events:
        sink(event)
    sink.close()
    return call_id


def test_prompt_effect_from_the_store(default_source: PackSource,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from assist.store import open_engine, session_factory

    calls = [synthetic_call(random.Random(7 + i), f"stored{i}") for i in range(3)]
    for i, call in enumerate(calls):
        _store_call(call, default_source, "useful" if i else "not_useful")
    engine = open_engine(None)
    with session_factory(engine)() as session:
        effects = prompt_effects(session)
    engine.dispose()
    assert effects, "replayed calls with stage changes should have stored prompts"
    shown = sum(e.shown for e in effects)
    assert sum(e.useful + e.not_useful for e in effects) == shown
    assert all(len(e.changes) <= e.shown for e in effects)
    measured = [c for e in effects for c in e.changes]
    assert measured and all(-1.0 <= c <= 1.0 for c in measured)
    assert main(["tune", "--effect"]) == 0
    out = capsys.readouterr().out
    assert "mean change" in out and effects[0].headline[:20] in out


def test_stored_calls_are_rescored_without_audio(tmp_path: Path, default_source: PackSource,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    call = synthetic_call(random.Random(11), "stored-for-rescore")
    _store_call(call, default_source, "useful")
    code = main(["tune", "--recent", "1", "--set", "escalation.enter.reflect=0.25",
                 "--report", str(tmp_path / "rep")])
    out = capsys.readouterr().out
    assert code == 0
    assert "stored-for-rescore" in out and "prompts" in out
    assert (tmp_path / "rep" / "index.html").exists()


# --- the real pipeline: cache fill, cache hit, speed ---------------------------------------------


class _NoTranscription(Exception):
    pass


def _refuse_to_transcribe() -> object:
    raise _NoTranscription("the tune cache should have made transcription unnecessary")


def _final(utterance_id: int, speaker: Speaker, start: float, end: float, text: str) -> FinalText:
    return FinalText(t=end, speaker=speaker, utterance_id=utterance_id, start=start, end=end,
                     text=text)


def test_script_text_replaces_what_the_recogniser_heard_of_the_customer() -> None:
    events = (
        _final(1, Speaker.AGENT, 0.0, 2.0, "How can I help?"),
        PartialText(t=3.5, speaker=Speaker.CUSTOMER, utterance_id=2, start=2.5, end=3.5,
                    text="Are you neg"),
        _final(2, Speaker.CUSTOMER, 2.5, 4.0, "Are you negative?"),
        # One turn the segmenter split in two: its text goes once, to the larger part.
        _final(3, Speaker.CUSTOMER, 5.0, 5.6, "I'd like"),
        _final(4, Speaker.CUSTOMER, 5.8, 8.0, "to speak to a super minor."),
    )
    labels = (Label(4.0, Stage.BOUNDARY, 2.4, 4.1, "customer", "Are you an idiot?"),
              Label(8.5, Stage.ESCALATE, 5.0, 8.0, "customer",
                    "I'd like to speak to a supervisor."),
              Label(2.0, Stage.CALM, 0.0, 2.0, "agent", "How can I help you today?"))
    replaced = with_script_text(events, labels)
    texts = {e.utterance_id: e.text for e in replaced if isinstance(e, FinalText)}
    assert texts == {1: "How can I help?", 2: "Are you an idiot?", 3: "",
                     4: "I'd like to speak to a supervisor."}
    assert not any(isinstance(e, PartialText) for e in replaced)


def test_labels_keep_the_text_of_each_turn(tmp_path: Path) -> None:
    path = tmp_path / "call.labels.json"
    path.write_text(json.dumps([{"t": 3, "stage": "calm", "speaker": "customer",
                                 "start": 0.5, "end": 2.0, "text": "Hello there."}]),
                    encoding="utf-8")
    assert load_labels(path)[0].text == "Hello there."


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data dir whose tune cache holds the sample call run through the real pipeline."""
    from assist.paths import sample_call

    data = tmp_path_factory.mktemp("tune-real")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASSIST_DATA_DIR", str(data))
        loader = RecordingLoader(Config(), load_pack("default"))
        call = loader.load(sample_call())
        assert loader.stats.transcribed == 1 and loader.stats.hits == 0
        assert call.customer_texts, "Whisper heard nothing of the customer"
    yield data


@pytest.mark.slow
def test_real_pipeline_fills_the_cache_and_a_second_run_transcribes_nothing(
        real_cache: Path, sample_call: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_DATA_DIR", str(real_cache))
    assert list((real_cache / "tune-cache").glob("*.json"))
    loader = RecordingLoader(Config(), load_pack("default"),
                             load_transcriber=_refuse_to_transcribe)  # type: ignore[arg-type]
    call = loader.load(sample_call)
    assert (loader.stats.hits, loader.stats.transcribed) == (1, 0)
    heard = " ".join(t.text.lower() for t in call.customer_texts)
    assert any(word in heard for word in ("order", "monday", "parcel", "hold"))
    assert any(v.arousal > 0 for v in call.voice)
    outcome = replay_call(load_pack("default"), call)
    assert outcome.scored and outcome.changes
    assert outcome.changes[0].stage is not Stage.CALM


@pytest.mark.slow
def test_cli_sweep_on_cached_calls_writes_pack_report_and_speed(
        real_cache: Path, sample_call: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASSIST_DATA_DIR", str(real_cache))
    monkeypatch.setattr(RecordingLoader, "_real_transcriber", _refuse_to_transcribe)
    out = tmp_path / "tuned.toml"
    code = main(["tune", str(sample_call), "--sweep", "escalation.enter.reflect=0.2:0.4:0.05",
                 "--sweep", "escalation.min_dwell_s.reflect=2:10:2", "--out", str(out),
                 "--report", str(tmp_path / "rep"), "--jobs", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "1 from the tune cache, 0 transcribed" in captured.err
    assert "settings/minute" in captured.out and "best:" in captured.out
    assert load_pack(str(out)).escalation.enter.reflect in (0.2, 0.25, 0.3, 0.35, 0.4)
    html = (tmp_path / "rep" / "index.html").read_text(encoding="utf-8")
    assert "sample_call-1.png" in html and "sample_call-2.png" in html


@pytest.mark.slow
def test_cli_script_text_scores_the_labelled_words(
        real_cache: Path, sample_call: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASSIST_DATA_DIR", str(real_cache))
    monkeypatch.setattr(RecordingLoader, "_real_transcriber", _refuse_to_transcribe)
    code = main(["tune", str(sample_call), "--script-text", "--no-report"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "1 from the tune cache, 0 transcribed" in captured.err
    assert "agreement 100% of 12 labels" in captured.out


@pytest.mark.slow
def test_sweep_speed_on_a_ten_call_cached_corpus(real_cache: Path, sample_call: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASSIST_DATA_DIR", str(real_cache))
    loader = RecordingLoader(Config(), load_pack("default"),
                             load_transcriber=_refuse_to_transcribe)  # type: ignore[arg-type]
    call = loader.load(sample_call)
    labels = find_labels(sample_call) or ()
    corpus = [LabelledCall(CachedCall(f"copy{i}", call.source, call.duration, call.events,
                                      call.voice), labels) for i in range(10)]
    sweeps = (Sweep("escalation.enter.empathize", tuple(round(0.32 + 0.01 * i, 2)
                                                      for i in range(19))),
              Sweep("escalation.escalate_after_s", tuple(float(v) for v in range(0, 40, 2))))
    started = time.perf_counter()
    rows = run_sweep(read_pack_source("default"), (), sweeps, corpus)
    elapsed = time.perf_counter() - started
    rate = len(rows) / elapsed * 60
    with capsys.disabled():
        print(f"\ntune sweep: {len(rows)} settings x 10 cached calls in {elapsed:.1f} s "
              f"= {rate:.0f} settings/minute")
    assert len(rows) == 380 and ranked(rows)
    assert rate > 300  # the target is 1,000/min; generous here for a loaded CI machine
