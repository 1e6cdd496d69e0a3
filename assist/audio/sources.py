"""Where call audio comes from: a recording replayed, or a live input device.

Both kinds of source yield the same things: :class:`AudioBlock` (16 kHz float32, the customer
and optionally the agent, with the audio time of the first sample) and :class:`AudioState`
events about the capture's health. Later stages cannot tell a replay from a live call.

Live capture keeps PortAudio's callback trivial (copy into a bounded queue, drop the oldest
when full) and does everything else on the thread that iterates :meth:`LiveSource.blocks`:
resampling, channel split, noticing silence from the device, a lost device and its return.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import soundfile

from assist.audio.devices import InputDevice, find_input, sounddevice_module
from assist.config import AudioConfig
from assist.errors import AudioError
from assist.events import SAMPLE_RATE, AudioState, AudioStatus, Speaker

log = logging.getLogger(__name__)

MIX = -1
"""Channel index meaning "average the channels" (the ``mono`` setting)."""

NO_AUDIO_S = 2.0
"""A live device that delivers nothing for this long is reported as NO_AUDIO."""

STALL_S = 5.0
"""...and after this long it is treated as lost and reopened (a stalled stream rarely recovers)."""

GAP_S = 0.25
"""Callbacks arriving this much later than their audio accounts for mean audio was lost."""

FILE_CHUNK_S = 1.0
"""Seconds of a recording decoded at a time: bounded memory for hour-long calls."""

AGENT_DELAY_S = 0.1
"""An agent on its own device runs this far behind the customer, to absorb callback jitter."""

AGENT_MAX_LEAD_S = 1.0
"""More agent audio than this waiting means its clock is fast; the excess is dropped."""

_POLL_S = 0.1
"""How often the live loop wakes without data, to notice stop() and silence."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays elementwise is not equality
class AudioBlock:
    t: float  # audio time of the first sample, in seconds since the source started
    customer: np.ndarray  # float32 mono at 16 kHz, values in [-1, 1]
    agent: np.ndarray | None  # same length as customer; None when no agent channel is set


Blocks = Generator[AudioBlock | AudioState, None, None]
"""What a source yields; a generator, so a consumer that stops early can close() it."""


class Source(Protocol):
    def blocks(self) -> Blocks:
        """Audio and health events; ends at the end of a file or soon after stop()."""
        ...

    def stop(self) -> None:
        """Ask blocks() to end; safe to call from any thread."""
        ...

    @property
    def description(self) -> str:
        """What is being listened to, e.g. "sample_call.ogg" or "pulse (device 3)"."""
        ...


# --- channels -----------------------------------------------------------------------------------


def parse_channel(spec: str, channels: int, *, role: str, where: str) -> int:
    """0-based index for left/right/mono/N (MIX for mono); AudioError if ``where`` lacks it."""
    named = {"left": 0, "right": 1, "mono": MIX}
    text = spec.strip().lower()
    if text in named:
        index = named[text]
    elif text.isdigit() and int(text) >= 1:
        index = int(text) - 1
    else:
        raise AudioError(f"{role} channel '{spec}' is not left, right, mono or a channel number "
                         "(1, 2, ...)")
    if index >= channels:
        raise AudioError(f"{role} channel '{spec}' needs {index + 1} channels but {where} has "
                         f"{channels}; pick another channel (or 'mono')")
    return index


def check_sides_apart(customer: int, agent: int, channels: int, where: str) -> None:
    """The agent's own channel, if given, must not be the customer's: their words would be
    scored as the customer's anger."""
    if agent == customer or channels == 1:
        raise AudioError(f"the customer and the agent are on the same channel of {where}; give "
                         "them different channels, or no agent channel ('none')")


def take_channel(frames: np.ndarray, index: int) -> np.ndarray:
    """One channel (or the mix) of a (samples, channels) array, as contiguous float32."""
    column = frames.mean(axis=1) if index == MIX else frames[:, index]
    return np.ascontiguousarray(column, dtype=np.float32)


# --- resampling ---------------------------------------------------------------------------------


