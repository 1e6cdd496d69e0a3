"""The configuration file: strict keys, typed values, documented defaults."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assist.config import Config, load_config, render_documented, replace_setting
from assist.errors import ConfigError
from assist.paths import PROJECT_ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_missing_assist_config_gives_defaults_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("ASSIST_CONFIG", str(tmp_path / "absent.toml"))
    assert load_config() == Config()
    assert "absent.toml, which does not exist" in caplog.text


def test_values_are_read_and_ints_widen_to_floats(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[audio]\ncustomer_channel = "left"\n'
                                         '[segmenter]\nmax_utterance_s = 10\n'))
    assert config.audio.customer_channel == "left"
    assert config.segmenter.max_utterance_s == 10.0
    assert isinstance(config.segmenter.max_utterance_s, float)


@pytest.mark.parametrize(("text", "named"), [
    ("[audio]\ncustomer_chanel = 'left'\n", "audio.customer_chanel"),
    ("[audoi]\n", "audoi"),
    ("[segmenter]\nend_silence_ms = 'long'\n", "segmenter.end_silence_ms"),
    ("[segmenter]\nend_silence_ms = 50\n", "segmenter.end_silence_ms"),
    ("[asr]\ncompute_type = 'float64'\n", "asr.compute_type"),
    ("[overlay]\ncompact = 1\n", "overlay.compact"),
    ("[overlay]\nopacity = nan\n", "overlay.opacity"),  # NaN passes any range check
    ("[segmenter]\nend_silence_ms = 450.5\n", "segmenter.end_silence_ms"),
    ("audio = 3\n", "audio"),
])
def test_bad_key_or_value_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=f"'{named}'"):
        load_config(write(tmp_path, text))


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[audio\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_documented_rendering_round_trips(tmp_path: Path) -> None:
    text = render_documented()
    assert "# Silence that ends an utterance." in text
    assert load_config(write(tmp_path, text)) == Config()


def test_replace_setting_checks_like_the_file() -> None:
    config = replace_setting(Config(), "segmenter.end_silence_ms", 600)
    assert config.segmenter.end_silence_ms == 600
    with pytest.raises(ConfigError, match="unknown setting"):
        replace_setting(Config(), "segmenter.nope", 1)


def test_cli_bad_config_value_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "[review]\nport = 'eighty'\n")
    result = subprocess.run([sys.executable, "-m", "assist.cli", "--config", str(path), "config"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "review.port" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_config_path_is_printed_even_while_the_file_is_broken(tmp_path: Path) -> None:
    path = write(tmp_path, "[review]\nport = 'eighty'\n")
    result = subprocess.run([sys.executable, "-m", "assist.cli", "--config", str(path), "config",
                             "--path"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip()
    assert "review.port" in result.stderr and "going on with the defaults" in result.stderr


def test_readme_documents_every_setting_as_assist_config_prints_it() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert render_documented().strip() in readme, "regenerate the README block with `assist config`"


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    # Windows Notepad's "UTF-8 with BOM".
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf[audio]\ncustomer_channel = \"left\"\n")
    assert load_config(path).audio.customer_channel == "left"


def test_a_file_that_is_not_utf8_says_how_to_save_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"[audio]\ncustomer_channel = \"l\xe9ft\"\n")
    with pytest.raises(ConfigError, match=r"not UTF-8 text.*saved as UTF-8"):
        load_config(path)
