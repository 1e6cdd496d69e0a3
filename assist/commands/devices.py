"""`assist devices`: list audio inputs, marking those likely to carry the caller."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from assist.audio.devices import InputDevice, default_input_index, list_devices
from assist.config import Config


def register(sub: Any) -> None:
    p = sub.add_parser("devices", help="list audio inputs (pick one for audio.customer_device)")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    # Config errors say "see `assist devices`": it must run while the file is broken.
    p.set_defaults(handler=run, works_without_config=lambda args: True)


def run(args: argparse.Namespace, config: Config) -> int:
    devices = list_devices()
    default = default_input_index()
    if args.json:
        rows = [dataclasses.asdict(d) | {"default": d.index == default} for d in devices]
        print(json.dumps(rows, indent=2))
        return 0
    if not devices:
        print("No audio inputs found. Check that a sound card or audio server is running.")
        return 0
    print(_table(devices, default))
    print()
    print("* usually carries the far end of a call (the customer); > is the default input.")
    print("Set audio.customer_device to an index or part of a name.")
    if config.audio.customer_device:
        print(f"Configured: customer_device = {config.audio.customer_device!r}")
    return 0


def _table(devices: list[InputDevice], default: int | None) -> str:
    name_width = max(len("name"), *(len(d.name) for d in devices))
    lines = [f"   {'index':>5}  {'name':<{name_width}}  {'host API':<12} {'ch':>3} {'rate':>7}"]
    for d in devices:
        mark = (">" if d.index == default else " ") + ("*" if d.far_end else " ")
        lines.append(f"{mark} {d.index:>5}  {d.name:<{name_width}}  {d.hostapi:<12} "
                     f"{d.channels:>3} {d.default_rate:>7.0f}")
    return "\n".join(lines)
