"""Measure the whole pipeline at real pace: latency, real-time factor, CPU, memory, start-up.

Run through ``scripts/bench`` (which sets up first). It replays calls at the pace of the
recording through the same pipeline as a live call, with an event consumer that drains its
queue every 50 ms exactly as the overlay's Tk timer does (no screen needed), and prints, and
writes as JSON:

- end of a customer utterance (its last voiced sample) -> the prompt state it causes
  (the LevelUpdate/StageChanged after its score), and -> its final text: median and p95;
- start of a raised-voice utterance -> its first voice cue (no transcription involved), from
  the utterance's start (which includes the segmenter's pre-roll) and from its first voiced
  frame;
- Whisper's real-time factor; average CPU (% of one core) and peak resident memory over the
  whole run; memory at minute 1 and at the end;
- start-up: from running `assist replay` to the event that says it is listening;
- per customer utterance: its length and both latencies, and Whisper's passes by kind (final,
  speculative final started at a pause, partial) with how many guesses were reused.

The machine may be shared, so CPU time (not only wall time) is reported for Whisper and the
whole process, with the load average before and after.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assist import paths  # noqa: E402
from assist.asr import deferred_transcriber  # noqa: E402
from assist.audio.sources import open_file  # noqa: E402
from assist.config import Config, load_config  # noqa: E402
from assist.events import (  # noqa: E402
    AudioState,
    AudioStatus,
    Event,
    FinalText,
    LevelUpdate,
    PartialWindow,
    Speaker,
    UtteranceEnded,
    UtteranceScored,
    UtteranceStarted,
    VoiceCue,
)
from assist.pipeline import Pipeline  # noqa: E402
from assist.prompts import load_pack  # noqa: E402

RAISED_AROUSAL = 0.5
"""A voice cue at or above this counts as 'raised voice' (the stage pack's voice rule sits here)."""
NO_AUDIO = np.zeros(0, np.float32)
CONSUMER_TICK_S = 0.05
"""The overlay drains its queue every 50 ms; the bench's consumer does the same."""


@dataclass
class TimedTranscriber:
    """Wraps the real transcriber to time each pass (and optionally slow it down)."""

    inner: object
    inject_delay_s: float = 0.0
    passes: list[tuple[float, float, float]] = field(default_factory=list)  # audio, wall, cpu s
    load_s: float = 0.0

    def prepare(self) -> None:
        """Load the model on the worker thread, as the CLI does (timed apart from the passes)."""
        started = time.perf_counter()
        self.inner.prepare()  # type: ignore[attr-defined]
        self.load_s = time.perf_counter() - started

    def transcribe(self, audio: np.ndarray) -> str:
        started, cpu = time.perf_counter(), time.process_time()
        text: str = self.inner.transcribe(audio)  # type: ignore[attr-defined]
        cpu_s = time.process_time() - cpu  # CTranslate2's own threads included
        if self.inject_delay_s:
            time.sleep(self.inject_delay_s)
        self.passes.append((len(audio) / 16_000, time.perf_counter() - started, cpu_s))
        return text


class OverlayLikeConsumer:
    """Drains events every 50 ms like the overlay, stamping when each was seen.

    Events are kept without their audio, as the overlay keeps none: over a 30 minute call the
    partial windows' audio alone would be gigabytes, and the memory figure is the pipeline's.
    """

    def __init__(self) -> None:
        self.queue: queue.Queue[Event] = queue.Queue()
        self.seen: list[tuple[float, Event]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="bench-consumer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.wait(CONSUMER_TICK_S):
            self._take_all()

    def _take_all(self) -> None:
        while True:
            try:
                event = self.queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, UtteranceEnded | PartialWindow):
                event = dataclasses.replace(event, audio=NO_AUDIO)
            self.seen.append((time.time(), event))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._take_all()


class ResourceSampler:
    """Samples this process's CPU time and resident memory once a second."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.samples: list[tuple[float, float, float]] = []  # (wall, cpu s, rss MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def start(self) -> None:
        self._sample()
        self._thread.start()

    def _sample(self) -> None:
        cpu = self.process.cpu_times()
        rss = self.process.memory_info().rss / 2**20
        self.samples.append((time.time(), cpu.user + cpu.system, rss))

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def long_call(calls: list[Path], minutes: float, out_dir: Path) -> Path:
    """Concatenate calls (in turn, repeating) into one stereo file of about ``minutes``."""
    pieces: list[np.ndarray] = []
    total = 0.0
    rate = 16_000
    for path in cycle(calls):
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        pieces.append(data)
        total += len(data) / rate
        if total >= minutes * 60:
            break
    out = out_dir / f"bench_{minutes:g}min.wav"
    sf.write(str(out), np.concatenate(pieces), rate, subtype="PCM_16")
    return out


def cycle(items: list[Path]) -> Iterator[Path]:
    while True:
        yield from items


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def summarize_latencies(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "median_s": None, "p95_s": None, "max_s": None}
    return {"n": len(values), "median_s": round(statistics.median(values), 3),
            "p95_s": round(percentile(values, 95), 3), "max_s": round(max(values), 3)}


@dataclass
class UtteranceTiming:
    """One customer utterance: when it was said and when the agent saw its results."""

    utterance_id: int
    start: float
    last_voiced: float
    onset: float = 0.0  # first voiced frame (start + the pre-roll the segmenter kept)
    ended_seen: float | None = None  # wall time the consumer saw UtteranceEnded
    text_seen: float | None = None
    prompt_seen: float | None = None
    first_raised_cue_seen: float | None = None


def onsets(seen: list[tuple[float, Event]], preroll_s: float) -> dict[int, float]:
    """Audio time of each customer utterance's first voiced frame.

    An utterance starts ``preroll_s`` before its first voiced frame, unless the previous one
    ended less than that before (the pre-roll is then cut short and the onset unknown: the
    start itself is used, which overstates the latency).
    """
    found: dict[int, float] = {}
    previous_end = float("-inf")
    for _, event in seen:
        if isinstance(event, UtteranceEnded) and event.speaker is Speaker.CUSTOMER:
            previous_end = event.end
        elif isinstance(event, UtteranceStarted) and event.speaker is Speaker.CUSTOMER:
            full = event.start - previous_end >= preroll_s - 1e-6 and event.start >= preroll_s
            found[event.utterance_id] = event.start + (preroll_s if full else 0.0)
    return found


def timings(seen: list[tuple[float, Event]],
            preroll_s: float = 0.0) -> tuple[float, list[UtteranceTiming]]:
    """The wall time audio time 0 was captured at, and every customer utterance's timing.

    At real pace audio time t was captured at wall time (start + t), where start is when the
    source said it was listening.
    """
    start = next(e.wall for _, e in seen
                 if isinstance(e, AudioState) and e.status is AudioStatus.LISTENING)
    found = {e.utterance_id: UtteranceTiming(e.utterance_id, e.start, e.last_voiced)
             for _, e in seen if isinstance(e, UtteranceEnded) and e.speaker is Speaker.CUSTOMER}
    starts = {e.utterance_id: e.start for _, e in seen
              if isinstance(e, UtteranceStarted) and e.speaker is Speaker.CUSTOMER}
    for uid, onset in onsets(seen, preroll_s).items():
        if uid in found:
            found[uid].onset = onset
    scored_id: int | None = None
    for when, event in seen:
        if isinstance(event, UtteranceEnded) and event.utterance_id in found:
            found[event.utterance_id].ended_seen = when
        elif isinstance(event, FinalText) and event.utterance_id in found and event.text.strip():
            found[event.utterance_id].text_seen = when
        elif isinstance(event, UtteranceScored):
            scored_id = event.utterance_id
        elif isinstance(event, LevelUpdate) and scored_id in found:
            found[scored_id].prompt_seen = when
            scored_id = None
        elif (isinstance(event, VoiceCue) and event.arousal >= RAISED_AROUSAL
              and event.utterance_id in found and event.utterance_id in starts
              and found[event.utterance_id].first_raised_cue_seen is None):
            found[event.utterance_id].first_raised_cue_seen = when
    return start, sorted(found.values(), key=lambda u: u.start)


def latencies(seen: list[tuple[float, Event]], preroll_s: float) -> dict[str, list[float]]:
    """Per customer utterance: end -> prompt state, end -> final text; raised voice -> cue."""
    start, utterances = timings(seen, preroll_s)
    return {
        "end_to_prompt": [u.prompt_seen - (start + u.last_voiced)
                          for u in utterances if u.prompt_seen is not None],
        "end_to_text": [u.text_seen - (start + u.last_voiced)
                        for u in utterances if u.text_seen is not None],
        "raised_voice_to_cue": [u.first_raised_cue_seen - (start + u.start)
                                for u in utterances if u.first_raised_cue_seen is not None],
        "raised_voice_onset_to_cue": [u.first_raised_cue_seen - (start + u.onset)
                                      for u in utterances if u.first_raised_cue_seen is not None],
        # What the pipeline adds once the segmenter has waited out the end silence.
        "ended_to_text": [u.text_seen - u.ended_seen for u in utterances
                          if u.text_seen is not None and u.ended_seen is not None],
    }


def utterance_rows(seen: list[tuple[float, Event]],
                   preroll_s: float) -> list[dict[str, float | int | None]]:
    start, utterances = timings(seen, preroll_s)

    def after(wall: float | None, audio_t: float) -> float | None:
        return None if wall is None else round(wall - (start + audio_t), 3)

    return [{"id": u.utterance_id, "start": round(u.start, 2),
             "seconds": round(u.last_voiced - u.start, 2),
             "end_to_text_s": after(u.text_seen, u.last_voiced),
             "end_to_prompt_s": after(u.prompt_seen, u.last_voiced),
             "raised_cue_after_start_s": after(u.first_raised_cue_seen, u.start),
             "raised_cue_after_onset_s": after(u.first_raised_cue_seen, u.onset)}
            for u in utterances]


def measure_startup(call: Path, runs: int = 3) -> list[float]:
    """Seconds from starting `assist replay --speed real` to its 'listening' event, per run."""
    return [startup_once(call) for _ in range(runs)]


def startup_once(call: Path) -> float:
    started = time.perf_counter()
    with subprocess.Popen([sys.executable, "-m", "assist.cli", "replay", str(call), "--speed",
                           "real", "--json"], stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if '"status": "listening"' in line:
                elapsed = time.perf_counter() - started
                break
        else:
            elapsed = float("nan")
        proc.terminate()
    return elapsed


def run_bench(call: Path, config: Config, inject_delay_s: float) -> dict[str, object]:
    transcriber = TimedTranscriber(deferred_transcriber(None, config.asr), inject_delay_s)
    consumer = OverlayLikeConsumer()
    sampler = ResourceSampler()
    source = open_file(call, speed="real", block_ms=config.audio.block_ms)
    pipeline = Pipeline(source, config, transcriber=transcriber, pack=load_pack(config.prompts.pack),
                        sinks=[consumer.queue.put])
    load_before = os.getloadavg()
    sampler.start()
    wall_at = time.time()
    pipeline.start()
    last_report = time.time()
    while not pipeline.wait(5):
        if time.time() - last_report >= 60:
            last_report = time.time()
            print(f"  ... {(last_report - wall_at) / 60:.0f} min, "
                  f"{sampler.samples[-1][2]:.0f} MB", file=sys.stderr, flush=True)
    sampler.stop()
    consumer.close()
    figures = report(call, config, transcriber, consumer, sampler)
    figures["whisper"].update(passes_by_kind(pipeline, consumer.seen))  # type: ignore[attr-defined]
    figures["load_average_1min"] = {"before": round(load_before[0], 2),
                                    "after": round(os.getloadavg()[0], 2)}
    figures["utterances"] = utterance_rows(consumer.seen, config.segmenter.preroll_ms / 1000)
    return figures


def passes_by_kind(pipeline: Pipeline, seen: list[tuple[float, Event]]) -> dict[str, object]:
    stats = pipeline.transcription_stats()
    speech_s = sum(e.end - e.start for _, e in seen if isinstance(e, UtteranceEnded))
    passes = stats.final_passes + stats.speculative_passes + stats.partial_passes
    return {"final_passes": stats.final_passes, "speculative_passes": stats.speculative_passes,
            "partial_passes": stats.partial_passes,
            "guesses_reused": stats.queue.reused_guesses,
            "guesses_discarded": stats.queue.discarded_guesses,
            "partials_dropped_unstarted": stats.queue.dropped_partials,
            "speech_minutes": round(speech_s / 60, 2),
            "passes_per_speech_minute": round(passes / (speech_s / 60), 1) if speech_s else None}


def report(call: Path, config: Config, transcriber: TimedTranscriber,
           consumer: OverlayLikeConsumer, sampler: ResourceSampler) -> dict[str, object]:
    lat = latencies(consumer.seen, config.segmenter.preroll_ms / 1000)
    first, last = sampler.samples[0], sampler.samples[-1]
    wall = last[0] - first[0]
    minute_one = next((s[2] for s in sampler.samples if s[0] - first[0] >= 60), last[2])
    audio_s = sum(a for a, _, _ in transcriber.passes)
    compute_s = sum(c for _, c, _ in transcriber.passes)
    cpu_s = sum(c for _, _, c in transcriber.passes)
    audio_minutes = sf.info(str(call)).duration / 60
    return {
        "call": call.name,
        "audio_minutes": round(audio_minutes, 2),
        "machine": {"cores": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "model": str(config.asr.model or "tiny.en (packaged)"),
        "asr": {"beam_size": config.asr.beam_size, "compute_type": config.asr.compute_type,
                "cpu_threads": config.asr.cpu_threads or os.cpu_count(),
                "partials": config.asr.partials, "partial_every_s": config.asr.partial_every_s},
        "segmenter": {"end_silence_ms": config.segmenter.end_silence_ms,
                      "partial_every_s": config.segmenter.partial_every_s},
        "end_to_prompt": summarize_latencies(lat["end_to_prompt"]),
        "end_to_text": summarize_latencies(lat["end_to_text"]),
        "ended_to_text": summarize_latencies(lat["ended_to_text"]),
        "raised_voice_to_cue": summarize_latencies(lat["raised_voice_to_cue"]),
        "raised_voice_onset_to_cue": summarize_latencies(lat["raised_voice_onset_to_cue"]),
        "whisper": {"passes": len(transcriber.passes),
                    "model_load_s": round(transcriber.load_s, 2),
                    "real_time_factor": round(compute_s / audio_s, 3) if audio_s else None,
                    "cpu_s_per_audio_s": round(cpu_s / audio_s, 3) if audio_s else None,
                    "cpu_s_per_call_minute": round(cpu_s / audio_minutes, 1)},
        "cpu_percent_of_one_core": round(100 * (last[1] - first[1]) / wall, 1) if wall else None,
        "process_cpu_s_per_call_minute": round((last[1] - first[1]) / audio_minutes, 1),
        "memory_mb": {"peak": round(max(s[2] for s in sampler.samples), 1),
                      "minute_1": round(minute_one, 1), "end": round(last[2], 1),
                      "per_minute": memory_per_minute(sampler)},
    }


def memory_per_minute(sampler: ResourceSampler) -> list[float]:
    """Resident memory at each whole minute of the run (flat means no leak)."""
    first = sampler.samples[0][0]
    marks: dict[int, float] = {}
    for wall, _cpu, rss in sampler.samples:
        marks.setdefault(int((wall - first) // 60), rss)
    return [round(rss, 1) for _, rss in sorted(marks.items())]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0,
                        help="length of the concatenated call to replay (default 30)")
    parser.add_argument("--calls", type=Path, nargs="*",
                        help="calls to concatenate (default: the sample call and scripted calls)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench.json",
                        help="where to write the figures (default: bench.json)")
    parser.add_argument("--inject-delay", type=float, default=0.0, metavar="S",
                        help="add this many seconds to every Whisper pass (load test)")
    parser.add_argument("--config", type=Path, help="configuration file")
    args = parser.parse_args()
    config = load_config(args.config)
    calls = args.calls or [paths.sample_call(), *sorted((paths.sample_call().parent / "calls")
                                                        .glob("*.ogg"))]
    with tempfile.TemporaryDirectory() as tmp:
        call = long_call(calls, args.minutes, Path(tmp))
        print(f"bench: replaying {args.minutes:g} min at real pace on {os.cpu_count()} cores",
              file=sys.stderr, flush=True)
        startup = measure_startup(call)
        figures = run_bench(call, config, args.inject_delay)
    figures["startup_s"] = {"median": round(statistics.median(startup), 2),
                            "runs": [round(s, 2) for s in startup]}
    figures["inject_delay_s"] = args.inject_delay
    args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
