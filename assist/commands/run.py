"""`assist run`: the live pipeline on the configured audio devices, with the overlay."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from assist.audio.sources import open_live
from assist.commands import common
from assist.config import Config
from assist.pipeline import Pipeline


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="listen to the live call audio and show the overlay",
                       description="Start the live pipeline on the devices in the [audio] "
                       "section of the configuration.")
    p.add_argument("--no-overlay", action="store_true",
                   help="print the events instead of opening the overlay")
    p.add_argument("--json", action="store_true", help="with --no-overlay: JSON lines")
    p.add_argument("--no-store", action="store_true", help="do not record the call")
    common.add_model_option(p)
    common.add_pack_option(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    source = open_live(config.audio)
    transcriber = common.load_transcriber(args, config)
    pack = common.load_pack(args, config)
    store = None if args.no_store else common.open_store(config)
    sinks: list[Any] = [store] if store else []
    try:
        if not args.no_overlay:
            return common.run_with_overlay(source, config, transcriber=transcriber, pack=pack,
                                           sinks=sinks, agent=config.store.agent_name())
        sinks.append(common.json_sink() if args.json else common.text_sink())
        pipeline = Pipeline(source, config, transcriber=transcriber, pack=pack, sinks=sinks,
                            agent=config.store.agent_name(), watch_pack=True)
        _stop_on_signals(pipeline)
        pipeline.start()
        while not pipeline.wait(0.5):
            pass
    finally:
        if store:
            store.close()
    return 0


def _stop_on_signals(pipeline: Pipeline) -> None:
    """Ctrl+C or a polite kill ends the call cleanly: everything heard is still recorded."""
    def stop(_signum: int, _frame: object) -> None:
        threading.Thread(target=pipeline.stop, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
