"""Fixtures every test module can use.

Each test gets its own data directory and config file, so nothing touches the user's.
Tests that need a real service ask for ``require_pulse``, ``require_display`` or
``require_pg_url``: scripts/test starts the services and sets their variables; run
piecemeal without them, those tests skip and say why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assist import paths

pytest_plugins = ["store_helpers"]  # the store_url fixture, for every store test

SHARED_DATA = paths.PROJECT_ROOT.parent / "shared" / "data"
CALLS_DIR = paths.PROJECT_ROOT / "assist" / "data" / "calls"


@pytest.fixture(autouse=True)
def _private_assist_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_DATA_DIR", str(tmp_path / "assist-data"))
    config = tmp_path / "assist-config.toml"
    config.touch()  # empty: every setting at its default
    monkeypatch.setenv("ASSIST_CONFIG", str(config))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout (speech-wer, ravdess-dev, goemotions-dev)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is absent: expected the shared test data at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_call() -> Path:
    """The bundled demo call (stereo OGG: agent left, customer right)."""
    return paths.sample_call()


@pytest.fixture(scope="session")
def scripted_calls() -> list[tuple[Path, Path]]:
    """The further scripted calls as (ogg, labels json) pairs, sorted by name."""
    oggs = sorted(CALLS_DIR.glob("*.ogg"))
    return [(ogg, ogg.with_name(ogg.stem + ".labels.json")) for ogg in oggs]


def _require_env(name: str, what: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.skip(f"{name} is not set: {what} (scripts/test starts it)")
    return value


@pytest.fixture
def require_pulse() -> str:
    """The PulseAudio server address; skips unless scripts/test started the null sink."""
    _require_env("ASSIST_TEST_PULSE", "no PulseAudio null sink 'call' for live audio")
    return _require_env("PULSE_SERVER", "no PulseAudio server address")


@pytest.fixture
def require_display() -> str:
    """The X display; skips unless scripts/test started Xvfb with openbox."""
    _require_env("ASSIST_TEST_DISPLAY", "no Xvfb screen with a window manager")
    return _require_env("DISPLAY", "no X display")


@pytest.fixture
def require_pg_url() -> str:
    """A SQLAlchemy URL of a PostgreSQL test database the test may use and create more in."""
    return _require_env("ASSIST_TEST_PG_URL", "no PostgreSQL server for the store tests")
