"""The threads and queues that wire the stages together.

    source thread:      Source.blocks() -> Segmenter per speaker -> inbox
    whisper thread:     TranscriptionWorker (utterances and partial windows -> text) -> inbox
    coordinator thread: inbox -> CallSession (voice, scores, stage, prompt, cues) -> sinks

The voice path (segmenter -> CallSession) never waits for Whisper, and Whisper never waits for
the voice: the worker loads the model on its own thread while the source is already listening,
starts each customer utterance's final pass when they pause (reused if they do not go on), and
gives the agent's utterances one pass each: they go on the record, and a handover to a
supervisor in them escalates (assist.scoring.agent).

Live calls, replays, tests, benchmarks and tuning all run this one pipeline; only the source
and the sinks differ. Sinks are callables that must return quickly (put into their own queue):
they run on the coordinator thread, in event order.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from assist.asr import Transcriber, TranscriptionWorker, WorkerStats
from assist.audio.segmenter import Segmenter
from assist.audio.sources import AudioBlock, Blocks, Source
from assist.audio.vad import VoiceActivity, silero_vad
from assist.config import Config
from assist.errors import ConfigError
from assist.events import (
    SAMPLE_RATE,
    AgentAction,
    AudioState,
    AudioStatus,
    CallEnded,
    CallStarted,
    Cue,
    Event,
    FinalText,
    PartialWindow,
    Speaker,
    UtteranceEnded,
)
from assist.prompts import PackWatcher, PromptPack
from assist.scoring import tone
from assist.session import CallSession, CueSettings
from assist.summary import SummaryBuilder

log = logging.getLogger(__name__)

Sink = Callable[[Event], None]

TICK_EVERY_S = 0.25
"""How often (in audio time) the stage machine hears that time has passed."""
MAX_BACKLOG_WHEN_REPLAYING = 0
"""Replaying as fast as possible waits until Whisper has caught up, so the stage machine hears
each utterance's text before the audio clock runs on past it (as it would live) and a long
file never piles its audio up in memory; live audio never waits."""


@dataclass(frozen=True)
class _Tick:
    t: float


@dataclass(frozen=True)
class _SourceDone:
    t: float


@dataclass(frozen=True)
class _Control:
    command: str  # "start_call" | "end_call" | "agent_audio"


class Pipeline:
    """One call-assist pipeline over one source; also the overlay's CallController."""

    def __init__(self, source: Source, config: Config, *, transcriber: Transcriber,
                 pack: PromptPack, sinks: Sequence[Sink] = (), agent: str = "",
                 vad_factory: Callable[[], VoiceActivity] = silero_vad,
                 pace_transcription: bool = False, watch_pack: bool = False) -> None:
        self.source = source
        self.config = config
        self.agent = agent
        self.sinks = list(sinks)
        self._pack = pack
        self._watcher = PackWatcher(pack) if watch_pack else None
        self._pack_error: str | None = None
        self._pace = pace_transcription
        self._inbox: queue.Queue[object] = queue.Queue()
        # A replay as fast as possible has no "newest line" anyone waits for: keep call order.
        self._worker = TranscriptionWorker(transcriber, self._inbox.put,
                                           in_order=pace_transcription)
        ids: Iterator[int] = itertools.count(1)
        self._segmenters = {
            speaker: Segmenter(config.segmenter, speaker, vad_factory(), ids) for speaker in Speaker
        }
        self._session: CallSession | None = None
        self._summary: SummaryBuilder | None = None
        self._partial_sent: dict[int, float] = {}  # utterance id -> end of last window sent
        self._call_id = ""
        self._last_t = 0.0  # the source thread's clock: how far the audio has been read
        self._now = 0.0  # the coordinator's clock: the newest time among the items it handled
        self._agent_audio = False
        self._agent_announced = False
        self._stop = threading.Event()
        self._done = threading.Event()
        self._threads = [
            threading.Thread(target=self._read_source, name="assist-source", daemon=True),
            threading.Thread(target=self._coordinate, name="assist-coordinator", daemon=True),
        ]

    # --- control (any thread) -------------------------------------------------------------

    def start(self) -> None:
        self._worker.start()
        if self._pack.scoring.fusion.tone > 0:
            threading.Thread(target=_preload_tone, name="assist-tone-load", daemon=True).start()
        self._inbox.put(_Control("start_call"))
        for thread in self._threads:
            thread.start()

    def post(self, event: Event) -> None:
        """An event from outside the audio path (an agent's action) joins the stream."""
        self._inbox.put(event)

    def start_call(self) -> None:
        self._inbox.put(_Control("start_call"))

    def end_call(self) -> None:
        self._inbox.put(_Control("end_call"))

    def stop(self) -> None:
        """Stop reading; what is already heard is still transcribed and recorded."""
        self._stop.set()
        self.source.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the source has ended and every event has reached the sinks."""
        return self._done.wait(timeout)

    def transcription_backlog(self) -> int:
        """Utterances and partial windows waiting for Whisper."""
        return self._worker.pending()

    def transcription_stats(self) -> WorkerStats:
        """Whisper passes so far by kind, and how many speculative finals were reused."""
        return self._worker.stats()

    # --- source thread ------------------------------------------------------------------------

    def _read_source(self) -> None:
        try:
            # closing(): stopping early must still let the source release its device.
            with contextlib.closing(self.source.blocks()) as blocks:
                self._pump(blocks)
        except Exception:
            log.exception("the audio source failed")
            self._inbox.put(AudioState(t=self._last_t, status=AudioStatus.NO_AUDIO,
                                       detail="the audio source failed; see the log"))
        for segmenter in self._segmenters.values():
            for event in segmenter.flush(self._last_t):
                self._inbox.put(event)
        self._inbox.put(_SourceDone(self._last_t))

    def _pump(self, blocks: Blocks) -> None:
        next_tick = 0.0
        for item in blocks:
            if self._stop.is_set():
                return
            if not isinstance(item, AudioBlock):
                self._inbox.put(item)
                continue
            self._segment(item)
            self._last_t = item.t + len(item.customer) / SAMPLE_RATE
            if self._last_t >= next_tick:
                self._inbox.put(_Tick(self._last_t))
                next_tick = self._last_t + TICK_EVERY_S
            self._wait_for_whisper()

    def _segment(self, block: AudioBlock) -> None:
        if block.agent is not None and not self._agent_announced:
            self._agent_announced = True  # source thread's own flag; the session's is below
            self._inbox.put(_Control("agent_audio"))
        for speaker, samples in ((Speaker.CUSTOMER, block.customer), (Speaker.AGENT, block.agent)):
            if samples is None:
                continue
            for event in self._segmenters[speaker].process(block.t, samples):
                self._inbox.put(event)

    def _wait_for_whisper(self) -> None:
        while self._pace and self._worker.pending() > MAX_BACKLOG_WHEN_REPLAYING:
            if self._stop.wait(0.01):
                return

    # --- coordinator thread -----------------------------------------------------------------------

    def _coordinate(self) -> None:
        try:
            while True:
                item = self._inbox.get()
                if isinstance(item, _SourceDone):
                    self._finish(item.t)
                    return
                self._route_safely(item)
                if self._watcher:
                    self._reload_pack()
        finally:
            self._done.set()  # whatever happened, nobody waits for ever

    def _route_safely(self, item: object) -> None:
        """One item that breaks a stage is logged and skipped; the call goes on."""
        self._now = max(self._now, _time_of(item))
        try:
            self._route(item)
        except Exception:
            log.exception("the pipeline could not handle %s; skipped it", type(item).__name__)

    def _route(self, item: object) -> None:
        if isinstance(item, _Control):
            self._control(item.command)
        elif isinstance(item, _Tick):
            if self._session:
                self._emit_all(self._session.tick(item.t))
        elif isinstance(item, Event):
            self._handle(item)

    def _handle(self, event: Event) -> None:
        if isinstance(event, AgentAction):
            self._emit(event)
            return
        if isinstance(event, UtteranceEnded | PartialWindow) and self._session:
            self._transcribe(event)
        self._emit(event)
        if self._session:
            self._emit_all(self._session.handle(event))

    def _transcribe(self, event: UtteranceEnded | PartialWindow) -> None:
        """Every utterance; of the customer's, also the window sent as they pause (Whisper's
        early start on the final) and a partial window every asr.partial_every_s of new audio
        (trigger words in a long rant). The agent's utterances get one pass each.
        """
        if isinstance(event, UtteranceEnded):
            self._partial_sent.pop(event.utterance_id, None)
            self._worker.submit(event)
        elif event.speaker is Speaker.CUSTOMER and (event.pause_last_voiced is not None
                                                    or self._partial_due(event)):
            self._worker.submit(event)

    def _partial_due(self, window: PartialWindow) -> bool:
        asr = self.config.asr
        last = self._partial_sent.get(window.utterance_id, window.start)
        if not asr.partials or window.end - last < asr.partial_every_s:
            return False
        self._partial_sent[window.utterance_id] = window.end
        return True

    def _control(self, command: str) -> None:
        if command == "start_call" and not self._session:
            self._call_id = uuid.uuid4().hex[:12]
            self._session = CallSession(self._pack, self._cue_settings())
            self._summary = SummaryBuilder(self._call_id, start_t=self._now)
            self._emit(CallStarted(t=self._now, call_id=self._call_id, agent=self.agent,
                                   source=self.source.description))
        elif command == "end_call" and self._session:
            self._end_call("ended")

        elif command == "agent_audio":
            self._agent_audio = True
            if self._session:
                self._session.cues = self._cue_settings()

    def _cue_settings(self) -> CueSettings:
        return CueSettings(agent_audio=self._agent_audio,
                           silence_cue_s=self.config.overlay.silence_cue_s)

    def _end_call(self, reason: str) -> None:
        if self._summary:
            self._emit(self._summary.build(self._now))
        self._emit(CallEnded(t=self._now, call_id=self._call_id, reason=reason))
        self._session = None
        self._summary = None

    def _finish(self, t: float) -> None:
        """The source ended: let Whisper finish every utterance, then close the call."""
        self._worker.stop(drain=True)
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            self._route_safely(item)
        self._now = max(self._now, t)
        if self._session:
            self._emit_all(self._session.tick(t))
            self._end_call("stopped" if self._stop.is_set() else "ended")

    def _reload_pack(self) -> None:
        """A saved pack takes effect at once; a broken one is reported and the old one kept."""
        assert self._watcher is not None
        pack = self._watcher.poll(time.time())
        if pack is not None:
            self._pack = pack
            self._pack_error = None
            if self._session:
                self._session.use_pack(pack)
            self._emit(Cue(t=self._now, kind="pack_reloaded",
                           message=f"Prompt pack reloaded: {pack.path.name}"))
        elif self._watcher.error and self._watcher.error != self._pack_error:
            self._pack_error = self._watcher.error
            self._emit(Cue(t=self._now, kind="pack_error",
                           message=f"Kept the previous prompt pack: {self._watcher.error}"))

    def _emit_all(self, events: Sequence[Event]) -> None:
        for event in events:
            self._emit(event)

    def _emit(self, event: Event) -> None:
        if self._summary:
            self._summary.add(event)
        for sink in self.sinks:
            try:
                sink(event)
            except Exception:
                # One broken sink (a full disk under the store, a closed pipe) must not stop
                # the agent's prompts; it is logged with its traceback.
                log.exception("sink %r failed on %s", sink, type(event).__name__)


def _preload_tone() -> None:
    """The word scorer's tone model (0.3 s to read), loaded beside Whisper rather than on the
    coordinator when the call starts, where it would hold up the first voice cues."""
    try:
        tone.preload()
    except ConfigError as e:
        log.error("the tone model could not be loaded: %s", e)


def _time_of(item: object) -> float:
    """Audio time an inbox item speaks for; controls carry none (they act "now")."""
    return float(getattr(item, "t", 0.0))


def run_to_end(source: Source, config: Config, *, transcriber: Transcriber, pack: PromptPack,
               sinks: Sequence[Sink] = (), **kwargs: object) -> list[Event]:
    """Run a pipeline over a finite source and return every event it produced, in order."""
    events: list[Event] = []
    pipeline = Pipeline(source, config, transcriber=transcriber, pack=pack,
                        sinks=[events.append, *sinks], pace_transcription=True,
                        **kwargs)  # type: ignore[arg-type]
    pipeline.start()
    try:
        pipeline.wait()
    except KeyboardInterrupt:
        pipeline.stop()
        pipeline.wait(30)
        raise
    return events


def final_texts(events: Sequence[Event]) -> list[FinalText]:
    """The utterances' final texts in audio order (Whisper may finish them out of order)."""
    finals = [e for e in events if isinstance(e, FinalText) and e.text.strip()]
    return sorted(finals, key=lambda e: (e.start, e.utterance_id))
