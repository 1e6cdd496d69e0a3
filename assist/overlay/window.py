"""The agent's always-on-top customtkinter window.

Only the Tk thread touches widgets. Every ``TICK_MS`` it folds a bounded batch of queued
events through the pure reducer, then draws the resulting view once, touching only the
widgets whose text or colour changed. It never calls ``focus_force`` or ``lift``: the agent
is typing in the CRM while it updates.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import sys
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from typing import Any

import customtkinter as ctk

from assist.config import OverlayConfig
from assist.events import AgentAction, Event
from assist.overlay.controller import CallController
from assist.overlay.debug import TickLog, write_json
from assist.overlay.prefs import (
    OPACITY_STEP,
    Desktop,
    WindowPrefs,
    clamp_opacity,
    load_prefs,
    on_screen,
    save_prefs,
)
from assist.overlay.queueing import fold_pending
from assist.overlay.shortcuts import SHORTCUTS, describe
from assist.overlay.state import (
    OverlayState,
    dismiss,
    reduce,
    state_to_dict,
    tick,
    toggle_why,
)
from assist.overlay.view import OverlayView, present
from assist.overlay.widgets import Sparkline

log = logging.getLogger(__name__)

TICK_MS = 50
SNOOZE_SECONDS = 60
COMPACT_HEIGHT = 40
SAVE_DELAY_MS = 800   # after the last move or resize, so a drag writes the file once
SETTLE_MS = 500   # after this the window manager has mapped and placed the window
DEFAULT_MARGIN = 24
SUMMARY_BUTTON_PX = 80
"""Room the card's Dismiss button takes beside its text."""
HINT = "click here first, then Ctrl+F flag · Ctrl+S snooze · Ctrl+Y why · hover a button"
MUTED = "#9a9a9a"


def open_root(title: str) -> ctk.CTk:
    """Create the Tk root (raises tk.TclError when there is no usable display)."""
    ctk.set_appearance_mode("dark")
    root = ctk.CTk()
    root.title(title)
    return root


def desktop_of(root: tk.Misc) -> Desktop:
    """The area every monitor spans. X11 reports it as the screen; Tk on Windows reports the
    main monitor only, so Windows is asked for its virtual screen."""
    if sys.platform == "win32":
        import ctypes

        metric = ctypes.windll.user32.GetSystemMetrics
        # SM_XVIRTUALSCREEN, SM_YVIRTUALSCREEN, SM_CXVIRTUALSCREEN, SM_CYVIRTUALSCREEN
        return Desktop(metric(76), metric(77), metric(78), metric(79))
    return Desktop(0, 0, root.winfo_screenwidth(), root.winfo_screenheight())


