"""The overlay's pure parts: reducer, view, prefs, terminal rendering (no display needed)."""

from __future__ import annotations

import dataclasses
import io
import json
import queue
import threading
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from assist.events import (
    AgentAction,
    AudioState,
    AudioStatus,
    CallEnded,
    CallStarted,
    CallSummarized,
    Cue,
    Event,
    FinalText,
    LevelUpdate,
    Outcome,
    PromptShown,
    Speaker,
    Stage,
    StageChanged,
    TriggerHit,
    UtteranceScored,
)
from assist.overlay.prefs import Desktop, WindowPrefs, load_prefs, on_screen, save_prefs
from assist.overlay.queueing import MAX_EVENTS_PER_TICK, fold_pending
from assist.overlay.state import (
    CUE_SECONDS,
    HISTORY_POINTS,
    HISTORY_SECONDS,
    OverlayState,
    dismiss,
    reduce,
    tick,
    toggle_why,
)
from assist.overlay.terminal import render, run_terminal
from assist.overlay.view import STAGE_COLOURS, call_timer, present, trend_arrow

T0 = 1_700_000_000.0  # an arbitrary wall-clock origin


def fold(events: Sequence[Event], state: OverlayState | None = None) -> OverlayState:
    state = state or OverlayState(now=T0)
    for event in events:
        state = reduce(state, event)
    return state


def angry_call() -> list[Event]:
    return [
        CallStarted(t=0, wall=T0, call_id="c1"),
        AudioState(t=0, wall=T0, status=AudioStatus.LISTENING),
        FinalText(t=3, wall=T0 + 3, speaker=Speaker.CUSTOMER, utterance_id=1, start=0, end=3,
                  text=" my refund never came "),
        UtteranceScored(t=3, wall=T0 + 3, utterance_id=1, start=0, end=3,
                        text="my refund never came", word_anger=0.6, voice_arousal=0.8,
                        anger=0.7, evidence=("never came",), voice_cue="louder than usual",
                        triggers=(TriggerHit(name="manager", words="your manager"),)),
        LevelUpdate(t=3, wall=T0 + 3, level=0.7, trend=0.3, stage=Stage.REFLECT),
        StageChanged(t=3, wall=T0 + 3, stage=Stage.EMPATHIZE, previous=Stage.REFLECT,
                     reason="anger 0.70 rising", level=0.7, trend=0.3),
        PromptShown(t=3, wall=T0 + 3, stage=Stage.EMPATHIZE, headline="Name the feeling",
                    line="I understand how frustrating it is that your refund never came.",
                    do=("apologize for the wait",), dont=("say calm down",)),
    ]


def test_an_angry_call_shows_stage_prompt_caption_and_meter() -> None:
    view = present(tick(fold(angry_call()), T0 + 65))
    assert view.stage == "Empathize"
    assert view.stage_colour == STAGE_COLOURS[Stage.EMPATHIZE]
    assert view.headline == "Name the feeling"
    assert "your refund never came" in view.line
    assert view.caption == "“my refund never came”"
    assert view.meter == "anger 70% ↑"
    assert view.timer == "01:05"
    assert view.audio == "listening"
    assert view.call_button == "End call"
    assert view.tips == "do: apologize for the wait\ndon't: say calm down"


def test_only_the_first_do_and_dont_are_shown_a_line_each() -> None:
    events = angry_call()
    prompt = events[-1]
    assert isinstance(prompt, PromptShown)
    events[-1] = dataclasses.replace(prompt, do=("name the feeling", "apologize once"),
                                     dont=("interrupt", "argue"))
    view = present(tick(fold(events), T0 + 65))
    assert view.tips == "do: name the feeling\ndon't: interrupt"
    events[-1] = dataclasses.replace(prompt, do=(), dont=("argue",))
    assert present(tick(fold(events), T0 + 65)).tips == "don't: argue"


def test_agent_lines_are_not_the_caption() -> None:
    state = fold([*angry_call(), FinalText(t=5, speaker=Speaker.AGENT, utterance_id=2, start=4,
                                           end=5, text="let me check")])
    assert state.caption == "my refund never came"


def test_why_panel_shows_reason_words_voice_and_triggers_on_demand() -> None:
    state = fold(angry_call())
    assert present(state).why is None
    why = present(toggle_why(state)).why
    assert why is not None
    for expected in ("anger 0.70 rising", "never came", "louder than usual",
                     "manager (your manager)", "anger 70%"):
        assert expected in why
    assert present(dismiss(toggle_why(state))).why is None


def test_the_why_panel_takes_the_place_of_the_caption_and_tips() -> None:
    state = fold(angry_call())
    shown, closed = present(toggle_why(state)), present(dismiss(toggle_why(state)))
    assert shown.caption == "" and shown.tips == ""
    assert shown.why is not None and "never came" in shown.why  # it quotes what was heard
    assert closed.caption and closed.tips


