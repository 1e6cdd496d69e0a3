"""Where assist keeps things, portable across Windows, macOS and Linux (platformdirs)."""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import platformdirs

from assist.errors import AssistError, ConfigError

APP_NAME = "assist"
CONFIG_ENV = "ASSIST_CONFIG"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def config_path() -> Path:
    """The default configuration file: ASSIST_CONFIG, else the user config directory."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def data_dir() -> Path:
    """Per-user data (the SQLite store, logs, window geometry): ASSIST_DATA_DIR overrides it."""
    override = os.environ.get("ASSIST_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot use {path} as assist's data folder ({e.strerror or e}); "
                          "free that path, or set ASSIST_DATA_DIR to a writable folder") from e
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
    """The prompt packs: ASSIST_PROMPTS_DIR, else ``prompts/`` in a checkout, else the copy
    installed with the package (a wheel has no checkout around it)."""
    override = os.environ.get("ASSIST_PROMPTS_DIR")
    if override:
        return Path(override)
    checkout = PROJECT_ROOT / "prompts"
    if checkout.is_dir():
        return checkout
    return _installed_prompts() or checkout


def _installed_prompts() -> Path | None:
    """Where pip put the packs (pyproject's data-files: <prefix>/share/assist/prompts).

    Found through the installed file list rather than sys.prefix, which differs from the
    install prefix for --user and --prefix installs.
    """
    try:
        files = metadata.distribution(APP_NAME).files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == "default.toml" and file.parent.name == "prompts":
            return Path(str(file.locate())).resolve().parent
    return None


def sample_call() -> Path:
    """The bundled sample call that the demo replays."""
    return PROJECT_ROOT / "assist" / "data" / "sample_call.ogg"


def read_toml_text(path: Path, what: str, error: type[AssistError]) -> str:
    """The text of a TOML file a person edits. A byte order mark (Windows Notepad) is
    dropped; an unreadable file raises ``error`` saying what it must be."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        reason = "not UTF-8 text" if isinstance(e, UnicodeDecodeError) else e.strerror or e
        raise error(f"cannot read {what} {path} ({reason}); it must be a TOML text file saved "
                    "as UTF-8") from e


def replace_text(path: Path, text: str) -> None:
    """Write ``text`` beside ``path``, then rename it over: a reader or a crash mid-write
    never sees half a file. Raises OSError."""
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
