"""Input devices as PortAudio (through sounddevice) sees them, and picking one by name or index.

sounddevice is imported lazily: importing it starts PortAudio, which must happen after the
audio server is up, and a machine without PortAudio can still replay recordings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from assist.errors import AudioError

log = logging.getLogger(__name__)

FAR_END_HINTS = (
    "monitor", "loopback", "stereo mix", "what u hear", "wave out", "cable output",
    "vb-audio", "blackhole", "voicemeeter", "soundflower", "rec. playback",
)
"""Name fragments of inputs that record what the computer plays (PulseAudio monitors,
WASAPI loopback, Windows' Stereo Mix, VB-Cable, macOS BlackHole/Soundflower): on a
softphone call, that is the customer's voice."""


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    hostapi: str
    channels: int
    default_rate: float
    far_end: bool


def sounddevice_module() -> ModuleType:
    """sounddevice, imported on first use; AudioError when PortAudio is missing."""
    try:
        import sounddevice
    except OSError as e:
        raise AudioError(
            f"PortAudio is not available ({e}); install it (Debian: apt-get install "
            "libportaudio2) or replay a recording instead") from e
    return sounddevice


def looks_like_far_end(name: str) -> bool:
    lowered = name.lower()
    return any(hint in lowered for hint in FAR_END_HINTS)


def list_devices() -> list[InputDevice]:
    """Every device with at least one input channel."""
    sd = sounddevice_module()
    hostapis = [api["name"] for api in sd.query_hostapis()]
    return [_input_device(raw, hostapis) for raw in sd.query_devices()
            if raw["max_input_channels"] > 0]


def default_input_index() -> int | None:
    """PortAudio's default input device, or None when there is none."""
    sd = sounddevice_module()
    index = sd.default.device[0]
    if index is None or index < 0:
        try:
            index = sd.query_devices(kind="input")["index"]
        except sd.PortAudioError:
            return None
    return int(index)


def find_input(spec: str) -> InputDevice:
    """The input named by ``spec``: an index, part of a name (any case), or "" for the default."""
    devices = list_devices()
    spec = spec.strip()
    if not spec:
        return _default_input(devices)
    if spec.isdigit():
        for device in devices:
            if device.index == int(spec):
                return device
        raise AudioError(f"no input device has index {spec}; run `assist devices` to list them")
    return _input_by_name(devices, spec)


def _input_by_name(devices: list[InputDevice], spec: str) -> InputDevice:
    wanted = spec.lower()
    exact = [d for d in devices if d.name.lower() == wanted]
    matches = exact or [d for d in devices if wanted in d.name.lower()]
    if not matches:
        raise AudioError(f"no input device matches '{spec}'; run `assist devices` to list them")
    if len(matches) > 1:
        # Windows lists one card under several host APIs; the first is the usual choice.
        log.info("input '%s' matches %d devices (%s); using %d", spec, len(matches),
                 ", ".join(str(d.index) for d in matches), matches[0].index)
    return matches[0]


def _default_input(devices: list[InputDevice]) -> InputDevice:
    index = default_input_index()
    for device in devices:
        if device.index == index:
            return device
    raise AudioError("there is no default input device; set audio.customer_device to one "
                     "listed by `assist devices`")


def _input_device(raw: Any, hostapis: list[str]) -> InputDevice:
    hostapi = raw["hostapi"]
    return InputDevice(
        index=int(raw["index"]),
        name=str(raw["name"]),
        hostapi=hostapis[hostapi] if 0 <= hostapi < len(hostapis) else str(hostapi),
        channels=int(raw["max_input_channels"]),
        default_rate=float(raw["default_samplerate"]),
        far_end=looks_like_far_end(str(raw["name"])),
    )
