"""The real demo under Xvfb + openbox: `scripts/demo` (the overlay replaying the sample call).

One demo process (the sample call at real pace, about 75 s, real Silero VAD and tiny.en)
serves every test here. A module-scoped fixture drives it while it runs, as an agent would: it
opens a later window over the overlay, screenshots the screen, clicks the overlay and presses
Ctrl+F and Ctrl+U. Meanwhile it records what the overlay showed about ten times a second from
its debug state (ASSIST_OVERLAY_STATE). The tests then judge that one recording.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image

from assist import paths
from assist.events import Stage
from assist.overlay.view import STAGE_COLOURS
from assist.store import queries
from assist.store.db import SQLITE_FILE, open_engine, session_factory

pytestmark = [pytest.mark.display, pytest.mark.slow]

LABELS_FILE = paths.PROJECT_ROOT / "assist" / "data" / "sample_call.labels.json"
LABELS: list[dict[str, Any]] = json.loads(LABELS_FILE.read_text(encoding="utf-8"))
PACK_FILE = paths.PROJECT_ROOT / "prompts" / "default.toml"
HEADLINES: dict[str, str] = {
    name: stage["headline"]
    for name, stage in tomllib.loads(PACK_FILE.read_text(encoding="utf-8"))["stages"].items()
}

EARLY_S = 1.0
"""A stage may show up to this long before a label's moment: each label's t is already 1.5 s
after its turn ended, and the stage machine may act on a partial transcript."""

LATE_S = 4.0
"""...and up to this long after it: the final transcript (tiny.en on 2 shared cores), scoring
and the 50 ms overlay tick all come between the end of a turn and the prompt on screen."""

REFLECTION_WORDS = 3
"""A reflect-back line must repeat at least this many of the customer's words (4+ letters)."""

POLL_S = 0.1
START_TIMEOUT_S = 90.0     # loading tiny.en and Silero on a shared machine
STAGE_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 150.0      # the 75 s call, the 3 s summary linger and slack
LATER_WINDOW = "later-window"
LATER_GEOMETRY = "520x320+440+0"  # over the overlay's top-right default place, chip included
CLICK_AT = ("150", "70")          # the headline row: a click there drags, it presses no button
ACTIONS_STATUS = "flagged for review · marked useful"


@dataclass(frozen=True)
class Shown:
    """One look at the overlay's debug state."""

    at: float         # seconds since the call started on the overlay's wall clock
    audio_t: float    # audio time of the latest event the overlay had folded
    stage: str
    headline: str
    line: str
    status: str


@dataclass(frozen=True)
class DemoRun:
    shown: list[Shown]
    overlay_wid: int
    later_wid: int
    active_wid: int            # the active window when the stacking was read
    stacking: list[int]
    screenshot: Path
    screenshot_stage: str
    geometry: tuple[int, int, int, int]  # x, y, width, height of the overlay on screen
    status_after_keys: str
    returncode: int
    stdout: str
    stderr: str
    data_dir: Path
    env: dict[str, str]


# --- talking to X -----------------------------------------------------------------------------


def xdo(*args: str, timeout: float = 10.0) -> str:
    return subprocess.run(["timeout", str(timeout), "xdotool", *args], check=True,
                          capture_output=True, text=True).stdout.strip()


def stacking() -> list[int]:
    out = subprocess.run(["xprop", "-root", "_NET_CLIENT_LIST_STACKING"], check=True,
                         capture_output=True, text=True).stdout
    return [int(w.strip(), 16) for w in out.split("#", 1)[1].split(",")]


def window_geometry(wid: int) -> tuple[int, int, int, int]:
    """Where the window's contents are on the root window: x, y, width, height.

    xwininfo, because ``xdotool getwindowgeometry`` adds the frame's offset a second time
    under a reparenting window manager (20 px too low under openbox), cropping off the chip.
    """
    out = subprocess.run(["xwininfo", "-id", str(wid)], check=True, capture_output=True,
                         text=True).stdout

    def number(name: str) -> int:
        found = re.search(rf"{name}:\s+(-?\d+)", out)
        assert found, f"no {name} in the xwininfo output: {out}"
        return int(found[1])

    return (number("Absolute upper-left X"), number("Absolute upper-left Y"), number("Width"),
            number("Height"))


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(POLL_S)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# --- watching the overlay ---------------------------------------------------------------------


