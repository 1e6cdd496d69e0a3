"""The real overlay window under Xvfb + openbox, driven by tests/overlay_feed.py.

Needs the X display that scripts/test starts (ASSIST_TEST_DISPLAY=1, DISPLAY set); the
terminal-fallback test at the end needs nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image

from assist.events import Stage
from assist.overlay.view import STAGE_COLOURS

FEED = Path(__file__).with_name("overlay_feed.py")
COMPACT_HEIGHT = 40
TICK_DUE_MS = 50
MAX_TICK_LATENESS_MS = 100

ANGRY_CALL: list[dict[str, Any]] = [
    {"event": {"type": "AudioState", "status": "listening"}},
    {"event": {"type": "CallStarted", "call_id": "c1"}},
    {"event": {"type": "FinalText", "speaker": "customer", "utterance_id": 1, "start": 0,
               "end": 3, "text": "my refund never came and this is the third time I call"}},
    {"event": {"type": "UtteranceScored", "utterance_id": 1, "start": 0, "end": 3,
               "text": "my refund never came", "word_anger": 0.6, "voice_arousal": 0.8,
               "anger": 0.7, "evidence": ["never came"], "voice_cue": "louder than usual",
               "triggers": [{"name": "repeat_contact", "words": "third time"}]}},
    {"event": {"type": "LevelUpdate", "t": 3, "level": 0.4, "trend": 0.1, "stage": "reflect"}},
    {"event": {"type": "LevelUpdate", "t": 30, "level": 0.7, "trend": 0.3, "stage": "reflect"}},
    {"event": {"type": "StageChanged", "t": 30, "stage": "empathize", "previous": "reflect",
               "reason": "anger 0.70 and rising", "level": 0.7, "trend": 0.3}},
    {"event": {"type": "PromptShown", "t": 30, "stage": "empathize",
               "headline": "Name the feeling",
               "line": "I understand how frustrating it is that your refund never came."}},
]

@pytest.fixture
def display() -> None:
    if not os.environ.get("ASSIST_TEST_DISPLAY") or not os.environ.get("DISPLAY"):
        pytest.skip("needs the X display that scripts/test starts (ASSIST_TEST_DISPLAY=1)")


def wait_for(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")


def xdo(*args: str) -> str:
    return subprocess.run(["timeout", "10", "xdotool", *args], check=True, capture_output=True,
                          text=True).stdout.strip()


class Overlay:
    """One overlay_feed.py process, its window and its debug files."""

    def __init__(self, workdir: Path, steps: list[dict[str, Any]]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.script = workdir / "script.json"
        self.script.write_text(json.dumps(steps), encoding="utf-8")
        self.state_file = workdir / "state.json"
        self.actions_file = workdir / "actions.jsonl"
        self.state_file.unlink(missing_ok=True)
        env = {**os.environ, "ASSIST_DATA_DIR": str(workdir.parent / "data"),
               "ASSIST_OVERLAY_STATE": str(self.state_file)}
        self.proc = subprocess.Popen(
            [sys.executable, str(FEED), str(self.script), "--actions", str(self.actions_file)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.wid = xdo("search", "--sync", "--onlyvisible", "--pid", str(self.proc.pid),
                       "--name", "^assist$").splitlines()[0]
        # The window settles (focus hint, opacity, decoration offset) half a second after mapping.
        wait_for(lambda: self.state_file.exists(), what="the first debug state")
        time.sleep(0.7)

    def debug(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text(encoding="utf-8"))

    def view(self) -> dict[str, Any]:
        return self.debug()["view"]

    def actions(self) -> list[dict[str, Any]]:
        if not self.actions_file.exists():
            return []
        lines = self.actions_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def focus_and_press(self, *keys: str) -> None:
        xdo("windowactivate", "--sync", self.wid)
        for key in keys:
            xdo("key", "--window", self.wid, key)

    def position(self) -> tuple[int, int]:
        out = xdo("getwindowgeometry", self.wid)
        x, y = out.split("Position: ")[1].split(" ")[0].split(",")
        return int(x), int(y)

    def quit(self) -> int:
        xdo("windowactivate", "--sync", self.wid)
        # The window is gone before the key is released, so xdotool may fail halfway; release
        # the keys anyway or the X server keeps Ctrl+Q held down for the next test.
        subprocess.run(["timeout", "10", "xdotool", "key", "--window", self.wid, "ctrl+q"],
                       capture_output=True)
        subprocess.run(["timeout", "10", "xdotool", "keyup", "ctrl+q"], capture_output=True)
        return self.proc.wait(timeout=10)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def overlays(display: None, tmp_path: Path) -> Iterator[Callable[..., Overlay]]:
    started: list[Overlay] = []

    def launch(steps: list[dict[str, Any]], name: str = "run") -> Overlay:
        overlay = Overlay(tmp_path / name, steps)
        started.append(overlay)
        return overlay

    yield launch
    for overlay in started:
        overlay.kill()


def stacking() -> list[int]:
    out = subprocess.run(["xprop", "-root", "_NET_CLIENT_LIST_STACKING"], check=True,
                         capture_output=True, text=True).stdout
    return [int(w.strip(), 16) for w in out.split("#", 1)[1].split(",")]


@pytest.mark.display
def test_window_shows_the_call_stays_on_top_and_never_takes_focus(
        overlays: Callable[..., Overlay], tmp_path: Path) -> None:
    go = tmp_path / "go"
    overlay = overlays([*ANGRY_CALL, {"wait_file": str(go)},
                        {"event": {"type": "Cue", "t": 31, "kind": "talk_over",
                                   "message": "Let them finish."}},
                        {"sleep": 60}])
    view = wait_for(lambda: overlay.view()["headline"] == "Name the feeling" and overlay.view())
    assert view["stage"] == "Empathize" and "refund never came" in view["line"]
    assert view["meter"] == "anger 70% ↑" and "third time I call" in view["caption"]

    other = subprocess.Popen(["xmessage", "-title", "later-window", "-geometry",
                              "500x300+250+100", "a later window"], stderr=subprocess.DEVNULL)
    try:
        # xmessage sets no _NET_WM_PID, so it is found by its title.
        other_wid = xdo("search", "--sync", "--onlyvisible", "--name", "^later-window$")
        wait_for(lambda: xdo("getactivewindow") == other_wid.splitlines()[0],
                 what="the later window to take focus")
        go.touch()  # updates arrive while the agent works in the other window
        wait_for(lambda: overlay.view()["cue"] == "Let them finish.", what="the cue")
        time.sleep(0.3)
        assert stacking()[-1] == int(overlay.wid), "the overlay is not kept above"
        assert xdo("getactivewindow") == other_wid.splitlines()[0], "the overlay stole focus"
        shot = tmp_path / "screen.png"
        subprocess.run(["import", "-window", "root", str(shot)], check=True)
    finally:
        other.kill()
        other.wait(timeout=10)
    pixels = image.imread(str(shot))[..., :3]
    assert pixels.std() > 0.05, "the screenshot is blank"
    chip = np.array([int(STAGE_COLOURS[Stage.EMPATHIZE][i:i + 2], 16) for i in (1, 3, 5)]) / 255
    chip_pixels = np.all(np.abs(pixels - chip) < 0.02, axis=-1).sum()
    assert chip_pixels > 500, "the empathize chip is not on screen"


@pytest.mark.display
def test_window_appears_without_taking_focus_from_the_window_in_use(
        overlays: Callable[..., Overlay]) -> None:
    other = subprocess.Popen(["xmessage", "-title", "crm-window", "-geometry", "400x200+50+50",
                              "the agent is typing here"], stderr=subprocess.DEVNULL)
    try:
        other_wid = xdo("search", "--sync", "--onlyvisible", "--name", "^crm-window$")
        wait_for(lambda: xdo("getactivewindow") == other_wid.splitlines()[0],
                 what="the CRM window to have focus")
        overlay = overlays([*ANGRY_CALL, {"sleep": 60}])
        wait_for(lambda: overlay.view()["headline"] == "Name the feeling")
        assert xdo("getactivewindow") == other_wid.splitlines()[0], "the overlay took focus"
        assert stacking()[-1] == int(overlay.wid)
    finally:
        other.kill()
        other.wait(timeout=10)


@pytest.mark.display
def test_shortcuts_reach_the_controller_and_change_the_window(
        overlays: Callable[..., Overlay]) -> None:
    overlay = overlays([*ANGRY_CALL, {"sleep": 60}])
    wait_for(lambda: overlay.view()["headline"] == "Name the feeling")
    alpha_before = overlay.debug()["alpha"]
    xdo("mousemove", "0", "599")  # away first, so moving onto the button is an Enter
    xdo("mousemove", "--window", overlay.wid, "94", "192")  # over "Flag"
    wait_for(lambda: overlay.debug()["help"] == "Ctrl+F: flag the call for a supervisor",
             what="the Flag button's shortcut in the help line")
    overlay.focus_and_press("ctrl+f", "ctrl+u", "ctrl+s", "ctrl+e", "ctrl+y", "ctrl+minus")
    wait_for(lambda: len(overlay.actions()) >= 4, what="four controller calls")
    actions = overlay.actions()
    posted = [(a["event"]["action"], a["event"]["value"]) for a in actions if a["call"] == "post"]
    assert posted == [("flag", ""), ("feedback", "useful"), ("snooze", "60")]
    assert {"call": "end_call"} in actions
    debug = wait_for(lambda: (d := overlay.debug())["view"]["why"] and d, what="why panel")
    assert debug["view"]["headline"] == "Prompts snoozed"
    assert debug["view"]["status"] == "flagged for review · marked useful"
    assert "anger 0.70 and rising" in debug["view"]["why"]
    assert "repeat contact (third time)" in debug["view"]["why"]
    wait_for(lambda: abs(overlay.debug()["alpha"] - (alpha_before - 0.1)) < 0.01,
             what="Ctrl+- to lower the opacity")
    opacity = subprocess.run(["xprop", "-id", overlay.wid, "_NET_WM_WINDOW_OPACITY"],
                             capture_output=True, text=True).stdout
    assert "=" in opacity, "the window manager was not given the opacity"

    overlay.focus_and_press("ctrl+m")
    wait_for(lambda: overlay.debug()["geometry"].startswith(f"380x{COMPACT_HEIGHT}"),
             what="compact mode")
    assert overlay.quit() == 0
    assert overlay.actions()[-1] == {"call": "stop"}


@pytest.mark.display
def test_window_remembers_its_place_size_and_mode(overlays: Callable[..., Overlay]) -> None:
    first = overlays([{"sleep": 60}], "first")
    x0, y0 = first.position()
    grab_x, grab_y = x0 + 300, y0 + 12  # the header, right of the stage chip
    xdo("mousemove", str(grab_x), str(grab_y))
    xdo("mousedown", "1")
    for step in range(1, 11):
        xdo("mousemove", str(grab_x - 12 * step), str(grab_y + 10 * step))
        time.sleep(0.02)
    xdo("mouseup", "1")
    wait_for(lambda: first.position() != (x0, y0), what="the drag to move the window")
    moved = first.position()
    assert abs(moved[0] - (x0 - 120)) <= 4 and abs(moved[1] - (y0 + 100)) <= 4
    xdo("windowsize", first.wid, "420", "260")
    wait_for(lambda: first.debug()["geometry"].startswith("420x260"), what="the resize")
    first.focus_and_press("ctrl+m")
    wait_for(lambda: first.debug()["geometry"].startswith(f"420x{COMPACT_HEIGHT}"),
             what="compact mode")
    assert first.quit() == 0

    second = overlays([{"sleep": 60}], "second")
    wait_for(lambda: second.debug()["geometry"].startswith(f"420x{COMPACT_HEIGHT}"),
             what="the compact mode and width to come back")
    again = second.position()
    assert abs(again[0] - moved[0]) <= 2 and abs(again[1] - moved[1]) <= 2
    second.focus_and_press("ctrl+m")
    wait_for(lambda: second.debug()["geometry"].startswith("420x260"),
             what="the full size to come back")


@pytest.mark.display
def test_a_burst_of_10000_events_keeps_ticking_on_time(
        overlays: Callable[..., Overlay], tmp_path: Path) -> None:
    go = tmp_path / "go"
    overlay = overlays([*ANGRY_CALL, {"wait_file": str(go)}, {"burst": 10_000}, {"sleep": 60}])
    wait_for(lambda: overlay.view()["headline"] == "Name the feeling")
    before = overlay.debug()["folded_total"]
    go_at = time.monotonic()  # CLOCK_MONOTONIC is shared with the overlay's process
    go.touch()
    wait_for(lambda: overlay.view()["caption"] == "“end of burst”", timeout=30,
             what="the whole burst to be drawn")
    time.sleep(0.3)  # a tick's timing is written with the next tick's state
    debug = overlay.debug()
    assert debug["folded_total"] - before == 10_000
    ticks = [t for t in debug["ticks"] if t["started"] > go_at]
    busy = [t for t in ticks if t["folded"] > 0]
    assert len(busy) >= 10_000 / 200, "the burst was not spread over ticks"
    lateness = sorted(t["gap_ms"] - TICK_DUE_MS for t in ticks[1:])
    typical = lateness[len(lateness) // 2]
    p95 = lateness[int(len(lateness) * 0.95)]
    worst_cpu = max(t["cpu_ms"] for t in ticks)
    print(f"burst of 10000 over {len(busy)} ticks: next-tick lateness median {typical:.1f} ms, "
          f"p95 {p95:.1f} ms, worst {lateness[-1]:.1f} ms; worst tick CPU {worst_cpu:.1f} ms")
    # Wall-clock lateness also counts time other processes take the CPU away (scripts/test runs
    # Xvfb, PulseAudio and PostgreSQL beside it on 2 cores; a p95 of 118 ms was seen once while
    # no tick used more than 7 ms of CPU). So every tick is judged on its own CPU time, which a
    # tick that drew the whole burst would blow, and wall-clock lateness on the median.
    assert typical <= MAX_TICK_LATENESS_MS
    assert worst_cpu <= MAX_TICK_LATENESS_MS - TICK_DUE_MS

def test_without_a_display_it_says_why_and_shows_the_terminal_view(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([*ANGRY_CALL, {"sleep": 0.3}, {"stop": True}]),
                      encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["ASSIST_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run([sys.executable, str(FEED), str(script), "--actions",
                           str(tmp_path / "actions.jsonl")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ("assist: no display (DISPLAY is not set): "
                                   "showing the terminal view")
    assert "Empathize" in done.stdout and "Name the feeling" in done.stdout
    assert "refund never came" in done.stdout


def test_when_tk_cannot_open_the_display_it_falls_back_too(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([*ANGRY_CALL, {"stop": True}]), encoding="utf-8")
    env = {**os.environ, "DISPLAY": ":4711", "ASSIST_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, str(FEED), str(script), "--actions",
                           str(tmp_path / "actions.jsonl")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("assist: no display (Tk cannot open one: ")
    assert done.stderr.strip().endswith("showing the terminal view")
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Name the feeling" in done.stdout
