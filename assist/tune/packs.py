"""Packs with overrides, built through the very loader that reads a trainer's edits.

A pack with ``--set`` overrides is the base pack's text with those values written in
(:func:`assist.tune.overrides.rewrite_text`), read by :func:`assist.prompts.parse_pack`. So
an override is validated exactly like a hand edit (types, ranges, threshold order), and the
pack a sweep writes out is byte for byte the one that was scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assist import paths
from assist.errors import PackError
from assist.prompts import PromptPack, pack_path, parse_pack
from assist.tune.overrides import Override, Sweep, rewrite_text


@dataclass(frozen=True)
class PackSource:
    """A pack's file and text: what overrides are applied to."""

    path: Path
    text: str


def read_pack_source(name_or_path: str) -> PackSource:
    """Read a pack by name or path once, validate it, and keep its text."""
    path = pack_path(name_or_path)
    text = paths.read_toml_text(path, "prompt pack", PackError)
    parse_pack(text, path)
    return PackSource(path, text)


def pack_text(base: PackSource, overrides: Sequence[Override]) -> str:
    return rewrite_text(base.text, overrides, where=str(base.path)) if overrides else base.text


def pack_with(base: PackSource, overrides: Sequence[Override]) -> PromptPack:
    """The base pack with ``overrides`` applied and validated; PackError names the override."""
    text = pack_text(base, overrides)
    try:
        return parse_pack(text, base.path)
    except PackError as e:
        applied = " ".join(f"--set {o}" for o in overrides)
        raise PackError(f"{e} (with {applied})") from e


def check_sweep_keys(base: PackSource, fixed: Sequence[Override],
                     sweeps: Sequence[Sweep]) -> None:
    """Refuse, before any work, a swept key that no value of its axis can make valid.

    Single grid points may fail (an enter threshold swept below its exit threshold), and the
    sweep lists them; but an axis with no valid value at all is a typo or a wrong range.
    """
    for sweep in sweeps:
        errors: list[PackError] = []
        for value in sweep.values:
            try:
                pack_with(base, (*fixed, Override(sweep.key, value)))
                break
            except PackError as e:
                errors.append(e)
        else:
            raise PackError(f"--sweep {sweep.key}: no value in the range gives a valid pack; "
                            f"first problem: {errors[0]}")


def write_pack(base: PackSource, overrides: Sequence[Override], out: Path) -> Path:
    """Write the base pack with ``overrides`` to ``out``, checked first: a pack that would
    not load never replaces what is there, and a half-written one never appears."""
    text = pack_text(base, overrides)
    parse_pack(text, out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        paths.replace_text(out, text)
    except OSError as e:
        raise PackError(f"cannot write the pack to {out} ({e.strerror or e}); give --out a "
                        "writable .toml path") from e
    return out


def check_pack_out(out: Path) -> None:
    """Refuse, before any work, an --out that is not a place for a pack file."""
    if out.suffix != ".toml":
        raise PackError(f"--out {out}: a prompt pack is a .toml file; give a name ending "
                        "in .toml")
    if out.exists() and not out.is_file():
        raise PackError(f"--out {out} is a directory or device, not a file; give a .toml path")
    if out.parent.exists() and not out.parent.is_dir():
        raise PackError(f"--out {out}: {out.parent} is not a directory")