def test_a_prompt_for_an_older_stage_is_not_shown_under_a_new_stage() -> None:
    state = fold([*angry_call(), StageChanged(t=9, stage=Stage.BOUNDARY,
                                              previous=Stage.EMPATHIZE, reason="abuse",
                                              level=0.9, trend=0.1)])
    view = present(state)
    assert view.stage == "Set a boundary"
    assert view.headline == "Set a boundary" and view.line == ""


def test_snooze_hides_prompts_for_its_duration_then_brings_them_back() -> None:
    state = fold([*angry_call(), AgentAction(t=4, wall=T0 + 4, action="snooze", value="60")])
    snoozed = present(tick(state, T0 + 30))
    assert snoozed.headline == "Prompts snoozed" and snoozed.line == "back in 34 s"
    assert snoozed.stage == "Empathize"  # the stage itself stays visible
    assert present(tick(state, T0 + 64.5)).headline == "Name the feeling"


def test_escalate_or_a_boundary_breaks_through_a_snooze_and_the_call_end_clears_it() -> None:
    snoozed = fold([*angry_call(), AgentAction(t=4, wall=T0 + 4, action="snooze", value="60")])
    escalated = reduce(snoozed, StageChanged(t=5, wall=T0 + 5, stage=Stage.ESCALATE,
                                             previous=Stage.EMPATHIZE, reason="asked for a manager",
                                             level=0.7, trend=0.1))
    assert escalated.snoozed_until is None
    assert present(tick(escalated, T0 + 6)).headline != "Prompts snoozed"
    ended = reduce(snoozed, CallEnded(t=6, wall=T0 + 6, call_id="c1"))
    assert ended.snoozed_until is None


def test_the_header_says_only_listening_while_all_is_well() -> None:
    listening = fold([AudioState(t=0, wall=T0, status=AudioStatus.LISTENING,
                                 detail="Monitor of Built-in Audio Analog Stereo (device 7)")])
    assert present(tick(listening, T0 + 1)).audio == "listening"
    lost = reduce(listening, AudioState(t=1, wall=T0 + 1, status=AudioStatus.DEVICE_LOST,
                                        detail="USB headset unplugged"))
    assert present(tick(lost, T0 + 2)).audio == "device lost, reconnecting: USB headset unplugged"


def test_a_bad_snooze_value_is_ignored() -> None:
    state = fold([*angry_call(), AgentAction(t=4, action="snooze", value="soon")])
    assert state.snoozed_until is None


def test_cues_show_briefly() -> None:
    state = fold([Cue(t=1, wall=T0, kind="talk_over", message="Let them finish.")])
    assert present(tick(state, T0 + 1)).cue == "Let them finish."
    assert present(tick(state, T0 + CUE_SECONDS + 0.1)).cue == ""


def test_pack_reload_messages_show_as_a_notice() -> None:
    reloaded = fold([Cue(t=1, wall=T0, kind="pack_reloaded",
                         message="Prompt pack reloaded: default.toml")])
    assert present(tick(reloaded, T0 + 1)).notice == "Prompt pack reloaded: default.toml"
    failed = fold([Cue(t=1, wall=T0, kind="pack_error", message="default.toml line 3: bad key")])
    view = present(tick(failed, T0 + 1))
    assert view.notice == "default.toml line 3: bad key" and view.cue == ""


def test_flag_and_feedback_show_in_the_status_line_and_feedback_resets_per_prompt() -> None:
    assert present(fold(angry_call())).flag_button == "Flag"
    state = fold([*angry_call(), AgentAction(t=4, action="flag"),
                  AgentAction(t=4, action="feedback", value="not_useful")])
    assert present(state).status == "flagged for review · marked not useful"
    assert present(state).flag_button == "Flagged ✓"  # the button stays visibly on
    state = reduce(state, PromptShown(t=6, stage=Stage.EMPATHIZE, headline="h", line="l"))
    assert present(state).status == "flagged for review"


def summary_event() -> CallSummarized:
    return CallSummarized(t=50, call_id="c1", duration_s=50, peak_anger=0.8, final_anger=0.1,
                          stage_seconds=((Stage.CALM, 20.0), (Stage.EMPATHIZE, 30.0)), prompts=(),
                          triggers=("repeat_contact",), outcome=Outcome.CALMED,
                          follow_ups=("email you the tracking link",))


def test_summary_card_stays_until_dismissed_and_goes_before_the_why_panel() -> None:
    state = toggle_why(fold([*angry_call(), summary_event(), CallEnded(t=50, call_id="c1")]))
    view = present(state)
    card = view.summary
    assert card is not None and card.startswith("Calmed down · 0:50")
    assert "Follow up: email you the tracking link" in card
    # The card takes the stale prompt's place.
    assert (view.headline, view.line, view.tips, view.meter_shown) == ("Call ended", "", "", False)
    state = dismiss(state)
    assert present(state).summary is None and present(state).why is not None


def test_the_next_call_clears_the_summary_card() -> None:
    state = fold([*angry_call(), summary_event(), CallEnded(t=50, call_id="c1"),
                  CallStarted(t=60, call_id="c2")])
    assert present(state).summary is None


