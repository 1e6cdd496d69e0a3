"""``--set key=value`` and ``--sweep key=start:stop:step`` on a prompt pack.

An override names a pack setting by its dotted TOML key (``escalation.enter.empathize``,
``fusion.words``). It is applied to the pack's *text*, so the result is an ordinary pack file
that goes through the very same loader and validation as a trainer's hand edit: a bad value is
refused with the loader's own message (file, key and line), and a tuned pack written with
``--out`` keeps the base pack's comments and layout.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assist.config import toml_value
from assist.errors import PackError

MAX_SWEEP_VALUES = 1000
"""More values than this on one axis is almost certainly a typo in the step."""

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_SCALAR = re.compile(
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'[^']*'|[-+]?[0-9][0-9_.eE+-]*|true|false|inf|nan)""")


@dataclass(frozen=True)
class Override:
    """One pack setting forced to a value."""

    key: str
    value: Any

    def __str__(self) -> str:
        return f"{self.key}={toml_value(self.value)}"


@dataclass(frozen=True)
class Sweep:
    """One axis of a sweep: a key and the values it takes."""

    key: str
    values: tuple[float, ...] | tuple[int, ...]


def parse_set(text: str) -> Override:
    """``escalation.enter.empathize=0.4`` -> Override; the value is read as a TOML value."""
    key, sep, raw_value = text.partition("=")
    key = key.strip()
    if not sep or not _valid_key(key):
        raise PackError(f"--set {text!r}: write it as section.key=value, "
                        "e.g. --set escalation.enter.empathize=0.4")
    value = _parse_value(raw_value.strip())
    if isinstance(value, float) and not math.isfinite(value):
        raise PackError(f"--set {text!r}: '{key}' must be a finite number")
    return Override(key, value)


def parse_sweep(text: str) -> Sweep:
    """``escalation.enter.empathize=0.3:0.6:0.05`` -> the values 0.3, 0.35, ... 0.6."""
    key, sep, spec = text.partition("=")
    key = key.strip()
    parts = spec.split(":")
    if not sep or not _valid_key(key) or len(parts) != 3:
        raise PackError(f"--sweep {text!r}: write it as section.key=start:stop:step, "
                        "e.g. --sweep escalation.enter.empathize=0.3:0.6:0.05")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError as e:
        raise PackError(f"--sweep {text!r}: start, stop and step must be numbers") from e
    values = _steps(text, start, stop, step)
    if all(re.fullmatch(r"\s*[-+]?\d+\s*", p) for p in parts):
        # Whole-number sweeps (dwell counts) stay whole, or the pack would reject 2.0.
        return Sweep(key, tuple(int(v) for v in values))
    return Sweep(key, values)


def _steps(text: str, start: float, stop: float, step: float) -> tuple[float, ...]:
    if not all(math.isfinite(v) for v in (start, stop, step)) or step <= 0 or stop < start:
        raise PackError(f"--sweep {text!r}: need start <= stop and a step above 0")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_SWEEP_VALUES:
        raise PackError(f"--sweep {text!r}: {count} values is too many; use a larger step")
    # Rounded so 0.1 + 2 * 0.05 prints (and is written to the pack) as 0.2, not 0.20000000000000001.
    return tuple(round(start + i * step, 10) for i in range(count))


def _valid_key(key: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+", key))


def _parse_value(raw: str) -> Any:
    """A TOML value (number, bool, string, array); a bare word is taken as a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


# --- where a key lives in a pack ------------------------------------------------------------


def resolve_path(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """The full TOML path of ``key`` in this pack.

    A trainer may leave out the table a key sits in (``enter.empathize`` for
    ``escalation.enter.empathize``): when the key's first part is not a top-level table but is
    a table inside one, that is where it goes. Anything else is taken literally, and the
    pack's validation then names it.
    """
    path = tuple(key.split("."))
    if path[0] in raw:
        return path
    for name, table in raw.items():
        if isinstance(table, Mapping) and isinstance(table.get(path[0]), Mapping):
            return (name, *path)
    return path


def apply_to_raw(raw: Mapping[str, Any], overrides: Iterable[Override]) -> dict[str, Any]:
    """A deep copy of a parsed pack with the overrides set."""
    out = _deep_copy(raw)
    for override in overrides:
        path = resolve_path(out, override.key)
        table = out
        for part in path[:-1]:
            child = table.setdefault(part, {})
            if not isinstance(child, dict):
                raise PackError(f"--set {override}: '{part}' is a value, not a table")
            table = child
        table[path[-1]] = override.value
    return out


def _deep_copy(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in raw.items()}


# --- rewriting the pack's text -----------------------------------------------------------------


def rewrite_text(text: str, overrides: Sequence[Override], where: str = "pack") -> str:
    """The pack's text with each override's value replaced in place (comments survive).

    A key the file does not have yet is added to its table (or a new table at the end).
    The result is checked by parsing it back; a layout this cannot edit safely is a PackError.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PackError(f"{where}: not valid TOML ({e}); fix the file") from e
    lines = text.splitlines()
    for override in overrides:
        path = resolve_path(raw, override.key)
        lines = _set_line(lines, path, toml_value(override.value))
    new_text = "\n".join(lines) + "\n"
    _check_rewrite(new_text, raw, overrides, where)
    return new_text


def _set_line(lines: list[str], path: tuple[str, ...], value: str) -> list[str]:
    table, key = ".".join(path[:-1]), path[-1]
    begin, end = _section(lines, table)
    if begin is None:
        return [*lines, "", f"[{table}]", f"{key} = {value}"]
    assignment = re.compile(rf"^(\s*{re.escape(key)}\s*=\s*)(.*)$")
    for i in range(begin, end):
        match = assignment.match(lines[i])
        if match:
            return [*lines[:i], match.group(1) + _replace_value(match.group(2), value),
                    *lines[i + 1:]]
    insert_at = _last_content_line(lines, begin, end) + 1
    return [*lines[:insert_at], f"{key} = {value}", *lines[insert_at:]]


def _section(lines: list[str], table: str) -> tuple[int | None, int]:
    """Line range of ``[table]``'s own keys: after its header, up to the next header."""
    begin: int | None = None
    for i, line in enumerate(lines):
        header = _HEADER.match(line)
        if not header:
            continue
        if begin is not None:
            return begin, i
        if _same_table(header.group(1), table):
            begin = i + 1
    return begin, len(lines)


def _same_table(header: str, table: str) -> bool:
    return [p.strip().strip('"') for p in header.split(".")] == table.split(".")


def _replace_value(rest: str, value: str) -> str:
    """Swap the scalar at the start of ``rest`` for ``value``, keeping any trailing comment."""
    match = _SCALAR.match(rest)
    if match:
        return value + rest[match.end():]
    return value


def _last_content_line(lines: list[str], begin: int, end: int) -> int:
    last = begin - 1
    for i in range(begin, end):
        if lines[i].strip() and not lines[i].lstrip().startswith("#"):
            last = i
    return last


def _check_rewrite(text: str, before: Mapping[str, Any], overrides: Sequence[Override],
                   where: str) -> None:
    try:
        after = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PackError(f"{where}: cannot apply {', '.join(map(str, overrides))} to this "
                        f"layout ({e}); set the value by hand") from e
    if after != apply_to_raw(before, overrides):
        raise PackError(f"{where}: cannot apply {', '.join(map(str, overrides))} to this "
                        "layout (inline or dotted tables); set the value by hand")
