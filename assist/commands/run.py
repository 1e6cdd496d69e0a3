"""`assist run`: the live pipeline on the configured audio devices, with the overlay."""

from __future__ import annotations

import argparse
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
        pipeline = Pipeline(source, config, transcriber=transcriber, pack=pack, sinks=sinks,
                            agent=config.store.agent_name(), watch_pack=True)
        pipeline.sinks.insert(0, common.printer(args.json))  # a live call goes on regardless
        common.run_in_foreground(pipeline)
    finally:
        if store:
            store.close()
    return 0
