"""`assist replay FILE`: run a recorded call through the live pipeline and show what it does."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from assist.audio.sources import open_file
from assist.commands import common
from assist.config import Config
from assist.pipeline import Pipeline


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="replay a recorded call through the pipeline",
                       description="Replay a WAV, FLAC, MP3 or OGG call through the same "
                       "pipeline as a live call and print its events.")
    p.add_argument("file", type=Path)
    p.add_argument("--speed", choices=("real", "max"), default="max",
                   help="real: at the pace of the recording; max: as fast as possible (default)")
    p.add_argument("--json", action="store_true", help="print every event as a JSON line")
    p.add_argument("--overlay", action="store_true",
                   help="show the agent's overlay window (the terminal view without a display)")
    p.add_argument("--store", action="store_true", help="record the call in the call store")
    p.add_argument("--play", action="store_true",
                   help="also play the recording on the default output device, if there is one")
    p.add_argument("--quit-at-end", action="store_true",
                   help="with --overlay: close the window when the recording ends")
    common.add_file_channel_options(p)
    common.add_model_option(p)
    common.add_pack_option(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    source = open_file(args.file, customer_channel=args.customer_channel,
                       agent_channel=common.agent_channel(args.agent_channel), speed=args.speed,
                       block_ms=config.audio.block_ms)
    transcriber = common.load_transcriber(args, config, now=not args.overlay)
    pack = common.load_pack(args, config)
    store = common.open_store(config) if args.store else None
    stored = [store] if store else []
    try:
        if args.overlay:
            return common.run_with_overlay(source, config, transcriber=transcriber, pack=pack,
                                           sinks=[common.printer(args.json), *stored],
                                           play=args.file if args.play else None,
                                           quit_at_end=args.quit_at_end)
        pipeline = Pipeline(source, config, transcriber=transcriber, pack=pack, sinks=stored,
                            pace_transcription=True)
        # With nobody reading and nothing to store, there is no reason to go on.
        pipeline.sinks.insert(0, common.printer(args.json,
                                                on_closed=None if store else pipeline.stop))
        if args.play:
            common.play_in_background(args.file)
        common.run_in_foreground(pipeline)
    finally:
        if store:
            store.close()
    return 0