class Resampler:
    """Streaming polyphase resampling that matches one-shot ``resample_poly`` on the whole signal.

    Each pushed chunk is filtered together with ``pad`` samples of context on either side
    and the edges are trimmed, so there are no clicks at chunk boundaries. Audio of shape
    (samples,) or (samples, channels) is resampled along the first axis.
    """

    def __init__(self, rate_in: int, rate_out: int = SAMPLE_RATE) -> None:
        divisor = math.gcd(rate_in, rate_out)
        self.up, self.down = rate_out // divisor, rate_in // divisor
        # resample_poly's default filter reaches 10 * max(up, down) upsampled samples each way.
        reach_in = 10 * max(self.up, self.down) / self.up
        self._pad = (math.ceil(reach_in / self.down) + 1) * self.down
        self._buffer: np.ndarray | None = None

    @property
    def passthrough(self) -> bool:
        return self.up == self.down

    def reset(self) -> None:
        """Forget the past (after a gap in the audio): the next chunk starts a new signal."""
        self._buffer = None

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Resample as much of the audio so far as has enough context after it."""
        chunk = chunk.astype(np.float32, copy=False)
        if self.passthrough:
            return chunk
        buffer = np.concatenate([self._history(chunk), chunk])
        ready = (len(buffer) - 2 * self._pad) // self.down * self.down
        if ready <= 0:
            self._buffer = buffer
            return np.zeros((0, *chunk.shape[1:]), np.float32)
        out = self._filter(buffer[: ready + 2 * self._pad], ready)
        self._buffer = buffer[ready:]
        return out

    def flush(self) -> np.ndarray:
        """The rest of the signal, as if it were followed by silence."""
        if self.passthrough or self._buffer is None:
            return np.zeros(0, np.float32)
        buffer = self._buffer
        left = len(buffer) - self._pad
        ready = math.ceil(left / self.down) * self.down
        zeros = np.zeros((ready - left + self._pad, *buffer.shape[1:]), np.float32)
        out = self._filter(np.concatenate([buffer, zeros]), ready)
        self._buffer = None
        return out[: math.ceil(left * self.up / self.down)]

    def _history(self, chunk: np.ndarray) -> np.ndarray:
        if self._buffer is None:
            return np.zeros((self._pad, *chunk.shape[1:]), np.float32)
        return self._buffer

    def _filter(self, segment: np.ndarray, ready: int) -> np.ndarray:
        """Resample ``segment`` and keep the output for its middle ``ready`` input samples."""
        # Imported here: scipy costs about a second of start-up, and 16 kHz sources never need it.
        from scipy.signal import resample_poly

        out = resample_poly(segment, self.up, self.down, axis=0)
        first = self._pad * self.up // self.down
        return out[first : first + ready * self.up // self.down].astype(np.float32, copy=False)


# --- files --------------------------------------------------------------------------------------


def open_file(path: Path, *, customer_channel: str = "auto", agent_channel: str | None = "auto",
              speed: Literal["real", "max"] = "max", block_ms: int = 32) -> FileSource:
    """A recording as a source, checked now so a bad file fails before the call starts."""
    path = Path(path)
    info = _file_info(path)
    where = path.name
    if customer_channel == "auto":
        customer = 1 if info.channels >= 2 else 0
    else:
        customer = parse_channel(customer_channel, info.channels, role="customer", where=where)
    agent: int | None = None
    if agent_channel == "auto":
        agent = 0 if info.channels >= 2 else None
    elif agent_channel:
        agent = parse_channel(agent_channel, info.channels, role="agent", where=where)
        check_sides_apart(customer, agent, info.channels, where)
    if speed not in ("real", "max"):
        raise AudioError(f"replay speed '{speed}' is not 'real' or 'max'")
    if not 1 <= block_ms <= 1000:
        raise AudioError(f"block size {block_ms} ms is out of range (1 to 1000)")
    return FileSource(path, info.samplerate, customer=customer, agent=agent, speed=speed,
                      block=round(SAMPLE_RATE * block_ms / 1000))


def _decode_problem(error: Exception) -> str:
    text = getattr(error, "error_string", "") or str(error)
    # libsndfile says this of any existing file it cannot decode (checked above that it exists).
    return "not a format it can decode" if "does not exist" in text else text.rstrip(".")


def sound_file_name(path: Path) -> str | bytes:
    """``path`` as soundfile should be given it. On POSIX a name is bytes, and may not be
    valid UTF-8 (a file copied from an old share); soundfile would fail to encode it as text.
    Windows names are text, which soundfile opens with the wide-character call."""
    return str(path) if os.name == "nt" else os.fsencode(path)


def _file_info(path: Path) -> Any:
    if not path.exists():
        raise AudioError(f"audio file {path} does not exist; check the path")
    if not path.is_file():
        raise AudioError(f"{path} is not a file; give a recording (WAV, FLAC, OGG or MP3)")
    if path.stat().st_size == 0:
        raise AudioError(f"audio file {path} is empty (0 bytes); record or export it again")
    try:
        info = soundfile.info(sound_file_name(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
        raise AudioError(f"cannot read {path} as audio ({_decode_problem(e)}); use WAV, FLAC, "
                         "OGG or MP3, e.g. `ffmpeg -i INPUT call.wav`") from e
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError(f"audio file {path} holds no samples; record or export it again")
    return info


class FileSource:
    """Replays a recording in blocks, as fast as possible or at the pace it was recorded."""

    def __init__(self, path: Path, rate: int, *, customer: int, agent: int | None,
                 speed: Literal["real", "max"], block: int) -> None:
        self._path = path
        self._rate = rate
        self._customer = customer
        self._agent = agent
        self._speed = speed
        self._block = block
        self._stopped = threading.Event()

    @property
    def description(self) -> str:
        # Shown and stored as text: a byte that is not UTF-8 becomes U+FFFD, not a surrogate
        # that no terminal, JSON reader or database can take.
        return self._path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

    def stop(self) -> None:
        self._stopped.set()

    def blocks(self) -> Blocks:
        yield AudioState(t=0.0, status=AudioStatus.LISTENING, detail=self.description)
        started = time.monotonic()
        sent = 0
        for audio in _fixed_blocks(self._resampled_chunks(), self._block):
            t = sent / SAMPLE_RATE
            sent += len(audio)
            if self._speed == "real":
                self._stopped.wait(max(0.0, started + sent / SAMPLE_RATE - time.monotonic()))
            if self._stopped.is_set():
                break
            yield self._to_block(t, audio)
        detail = "stopped" if self._stopped.is_set() else "end of file"
        yield AudioState(t=sent / SAMPLE_RATE, status=AudioStatus.ENDED, detail=detail)

    def _to_block(self, t: float, audio: np.ndarray) -> AudioBlock:
        agent = np.ascontiguousarray(audio[:, 1]) if self._agent is not None else None
        return AudioBlock(t=t, customer=np.ascontiguousarray(audio[:, 0]), agent=agent)

    def _resampled_chunks(self) -> Iterator[np.ndarray]:
        """16 kHz (samples, 1 or 2) arrays: the customer column, then the agent's if any."""
        resampler = Resampler(self._rate)
        for frames in self._decoded_chunks():
            yield resampler.push(self._pick(frames))
        yield resampler.flush().reshape(-1, 1 if self._agent is None else 2)

    def _pick(self, frames: np.ndarray) -> np.ndarray:
        columns = [take_channel(frames, self._customer)]
        if self._agent is not None:
            columns.append(take_channel(frames, self._agent))
        return np.stack(columns, axis=1)

    def _decoded_chunks(self) -> Iterator[np.ndarray]:
        try:
            with soundfile.SoundFile(sound_file_name(self._path)) as f:
                chunk = max(1, round(self._rate * FILE_CHUNK_S))
                while not self._stopped.is_set():
                    frames = f.read(chunk, dtype="float32", always_2d=True)
                    if not len(frames):
                        return
                    yield frames
        except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
            raise AudioError(f"{self._path} could not be decoded past a point ({e}); the file "
                             "may be damaged: export it again") from e


