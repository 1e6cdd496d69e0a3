"""Test helper: opens the overlay fed by a scripted list of events (until the pipeline is wired).

    python tests/overlay_feed.py SCRIPT.json --actions ACTIONS.jsonl

SCRIPT is a JSON list of steps, run in order on a feeder thread:
    {"event": {"type": "StageChanged", "stage": "reflect", ...}}   put one event on the queue
    {"sleep": 0.5}                                                  wait
    {"wait_file": "/tmp/go"}                                        wait until the file exists
    {"burst": 10000}                                                put N mixed events at once
    {"stop": true}                                                  close the overlay
The controller appends every call it receives to ACTIONS as one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
import typing
from pathlib import Path
from typing import Any

from assist import events as ev
from assist.config import Config
from assist.overlay import run_overlay

ENUMS: dict[str, type] = {"stage": ev.Stage, "previous": ev.Stage, "status": ev.AudioStatus,
                          "speaker": ev.Speaker}


def event_from_dict(raw: dict[str, Any]) -> ev.Event:
    fields = dict(raw)
    cls = getattr(ev, fields.pop("type"))
    fields.setdefault("t", 0.0)
    for name, value in fields.items():
        if name in ENUMS and value is not None:
            fields[name] = ENUMS[name](value)
        elif name == "triggers":
            fields[name] = tuple(ev.TriggerHit(**hit) for hit in value)
        elif isinstance(value, list):
            fields[name] = tuple(value)
    return typing.cast(ev.Event, cls(**fields))


def burst(count: int) -> list[ev.Event]:
    """A realistic mix of what a busy pipeline sends; the last one is a recognisable marker."""
    made: list[ev.Event] = []
    for i in range(count - 1):
        t = i * 0.01
        level = (i % 100) / 100
        kind = i % 4
        if kind == 0:
            made.append(ev.LevelUpdate(t=t, level=level, trend=0.1, stage=ev.Stage.EMPATHIZE))
        elif kind == 1:
            made.append(ev.FinalText(t=t, speaker=ev.Speaker.CUSTOMER, utterance_id=i, start=t,
                                     end=t, text=f"burst line {i}"))
        elif kind == 2:
            made.append(ev.UtteranceScored(t=t, utterance_id=i, start=t, end=t, text="x",
                                           word_anger=level, voice_arousal=None, anger=level))
        else:
            made.append(ev.AudioState(t=t, status=ev.AudioStatus.LISTENING))
    made.append(ev.FinalText(t=count * 0.01, speaker=ev.Speaker.CUSTOMER, utterance_id=count,
                             start=0, end=0, text="end of burst"))
    return made


class RecordingController:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def _write(self, record: dict[str, Any]) -> None:
        with self.lock, self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    def post(self, event: ev.Event) -> None:
        self._write({"call": "post", "event": ev.event_to_dict(event)})

    def start_call(self) -> None:
        self._write({"call": "start_call"})

    def end_call(self) -> None:
        self._write({"call": "end_call"})

    def stop(self) -> None:
        self._write({"call": "stop"})


def feed(steps: list[dict[str, Any]], events: queue.Queue[ev.Event],
         stop: threading.Event) -> None:
    # Bursts are built up front: a real pipeline makes its events over time, so only the
    # queueing, not the making, should compete with the window in the burst.
    bursts = {i: burst(step["burst"]) for i, step in enumerate(steps) if "burst" in step}
    for i, step in enumerate(steps):
        if "event" in step:
            events.put(event_from_dict(step["event"]))
        elif "sleep" in step:
            time.sleep(step["sleep"])
        elif "wait_file" in step:
            while not Path(step["wait_file"]).exists() and not stop.is_set():
                time.sleep(0.05)
        elif "burst" in step:
            for event in bursts[i]:
                events.put(event)
        elif step.get("stop"):
            stop.set()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("script", type=Path)
    parser.add_argument("--actions", type=Path, required=True)
    args = parser.parse_args()
    steps = json.loads(args.script.read_text(encoding="utf-8"))
    events: queue.Queue[ev.Event] = queue.Queue()
    stop = threading.Event()
    threading.Thread(target=feed, args=(steps, events, stop), daemon=True).start()
    return run_overlay(events, RecordingController(args.actions), Config(), stop=stop)


if __name__ == "__main__":

    sys.exit(main())
