"""The calls a trainer tunes on: recordings (through the real pipeline, cached) or stored calls.

A recording is run once through :func:`assist.pipeline.run_to_end` with the real transcriber
and kept in the tune cache; later runs read the cache and load no model at all. A call from the
store has no audio: its stored transcript and voice scores are turned back into the events a
replay needs, so it is re-scored by the same session code.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from assist.asr import Transcriber, resolve_model
from assist.config import Config
from assist.errors import StoreError
from assist.events import Event, FinalText, Speaker, UtteranceEnded, UtteranceStarted, VoiceCue
from assist.prompts import PromptPack
from assist.store.schema import Call, Utterance
from assist.tune import cache
from assist.tune.cache import CachedCall

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Channels:
    customer: str = "auto"
    agent: str | None = "auto"


@dataclass
class CorpusStats:
    """How the corpus was gathered: cache hits, and how many recordings were transcribed."""

    hits: int = 0
    transcribed: int = 0


class RecordingLoader:
    """Turns recordings into cached calls; loads the Whisper model only on a cache miss."""

    def __init__(self, config: Config, pack: PromptPack, *, model: str | None = None,
                 load_transcriber: Callable[[], Transcriber] | None = None,
                 channels: Channels | None = None) -> None:
        self.config = config
        self.pack = pack
        self.model = model
        self.channels = channels or Channels()
        self.stats = CorpusStats()
        self._load_transcriber = functools.cache(load_transcriber or self._real_transcriber)

    def load(self, path: Path) -> CachedCall:
        model_dir = resolve_model(self.model, self.config.asr)
        key = cache.cache_key(path, model_dir, self.config,
                              (self.channels.customer, str(self.channels.agent)))
        call, hit = cache.load_or_fill(key, lambda: self._run_pipeline(path))
        if hit:
            self.stats.hits += 1
        else:
            self.stats.transcribed += 1
        return call

    def _run_pipeline(self, path: Path) -> CachedCall:
        from assist.audio.sources import open_file
        from assist.pipeline import run_to_end

        source = open_file(path, customer_channel=self.channels.customer,
                           agent_channel=self.channels.agent, speed="max",
                           block_ms=self.config.audio.block_ms)
        log.info("transcribing %s for the tune cache", path)
        events = run_to_end(source, self.config, transcriber=self._load_transcriber(),
                            pack=self.pack)
        return cache.from_pipeline_events(path.stem, str(path), events)

    def _real_transcriber(self) -> Transcriber:
        from assist.asr import load_transcriber

        return load_transcriber(self.model, self.config.asr)


# --- stored calls -----------------------------------------------------------------------------


def stored_call_ids(session: Session, *, limit: int) -> list[str]:
    """The ids of the newest stored calls, newest first."""
    rows = session.scalars(select(Call.id).order_by(Call.started_at.desc()).limit(limit))
    return list(rows)


def load_stored(session: Session, call_id: str) -> CachedCall:
    """A stored call as replayable events: its transcript, times and voice scores."""
    call = session.get(Call, call_id)
    if call is None:
        raise StoreError(f"no call {call_id!r} in the store; `assist history` lists call ids")
    events: list[Event] = []
    voice: list[VoiceCue] = []
    for utterance in call.utterances:
        events += _utterance_events(utterance)
        cue = _voice_cue(utterance)
        if cue:
            voice.append(cue)
    return CachedCall(name=f"call {call_id}", source=f"store:{call_id}",
                      duration=max(call.duration, max((e.t for e in events), default=0.0)),
                      events=tuple(events), voice=tuple(voice))


def _utterance_events(row: Utterance) -> Sequence[Event]:
    speaker = Speaker(row.speaker)
    uid, start, end = row.utterance_id, row.start, row.end
    return (UtteranceStarted(t=start, speaker=speaker, utterance_id=uid, start=start),
            UtteranceEnded(t=end, speaker=speaker, utterance_id=uid, start=start, end=end,
                           last_voiced=end),
            FinalText(t=end, speaker=speaker, utterance_id=uid, start=start, end=end,
                      text=row.text))


def _voice_cue(row: Utterance) -> VoiceCue | None:
    if row.speaker != Speaker.CUSTOMER.value or row.voice_arousal is None:
        return None
    return VoiceCue(t=row.end, utterance_id=row.utterance_id, arousal=row.voice_arousal,
                    cue=row.voice_cue)
