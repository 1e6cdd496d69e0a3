"""Options and building blocks that several subcommands share."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from assist.config import Config
from assist.events import (
    AgentAction,
    AudioState,
    CallEnded,
    CallStarted,
    CallSummarized,
    Cue,
    Event,
    FinalText,
    LevelUpdate,
    PartialText,
    PromptShown,
    StageChanged,
    UtteranceScored,
    VoiceCue,
    event_to_dict,
)
from assist.summary import render_card

SUMMARY_LINGER_S = 3.0
CHANNELS_HELP = "left, right, mono (mix) or a 1-based channel number"
AUDIO_SUFFIXES = (".ogg", ".wav", ".flac", ".mp3")
"""Recordings the commands accept (what soundfile reads), by file name."""


def add_model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="PATH",
                   help="Whisper model directory (default: asr.model, then models/, then tiny.en)")


def add_pack_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pack", metavar="NAME|PATH",
                   help="prompt pack (default: prompts.pack from the config)")


def add_file_channel_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--customer-channel", default="auto", metavar="CH",
                   help=f"channel carrying the customer: {CHANNELS_HELP} (default: right for "
                        "stereo, the only channel for mono)")
    p.add_argument("--agent-channel", default="auto", metavar="CH",
                   help=f"channel carrying the agent: {CHANNELS_HELP}, or none (default: left "
                        "for stereo, none for mono)")


def agent_channel(value: str) -> str | None:
    return None if value.lower() in ("none", "") else value


def load_transcriber(args: argparse.Namespace, config: Config, *, now: bool = False) -> Any:
    """The Whisper model, found now (a wrong --model fails here) and loaded on first use,
    or ``now`` (a model that cannot load is then a one-line error before any output).

    Deferred, the pipeline's worker thread loads it while the audio source is already
    listening and the overlay is up, so start-up does not wait for CTranslate2 and the weights.
    """
    from assist.asr import deferred_transcriber

    transcriber = deferred_transcriber(getattr(args, "model", None), config.asr)
    if now:
        transcriber.prepare()
    return transcriber


def load_pack(args: argparse.Namespace, config: Config) -> Any:
    from assist.prompts import load_pack as load
    from assist.scoring import tone

    pack = load(getattr(args, "pack", None) or config.prompts.pack)
    if pack.scoring.fusion.tone > 0:
        tone.check_installed()  # here, as a one-line error, not on the coordinator mid-call
    return pack


def check_input_file(path: Path, customer_channel: str = "auto",
                     agent_channel: str | None = "auto") -> Path:
    """Fail early, in one line, before any model is loaded: the file and its channels."""
    from assist.audio.sources import open_file

    open_file(path, customer_channel=customer_channel, agent_channel=agent_channel).stop()
    return path


def printer(as_json: bool, *, out: TextIO = sys.stdout,
            on_closed: Callable[[], None] | None = None) -> LineSink:
    """Every event as a JSON line, or the ones a person wants to read as text."""
    return LineSink(out, json_line if as_json else text_line, on_closed)


def json_line(event: Event) -> str:
    """The event as one JSON line (audio arrays left out)."""
    return json.dumps(event_to_dict(event), ensure_ascii=False)


def text_line(event: Event) -> str:
    """One line stamped with audio time, or "" for the events only machines care about."""
    line = describe(event)
    return f"{clock(event.t)}  {line}" if line else ""


class LineSink:
    """Prints events, one line each, until whoever reads the output goes away (``| head``):
    then it falls silent and calls ``on_closed`` once, rather than fail on every event."""

    def __init__(self, out: TextIO, render: Callable[[Event], str],
                 on_closed: Callable[[], None] | None = None) -> None:
        self._out, self._render, self._on_closed = out, render, on_closed
        self._closed = False

    def __call__(self, event: Event) -> None:
        if self._closed:
            return
        line = self._render(event)
        if not line:
            return
        try:
            self._out.write(line + "\n")
            self._out.flush()
        except (BrokenPipeError, ValueError) as e:
            if not isinstance(e, BrokenPipeError) and not self._out.closed:
                raise  # not a reader gone (a line it cannot encode): the pipeline logs it
            self._closed = True
            _discard_further_output(self._out)
            if self._on_closed:
                self._on_closed()


def _discard_further_output(out: TextIO) -> None:
    """Point the stream's file at the null device, so flushing it at exit cannot fail again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, out.fileno())
        os.close(null)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file (a test's StringIO): nothing is flushed at exit


def run_in_foreground(pipeline: Any) -> None:
    """Run ``pipeline`` to its end on this thread; a signal or Ctrl+C stops it cleanly."""
    stop_on_signals(pipeline.stop, interrupt=True)
    pipeline.start()
    while not pipeline.wait(0.5):
        pass


def describe(event: Event) -> str:
    """One human line for an event, or "" for the ones only machines care about."""
    match event:
        case CallStarted():
            return f"call {event.call_id} started ({event.source})"
        case CallEnded():
            return f"call {event.call_id} {event.reason}"
        case AudioState():
            return f"audio: {event.status.value}" + (f" ({event.detail})" if event.detail else "")
        case PartialText():
            return f"  ... {event.speaker.value}: {event.text}"
        case FinalText():
            return f"{event.speaker.value:>8}: {event.text}"
        case VoiceCue() if not event.partial and event.cue:
            return f"   voice: {event.arousal:.2f} {event.cue}"
        case UtteranceScored():
            trig = ", ".join(h.name for h in event.triggers)
            return (f"   anger {event.anger:.2f} (words {event.word_anger:.2f})"
                    + (f" triggers: {trig}" if trig else ""))
        case StageChanged():
            return f"STAGE {event.previous.value} -> {event.stage.value}: {event.reason}"
        case PromptShown():
            return f"PROMPT [{event.headline}] {event.line}"
        case Cue():
            return f"CUE {event.kind}: {event.message}"
        case AgentAction():
            return f"agent: {event.action} {event.value}".rstrip()
        case CallSummarized():
            return "summary: " + render_card(event).replace("\n", "\n           ")
        case LevelUpdate():
            return ""
    return ""


def clock(seconds: float) -> str:
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes):02d}:{secs:04.1f}"


