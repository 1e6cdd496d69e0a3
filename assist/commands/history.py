"""`assist history`: the agent's own recent calls from the store."""

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
from assist.store.writer import agent_name

MAX_LIMIT = 1000
COLUMNS = ("date", "duration", "peak anger", "stage reached", "outcome", "flagged", "summary")


def register(sub: Any) -> None:
    p = sub.add_parser("history", help="list your recent calls from the store")
    p.add_argument("--limit", type=int, default=20, help="how many calls (default: %(default)s)")
    p.add_argument("--agent", help="whose calls (default: store.agent, else your login name)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        raise ConfigError(f"--limit must be from 1 to {MAX_LIMIT}, not {args.limit}")
    agent = args.agent or agent_name(config.store)
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


def history_table(calls: Sequence[Call]) -> Table:
    table = Table()
    for column in COLUMNS:
        table.add_column(column)
    for call in calls:
        table.add_row(*history_row(call))
    return table


def history_row(call: Call) -> tuple[str, ...]:
    started = queries.as_utc(call.started_at)
    minutes, seconds = divmod(round(call.duration), 60)
    return (
        started.astimezone().strftime("%Y-%m-%d %H:%M") if started else "",
        f"{minutes}:{seconds:02d}",
        f"{call.peak_anger:.2f}",
        call.top_stage,
        queries.outcome(call),
        "; ".join(call.flag_reason_list) if call.flagged else "no",
        call.summary or "",
    )
