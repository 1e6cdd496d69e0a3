"""The overlay without a screen: the same state and view, drawn live in the terminal by rich."""

from __future__ import annotations

import queue
import threading
import time

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from assist.events import Event
from assist.overlay.controller import CallController
from assist.overlay.queueing import fold_pending
from assist.overlay.state import OverlayState, tick
from assist.overlay.view import OverlayView, present

REFRESH_PER_SECOND = 4
WAIT_S = 0.1
METER_WIDTH = 20


def render(view: OverlayView) -> RenderableType:
    """One panel with the same content as the window (no buttons: keys stay with the shell)."""
    header = Text()
    header.append(f" {view.stage} ", style=f"bold white on {view.stage_colour}")
    header.append(f"  {view.meter}  ")
    header.append(_bar(view.level))
    header.append(f"  {view.timer}  ", style="dim")
    header.append(view.audio, style=view.audio_colour)
    lines: list[RenderableType] = [header, Text(view.headline, style="bold")]
    optional = ((view.line, ""), (view.tips, "dim"), (view.caption, "italic dim"),
                (view.cue, "yellow"), (view.notice, "cyan"), (view.why or "", ""),
                (view.summary or "", "bold"), (view.status, "dim"))
    lines.extend(Text(text, style=style) for text, style in optional if text)
    return Panel(Group(*lines), title="assist", border_style=view.stage_colour)


def _bar(level: float) -> Text:
    filled = round(max(0.0, min(1.0, level)) * METER_WIDTH)
    return Text("█" * filled + "·" * (METER_WIDTH - filled), style="red" if level >= 0.65 else "")


def run_terminal(events: queue.Queue[Event], controller: CallController, *,
                 stop: threading.Event | None = None, console: Console | None = None) -> int:
    """Draw until ``stop`` is set or Ctrl+C (which also stops the controller)."""
    stop = stop or threading.Event()
    state = OverlayState(now=time.time())
    try:
        with Live(render(present(state)), console=console, auto_refresh=False,
                  transient=False) as live:
            last_draw = 0.0
            while not stop.is_set():
                state, _ = fold_pending(state, events, wait=WAIT_S)
                state = tick(state, time.time())
                if time.monotonic() - last_draw >= 1 / REFRESH_PER_SECOND:
                    live.update(render(present(state)), refresh=True)
                    last_draw = time.monotonic()
            state, _ = fold_pending(state, events, limit=1_000_000)
            live.update(render(present(tick(state, time.time()))), refresh=True)
    except KeyboardInterrupt:
        controller.stop()
        return 130
    return 0