def open_store(config: Config) -> Any:
    from assist.store import StoreSink

    return StoreSink(config.store.url or None, config.store)


def play_in_background(path: Path) -> None:
    """Play a recording on the default output device, if there is one; never fails the call."""
    import logging

    import sounddevice as sd
    import soundfile as sf

    from assist.audio.sources import sound_file_name

    log = logging.getLogger(__name__)
    try:
        sd.query_devices(kind="output")
    except (sd.PortAudioError, ValueError):
        log.info("no audio output device: replaying without sound")
        return
    try:
        data, rate = sf.read(sound_file_name(path), dtype="float32")
        sd.play(data, rate)
    except (sd.PortAudioError, sf.LibsndfileError, OSError) as e:
        log.warning("cannot play %s: %s", path, e)


def stop_on_signals(stop: Callable[[], None], *, interrupt: bool = False) -> None:
    """A polite kill (SIGTERM), a closed terminal (SIGHUP, where there is one) and, with
    ``interrupt``, Ctrl+C end the call cleanly: everything heard is still recorded."""
    import signal
    import threading

    def handle(_signum: int, _frame: object) -> None:
        threading.Thread(target=stop, name="assist-signal", daemon=True).start()

    wanted = [signal.SIGTERM, getattr(signal, "SIGHUP", None)]
    for signum in [*wanted, signal.SIGINT] if interrupt else wanted:
        if signum is not None:
            signal.signal(signum, handle)


def run_with_overlay(source: Any, config: Config, *, transcriber: Any, pack: Any,
                     sinks: list[Callable[[Event], None]], agent: str = "",
                     play: Path | None = None, quit_at_end: bool = False) -> int:
    """The pipeline feeding the overlay (Tk on this thread); returns the overlay's exit code."""
    import queue
    import threading

    from assist.overlay import run_overlay
    from assist.pipeline import Pipeline

    events: queue.Queue[Event] = queue.Queue()
    pipeline = Pipeline(source, config, transcriber=transcriber, pack=pack,
                        sinks=[*sinks, events.put], agent=agent, watch_pack=True)
    stop = threading.Event()

    def close_when_done() -> None:
        pipeline.wait()
        stop.wait(SUMMARY_LINGER_S)  # long enough to see the summary card
        stop.set()

    if quit_at_end:
        threading.Thread(target=close_when_done, name="assist-quit-at-end", daemon=True).start()
    if play:
        play_in_background(play)
    stop_on_signals(stop.set)
    pipeline.start()
    try:
        return run_overlay(events, pipeline, config, title="assist", stop=stop)
    finally:
        pipeline.stop()
        pipeline.wait(60)
