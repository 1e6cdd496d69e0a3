"""The overlay's remembered place, size, opacity and mode: a small JSON in the data dir."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assist import paths

log = logging.getLogger(__name__)

PREFS_FILE = "overlay.json"
MIN_OPACITY = 0.3
MAX_OPACITY = 1.0
OPACITY_STEP = 0.1


@dataclass(frozen=True)
class WindowPrefs:
    width: int = 380
    height: int = 220
    x: int | None = None   # None: let the window manager place it
    y: int | None = None
    opacity: float = 0.95
    compact: bool = False


def prefs_path() -> Path:
    return paths.data_dir() / PREFS_FILE


def load_prefs(path: Path, defaults: WindowPrefs) -> WindowPrefs:
    """The saved prefs over ``defaults``; a missing or broken file just means the defaults."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return defaults
    except (OSError, ValueError) as e:
        # Losing a window position is not worth refusing to start over; say so in the log.
        log.warning("ignoring the overlay's saved geometry in %s: %s", path, e)
        return defaults
    if not isinstance(raw, dict):
        log.warning("ignoring the overlay's saved geometry in %s: not a JSON object", path)
        return defaults
    return _merge(defaults, raw, path)


def _merge(defaults: WindowPrefs, raw: dict[str, Any], path: Path) -> WindowPrefs:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(WindowPrefs):
        if f.name not in raw:
            continue
        value = raw[f.name]
        if _fits(value, f.name):
            values[f.name] = value
        else:
            log.warning("ignoring %s=%r in %s", f.name, value, path)
    prefs = dataclasses.replace(defaults, **values)
    return dataclasses.replace(prefs, opacity=clamp_opacity(prefs.opacity),
                               width=max(prefs.width, 120), height=max(prefs.height, 40))


def _fits(value: Any, name: str) -> bool:
    if name == "compact":
        return isinstance(value, bool)
    if name == "opacity":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name in ("x", "y"):
        return value is None or (isinstance(value, int) and not isinstance(value, bool))
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def save_prefs(path: Path, prefs: WindowPrefs) -> None:
    """Write atomically, so a crash mid-write never leaves a half file behind."""
    try:
        paths.replace_text(path, json.dumps(dataclasses.asdict(prefs), indent=1))
    except OSError as e:
        log.warning("cannot save the overlay's geometry to %s: %s", path, e)


def clamp_opacity(value: float) -> float:
    return round(min(MAX_OPACITY, max(MIN_OPACITY, value)), 2)


@dataclass(frozen=True)
class Desktop:
    """The area all monitors span; a monitor left of or above the main one starts below 0."""

    x: int
    y: int
    width: int
    height: int


def on_screen(prefs: WindowPrefs, desktop: Desktop) -> WindowPrefs:
    """Forget a saved position that is off every monitor (one was unplugged)."""
    if prefs.x is None or prefs.y is None:
        return prefs
    if (desktop.x <= prefs.x < desktop.x + desktop.width - 40
            and desktop.y <= prefs.y < desktop.y + desktop.height - 20):
        return prefs
    return dataclasses.replace(prefs, x=None, y=None)
