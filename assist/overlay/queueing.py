"""Folding a bounded batch of queued events into the overlay state (shared by both views)."""

from __future__ import annotations

import queue

from assist.events import Event
from assist.overlay.state import OverlayState, reduce

MAX_EVENTS_PER_TICK = 200
"""A tick folds at most this many events, so a burst is spread over ticks and never freezes
the window; one fold is a few microseconds, so 200 fit easily in the 50 ms between ticks."""


def fold_pending(state: OverlayState, events: queue.Queue[Event], *,
                 limit: int = MAX_EVENTS_PER_TICK,
                 wait: float = 0.0) -> tuple[OverlayState, list[Event]]:
    """Fold up to ``limit`` queued events into ``state``; returns the new state and the events.

    ``wait`` is how long to block for the first event (the terminal view sleeps here).
    """
    taken: list[Event] = []
    try:
        if wait > 0:
            taken.append(events.get(timeout=wait))
        while len(taken) < limit:
            taken.append(events.get_nowait())
    except queue.Empty:
        pass
    for event in taken:
        state = reduce(state, event)
    return state, taken
