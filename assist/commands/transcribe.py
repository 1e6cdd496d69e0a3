"""`assist transcribe FILE`: a timed transcript of a recording, one line per utterance."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from assist.audio.sources import open_file
from assist.commands import common
from assist.config import Config
from assist.events import event_to_dict
from assist.pipeline import final_texts, run_to_end
from assist.prompts import load_pack


def register(sub: Any) -> None:
    p = sub.add_parser("transcribe", help="print a timed transcript of a recording",
                       description="Transcribe a recording with the local Whisper model. A "
                       "stereo call gives two speakers: agent on the left, customer on the right.")
    p.add_argument("file", type=Path)
    p.add_argument("--channel", default="both", metavar="CH",
                   help="both (stereo: left = agent, right = customer), left, right, mono "
                        "(mix) or a 1-based channel number (default: both)")
    p.add_argument("--json", action="store_true", help="one JSON object per utterance")
    common.add_model_option(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    if args.channel == "both":
        customer, agent = "auto", "auto"
    else:
        customer, agent = args.channel, None
    source = open_file(args.file, customer_channel=customer, agent_channel=agent, speed="max",
                       block_ms=config.audio.block_ms)
    transcriber = common.load_transcriber(args, config, now=True)
    # The pipeline scores as it goes, but only its text is printed: the team's pack (which a
    # trainer may be half-way through editing) has no say, so the built-in one serves.
    events = run_to_end(source, config, transcriber=transcriber, pack=load_pack("default"))
    for final in final_texts(events):
        if args.json:
            print(json.dumps(event_to_dict(final), ensure_ascii=False))
        else:
            span = f"[{common.clock(final.start)} - {common.clock(final.end)}]"
            print(f"{span} {final.speaker.value}: {final.text}")
    return 0
