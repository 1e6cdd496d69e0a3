"""Voice activity: speech probability for each 32 ms frame of 16 kHz audio.

The real detector is Silero VAD, run through onnxruntime from the model file that
faster-whisper ships, so nothing is downloaded. faster-whisper only runs it over whole
files; here it runs one frame at a time, carrying the network's recurrent state and the
last samples of the previous frame (its "context") from call to call, so a stream gives
the same probabilities as the whole recording would.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assist.errors import ModelError

log = logging.getLogger(__name__)

FRAME = 512
"""Samples per frame at 16 kHz (32 ms): the only frame size Silero v5/v6 accepts at 16 kHz."""

_CONTEXT = 64
"""Samples of the previous frame Silero expects in front of each frame at 16 kHz."""

_STATE_SHAPE = (1, 1, 128)
"""Shape of each of the two LSTM state tensors (h, c) of silero_vad_v6.onnx."""


class VoiceActivity(Protocol):
    """Speech probability per frame; one instance per audio stream (it has state)."""

    def __call__(self, frame: np.ndarray) -> float: ...

    def reset(self) -> None: ...


def silero_model_path() -> Path:
    """The Silero model file bundled in faster-whisper's wheel."""
    try:
        from faster_whisper.utils import get_assets_path
    except ImportError as e:
        raise ModelError("faster-whisper is not installed; run `pip install faster-whisper`") from e
    return Path(get_assets_path()) / "silero_vad_v6.onnx"


@functools.lru_cache(maxsize=1)
def _silero_session() -> Any:
    """One onnxruntime session for every stream: ``run`` is thread-safe and keeps no state."""
    path = silero_model_path()
    if not path.is_file():
        raise ModelError(f"Silero VAD model missing at {path}; reinstall faster-whisper")
    try:
        import onnxruntime
    except ImportError as e:
        raise ModelError("onnxruntime is not installed; run `pip install onnxruntime`") from e
    options = onnxruntime.SessionOptions()
    # One thread: a 32 ms frame costs well under a millisecond and Whisper needs the cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 4
    log.debug("loading Silero VAD from %s", path)
    return onnxruntime.InferenceSession(str(path), sess_options=options,
                                        providers=["CPUExecutionProvider"])


class SileroActivity:
    """Streaming Silero VAD for one audio stream."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros(_STATE_SHAPE, np.float32)
        self._c = np.zeros(_STATE_SHAPE, np.float32)
        self._context = np.zeros(_CONTEXT, np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        if frame.shape != (FRAME,):
            raise ValueError(f"Silero needs frames of {FRAME} samples, got {frame.shape}")
        frame = frame.astype(np.float32, copy=False)
        batch = np.concatenate([self._context, frame])[np.newaxis, :]
        feeds = {"input": batch, "h": self._h, "c": self._c}
        prob, self._h, self._c = self._session.run(None, feeds)
        self._context = frame[-_CONTEXT:].copy()
        return float(np.asarray(prob).reshape(-1)[0])


def silero_vad() -> VoiceActivity:
    """A fresh Silero detector (its own state) over the shared model; ModelError if unavailable."""
    return SileroActivity(_silero_session())


class EnergyActivityForTests:
    """A loudness-only stand-in for Silero, for unit tests that need no model.

    Not for real calls: it cannot tell speech from any other noise. The probability rises
    smoothly from 0 to 1 around ``threshold_db`` (dBFS of the frame's RMS).
    """

    def __init__(self, threshold_db: float = -40.0, width_db: float = 3.0) -> None:
        self._threshold_db = threshold_db
        self._width_db = width_db

    def reset(self) -> None:
        """Stateless; present to satisfy :class:`VoiceActivity`."""

    def __call__(self, frame: np.ndarray) -> float:
        rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64)))) if frame.size else 0.0
        level_db = 20.0 * np.log10(max(rms, 1e-10))
        return float(1.0 / (1.0 + np.exp(-(level_db - self._threshold_db) / self._width_db)))
