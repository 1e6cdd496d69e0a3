"""`assist history`: the agent's own recent calls from the store, to look back over a shift.

``--call ID`` prints one call's summary card, the same card the overlay showed at its end.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from assist.config import Config
from assist.errors import ConfigError
from assist.store import queries
from assist.store.db import describe, open_engine, resolve_url, session_factory
from assist.store.schema import Call
from assist.store.summaries import summary_from_json
from assist.summary import render_card

MAX_LIMIT = 1000
COLUMNS = ("date", "call", "duration", "peak anger", "stage reached", "outcome", "flagged",
           "follow up")


def register(sub: Any) -> None:
    p = sub.add_parser("history", help="list your recent calls from the store")
    p.add_argument("--limit", type=int, default=20, help="how many calls (default: %(default)s)")
    p.add_argument("--agent", help="whose calls (default: store.agent, else your login name)")
    p.add_argument("--call", metavar="ID", help="print this call's summary card instead")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        raise ConfigError(f"--limit must be from 1 to {MAX_LIMIT}, not {args.limit}")
    agent = args.agent or config.store.agent_name()
    if args.call is not None:
        print(summary_card(config, agent, args.call.strip()))
        return 0
    engine = open_engine(config.store.url)
    try:
        with session_factory(engine)() as session:
            calls = queries.recent_calls(session, agent, args.limit)
            table = history_table(calls)  # built while the rows are still attached
    finally:
        engine.dispose()
    if not calls:
        print(f"No calls recorded for {agent} in {describe(resolve_url(config.store.url))}.")
        return 0
    if sys.stdout.isatty():
        table.title = f"Recent calls of {agent}"
        Console().print(table)
    else:
        # Piped output stays one call per line, tab-separated, for scripts and spreadsheets.
        print("\t".join(COLUMNS))
        for call in calls:
            print("\t".join(history_row(call)))
    return 0


def summary_card(config: Config, agent: str, call_id: str) -> str:
    """The summary card of one of ``agent``'s calls; ConfigError when there is no such call."""
    engine = open_engine(config.store.url)
    try:
        with session_factory(engine)() as session:
            call = queries.find_call(session, call_id, agent) if call_id else None
            if call is None:
                raise ConfigError(
                    f"no call {call_id!r} of {agent} in the store; run `assist history` to see "
                    "the call ids (or add --agent NAME for someone else's call)")
            header = f"Call {call.id} · {_started(call)} · {queries.outcome(call)}"
            return header + "\n" + render_card(queries.summary_of(call))
    finally:
        engine.dispose()


def history_table(calls: Sequence[Call]) -> Table:
    table = Table()
    for column in COLUMNS:
        table.add_column(column)
    for call in calls:
        table.add_row(*history_row(call))
    return table


def history_row(call: Call) -> tuple[str, ...]:
    minutes, seconds = divmod(round(call.duration), 60)
    summary = summary_from_json(call.summary)
    return (
        _started(call),
        call.id,
        f"{minutes}:{seconds:02d}",
        f"{call.peak_anger:.2f}",
        call.top_stage,
        queries.outcome(call),
        "; ".join(call.flag_reason_list) if call.flagged else "no",
        "; ".join(summary.follow_ups) if summary else "",
    )


def _started(call: Call) -> str:
    started = queries.as_utc(call.started_at)
    return started.astimezone().strftime("%Y-%m-%d %H:%M") if started else ""
