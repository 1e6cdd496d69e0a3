"""The agent's keyboard shortcuts, one table for the key bindings and the help line.

They fire only while the overlay has keyboard focus (click it first), so typing in the CRM or
softphone never triggers them; Ctrl+letter combinations avoid clashing with plain typing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    command: str    # the window's command name
    sequence: str   # Tk event sequence
    keys: str       # how the help line spells it
    help: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("start_call", "<Control-n>", "Ctrl+N", "start a call"),
    Shortcut("end_call", "<Control-e>", "Ctrl+E", "end the call"),
    Shortcut("flag", "<Control-f>", "Ctrl+F", "flag the call for a supervisor"),
    Shortcut("useful", "<Control-u>", "Ctrl+U", "this prompt was useful"),
    Shortcut("not_useful", "<Control-d>", "Ctrl+D", "this prompt was not useful"),
    Shortcut("snooze", "<Control-s>", "Ctrl+S", "snooze prompts for a minute"),
    Shortcut("why", "<Control-y>", "Ctrl+Y", "why this stage?"),
    Shortcut("compact", "<Control-m>", "Ctrl+M", "compact one-line mode"),
    Shortcut("fainter", "<Control-minus>", "Ctrl+-", "more transparent"),
    Shortcut("bolder", "<Control-equal>", "Ctrl+=", "more opaque"),
    Shortcut("dismiss", "<Escape>", "Esc", "close the summary or the why panel"),
    Shortcut("quit", "<Control-q>", "Ctrl+Q", "close the overlay"),
)

BY_COMMAND: dict[str, Shortcut] = {s.command: s for s in SHORTCUTS}


def describe(command: str) -> str:
    """The help-line text for one command, e.g. "Ctrl+F: flag the call for a supervisor"."""
    shortcut = BY_COMMAND[command]
    return f"{shortcut.keys}: {shortcut.help}"