class Recorder:
    """Reads the overlay's debug state on a thread until stopped; keeps one Shown per look."""

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file
        self.shown: list[Shown] = []
        self.latest: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-recorder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def stage(self) -> str:
        return str(self.latest.get("state", {}).get("stage", ""))

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            debug = self._read()
            if debug is None:
                continue
            self.latest = debug
            shown = as_shown(debug)
            if shown is not None:
                self.shown.append(shown)

    def _read(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.state_file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None  # the window has not ticked yet


def as_shown(debug: dict[str, Any]) -> Shown | None:
    state, view = debug["state"], debug["view"]
    if state["call_started_wall"] is None:
        return None
    return Shown(at=state["now"] - state["call_started_wall"], audio_t=debug["audio_t"],
                 stage=state["stage"], headline=view["headline"], line=view["line"],
                 status=view["status"])


# --- the one demo run ---------------------------------------------------------------------------


def skip_without_display() -> None:
    # The same check as conftest's require_display, which a module-scoped fixture cannot use.
    if not os.environ.get("ASSIST_TEST_DISPLAY") or not os.environ.get("DISPLAY"):
        pytest.skip("ASSIST_TEST_DISPLAY/DISPLAY not set: no Xvfb screen with a window manager "
                    "(scripts/test starts it)")


def demo_env(workdir: Path) -> dict[str, str]:
    (workdir / "config.toml").touch()  # empty: the demo runs on the defaults
    return {**os.environ, "ASSIST_DATA_DIR": str(workdir / "data"),
            "ASSIST_CONFIG": str(workdir / "config.toml"),
            "ASSIST_OVERLAY_STATE": str(workdir / "state.json"), "HF_HUB_OFFLINE": "1"}


def start_demo(workdir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    # The README's own command: scripts/demo (set-up, then the overlay replaying the sample
    # call at real pace with its audio, recorded in the store); --quit-at-end closes it after.
    command = [str(paths.PROJECT_ROOT / "scripts" / "demo"), "--quit-at-end"]
    # Files, not pipes: nobody reads a pipe while the call runs, and a full one would block it.
    with (open(workdir / "stdout.txt", "w", encoding="utf-8") as out,
          open(workdir / "stderr.txt", "w", encoding="utf-8") as err):
        return subprocess.Popen(command, cwd=paths.PROJECT_ROOT, env=env, stdout=out,
                                stderr=err, text=True)


def overlay_windows() -> set[int]:
    """Visible windows titled "assist". Tk sets no _NET_WM_PID, so ``--pid`` finds nothing and
    the title alone would also match another overlay left on a shared display."""
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^assist$"],
                           capture_output=True, text=True, timeout=10).stdout
    return {int(wid) for wid in found.split()}


def new_overlay_window(before: set[int]) -> int | None:
    new = overlay_windows() - before
    assert len(new) <= 1, f"more than one new overlay window: {new}"
    return new.pop() if new else None


def open_later_window() -> tuple[subprocess.Popen[bytes], int]:
    later = subprocess.Popen(["xmessage", "-title", LATER_WINDOW, "-geometry", LATER_GEOMETRY,
                              "the agent's CRM, opened after the overlay"],
                             stderr=subprocess.DEVNULL)
    # xmessage sets no _NET_WM_PID, so it is found by its title.
    wid = xdo("search", "--sync", "--onlyvisible", "--name", f"^{LATER_WINDOW}$").splitlines()[0]
    wait_for(lambda: xdo("getactivewindow") == wid, 10, "the later window to take focus")
    return later, int(wid)


def click_and_press(wid: int, *keys: str) -> None:
    """What an agent does: click the overlay so it has the keyboard, then the shortcuts."""
    xdo("mousemove", "--window", str(wid), *CLICK_AT)
    xdo("click", "1")
    wait_for(lambda: xdo("getactivewindow") == str(wid), 10, "the clicked overlay to get focus")
    try:
        for key in keys:
            xdo("key", "--window", str(wid), key)
    finally:
        # Never leave Ctrl held down on the shared test display.
        subprocess.run(["timeout", "10", "xdotool", "keyup", "ctrl"], capture_output=True)


def stop_process(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    skip_without_display()
    workdir = tmp_path_factory.mktemp("demo")
    env = demo_env(workdir)
    before = overlay_windows()
    proc = start_demo(workdir, env)
    recorder = Recorder(workdir / "state.json")
    later: subprocess.Popen[bytes] | None = None
    try:
        wid = wait_for(lambda: new_overlay_window(before), START_TIMEOUT_S,
                       "the demo's overlay window")
        recorder.start()

        wait_for(lambda: recorder.stage() == Stage.REFLECT.value, STAGE_TIMEOUT_S,
                 "the overlay to show reflect back")
        later, later_wid = open_later_window()
        time.sleep(0.5)  # a few ticks of updates arrive while the agent works in the CRM
        order, active = stacking(), int(xdo("getactivewindow"))
        shot, shot_stage = workdir / "screen.png", recorder.stage()
        subprocess.run(["import", "-window", "root", str(shot)], check=True)
        geometry = window_geometry(wid)
        stop_process(later)

        wait_for(lambda: recorder.stage() == Stage.SOLUTION.value, STAGE_TIMEOUT_S,
                 "the overlay to show offer solution")
        click_and_press(wid, "ctrl+f", "ctrl+u")
        status = wait_for(lambda: recorder.latest["view"]["status"] == ACTIONS_STATUS
                          and ACTIONS_STATUS, 10, "the flag and the feedback in the status line")

        returncode = proc.wait(timeout=RUN_TIMEOUT_S)
        recorder.stop()
        run = DemoRun(shown=recorder.shown, overlay_wid=wid, later_wid=later_wid,
                      active_wid=active, stacking=order, screenshot=shot,
                      screenshot_stage=shot_stage, geometry=geometry, status_after_keys=status,
                      returncode=returncode,
                      stdout=(workdir / "stdout.txt").read_text(encoding="utf-8"),
                      stderr=(workdir / "stderr.txt").read_text(encoding="utf-8"),
                      data_dir=workdir / "data", env=env)
    finally:
        recorder.stop()
        stop_process(proc)
        if later is not None:
            stop_process(later)
    print_moments(run)
    yield run


# --- judging the marked moments ------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    turn: int
    t: float
    stage: str
    matched: list[Shown]   # looks inside [t - EARLY_S, t + LATE_S] showing the intended stage
    lag: float | None      # when that stage began to show, minus t


def judge(label: dict[str, Any], shown: list[Shown]) -> Moment:
    t, stage = label["t"], label["stage"]
    near = [s for s in shown if t - EARLY_S <= s.at <= t + LATE_S]
    matched = [s for s in near if s.stage == stage and s.headline == HEADLINES[stage]]
    lag = onset(shown, matched[0]) - t if matched else None
    return Moment(label["turn"], t, stage, matched, lag)


def onset(shown: list[Shown], first: Shown) -> float:
    """When the stage of ``first`` began to show, looking back through the unbroken run."""
    index = shown.index(first)
    while index > 0 and shown[index - 1].stage == first.stage:
        index -= 1
    return shown[index].at


def marked_labels() -> list[dict[str, Any]]:
    return [label for label in LABELS if label["stage"] != Stage.CALM.value]


def customer_words_before(t: float) -> set[str]:
    """The 4+ letter words of the customer's last labelled line before moment ``t``."""
    spoken = [label for label in LABELS if label["speaker"] == "customer" and label["end"] <= t]
    return words(spoken[-1]["text"])


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']+", text.lower()) if len(w) >= 4}


def print_moments(run: DemoRun) -> None:
    moments = [judge(label, run.shown) for label in marked_labels()]
    lags = [m.lag for m in moments if m.lag is not None]
    drift = [s.audio_t - s.at for s in run.shown]
    print(f"\ndemo: {len(lags)} of {len(moments)} marked moments matched; max lag "
          f"{max(lags, default=float('nan')):+.1f} s; overlay audio time minus call clock "
          f"{min(drift):+.1f}..{max(drift):+.1f} s")
    for m in moments:
        seen = sorted({s.stage for s in run.shown if m.t - EARLY_S <= s.at <= m.t + LATE_S})
        lag = f"{m.lag:+.1f} s" if m.lag is not None else "missed"
        print(f"  turn {m.turn:2d} t={m.t:5.1f} want {m.stage:9s} {lag:7s} saw {seen}")


def moment_params() -> list[Any]:
    return [pytest.param(label["turn"], id=f"turn{label['turn']}") for label in marked_labels()]


# --- the tests -------------------------------------------------------------------------------


def test_the_demo_runs_the_whole_call_and_closes_itself(require_display: str,
                                                        demo: DemoRun) -> None:
    assert demo.returncode == 0, demo.stderr
    assert "Traceback" not in demo.stderr
    assert re.search(r"call \w+ started \(sample_call\.ogg\)", demo.stdout)
    assert "audio: ended (end of file)" in demo.stdout
    # The overlay's audio clock followed the whole call, which lasts about 73 s.
    assert max(s.audio_t for s in demo.shown) > 70


def test_the_overlay_stays_above_a_later_window_without_taking_focus(
        require_display: str, demo: DemoRun) -> None:
    assert demo.later_wid in demo.stacking, "the later window is not managed"
    assert demo.stacking[-1] == demo.overlay_wid, f"not kept above: {demo.stacking}"
    assert demo.active_wid == demo.later_wid, "the overlay took the focus from the later window"


def test_the_screenshot_shows_the_overlay_with_its_stage_chip(require_display: str,
                                                              demo: DemoRun) -> None:
    x, y, width, height = demo.geometry
    window = image.imread(str(demo.screenshot))[y:y + height, x:x + width, :3]
    assert window.shape[:2] == (height, width), "the overlay is not inside the screen"
    assert window.std() > 0.05, "the overlay's part of the screenshot is blank"
    colour = STAGE_COLOURS[Stage(demo.screenshot_stage)]
    chip = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    is_chip = np.all(np.abs(window - chip) < 0.02, axis=-1)
    assert is_chip.sum() > 500, f"no {demo.screenshot_stage} chip in the overlay's area"
    rows, cols = np.nonzero(is_chip)
    inside = window[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    white_text = np.all(inside > 0.85, axis=-1).sum()
    assert white_text > 40, "the stage chip carries no label text"


@pytest.mark.parametrize("turn", moment_params())
def test_marked_moment_shows_the_intended_stage_and_prompt(require_display: str, demo: DemoRun,
                                                           turn: int) -> None:
    label = next(label for label in LABELS if label["turn"] == turn)
    moment = judge(label, demo.shown)
    seen = sorted({(s.stage, s.headline) for s in demo.shown
                   if moment.t - EARLY_S <= s.at <= moment.t + LATE_S})
    assert moment.matched, (f"turn {turn}: wanted {moment.stage} ({HEADLINES[moment.stage]!r}) "
                            f"within [{moment.t - EARLY_S:.1f}, {moment.t + LATE_S:.1f}] s; "
                            f"saw {seen}")
    if moment.stage == Stage.REFLECT.value:
        heard = customer_words_before(moment.t)
        best = max(moment.matched, key=lambda s: len(words(s.line) & heard))
        assert len(words(best.line) & heard) >= REFLECTION_WORDS, (
            f"the reflect-back line {best.line!r} does not echo the customer's {sorted(heard)}")


def test_shortcuts_flag_the_call_and_record_the_feedback(require_display: str,
                                                         demo: DemoRun) -> None:
    assert demo.status_after_keys == ACTIONS_STATUS
    call_id = re.search(r"call (\w+) started", demo.stdout)
    assert call_id, demo.stdout
    engine = open_engine(f"sqlite:///{demo.data_dir / SQLITE_FILE}")
    try:
        with session_factory(engine)() as session:
            call = queries.get_call(session, call_id[1])
            assert call is not None, "the call is not in the store"
            actions = [(a.action, a.value, a.t) for a in call.actions]
            reasons = call.flag_reason_list
    finally:
        engine.dispose()
    assert "agent flagged the call" in reasons
    pressed = [(action, value) for action, value, _ in actions]
    assert ("flag", "") in pressed and ("feedback", "useful") in pressed
    # They were pressed while "offer solution" showed, which starts ~48 s into the call.
    assert all(40 < t < 80 for action, _, t in actions if action in ("flag", "feedback"))
    history = subprocess.run([sys.executable, "-m", "assist.cli", "history"], env=demo.env,
                             capture_output=True, text=True, timeout=60, check=True).stdout
    assert "agent flagged the call" in history
