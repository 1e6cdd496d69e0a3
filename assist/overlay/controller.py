"""What the overlay drives: the pipeline implements this for a live call or a replay."""

from __future__ import annotations

from typing import Protocol

from assist.events import Event


class CallController(Protocol):
    def post(self, event: Event) -> None:
        """An agent action (flag, feedback, snooze) back into the pipeline; must not block."""

    def start_call(self) -> None: ...

    def end_call(self) -> None: ...

    def stop(self) -> None:
        """The agent closed the overlay: stop listening."""
