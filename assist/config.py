"""The one configuration file: frozen dataclasses, one per stage, loaded strictly from TOML.

Each field carries its documentation in ``metadata["doc"]``; ``assist config`` prints the whole
file with those comments, and the README's configuration section is that output. An unknown
key or a value of the wrong type or range is a one-line :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import getpass
import logging
import math
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assist import paths
from assist.errors import ConfigError

log = logging.getLogger(__name__)


def setting(default: Any, doc: str, *, choices: tuple[Any, ...] = (), lo: float | None = None,
            hi: float | None = None) -> Any:
    """A documented configuration field with optional allowed values or range."""
    return field(default=default, metadata={"doc": doc, "choices": choices, "lo": lo, "hi": hi})


@dataclass(frozen=True)
class AudioConfig:
    customer_device: str = setting(
        "", "Input device for the call audio: a name (or part of one) or an index from "
        "`assist devices`; empty for the system default.")
    customer_channel: str = setting(
        "right", "Channel that carries the customer: left, right, mono (mix all) or a "
        "1-based channel number.")
    agent_device: str = setting(
        "", "Separate input device for the agent's own voice; empty to use customer_device.")
    agent_channel: str = setting(
        "", "Channel that carries the agent (left, right or a number); empty to leave the "
        "agent out (no talk-over or silence cues).")
    block_ms: int = setting(32, "Audio block size in milliseconds.", lo=10, hi=200)
    queue_seconds: float = setting(
        10.0, "How much audio the capture queue holds before dropping the oldest.", lo=1, hi=120)
    reconnect_seconds: float = setting(
        1.0, "How often a lost device is retried.", lo=0.1, hi=30)


@dataclass(frozen=True)
class SegmenterConfig:
    vad_threshold: float = setting(
        0.5, "Speech probability (Silero VAD) above which a frame counts as speech.", lo=0.05, hi=0.95)
    end_silence_ms: int = setting(
        450, "Silence that ends an utterance.", lo=100, hi=5000)
    preroll_ms: int = setting(
        250, "Audio kept from before speech was detected, so first syllables are not cut.", lo=0, hi=2000)
    min_speech_ms: int = setting(
        200, "Shorter bursts of speech are dropped as noise.", lo=0, hi=2000)
    max_utterance_s: float = setting(
        15.0, "An utterance longer than this is cut and a new one begins (Whisper takes 30 s).",
        lo=2, hi=29)
    partial_every_s: float = setting(
        0.5, "How often a still-running utterance is sent on as a partial window (the voice "
        "is scored on each, so a raised voice shows before the caller stops); 0 disables.",
        lo=0, hi=30)


@dataclass(frozen=True)
class AsrConfig:
    model: str = setting(
        "", "Whisper model: a directory, or a name under models/ (see `assist models`); empty "
        "for the packaged tiny.en.")
    language: str = setting("en", "Spoken language code, or empty to detect it (multilingual models).")
    beam_size: int = setting(5, "Beam size; 1 is greedy decoding (fastest, but more words "
                                "misheard), 5 keeps the five likeliest readings.", lo=1, hi=10)
    cpu_threads: int = setting(0, "CPU threads for Whisper; 0 uses every core.", lo=0, hi=256)
    compute_type: str = setting("int8", "CTranslate2 compute type.",
                                choices=("int8", "int8_float32", "float32"))
    partials: bool = setting(True, "Transcribe partial windows of long utterances.")
    partial_every_s: float = setting(
        2.0, "Transcribe a still-running utterance at most this often (each pass costs about "
        "as much as a final one).", lo=0.5, hi=30)


@dataclass(frozen=True)
class PromptsConfig:
    pack: str = setting(
        "default", "Prompt pack: a name under prompts/ (without .toml) or a path to a file.")


@dataclass(frozen=True)
class StoreConfig:
    url: str = setting(
        "", "Database URL (SQLAlchemy form, e.g. postgresql+psycopg://user:pw@host/db); empty "
        "for SQLite in the user data directory.")
    keep_audio: bool = setting(False, "Keep the customer's audio with the record.")
    agent: str = setting("", "The agent's name on the record; empty for the login name.")
    flag_anger: float = setting(0.75, "Flag a call whose peak anger reaches this.", lo=0, hi=1)

    def agent_name(self) -> str:
        """``agent``, else the login name of whoever runs assist."""
        if self.agent:
            return self.agent
        try:
            return getpass.getuser()
        except (OSError, KeyError):  # no login name (a service account, a bare container)
            return "agent"


@dataclass(frozen=True)
class OverlayConfig:
    opacity: float = setting(0.95, "Window opacity.", lo=0.3, hi=1.0)
    compact: bool = setting(False, "Start in the one-line compact mode.")
    always_on_top: bool = setting(True, "Keep the window above the softphone and CRM.")
    silence_cue_s: float = setting(
        20.0, "Cue the agent after this long with nobody speaking (needs agent audio).", lo=3, hi=600)


@dataclass(frozen=True)
class ReviewConfig:
    host: str = setting("127.0.0.1", "Address the review app listens on.")
    port: int = setting(8765, "Port of the review app.", lo=0, hi=65535)
    timezone: str = setting(
        "", "Time zone in which the review app shows times and reads the date filters: an "
        "IANA name such as \"Europe/London\"; empty for this machine's own.")


@dataclass(frozen=True)
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig)
    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    prompts: PromptsConfig = field(default_factory=PromptsConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    overlay: OverlayConfig = field(default_factory=OverlayConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)


def load_config(path: Path | None = None) -> Config:
    """Load ``path`` (or the default file if it exists) strictly; missing keys keep defaults."""
    explicit = path is not None
    path = path or paths.config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist; create it or drop --config")
        if os.environ.get(paths.CONFIG_ENV):
            # Not an error: `assist config > "$ASSIST_CONFIG"` is how the file gets made. But a
            # team's store.url quietly replaced by a local store must not go unnoticed.
            log.warning("%s names %s, which does not exist; using the built-in defaults",
                        paths.CONFIG_ENV, path)
        return Config()
    text = paths.read_toml_text(path, "config file", ConfigError)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e}); fix the file") from e
    return build(Config, raw, source=str(path))


def build(cls: type, raw: dict[str, Any], *, source: str, prefix: str = "") -> Any:
    """Make a frozen dataclass from a TOML table, naming any bad key in the error."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{source}: unknown key '{prefix}{key}' (known here: {known})")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        f = fields[name]
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{prefix}{name}' must be a table [{prefix}{name}]")
            values[name] = build(hint, value, source=source, prefix=f"{prefix}{name}.")  # type: ignore[arg-type]
        else:
            values[name] = check_value(f, hint, value, source=source, key=f"{prefix}{name}")
    return cls(**values)