def test_a_new_call_starts_clean_but_keeps_the_audio_state() -> None:
    state = fold([*angry_call(), AgentAction(t=4, action="flag"),
                  CallEnded(t=50, wall=T0 + 50, call_id="c1")])
    assert call_timer(tick(state, T0 + 500)) == "ended 00:50"
    assert present(state).call_button == "Start call"
    state = reduce(state, CallStarted(t=60, wall=T0 + 60, call_id="c2"))
    assert (state.stage, state.caption, state.flagged, state.level) == (Stage.CALM, "", False, 0)
    assert state.audio is AudioStatus.LISTENING


def test_device_loss_on_either_line_shows_and_agent_silence_does_not() -> None:
    lost = fold([AudioState(t=1, status=AudioStatus.DEVICE_LOST, detail="USB headset",
                            speaker=Speaker.AGENT)])
    assert present(lost).audio == "device lost, reconnecting: USB headset"
    quiet_agent = fold([AudioState(t=1, status=AudioStatus.SILENCE, speaker=Speaker.AGENT)])
    assert quiet_agent.audio is None


def test_history_keeps_only_the_last_minutes_and_a_bounded_number_of_points() -> None:
    updates = [LevelUpdate(t=i * 0.5, level=0.1, trend=0, stage=Stage.CALM) for i in range(2000)]
    history = fold(updates).history
    assert len(history) <= HISTORY_POINTS
    assert history[-1][0] - history[0][0] <= HISTORY_SECONDS
    sparse = fold([LevelUpdate(t=t, level=0.2, trend=0, stage=Stage.CALM) for t in (0, 100, 400)])
    assert [t for t, _ in sparse.history] == [100, 400]


def test_trend_arrow_ignores_small_wobbles() -> None:
    assert [trend_arrow(x) for x in (0.2, 0.01, -0.01, -0.2)] == ["↑", "→", "→", "↓"]


def test_unknown_events_leave_the_state_alone() -> None:
    state = fold(angry_call())
    assert reduce(state, Event(t=1)) is state


def test_fold_pending_takes_a_bounded_batch() -> None:
    events: queue.Queue[Event] = queue.Queue()
    for i in range(MAX_EVENTS_PER_TICK + 50):
        events.put(LevelUpdate(t=i, level=0.5, trend=0, stage=Stage.REFLECT))
    state, taken = fold_pending(OverlayState(), events)
    assert len(taken) == MAX_EVENTS_PER_TICK and events.qsize() == 50
    assert state.stage is Stage.REFLECT


def test_prefs_round_trip_and_survive_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "overlay.json"
    saved = WindowPrefs(width=400, height=230, x=50, y=60, opacity=0.7, compact=True)
    save_prefs(path, saved)
    assert load_prefs(path, WindowPrefs()) == saved
    path.write_text("{not json", encoding="utf-8")
    assert load_prefs(path, WindowPrefs(opacity=0.9)) == WindowPrefs(opacity=0.9)
    path.write_text(json.dumps({"width": -5, "opacity": 5, "x": "left"}), encoding="utf-8")
    assert load_prefs(path, WindowPrefs()) == WindowPrefs(opacity=1.0)


def test_a_position_off_this_screen_is_forgotten() -> None:
    main_only = Desktop(0, 0, 1024, 600)
    assert on_screen(WindowPrefs(x=3000, y=10), main_only).x is None
    assert on_screen(WindowPrefs(x=30, y=10), main_only).x == 30
    assert on_screen(WindowPrefs(x=-500, y=10), main_only).x is None
    # A second monitor to the left of the main one (Windows gives it negative x).
    two_monitors = Desktop(-1920, 0, 1920 + 1024, 1080)
    assert on_screen(WindowPrefs(x=-500, y=10), two_monitors).x == -500


def test_terminal_render_shows_stage_headline_and_line() -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(render(present(tick(fold(angry_call()), T0 + 5))))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Empathize" in out and "Name the feeling" in out and "refund never came" in out


class _Controller:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def post(self, event: Event) -> None:
        self.calls.append("post")

    def start_call(self) -> None:
        self.calls.append("start_call")

    def end_call(self) -> None:
        self.calls.append("end_call")

    def stop(self) -> None:
        self.calls.append("stop")


def test_run_terminal_draws_queued_events_until_stopped() -> None:
    events: queue.Queue[Event] = queue.Queue()
    for event in angry_call():
        events.put(event)
    stop = threading.Event()
    stop.set()  # it still folds and draws everything queued before returning
    out = io.StringIO()
    code = run_terminal(events, _Controller(), stop=stop,
                        console=Console(file=out, width=100, color_system=None))
    assert code == 0
    text = out.getvalue()
    assert "Empathize" in text and "Name the feeling" in text


def test_every_stage_chip_takes_white_text_at_aa_contrast() -> None:
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for stage, colour in STAGE_COLOURS.items():
        assert 1.05 / (luminance(colour) + 0.05) >= 4.5, stage
    assert len(set(STAGE_COLOURS.values())) == len(STAGE_COLOURS)
