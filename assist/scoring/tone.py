"""The tone of a whole line: how much likelier it is to be angry than an ordinary calm line.

A lexicon reads the words it lists and misses anger phrased in others. The tone model reads
every word: each line becomes the
average of its words' vectors from WordLlama's small static embedding (16 MB, shipped inside
the ``wordllama`` pip package, so nothing is downloaded), and a logistic regression over that
average gives the probability that the line is angry.

It reads the line as VADER does, with benign idioms ("no problem", "hell yeah") blanked:
a bag of words cannot tell "no problem" from "problem". The regression was fitted on the
GoEmotions TUNE half only (``scripts/eval_detection --fit-tone``, see
assist/scoring/evaluation.py) and is stored in ``assist/data/tone.json``.
The word score adds ``fusion.tone * (probability - calm_probability)``: a line that reads like
an ordinary calm one moves nothing. Because the line's vector is an average, each word's share
of the result can be read off directly, so the evidence names the words that drove it.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from assist.errors import ConfigError
from assist.scoring.lexicon import for_vader, normalize

TONE_FILE = "tone.json"
EMBEDDING = "wordllama l2_supercat 256"
"""The embedding the weights were fitted on; a file fitted on another is refused."""
_WEIGHTS_FILE = ("weights", "l2_supercat_256.safetensors")
_TOKENIZER_FILE = ("tokenizers", "l2_supercat_tokenizer_config.json")
EVIDENCE_WORDS = 2
"""At most this many words are named as the tone's evidence."""
_FUNCTION_WORDS_TEXT = """
a an the and or but if so of to in on at by for from with about as into than then that this
these those there here it its i me my mine we us our you your yours he him his she her they
them their is am are was were be been being do does did have has had will would can could
shall should may might must not no yes why what who how when where which just very too
"""
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())
"""Never named as evidence: they carry the tone's arithmetic but tell the agent nothing."""
_REINSTALL = "pip install --force-reinstall 'wordllama>=0.4,<0.5'"


