"""The agent's overlay: an always-on-top window, or a live terminal view without a screen.

``run_overlay`` runs on the main thread; the pipeline's sink puts events on ``events`` and the
overlay drives the pipeline back through a :class:`CallController`.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import tkinter as tk
from typing import Any

from assist.config import Config
from assist.events import Event
from assist.overlay.controller import CallController
from assist.overlay.debug import debug_path
from assist.overlay.prefs import prefs_path
from assist.overlay.terminal import run_terminal

__all__ = ["CallController", "display_problem", "run_overlay"]

log = logging.getLogger(__name__)


def run_overlay(events: queue.Queue[Event], controller: CallController, config: Config, *,
                title: str = "assist", stop: threading.Event | None = None) -> int:
    """Show the overlay until the agent closes it (or ``stop`` is set); returns an exit code.

    Without a display it says why in one line on stderr and shows the terminal view instead.
    """
    stop = stop or threading.Event()
    problem = display_problem()
    root = None
    if problem is None:
        root, problem = _open_window(title)
    if root is None:
        print(f"assist: {problem}: showing the terminal view", file=sys.stderr)
        return run_terminal(events, controller, stop=stop)
    from assist.overlay.window import OverlayWindow

    window = OverlayWindow(root, events, controller, config.overlay, prefs_file=prefs_path(),
                           debug_file=debug_path(), stop=stop.is_set)
    return window.start()


def display_problem() -> str | None:
    """Why there is certainly no screen to draw on, or None when it is worth trying Tk."""
    if sys.platform in ("win32", "darwin"):
        return None
    if not os.environ.get("DISPLAY"):
        return "no display (DISPLAY is not set)"
    return None


def _open_window(title: str) -> tuple[Any, str | None]:
    try:
        from assist.overlay.window import open_root

        return open_root(title), None
    except tk.TclError as e:
        log.debug("Tk could not open a window", exc_info=True)
        return None, f"no display (Tk cannot open one: {e})"