class OverlayWindow:
    """Builds the widgets, runs the tick loop and turns clicks and shortcuts into actions."""

    def __init__(self, root: ctk.CTk, events: queue.Queue[Event], controller: CallController,
                 settings: OverlayConfig, *, prefs_file: Path, debug_file: Path | None,
                 stop: Callable[[], bool]) -> None:
        self.root = root
        self.events = events
        self.controller = controller
        self.prefs_file = prefs_file
        self.debug_file = debug_file
        self.should_stop = stop
        defaults = WindowPrefs(opacity=settings.opacity, compact=settings.compact)
        self.prefs = on_screen(load_prefs(prefs_file, defaults), desktop_of(root))
        self.state = OverlayState(now=time.time())
        self.view: OverlayView | None = None
        self.audio_t = 0.0
        self.folded_total = 0
        self.ticks = TickLog()
        self._drag_from: tuple[int, int] | None = None
        self._offset: tuple[int, int] | None = None  # known once the window is placed
        self._save_job: str | None = None
        self._closed = False
        self._build()
        self._place(settings.always_on_top)

    # --- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        small = ctk.CTkFont(size=11)
        self.header = ctk.CTkFrame(self.root, corner_radius=0, fg_color="#262626")
        self.header.pack(fill="x")
        self.chip = ctk.CTkLabel(self.header, text="", corner_radius=8, text_color="white",
                                 font=ctk.CTkFont(size=13, weight="bold"), height=24)
        self.chip.pack(side="left", padx=(6, 4), pady=4)
        # Packed in order of importance: when the window is narrow, Tk squeezes the widgets
        # packed last, so the audio state gives way before the anger reading or the timer.
        self.meter_text = ctk.CTkLabel(self.header, text="", font=small)
        self.meter_text.pack(side="left", padx=4)
        self.timer = ctk.CTkLabel(self.header, text="", font=small, text_color=MUTED)
        self.timer.pack(side="right", padx=6)
        self.compact_headline = ctk.CTkLabel(self.header, text="", anchor="w", font=small)
        self.audio = ctk.CTkLabel(self.header, text="", font=small)
        self.audio.pack(side="right", padx=4)
        self.body = ctk.CTkFrame(self.root, corner_radius=0, fg_color="transparent")
        self._build_body(small)
        self._build_actions(small)
        self.help = ctk.CTkLabel(self.root, text=HINT, font=ctk.CTkFont(size=10),
                                 text_color=MUTED, anchor="w", height=14)
        self.help.pack(fill="x", side="bottom", padx=6)
        self.actions.pack(fill="x", side="bottom", padx=4, pady=(0, 2))
        self._bind_drag(self.root, self.header, self.chip, self.meter_text, self.timer,
                        self.audio, self.compact_headline, self.body, self.help)
        for shortcut in SHORTCUTS:
            self.root.bind(shortcut.sequence, self._shortcut_handler(shortcut.command))
        self.root.protocol("WM_DELETE_WINDOW", self.close)
        self.root.bind("<Configure>", self._on_configure, add="+")
        self.root.report_callback_exception = self._report_error

    def _build_body(self, small: ctk.CTkFont) -> None:
        body = self.body
        body.grid_columnconfigure(0, weight=1)
        self.headline = ctk.CTkLabel(body, text="", anchor="w", justify="left",
                                     font=ctk.CTkFont(size=14, weight="bold"))
        self.line = ctk.CTkLabel(body, text="", anchor="w", justify="left",
                                 font=ctk.CTkFont(size=13))
        self.tips = ctk.CTkLabel(body, text="", anchor="w", justify="left", font=small,
                                 text_color=MUTED)
        self.meters = meters = ctk.CTkFrame(body, fg_color="transparent")
        self.meter = ctk.CTkProgressBar(meters, height=8, width=120)
        self.meter.pack(side="left", padx=(0, 6))
        self.sparkline = Sparkline(meters, width=200, height=24)
        self.sparkline.pack(side="left", fill="x", expand=True)
        self.caption = ctk.CTkLabel(body, text="", anchor="w", justify="left",
                                    font=ctk.CTkFont(size=11, slant="italic"), text_color=MUTED)
        self.cue = ctk.CTkLabel(body, text="", anchor="w", font=small, text_color="#ffd54f")
        self.notice = ctk.CTkLabel(body, text="", anchor="w", font=small, text_color="#81b4ff")
        self.why = ctk.CTkLabel(body, text="", anchor="w", justify="left", font=small,
                                fg_color="#303030", corner_radius=6)
        self.summary = ctk.CTkFrame(body, fg_color="#2b3440", corner_radius=6)
        # The button is packed first so that it keeps its place however long the card is.
        ctk.CTkButton(self.summary, text="Dismiss", width=60, height=22, font=small,
                      command=lambda: self.run_command("dismiss")).pack(side="right", padx=4,
                                                                         anchor="n", pady=4)
        self.summary_text = ctk.CTkLabel(self.summary, text="", anchor="w", justify="left",
                                         font=small)
        self.summary_text.pack(side="left", fill="x", expand=True, padx=6, pady=4)
        # Short-lived and on-demand rows go first: below them the window may be cut off.
        rows: list[Any] = [self.cue, self.notice, self.summary, self.headline, self.line,
                           self.why, meters, self.caption, self.tips]
        for row, widget in enumerate(rows):
            widget.grid(row=row, column=0, sticky="ew", padx=8, pady=(1, 0))
        for hidden_until_needed in (self.tips, self.cue, self.notice, self.why, self.summary):
            hidden_until_needed.grid_remove()
        self._bind_drag(self.headline, self.line, self.tips, meters, self.caption)

    def _build_actions(self, small: ctk.CTkFont) -> None:
        self.actions = ctk.CTkFrame(self.root, fg_color="transparent")
        self.buttons: dict[str, ctk.CTkButton] = {}
        labels = (("call", "Start call"), ("flag", "Flag"), ("useful", "✓ Useful"),
                  ("not_useful", "✗ Not"), ("snooze", "Snooze"), ("why", "Why?"))
        for command, text in labels:
            button = ctk.CTkButton(self.actions, text=text, width=52, height=22, font=small,
                                   command=self._shortcut_handler(command))
            button.pack(side="left", padx=1, expand=True, fill="x")
            help_command = "start_call" if command == "call" else command
            button.bind("<Enter>", lambda _e, c=help_command: self._show_help(describe(c)))
            button.bind("<Leave>", lambda _e: self._show_help(self._resting_help()))
            self.buttons[command] = button

    def _place(self, always_on_top: bool) -> None:
        prefs = self.prefs
        if prefs.x is None or prefs.y is None:
            # Ask for a place ourselves (top right) rather than letting the window manager
            # choose: only a requested position tells us how far its decorations offset us.
            x = max(0, self.root.winfo_screenwidth() - prefs.width - DEFAULT_MARGIN)
            prefs = self.prefs = dataclasses.replace(prefs, x=x, y=DEFAULT_MARGIN)
        height = COMPACT_HEIGHT if prefs.compact else prefs.height
        self.root.geometry(f"{prefs.width}x{height}+{prefs.x}+{prefs.y}")
        self.root.minsize(200, COMPACT_HEIGHT)
        self.root.resizable(True, True)
        self.root.attributes("-topmost", always_on_top)
        # "active" focus model clears the input hint, so a window manager that honours it
        # (openbox, most X11 WMs) maps the window without moving keyboard focus to it.
        self.root.focusmodel("active")
        self.root.after(SETTLE_MS, self._settle)
        self._apply_compact(prefs.compact)

    def _settle(self) -> None:
        """Once mapped: allow focus on click, apply opacity, learn the decoration offset."""
        if not self.root.winfo_ismapped():
            self.root.after(SETTLE_MS, self._settle)  # a busy machine maps it later
            return
        # Back to "passive" so a click on the overlay can focus it and the shortcuts work.
        self.root.focusmodel("passive")
        # X11 Tk ignores -alpha on a window that is not mapped yet.
        self.root.attributes("-alpha", self.prefs.opacity)
        if self.prefs.x is not None and self.prefs.y is not None:
            self._offset = (self.root.winfo_rootx() - self.prefs.x,
                            self.root.winfo_rooty() - self.prefs.y)

    def _frame_position(self) -> tuple[int, int]:
        """Where the window (with its decorations) is, in the terms ``geometry`` takes."""
        if self._offset is None or self.prefs.x is None or self.prefs.y is None:
            return self.prefs.x or 0, self.prefs.y or 0
        ox, oy = self._offset
        return self.root.winfo_rootx() - ox, self.root.winfo_rooty() - oy

    # --- the tick -------------------------------------------------------------------------------

    def start(self) -> int:
        self.root.after(TICK_MS, self._tick)
        self.root.mainloop()
        return 0

    def _tick(self) -> None:
        if self._closed:
            return
        started, cpu_started = time.monotonic(), time.thread_time()
        try:
            if self.should_stop():
                self.close()
                return
            self.state, folded = fold_pending(self.state, self.events)
            if folded:
                self.audio_t = max(self.audio_t, max(event.t for event in folded))
                self.folded_total += len(folded)
            self.state = tick(self.state, time.time())
            self.render()
            self._write_debug()
            self.ticks.record(started, time.monotonic(), time.thread_time() - cpu_started,
                              len(folded), self.events.qsize())
        finally:
            if not self._closed:
                self.root.after(TICK_MS, self._tick)

    def render(self) -> None:
        view = present(self.state)
        old = self.view
        for name, draw in self._drawers().items():
            value = getattr(view, name)
            if old is None or getattr(old, name) != value:
                draw(value)
        if old is None or old.stage_colour != view.stage_colour:
            self.chip.configure(fg_color=view.stage_colour)
        if old is None or old.audio_colour != view.audio_colour:
            self.audio.configure(text_color=view.audio_colour)
        if old is None or old.headline != view.headline or old.line != view.line:
            self.compact_headline.configure(text=_one_line(view.headline, view.line))
        self.view = view

    def _drawers(self) -> dict[str, Callable[[Any], None]]:
        return {
            "stage": lambda text: self.chip.configure(text=f"  {text}  "),
            "headline": lambda text: self.headline.configure(text=text),
            "line": lambda text: self.line.configure(text=text),
            "tips": lambda text: _show_text(self.tips, text),
            "level": self._draw_level,
            "meter": lambda text: self.meter_text.configure(text=text),
            "sparkline": self.sparkline.show,
            "meter_shown": lambda shown: _show_row(self.meters, shown),
            "caption": lambda text: _show_text(self.caption, text),
            "timer": lambda text: self.timer.configure(text=text),
            "audio": lambda text: self.audio.configure(text=text),
            "cue": lambda text: _show_text(self.cue, text),
            "notice": lambda text: _show_text(self.notice, text),
            "why": lambda text: _show_text(self.why, text or ""),
            "summary": self._draw_summary,
            "status": lambda text: self._show_help(text or HINT),
            "call_button": lambda text: self.buttons["call"].configure(text=text),
            "flag_button": lambda text: self.buttons["flag"].configure(text=text),
        }

    def _draw_level(self, level: float) -> None:
        self.meter.set(level)
        self.meter.configure(progress_color=meter_colour(level))

    def _draw_summary(self, text: str | None) -> None:
        self.summary_text.configure(text=text or "")
        _show_row(self.summary, bool(text))

    def _show_help(self, text: str) -> None:
        self.help.configure(text=text)

    def _resting_help(self) -> str:
        """What the bottom line says when no button is hovered: the call's marks, else keys."""
        return self.view.status if self.view is not None and self.view.status else HINT

    def _write_debug(self) -> None:
        if self.debug_file is None or self.view is None:
            return
        write_json(self.debug_file, {
            "state": state_to_dict(self.state),
            "view": dict(self.view.__dict__),  # shallow: json.dumps walks the tuples itself
            "ticks": self.ticks.as_list(),
            # The audio time of the latest event shown, to line the screen up with the call.
            "audio_t": self.audio_t,
            "folded_total": self.folded_total,
            "backlog": self.events.qsize(),
            "geometry": self.root.geometry(),
            "alpha": float(self.root.attributes("-alpha")),
            "compact": self.prefs.compact,
            "help": self.help.cget("text"),
        })

    # --- agent actions ----------------------------------------------------------------------------

    def _shortcut_handler(self, command: str) -> Callable[..., str]:
        def handle(_event: object = None) -> str:
            self.run_command(command)
            return "break"  # a shortcut is consumed here, not also typed into a widget

        return handle

    def run_command(self, command: str) -> None:
        commands: dict[str, Callable[[], None]] = {
            "call": self._toggle_call,
            "start_call": self.controller.start_call,
            "end_call": self.controller.end_call,
            "flag": lambda: self._act("flag"),
            "useful": lambda: self._act("feedback", "useful"),
            "not_useful": lambda: self._act("feedback", "not_useful"),
            "snooze": lambda: self._act("snooze", str(SNOOZE_SECONDS)),
            "why": lambda: self._set_state(toggle_why(self.state)),
            "dismiss": lambda: self._set_state(dismiss(self.state)),
            "compact": lambda: self._apply_compact(not self.prefs.compact),
            "fainter": lambda: self._step_opacity(-OPACITY_STEP),
            "bolder": lambda: self._step_opacity(OPACITY_STEP),
            "quit": self.close,
        }
        log.debug("overlay command %s", command)
        commands[command]()

    def _toggle_call(self) -> None:
        if self.state.in_call:
            self.controller.end_call()
        else:
            self.controller.start_call()

    def _act(self, action: str, value: str = "") -> None:
        event = AgentAction(t=self.audio_t, action=action, value=value)
        self.controller.post(event)
        # Show the effect now; the pipeline's echo of the same action changes nothing more.
        self._set_state(reduce(self.state, event))

    def _set_state(self, state: OverlayState) -> None:
        self.state = state
        self.render()

    def _apply_compact(self, compact: bool) -> None:
        if self._offset is not None:  # placed: keep a resize the debounced save has not seen
            self._remember_geometry()
        self.prefs = dataclasses.replace(self.prefs, compact=compact)
        if compact:
            self.body.pack_forget()
            self.actions.pack_forget()
            self.help.pack_forget()
            # Before the audio state in packing order, so that the prompt outlasts it.
            self.compact_headline.pack(side="left", fill="x", expand=True, padx=4,
                                       before=self.audio)
            self.root.geometry(f"{self.prefs.width}x{COMPACT_HEIGHT}")
        else:
            self.compact_headline.pack_forget()
            self.help.pack(fill="x", side="bottom", padx=6)
            self.actions.pack(fill="x", side="bottom", padx=4, pady=(0, 2))
            self.body.pack(fill="both", expand=True)
            self.root.geometry(f"{self.prefs.width}x{self.prefs.height}")
        self._schedule_save()

    def _step_opacity(self, step: float) -> None:
        opacity = clamp_opacity(self.prefs.opacity + step)
        self.prefs = dataclasses.replace(self.prefs, opacity=opacity)
        self.root.attributes("-alpha", opacity)
        self._schedule_save()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._remember_geometry()
        save_prefs(self.prefs_file, self.prefs)
        self.controller.stop()
        self.root.destroy()

    # --- moving, resizing and remembering ---------------------------------------------------------

    def _bind_drag(self, *widgets: Any) -> None:
        for widget in widgets:
            widget.bind("<ButtonPress-1>", self._drag_start, add="+")
            widget.bind("<B1-Motion>", self._drag_move, add="+")

    def _drag_start(self, event: tk.Event) -> None:
        x, y = self._frame_position()
        self._drag_from = (event.x_root - x, event.y_root - y)

    def _drag_move(self, event: tk.Event) -> None:
        if self._drag_from is None:
            return
        dx, dy = self._drag_from
        self.root.geometry(f"+{event.x_root - dx}+{event.y_root - dy}")

    def _on_configure(self, event: tk.Event) -> None:
        if event.widget is self.root:
            wrap = max(event.width - 24, 100)
            for label in (self.line, self.headline, self.caption, self.why, self.tips):
                label.configure(wraplength=wrap)
            self.summary_text.configure(wraplength=max(wrap - SUMMARY_BUTTON_PX, 100))
            self._schedule_save()

    def _schedule_save(self) -> None:
        if self._save_job is not None:
            self.root.after_cancel(self._save_job)
        self._save_job = self.root.after(SAVE_DELAY_MS, self._save_now)

    def _save_now(self) -> None:
        self._save_job = None
        self._remember_geometry()
        save_prefs(self.prefs_file, self.prefs)

    def _remember_geometry(self) -> None:
        width, height, _, _ = parse_geometry(self.root.geometry())
        x, y = self._frame_position()
        if self.prefs.compact:
            height = self.prefs.height  # the compact strip is not the size to come back to
        self.prefs = dataclasses.replace(self.prefs, width=width, height=height, x=x, y=y)

    def _report_error(self, exc: type[BaseException], value: BaseException, tb: Any) -> None:
        log.error("overlay callback failed", exc_info=(exc, value, tb))


def parse_geometry(geometry: str) -> tuple[int, int, int, int]:
    """``"380x220+10+20"`` -> (380, 220, 10, 20)."""
    size, _, rest = geometry.partition("+")
    width, _, height = size.partition("x")
    x, _, y = rest.partition("+")
    return int(width), int(height), int(x or 0), int(y or 0)


def meter_colour(level: float) -> str:
    if level < 0.35:
        return "#3fa35b"
    if level < 0.65:
        return "#d9a21f"
    return "#d64545"


def _show_text(label: ctk.CTkLabel, text: str) -> None:
    """An empty label gives its row back rather than leaving a blank line."""
    label.configure(text=text)
    _show_row(label, bool(text))


def _show_row(widget: ctk.CTkBaseClass, shown: bool) -> None:
    if shown:
        widget.grid()
    else:
        widget.grid_remove()


def _one_line(headline: str, line: str) -> str:
    return f"{headline}: {line}" if line else headline