def check_value(f: dataclasses.Field[Any], hint: Any, value: Any, *, source: str, key: str) -> Any:
    try:
        return checked_setting(f, hint, value)
    except SettingProblem as e:
        raise ConfigError(f"{source}: '{key}' {e}") from None


class SettingProblem(ValueError):
    """What is wrong with one value ("must be a number, not 'x'"); the caller says where."""


def checked_setting(f: dataclasses.Field[Any], hint: Any, value: Any) -> Any:
    """``value`` checked against a :func:`setting` field's type, choices and range (config
    files and prompt packs alike); a whole number is taken where a float is wanted."""
    expected = _expected_types(hint)
    if bool in expected:
        if not isinstance(value, bool):
            raise SettingProblem(f"must be true or false, not {value!r}")
        return value
    if int in expected or float in expected:
        return _checked_number(f, float in expected, value)
    if not isinstance(value, expected):
        raise SettingProblem(f"must be {_names(expected)}, not {value!r}")
    choices = f.metadata.get("choices") or ()
    if choices and value not in choices:
        raise SettingProblem(f"must be one of {', '.join(map(str, choices))}, not {value!r}")
    return value


def _checked_number(f: dataclasses.Field[Any], fractional: bool, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingProblem(f"must be a number, not {value!r}")
    if not fractional and not isinstance(value, int):
        raise SettingProblem(f"must be a whole number, not {value!r}")
    if not math.isfinite(value):
        raise SettingProblem(f"must be a finite number, not {value!r}")
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise SettingProblem(f"= {value} is out of range ({lo} to {hi})")
    choices = f.metadata.get("choices") or ()
    if choices and value not in choices:
        raise SettingProblem(f"must be one of {', '.join(map(str, choices))}, not {value!r}")
    return float(value) if fractional else value


def _expected_types(hint: Any) -> tuple[type, ...]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return tuple(a for a in typing.get_args(hint) if a is not type(None))
    origin = typing.get_origin(hint)
    return (origin,) if origin else (hint,)


def _names(expected: tuple[type, ...]) -> str:
    return " or ".join({bool: "true/false", int: "a whole number", float: "a number",
                        str: "a string"}.get(t, t.__name__) for t in expected)


def replace_setting(config: Config, dotted: str, value: Any) -> Config:
    """A copy of ``config`` with one ``section.key`` changed (checked like a file value)."""
    section, _, key = dotted.partition(".")
    part = getattr(config, section, None)
    if part is None or not key:
        raise ConfigError(f"unknown setting '{dotted}'")
    fields = {f.name: f for f in dataclasses.fields(part)}
    if key not in fields:
        raise ConfigError(f"unknown setting '{dotted}'")
    hint = typing.get_type_hints(type(part))[key]
    checked = check_value(fields[key], hint, value, source="command line", key=dotted)
    return dataclasses.replace(config, **{section: dataclasses.replace(part, **{key: checked})})


def render_documented(config: Config | None = None) -> str:
    """The whole configuration as TOML with each key's documentation as a comment."""
    config = config or Config()
    lines: list[str] = []
    for section in dataclasses.fields(config):
        part = getattr(config, section.name)
        lines.append(f"[{section.name}]")
        for f in dataclasses.fields(part):
            lines.append(f"# {f.metadata['doc']}")
            lines.append(f"{f.name} = {toml_value(getattr(part, f.name))}")
        lines.append("")
    return "\n".join(lines)


def toml_value(value: Any) -> str:
    """``value`` written as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)
