"""Where assist keeps things, portable across Windows, macOS and Linux (platformdirs)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "assist"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def config_path() -> Path:
    """The default configuration file: ASSIST_CONFIG, else the user config directory."""
    override = os.environ.get("ASSIST_CONFIG")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def data_dir() -> Path:
    """Per-user data (the SQLite store, logs, window geometry): ASSIST_DATA_DIR overrides it."""
    override = os.environ.get("ASSIST_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """``models/`` beside the package in a checkout, else in the user data directory."""
    override = os.environ.get("ASSIST_MODELS_DIR")
    if override:
        return Path(override)
    checkout = PROJECT_ROOT / "models"
    if checkout.is_dir():
        return checkout
    return data_dir() / "models"


def prompts_dir() -> Path:
    """``prompts/`` beside the package in a checkout (the packs a trainer edits)."""
    override = os.environ.get("ASSIST_PROMPTS_DIR")
    if override:
        return Path(override)
    return PROJECT_ROOT / "prompts"


def sample_call() -> Path:
    """The bundled sample call that the demo replays."""
    return PROJECT_ROOT / "assist" / "data" / "sample_call.ogg"
