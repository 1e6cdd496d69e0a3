"""The overlay's anger sparkline: a plain Tk canvas, redrawn only when its points change."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence

from assist.overlay.state import HISTORY_SECONDS

MIN_SPAN_SECONDS = 60.0
SPARK_BG = "#1f1f1f"
SPARK_LINE = "#e0a040"
SPARK_GRID = "#3a3a3a"


class Sparkline(tk.Canvas):
    """The anger level over the last few minutes; x is audio time, y is level 0..1."""

    def __init__(self, master: tk.Misc, *, width: int = 160, height: int = 28) -> None:
        super().__init__(master, width=width, height=height, bg=SPARK_BG,
                         highlightthickness=0, borderwidth=0)
        self._points: tuple[tuple[float, float], ...] = ()
        # A resize must redraw, or the line keeps its old scale.
        self.bind("<Configure>", lambda _event: self._draw())

    def show(self, points: Sequence[tuple[float, float]]) -> None:
        self._points = tuple(points)
        self._draw()

    def _draw(self) -> None:
        self.delete("all")
        width, height = max(self.winfo_width(), 2), max(self.winfo_height(), 2)
        self.create_line(0, height / 2, width, height / 2, fill=SPARK_GRID, dash=(2, 3))
        coords = scale_points(self._points, width, height)
        if len(coords) >= 4:
            self.create_line(*coords, fill=SPARK_LINE, width=2)
        elif len(coords) == 2:
            x, y = coords
            self.create_oval(x - 2, y - 2, x + 2, y + 2, fill=SPARK_LINE, outline="")


def scale_points(points: Sequence[tuple[float, float]], width: int, height: int) -> list[float]:
    """Flat canvas coordinates: the newest point at the right edge, level 1 at the top."""
    if not points:
        return []
    latest = points[-1][0]
    # Early in a call the line spans what there is (at least a minute), not five empty minutes.
    span = min(HISTORY_SECONDS, max(MIN_SPAN_SECONDS, latest - points[0][0]))
    coords: list[float] = []
    for t, level in points:
        x = width - 1 - (latest - t) / span * (width - 2)
        y = height - 1 - min(1.0, max(0.0, level)) * (height - 2)
        coords.extend((x, y))
    return coords
