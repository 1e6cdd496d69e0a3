"""An installed wheel works without the checkout around it: the prompt packs, the sample call
and the migrations come with it (an agent's Windows desktop gets a wheel, not a clone)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assist.paths import PROJECT_ROOT

NOT_SOURCE = (".git", ".venv", "models", "build", "dist", "*.egg-info", "__pycache__", "*_cache",
              "tune-report", "bench.json")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel and installed, without dependencies, under a prefix."""
    root = tmp_path_factory.mktemp("wheel")
    # Built from a copy: an in-tree build would leave build/ in the checkout, and a stale
    # build/ can smuggle deleted files into the next wheel.
    source = root / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(root / "dist"), str(source)],
                   check=True, capture_output=True, timeout=300)
    wheel = next((root / "dist").glob("assist-*.whl"))
    # --ignore-installed: without it pip would first uninstall the checkout this test runs from.
    subprocess.run([*pip, "install", "--no-deps", "--ignore-installed", "--prefix", str(root / "prefix"),
                    str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return root / "prefix"


def run_installed(prefix: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Python with the installed copy first on the path (dependencies from this venv)."""
    site = next(prefix.glob("lib/python3*/site-packages"))
    (prefix / "none.toml").touch()
    env = {**os.environ, "PYTHONPATH": str(site), "ASSIST_CONFIG": str(prefix / "none.toml")}
    env.pop("ASSIST_PROMPTS_DIR", None)
    return subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=prefix, timeout=120, check=False)


def test_the_installed_package_finds_its_packs_sample_call_and_migrations(installed: Path) -> None:
    done = run_installed(installed, "-c", (
        "import assist, json; from assist import paths, prompts;"
        "from assist.store import db; from sqlalchemy import inspect;"
        "engine = db.open_engine('sqlite:///store.db');"
        "print(json.dumps({'package': assist.__file__, 'prompts': str(paths.prompts_dir()),"
        "'pack': prompts.load_pack('default').path.name,"
        "'sample': paths.sample_call().is_file(),"
        "'tables': inspect(engine).get_table_names()}))"))
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found["package"]).is_relative_to(installed)
    assert Path(found["prompts"]) == (installed / "share" / "assist" / "prompts").resolve()
    assert found["pack"] == "default.toml" and found["sample"]
    assert {"calls", "utterances", "alembic_version"} <= set(found["tables"])


def test_the_installed_command_scores_with_the_installed_pack(installed: Path) -> None:
    done = run_installed(installed, "-m", "assist.cli", "score", "-",
                         stdin="This is the third time I've called about this!\n")
    assert done.returncode == 0, done.stderr
    scored = json.loads(done.stdout.splitlines()[0])
    assert scored["anger"] > 0.3
    assert any(t["name"] == "repeat_contact" for t in scored["triggers"])