def _fixed_blocks(chunks: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Regroup arrays of any length into ``size``-sample blocks (the last one may be shorter)."""
    pending: list[np.ndarray] = []
    held = 0
    for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        if held < size:
            continue
        joined = np.concatenate(pending)
        whole = len(joined) // size * size
        yield from (joined[i : i + size] for i in range(0, whole, size))
        pending, held = [joined[whole:]], len(joined) - whole
    if held:
        yield np.concatenate(pending)


# --- live devices -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    arrived: float  # time.monotonic() in the callback
    frames: np.ndarray  # (samples, channels) at the device's rate


class _DeviceStream:
    """One PortAudio input stream. Its callback only copies into a bounded queue."""

    def __init__(self, spec: str, picks: tuple[int, ...], speaker: Speaker, audio: AudioConfig,
                 device: InputDevice) -> None:
        self.spec = spec
        self.picks = picks  # channel indexes (or MIX) to keep, in order
        self.speaker = speaker
        self._audio = audio
        self.device = device
        self.rate = SAMPLE_RATE
        self.dropped = 0  # samples dropped because the reader fell behind
        self._queue: queue.Queue[_Chunk] = queue.Queue(maxsize=1)
        self._stream: Any = None
        self._closing = False
        self.finished = threading.Event()

    @property
    def channels(self) -> int:
        # At least stereo when the device has it: opened with one channel, a stereo source is
        # downmixed and "left" would hear both sides. "mono" mixes those two channels only,
        # since ALSA's pulse/default devices claim 32.
        wanted = max((p + 1 for p in self.picks if p != MIX), default=1)
        return max(wanted, min(self.device.channels, 2))

    def check(self) -> None:
        """Fail now (AudioError) if the device cannot be opened the way it will be."""
        self.rate = self._pick_rate(sounddevice_module())

    def open(self) -> None:
        sd = sounddevice_module()
        self.rate = self._pick_rate(sd)
        block = max(1, round(self.rate * self._audio.block_ms / 1000))
        depth = max(2, round(self._audio.queue_seconds * self.rate / block))
        self._queue = queue.Queue(maxsize=depth)
        self.finished.clear()
        self._closing = False
        try:
            self._stream = sd.InputStream(
                device=self.device.index, channels=self.channels, samplerate=self.rate,
                dtype="float32", blocksize=block, callback=self._callback,
                finished_callback=self._on_finished)
            self._stream.start()
        except (sd.PortAudioError, ValueError) as e:
            self.close()
            raise AudioError(f"cannot open {self.device.name}: {e}") from e
        log.info("capturing %s: %d ch at %d Hz for the %s", self.device.name, self.channels,
                 self.rate, self.speaker)

    def close(self) -> None:
        self._closing = True
        stream, self._stream = self._stream, None
        if stream is None:
            return
        stream.close(ignore_errors=True)

    def read(self, timeout: float) -> _Chunk | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    @property
    def is_open(self) -> bool:
        return self._stream is not None

    @property
    def broken(self) -> bool:
        """The stream ended without being asked to: the device or the audio server went away."""
        return self._stream is not None and self.finished.is_set() and not self._closing

    def _pick_rate(self, sd: Any) -> int:
        try:
            sd.check_input_settings(device=self.device.index, channels=self.channels,
                                    samplerate=SAMPLE_RATE, dtype="float32")
            return SAMPLE_RATE
        except (sd.PortAudioError, ValueError):
            pass  # not at 16 kHz: record at the device's own rate and resample
        rate = round(self.device.default_rate)
        try:
            sd.check_input_settings(device=self.device.index, channels=self.channels,
                                    samplerate=rate, dtype="float32")
        except (sd.PortAudioError, ValueError) as e:
            raise AudioError(f"{self.device.name} cannot record {self.channels} channel(s) "
                             f"({e}); pick another device or channel") from e
        return rate

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        chunk = _Chunk(time.monotonic(), indata.copy())
        try:
            self._queue.put_nowait(chunk)
        except queue.Full:
            with contextlib.suppress(queue.Empty):  # the reader made room meanwhile
                self.dropped += len(self._queue.get_nowait().frames)
            self._queue.put_nowait(chunk)

    def _on_finished(self) -> None:
        self.finished.set()



def open_live(audio: AudioConfig) -> LiveSource:
    """The configured input device(s); AudioError now if a device or channel is missing."""
    customer_device = find_input(audio.customer_device)
    picks = [parse_channel(audio.customer_channel, customer_device.channels, role="customer",
                           where=customer_device.name)]
    agent_stream: _DeviceStream | None = None
    if audio.agent_channel:
        agent_device = (find_input(audio.agent_device) if audio.agent_device.strip()
                        else customer_device)
        agent_pick = parse_channel(audio.agent_channel, agent_device.channels, role="agent",
                                   where=agent_device.name)
        if agent_device.index == customer_device.index:
            check_sides_apart(picks[0], agent_pick, agent_device.channels, agent_device.name)
            picks.append(agent_pick)  # one stream carries both sides
        else:
            agent_stream = _DeviceStream(audio.agent_device, (agent_pick,), Speaker.AGENT, audio,
                                         agent_device)
    streams = [_DeviceStream(audio.customer_device, tuple(picks), Speaker.CUSTOMER, audio,
                             customer_device)]
    if agent_stream is not None:
        streams.append(agent_stream)
    for stream in streams:
        stream.check()
    return LiveSource(streams, audio)


class LiveSource:
    """Live capture from one device (customer, maybe agent) or two (customer, agent)."""

    def __init__(self, streams: list[_DeviceStream], audio: AudioConfig) -> None:
        self._streams = streams
        self._audio = audio
        self._stopped = threading.Event()
        self._status = AudioStatus.ENDED
        self._t = 0.0  # audio time of the next sample to be yielded
        self._last_arrival: float | None = None  # when the last audio arrived (monotonic)
        self._waiting_since = 0.0  # when we last had audio or (re)opened the streams
        self._dropped_seen = 0
        self._resamplers: list[Resampler] = []
        self._agent_backlog = np.zeros(0, np.float32)
        self._agent_debt = 0  # agent samples owed: silence was sent in their place

    @property
    def description(self) -> str:
        main = self._streams[0].device
        return f"{main.name} (device {main.index})"

    def stop(self) -> None:
        self._stopped.set()

    def blocks(self) -> Blocks:
        try:
            yield from self._capture()
        finally:
            # Also when the consumer abandons the iterator: a PortAudio stream left running
            # keeps calling into Python from its own thread until it is torn down under it.
            self._close_all()
        yield self._state(AudioStatus.ENDED, "stopped")

    def _capture(self) -> Iterator[AudioBlock | AudioState]:
        yield self._start()
        while not self._stopped.is_set():
            if not self._is_open():
                if not self._stopped.wait(self._audio.reconnect_seconds):
                    self._reopen()
                continue
            chunk = self._streams[0].read(_POLL_S)
            if chunk is None or any(stream.broken for stream in self._streams):
                state = self._check_health()
                if state is not None:
                    yield state
                continue
            if self._status is not AudioStatus.LISTENING:
                self._skip_gap(chunk)
                self._status = AudioStatus.LISTENING
                yield self._state(AudioStatus.RESUMED, "audio is back")
            yield from self._to_blocks(chunk)

    # --- health -----------------------------------------------------------------------------

    def _start(self) -> AudioState:
        try:
            self._open_all()
        except AudioError as e:
            return self._report_lost(str(e))
        self._status = AudioStatus.LISTENING
        return self._state(AudioStatus.LISTENING, self.description)

    def _check_health(self) -> AudioState | None:
        """DEVICE_LOST if a stream died or stalled, NO_AUDIO after a quiet spell, else None."""
        broken = next((s for s in self._streams if s.broken), None)
        quiet_for = time.monotonic() - self._waiting_since
        if broken is not None:
            return self._lost(f"{broken.device.name} stopped delivering audio", broken)
        if quiet_for >= STALL_S:
            return self._lost(f"no audio for {quiet_for:.0f} s")
        if self._status is AudioStatus.LISTENING and quiet_for >= NO_AUDIO_S:
            self._status = AudioStatus.NO_AUDIO
            return self._state(AudioStatus.NO_AUDIO, f"no audio for {quiet_for:.0f} s")
        return None

    def _lost(self, why: str, stream: _DeviceStream | None = None) -> AudioState | None:
        """Close everything; report the loss unless it is already reported."""
        self._close_all()
        if self._status is AudioStatus.DEVICE_LOST:
            return None
        return self._report_lost(why, stream)

    def _report_lost(self, why: str, stream: _DeviceStream | None = None) -> AudioState:
        self._status = AudioStatus.DEVICE_LOST
        log.warning("audio device lost: %s; retrying every %.1f s", why,
                    self._audio.reconnect_seconds)
        return self._state(AudioStatus.DEVICE_LOST, why, stream)

    def _reopen(self) -> None:
        """One reconnection attempt; RESUMED is reported once audio actually arrives."""
        _rescan_devices()
        try:
            for stream in self._streams:
                stream.device = find_input(stream.spec)
            self._open_all()
        except AudioError as e:
            log.debug("reconnect failed: %s", e)
            self._close_all()

    def _state(self, status: AudioStatus, detail: str,
               stream: _DeviceStream | None = None) -> AudioState:
        speaker = stream.speaker if stream is not None else None
        return AudioState(t=self._t, status=status, detail=detail, speaker=speaker)

    # --- audio ------------------------------------------------------------------------------

    def _skip_gap(self, chunk: _Chunk) -> None:
        """Move audio time over the stretch never captured, so later clocks stay on wall time."""
        if self._last_arrival is None:
            return
        missing = chunk.arrived - self._last_arrival - len(chunk.frames) / self._streams[0].rate
        if missing > GAP_S:
            log.info("audio resumed after %.1f s without it", missing)
            self._t += missing
            # The few milliseconds the resampler holds back came before the gap; played after
            # it they would land at the wrong time and click at the join.
            self._resamplers[0].reset()

    def _to_blocks(self, chunk: _Chunk) -> Iterator[AudioBlock]:
        main = self._streams[0]
        self._last_arrival = self._waiting_since = chunk.arrived
        # Audio dropped from a full queue still took time: keep t on the wall clock.
        self._t += (main.dropped - self._dropped_seen) / main.rate
        self._dropped_seen = main.dropped
        picked = np.stack([take_channel(chunk.frames, p) for p in main.picks], axis=1)
        audio = self._resamplers[0].push(picked)
        if not len(audio):
            return
        customer = np.ascontiguousarray(audio[:, 0])
        agent: np.ndarray | None = None
        if len(main.picks) > 1:
            agent = np.ascontiguousarray(audio[:, 1])
        elif len(self._streams) > 1:
            agent = self._agent_samples(len(customer))
        yield AudioBlock(t=self._t, customer=customer, agent=agent)
        self._t += len(customer) / SAMPLE_RATE

    def _agent_samples(self, count: int) -> np.ndarray:
        """``count`` samples from the agent's own device, aligned to the customer's.

        The two devices deliver on their own schedules, so the agent runs AGENT_DELAY_S
        behind through a small buffer. When it still runs dry, silence fills in and as many
        late samples are skipped once they come, so the two sides never slide apart.
        """
        stream, resampler = self._streams[1], self._resamplers[1]
        pieces = [self._agent_backlog]
        while (chunk := stream.read(0.0)) is not None:
            pieces.append(resampler.push(take_channel(chunk.frames, stream.picks[0])))
        backlog = np.concatenate(pieces)
        skipped = min(self._agent_debt, len(backlog))
        backlog, self._agent_debt = backlog[skipped:], self._agent_debt - skipped
        if len(backlog) > AGENT_MAX_LEAD_S * SAMPLE_RATE + count:
            # The agent's clock runs fast against the customer's: drop what it gained.
            backlog = backlog[len(backlog) - round(AGENT_DELAY_S * SAMPLE_RATE) - count:]
        out = np.zeros(count, np.float32)
        taken = backlog[:count]
        out[: len(taken)] = taken
        self._agent_debt += count - len(taken)
        self._agent_backlog = backlog[len(taken):]
        return out

    # --- streams ----------------------------------------------------------------------------

    def _is_open(self) -> bool:
        return all(stream.is_open for stream in self._streams)

    def _open_all(self) -> None:
        try:
            for stream in self._streams:
                stream.open()
        except AudioError:
            self._close_all()
            raise
        self._resamplers = [Resampler(stream.rate) for stream in self._streams]
        self._agent_backlog = np.zeros(round(AGENT_DELAY_S * SAMPLE_RATE), np.float32)
        self._agent_debt = 0
        self._waiting_since = time.monotonic()

    def _close_all(self) -> None:
        for stream in self._streams:
            stream.close()


def _rescan_devices() -> None:
    """Make PortAudio list devices afresh: it only looks once, when it starts.

    Restarting PortAudio closes every stream in the process, so it is only done while all of
    ours are closed (during a reconnect).
    """
    sd = sounddevice_module()
    try:
        sd._terminate()
        sd._initialize()
    except (AttributeError, sd.PortAudioError) as e:
        log.debug("cannot restart PortAudio to rescan devices: %s", e)
