"""A debug hook: with ASSIST_OVERLAY_STATE=PATH the window writes what it shows to PATH as JSON
on every tick, with the tick timings, so tests (and curious developers) can watch it."""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assist import paths

log = logging.getLogger(__name__)

ENV_VAR = "ASSIST_OVERLAY_STATE"
KEEP_TICKS = 200


@dataclass(frozen=True)
class TickTiming:
    started: float     # time.monotonic() when the tick began
    gap_ms: float      # since the previous tick began (due every TICK_MS)
    work_ms: float     # folding, drawing and writing this record, wall clock
    cpu_ms: float      # the same on the Tk thread's CPU clock (what other processes cannot inflate)
    folded: int        # events folded in this tick
    backlog: int       # events still queued after it


class TickLog:
    """The last few hundred tick timings, to measure how late ticks run under a burst."""

    def __init__(self, keep: int = KEEP_TICKS) -> None:
        self._ticks: deque[TickTiming] = deque(maxlen=keep)
        self._previous: float | None = None

    def record(self, started: float, finished: float, cpu_s: float, folded: int,
               backlog: int) -> None:
        gap = 0.0 if self._previous is None else (started - self._previous) * 1000
        self._previous = started
        self._ticks.append(TickTiming(started, round(gap, 2), round((finished - started) * 1000, 2),
                                      round(cpu_s * 1000, 2), folded, backlog))

    def as_list(self) -> list[dict[str, float]]:
        return [t.__dict__ for t in self._ticks]


def debug_path() -> Path | None:
    value = os.environ.get(ENV_VAR)
    return Path(value) if value else None


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Replace ``path`` atomically so a reader never sees half a file."""
    try:
        paths.replace_text(path, json.dumps(payload, default=str))
    except OSError as e:
        log.warning("cannot write the overlay debug state to %s: %s", path, e)