class Embedder:
    """A line -> the unit-length average of its tokens' vectors, with each token's span."""

    def __init__(self, vectors: np.ndarray, tokenizer: Any) -> None:
        self._vectors = vectors
        self._tokenizer = tokenizer

    def tokens(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return np.asarray(encoding.ids, dtype=np.int64), list(encoding.offsets)

    def embed(self, text: str) -> np.ndarray:
        ids, _ = self.tokens(text)
        return _unit_mean(self.token_vectors(ids)) if len(ids) else np.zeros(self.dim, np.float32)

    def embed_all(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.embed(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def token_vectors(self, ids: np.ndarray) -> np.ndarray:
        # Kept as shipped (float16, 16 MB) and widened a line at a time: exact, and half the
        # memory of widening the whole table.
        return self._vectors[ids].astype(np.float32)

    @property
    def dim(self) -> int:
        return int(self._vectors.shape[1])


def _unit_mean(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def embedder_files() -> tuple[Path, Path]:
    """WordLlama's vectors and tokenizer inside the installed package; a one-line error if absent."""
    # find_spec locates the package without running it: importing wordllama would load its
    # own inference stack, about 19 MB that assist never uses.
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the tone model needs the 'wordllama' package; "
                          "reinstall assist (pip install -e .)")
    package = Path(next(iter(spec.submodule_search_locations)))
    weights, tokenizer = package.joinpath(*_WEIGHTS_FILE), package.joinpath(*_TOKENIZER_FILE)
    if not weights.exists() or not tokenizer.exists():
        raise ConfigError(f"wordllama's bundled model is missing ({weights.name}); "
                          f"reinstall it: {_REINSTALL}")
    return weights, tokenizer


_load_lock = threading.Lock()


def load_embedder() -> Embedder:
    """WordLlama's bundled vectors and tokenizer, read from the installed package (once).

    Locked: the pipeline preloads it on a thread of its own while a call may already be
    starting, and two threads must not both read 33 MB.
    """
    with _load_lock:
        return _read_embedder()


@functools.cache
def _read_embedder() -> Embedder:
    from safetensors import safe_open
    from tokenizers import Tokenizer

    weights, tokenizer = embedder_files()
    try:
        with safe_open(str(weights), framework="np") as f:
            vectors = f.get_tensor("embedding.weight")
        return Embedder(vectors, Tokenizer.from_file(str(tokenizer)))
    except Exception as e:  # safetensors and tokenizers raise their own, unrelated types
        raise ConfigError(f"cannot read wordllama's bundled model ({weights.name}: {e}); "
                          f"reinstall it: {_REINSTALL}") from e


def check_installed() -> None:
    """Fail at start-up, in one line, if the tone model could not load later (cheap: no read
    of the vectors)."""
    embedder_files()
    load_weights()


def preload() -> None:
    """Load everything the tone model needs now, so the first call does not wait for it."""
    load_embedder()
    load_weights()


@dataclass(frozen=True)
class ToneWeights:
    """A logistic regression over the embedding, and the probability of a typical calm line."""

    weights: np.ndarray
    bias: float
    calm_probability: float

    def probability(self, vector: np.ndarray) -> float:
        return _sigmoid(float(vector @ self.weights) + self.bias)

    def to_json(self, note: str) -> dict[str, Any]:
        return {"about": note, "embedding": EMBEDDING, "bias": round(self.bias, 6),
                "calm_probability": round(self.calm_probability, 6),
                "weights": [round(float(w), 6) for w in self.weights]}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def tone_file() -> Path:
    return Path(str(resources.files("assist.data").joinpath(TONE_FILE)))


@functools.cache
def load_weights(path: Path | None = None) -> ToneWeights:
    path = path or tone_file()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw["embedding"] != EMBEDDING:
            raise ValueError(f"fitted on {raw['embedding']!r}, not {EMBEDDING!r}")
        return ToneWeights(np.asarray(raw["weights"], dtype=np.float32), float(raw["bias"]),
                           float(raw["calm_probability"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"cannot read the tone model {path}: {e}; "
                          "reinstall assist or refit it with scripts/eval_detection --fit-tone"
                          ) from e


@dataclass(frozen=True)
class ToneScore:
    lift: float
    """Probability that the line is angry, minus that of a typical calm line (-1..1)."""
    words: tuple[str, ...]
    """The words that raised it most, strongest first (empty when the lift is not positive)."""


def tone_input(text: str) -> str:
    """What the model reads, in fitting and in use: the text as VADER reads it (benign idioms
    such as "no problem" blanked), in lower case, since capitals count as emphasis elsewhere."""
    return " ".join(for_vader(normalize(text)).split()).lower()


class ToneModel:
    """Scores lines; built with each word scorer, sharing the once-loaded vectors."""

    def __init__(self, embedder: Embedder | None = None, weights: ToneWeights | None = None
                 ) -> None:
        self._embedder = embedder or load_embedder()
        self._weights = weights or load_weights()

    def score(self, text: str) -> ToneScore:
        text = tone_input(text)
        ids, spans = self._embedder.tokens(text)
        if not len(ids):
            return ToneScore(0.0, ())
        tokens = self._embedder.token_vectors(ids)
        lift = self._weights.probability(_unit_mean(tokens)) - self._weights.calm_probability
        words = _strongest_words(text, spans, tokens @ self._weights.weights) if lift > 0 else ()
        return ToneScore(lift, words)


def _strongest_words(text: str, spans: list[tuple[int, int]], shares: np.ndarray
                     ) -> tuple[str, ...]:
    """Whole words (tokens joined back up) ranked by their tokens' summed push towards anger."""
    by_word: dict[tuple[int, int], float] = {}
    for (start, end), share in zip(spans, shares, strict=True):
        word = _word_around(text, start, end)
        if word[0] < word[1] and text[word[0]:word[1]].lower() not in FUNCTION_WORDS:
            by_word[word] = by_word.get(word, 0.0) + float(share)
    ranked = sorted((s, span) for span, s in by_word.items() if s > 0)
    return tuple(text[a:b] for _, (a, b) in reversed(ranked[-EVIDENCE_WORDS:]))


def _word_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The whole word a token lies in: a token's span may carry the space before it, and a
    long word is split into several tokens."""
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    if start == end:
        return start, end
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return start, end
