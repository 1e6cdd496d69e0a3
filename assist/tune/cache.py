"""What a call sounds like to the pipeline, kept so a sweep never transcribes twice.

Running a recording through the real pipeline (decode, VAD, Whisper, voice features) is the
slow part of tuning, and none of it depends on the prompt pack. A :class:`CachedCall` keeps
what it produced: the segmenter's and Whisper's events (utterance times, partial and final
texts, audio left out) and each customer utterance's voice cue. Re-scoring a call with any
pack then replays these through :class:`assist.session.CallSession` in milliseconds.

The cache file is keyed by everything that changes those events: the audio file's bytes, the
Whisper model, the ASR and segmenter settings, the channel choice and the code that turns
audio into those events.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assist import events as ev
from assist import paths
from assist.asr import dir_size
from assist.config import AsrConfig, Config
from assist.events import Event, Speaker, VoiceCue, event_to_dict

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
"""Bumped whenever the stored shape changes, so old files are simply ignored."""
CACHE_DIR_NAME = "tune-cache"
EVENT_CODE = ("audio/sources.py", "audio/segmenter.py", "audio/vad.py", "asr.py",
              "scoring/voice.py", "session.py", "pipeline.py")
"""Modules whose changes make cached utterance times, texts and voice cues stale."""

PIPELINE_EVENTS = (ev.UtteranceStarted, ev.PartialWindow, ev.UtteranceEnded, ev.PartialText,
                   ev.FinalText)
"""What the pipeline hands to a call session, and so what a replay must feed it again."""


@dataclass(frozen=True)
class CachedCall:
    """One call's pipeline inputs and customer voice cues, ready to re-score."""

    name: str
    source: str
    duration: float
    events: tuple[Event, ...]
    voice: tuple[VoiceCue, ...]

    @property
    def customer_texts(self) -> tuple[ev.FinalText, ...]:
        return tuple(e for e in self.events
                     if isinstance(e, ev.FinalText) and e.speaker is Speaker.CUSTOMER)


def from_pipeline_events(name: str, source: str, events: Sequence[Event]) -> CachedCall:
    """Keep, from a pipeline run's events, what re-scoring needs."""
    kept = tuple(e for e in events if isinstance(e, PIPELINE_EVENTS))
    voice = tuple(e for e in events if isinstance(e, VoiceCue))
    duration = max((e.t for e in events), default=0.0)
    return CachedCall(name=name, source=source, duration=duration, events=kept, voice=voice)


# --- keys and files ---------------------------------------------------------------------------


def cache_dir() -> Path:
    return paths.data_dir() / CACHE_DIR_NAME


def cache_key(audio: Path, model_dir: Path, config: Config, channels: tuple[str, str]) -> str:
    """A digest of everything that shapes the pipeline's events for this recording."""
    digest = hashlib.sha256()
    digest.update(f"format {CACHE_FORMAT}\n".encode())
    digest.update(_file_digest(audio).encode())
    digest.update(f"model {model_dir.resolve()} {dir_size(model_dir)}\n".encode())
    digest.update(repr(config.segmenter).encode())
    digest.update(repr(_asr_identity(config)).encode())
    digest.update(repr(channels).encode())
    digest.update(_code_digest().encode())
    return digest.hexdigest()[:32]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _asr_identity(config: Config) -> AsrConfig:
    # cpu_threads changes speed, not text, and the model is keyed by its files.
    return dataclasses.replace(config.asr, cpu_threads=0, model="")


def _code_digest() -> str:
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for name in EVENT_CODE:
        module = package / name
        if module.exists():
            digest.update(module.read_bytes())
    return digest.hexdigest()


def load(key: str) -> CachedCall | None:
    """The cached call for ``key``, or None (missing, or written by an older format)."""
    path = cache_dir() / f"{key}.json"
    if not path.exists():
        return None
    try:
        return decode_call(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("ignoring unreadable tune cache %s (%s); it will be rebuilt", path, e)
        return None


def save(key: str, call: CachedCall) -> Path:
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key}.json"
    paths.replace_text(path, json.dumps(encode_call(call)))  # never half a cache file
    return path


def load_or_fill(key: str, fill: Callable[[], CachedCall]) -> tuple[CachedCall, bool]:
    """The cached call, or ``fill()`` saved under ``key``; the flag says whether it was a hit."""
    cached = load(key)
    if cached is not None:
        log.debug("tune cache hit %s (%s)", key, cached.name)
        return cached, True
    call = fill()
    save(key, call)
    return call, False


# --- JSON --------------------------------------------------------------------------------------


def encode_call(call: CachedCall) -> dict[str, Any]:
    return {"format": CACHE_FORMAT, "name": call.name, "source": call.source,
            "duration": call.duration, "events": [event_to_dict(e) for e in call.events],
            "voice": [event_to_dict(e) for e in call.voice]}


def decode_call(raw: dict[str, Any]) -> CachedCall:
    if raw.get("format") != CACHE_FORMAT:
        raise ValueError(f"cache format {raw.get('format')!r}, expected {CACHE_FORMAT}")
    voice = tuple(decode_event(d) for d in raw["voice"])
    if not all(isinstance(v, VoiceCue) for v in voice):
        raise ValueError("the voice list holds other events")
    return CachedCall(name=raw["name"], source=raw["source"], duration=float(raw["duration"]),
                      events=tuple(decode_event(d) for d in raw["events"]),
                      voice=typing.cast(tuple[VoiceCue, ...], voice))


_EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls for cls in vars(ev).values()
    if isinstance(cls, type) and issubclass(cls, Event)
}


def decode_event(raw: dict[str, Any]) -> Event:
    """The inverse of :func:`assist.events.event_to_dict` (audio arrays come back empty)."""
    cls = _EVENT_TYPES.get(raw.get("type", ""))
    if cls is None:
        raise ValueError(f"unknown event type {raw.get('type')!r}")
    hints = typing.get_type_hints(cls)
    values = {f.name: _decode(hints[f.name], raw[f.name])
              for f in dataclasses.fields(cls) if f.name in raw}
    return cls(**values)


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin is types.UnionType or origin is typing.Union:
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _decode(options[0], value)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_decode(item, v) for v in value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return hint(**{f.name: _decode(typing.get_type_hints(hint)[f.name], value[f.name])
                       for f in dataclasses.fields(hint)})
    if hint is float:
        return float(value)
    return value
