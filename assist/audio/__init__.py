"""Call audio in: sources (live devices, recordings), voice activity, and the segmenter."""

from assist.audio.devices import InputDevice, list_devices
from assist.audio.segmenter import Segmenter
from assist.audio.sources import AudioBlock, Source, open_file, open_live
from assist.audio.vad import FRAME, VoiceActivity, silero_vad

__all__ = [
    "FRAME",
    "AudioBlock",
    "InputDevice",
    "Segmenter",
    "Source",
    "VoiceActivity",
    "list_devices",
    "open_file",
    "open_live",
    "silero_vad",
]
