"""Prompt packs: what the overlay says at each stage, and the settings a trainer tunes with it.

A pack is one TOML file under ``prompts/`` (see prompts/README.md for every key). It is read
strictly: a typo, a wrong type, an out-of-range or out-of-order threshold, a missing stage is a
:class:`PackError` naming the file, the key and its line, so a trainer can fix it at once.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import string
import tomllib
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from assist import paths
from assist.config import SettingProblem, checked_setting
from assist.errors import PackError
from assist.escalation import EscalationSettings, ordering_problem
from assist.events import PromptShown, Stage, StageChanged, UtteranceScored
from assist.scoring.settings import ScoringSettings, parse_scoring_settings
from assist.scoring.triggers import BUILTIN_TRIGGERS

log = logging.getLogger(__name__)

PLACEHOLDERS = frozenset({"reflection"})
"""Fields a suggested line may contain, filled in by :func:`make_prompt`."""

REFLECTION_MAX_AGE_S = 30.0
"""Words older than this are no longer "what the customer just said"; don't echo them."""

MAX_REFLECTION_WORDS = 14
"""About what an agent can take in with one glance while listening."""

MIN_CONTENT_WORDS = 2
"""A clause with fewer content words ("Biscuit!", "Unbelievable.") is not worth echoing."""

MAX_HEADLINE_CHARS = 60
"""The headline is one line of the compact overlay."""

_TOP_LEVEL = ("pack", "stages", "escalation", "fusion", "lexicon", "triggers")
_SCORING_TABLES = ("fusion", "lexicon", "triggers")
_STAGE_KEYS = ("headline", "lines", "do", "dont")


@dataclass(frozen=True)
class StageText:
    """What the overlay shows for one stage."""

    headline: str
    lines: tuple[str, ...]
    """Suggested lines in order of preference; ``{reflection}`` is the caller's words turned."""
    do: tuple[str, ...] = ()
    dont: tuple[str, ...] = ()


@dataclass(frozen=True)
class PromptPack:
    path: Path
    stages: Mapping[Stage, StageText]
    escalation: EscalationSettings
    scoring: ScoringSettings
    description: str = ""


class _Invalid(Exception):
    """A bad value at a dotted key; the loader turns it into a PackError with file and line."""

    def __init__(self, key: tuple[str, ...], message: str, *, item: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.message = message
        self.item = item
        """The offending element of a list, to point at its own line in a multi-line array."""


# --- loading -----------------------------------------------------------------------------------


def available_packs() -> list[str]:
    folder = paths.prompts_dir()
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def pack_path(name_or_path: str) -> Path:
    """A pack name under prompts/ (without .toml) or a path to a pack file."""
    candidate = Path(name_or_path)
    looks_like_path = candidate.suffix == ".toml" or len(candidate.parts) > 1
    path = candidate if looks_like_path else paths.prompts_dir() / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(available_packs()) or "none"
        raise PackError(f"prompt pack '{name_or_path}' not found (looked for {path}); "
                        f"use one of: {known}, or give the path of a .toml file")
    return path


def load_pack(name_or_path: str) -> PromptPack:
    """Load and check a pack; PackError names the file, key and line of the first problem."""
    path = pack_path(name_or_path)
    return parse_pack(paths.read_toml_text(path, "prompt pack", PackError), path)


def parse_pack(source: str, path: Path) -> PromptPack:
    """A pack from its TOML text (``path`` is for messages and the result)."""
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as e:
        line = re.search(r"line (\d+)", str(e))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise PackError(f"{where}: not valid TOML ({e}); fix the syntax there") from e
    try:
        return _build_pack(raw, path)
    except _Invalid as e:
        where = _where(path, source, e.key, item=e.item)
        raise PackError(f"{where}: '{'.'.join(e.key)}' {e.message}") from e
    except PackError as e:
        raise _with_line(e, raw, source, path) from e


def _build_pack(raw: Mapping[str, Any], path: Path) -> PromptPack:
    _reject_unknown(raw, _TOP_LEVEL, ())
    meta = _table(raw, ("pack",))
    _reject_unknown(meta, ("description",), ("pack",))
    description = _string(meta.get("description", ""), ("pack", "description"), allow_empty=True)
    escalation = _build_dataclass(EscalationSettings, _table(raw, ("escalation",)),
                                  ("escalation",))
    problem = ordering_problem(escalation)
    if problem:
        key, message = problem
        raise _Invalid(("escalation", *key.split(".")), message)
    scoring_raw = {name: raw[name] for name in _SCORING_TABLES if name in raw}
    scoring = parse_scoring_settings(scoring_raw, str(path))
    _check_forced_triggers(escalation, scoring)
    return PromptPack(
        path=path,
        stages=MappingProxyType(_build_stages(_table(raw, ("stages",)))),
        escalation=escalation,
        scoring=scoring,
        description=description,
    )


def _check_forced_triggers(escalation: EscalationSettings, scoring: ScoringSettings) -> None:
    """A misspelt trigger under [escalation.force] would quietly switch its rule off."""
    known = sorted({*BUILTIN_TRIGGERS, *scoring.triggers})
    for name in escalation.force:
        if name not in known:
            raise _Invalid(("escalation", "force", name),
                           f"names no trigger (known: {', '.join(known)}; a new one needs its "
                           "phrases under [triggers])")


def _build_stages(raw: Mapping[str, Any]) -> dict[Stage, StageText]:
    _reject_unknown(raw, tuple(s.value for s in Stage), ("stages",))
    missing = [s.value for s in Stage if s.value not in raw]
    if missing:
        raise _Invalid(("stages", missing[0]),
                       f"is missing; every pack needs a [stages.{missing[0]}] table "
                       f"(missing: {', '.join(missing)})")
    return {stage: _build_stage_text(_table(raw, (stage.value,), parent=("stages",)),
                                     ("stages", stage.value))
            for stage in Stage}


def _build_stage_text(raw: Mapping[str, Any], key: tuple[str, ...]) -> StageText:
    _reject_unknown(raw, _STAGE_KEYS, key)
    if "headline" not in raw or "lines" not in raw:
        absent = "headline" if "headline" not in raw else "lines"
        raise _Invalid((*key, absent), "is missing; each stage needs a headline and lines")
    headline = _string(raw["headline"], (*key, "headline"))
    if len(headline) > MAX_HEADLINE_CHARS:
        raise _Invalid((*key, "headline"),
                       f"is {len(headline)} characters; keep it to {MAX_HEADLINE_CHARS}")
    lines = _strings(raw["lines"], (*key, "lines"))
    if not lines:
        raise _Invalid((*key, "lines"), "needs at least one suggested line")
    for line in lines:
        _check_placeholders(line, (*key, "lines"))
    if all("{reflection}" in line for line in lines):
        raise _Invalid((*key, "lines"), "needs one line without {reflection}, for when the "
                       "customer's words are not available")
    return StageText(headline=headline, lines=lines,
                     do=_strings(raw.get("do", []), (*key, "do")),
                     dont=_strings(raw.get("dont", []), (*key, "dont")))


def _check_placeholders(line: str, key: tuple[str, ...]) -> None:
    try:
        fields = [(name, spec, conversion)
                  for _, name, spec, conversion in string.Formatter().parse(line)
                  if name is not None]
    except ValueError as e:
        raise _Invalid(key, f"has a stray brace in {line!r} ({e}); write {{{{ or }}}} for a "
                       "literal brace", item=line) from e
    for name, spec, conversion in fields:
        # Only the plain form: make_prompt looks for exactly "{reflection}".
        if name not in PLACEHOLDERS or spec or conversion:
            written = "{" + name + (f"!{conversion}" if conversion else "") + \
                (f":{spec}" if spec else "") + "}"
            raise _Invalid(key, f"uses {written} in {line!r}; the only placeholder is "
                           "{reflection}", item=line)


def _build_dataclass(cls: type, raw: Mapping[str, Any], key: tuple[str, ...]) -> Any:
    """A frozen settings dataclass from a table, checking names, types and ranges."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    _reject_unknown(raw, tuple(fields), key)
    values: dict[str, Any] = {}
    for name, value in raw.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build_dataclass(hint, _table(raw, (name,), parent=key),  # type: ignore[arg-type]
                                            (*key, name))
        elif name == "force":
            values[name] = _build_force(_table(raw, (name,), parent=key), (*key, name))
        else:
            values[name] = _check_value(fields[name], hint, value, (*key, name))
    return cls(**values)


def _build_force(raw: Mapping[str, Any], key: tuple[str, ...]) -> Mapping[str, Stage]:
    forced: dict[str, Stage] = {}
    for name, value in raw.items():
        if value not in (Stage.ESCALATE.value, Stage.BOUNDARY.value):
            raise _Invalid((*key, name), f"must be \"escalate\" or \"boundary\", not {value!r}")
        forced[name] = Stage(value)
    return MappingProxyType(forced)


def _check_value(f: dataclasses.Field[Any], hint: Any, value: Any, key: tuple[str, ...]) -> Any:
    try:
        return checked_setting(f, hint, value)
    except SettingProblem as e:
        raise _Invalid(key, str(e)) from None


def _reject_unknown(raw: Mapping[str, Any], known: tuple[str, ...], key: tuple[str, ...]) -> None:
    for name in raw:
        if name not in known:
            raise _Invalid((*key, name), f"is not a known key here (known: {', '.join(known)})")


def _table(raw: Mapping[str, Any], key: tuple[str, ...],
           parent: tuple[str, ...] = ()) -> Mapping[str, Any]:
    value = raw.get(key[-1], {})
    if not isinstance(value, dict):
        raise _Invalid((*parent, *key), f"must be a table [{'.'.join((*parent, *key))}]")
    return value


def _string(value: Any, key: tuple[str, ...], *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise _Invalid(key, f"must be a string, not {value!r}")
    if not allow_empty and not value.strip():
        raise _Invalid(key, "is empty; write some text or remove the key")
    return value.strip()


def _strings(value: Any, key: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Invalid(key, f"must be a list of strings, e.g. [\"...\"], not {value!r}")
    return tuple(_string(item, key) for item in value)


# --- where in the file -----------------------------------------------------------------------


def _where(path: Path, source: str, key: tuple[str, ...], *, item: str = "") -> str:
    line = find_line(source, key)
    if line and item:
        line = _item_line(source, line, item) or line
    return f"{path}:{line}" if line else str(path)


def _item_line(source: str, key_line: int, item: str) -> int | None:
    """The line, at or after ``key_line``, where a list element's text appears."""
    lines = source.splitlines()
    for number in range(key_line, len(lines) + 1):
        if item in lines[number - 1]:
            return number
    return None


def _with_line(error: PackError, raw: Mapping[str, Any], source: str, path: Path) -> PackError:
    """Add the line to a scoring error, which names its dotted key but knows no lines."""
    message = str(error)
    mentioned = [key for key in _dotted_keys(raw, _SCORING_TABLES)
                 if f"'{'.'.join(key)}'" in message or f"'{key[-1]}'" in message]
    if not mentioned:
        return error
    key = max(mentioned, key=len)
    prefix = f"{path}: "
    rest = message[len(prefix):] if message.startswith(prefix) else message
    return PackError(f"{_where(path, source, key)}: {rest}")


def _dotted_keys(raw: Mapping[str, Any], tables: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for table in tables:
        value = raw.get(table)
        yield (table,)
        if isinstance(value, dict):
            for name in value:
                yield (table, name)
                if isinstance(value[name], dict):
                    yield from ((table, name, sub) for sub in value[name])


_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_KEYS = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER = re.compile(rf"^\s*\[\[?\s*({_KEYS})\s*\]\]?")
_ASSIGNMENT = re.compile(rf"^\s*({_KEYS})\s*=")


def find_line(source: str, key: tuple[str, ...]) -> int | None:
    """The 1-based line that defines ``key`` (or, failing that, its nearest parent table).

    tomllib reports no positions for keys, so this re-reads the text: it follows table headers
    and matches ``a.b = ...`` lines against the dotted path, ignoring the insides of
    multi-line strings and arrays.
    """
    found: dict[tuple[str, ...], int] = {}
    for defined, number in _defined_keys(source):
        for depth in range(1, len(defined) + 1):
            found.setdefault(defined[:depth], number)
    for depth in range(len(key), 0, -1):
        line = found.get(key[:depth])
        if line is not None:
            return line
    return None


def _defined_keys(source: str) -> Iterator[tuple[tuple[str, ...], int]]:
    table: tuple[str, ...] = ()
    nesting = 0
    in_string: str | None = None
    for number, text in enumerate(source.splitlines(), start=1):
        if in_string or nesting > 0:
            in_string, nesting = _skip_continuation(text, in_string, nesting)
            continue
        header = _HEADER.match(text)
        if header:
            table = _key_path(header.group(1))
            yield table, number
            continue
        assignment = _ASSIGNMENT.match(text)
        if assignment:
            yield (*table, *_key_path(assignment.group(1))), number
            in_string, nesting = _skip_continuation(text[assignment.end():], None, 0)


def _key_path(text: str) -> tuple[str, ...]:
    """The parts of a TOML key, decoded by tomllib itself (quotes, escapes, dots)."""
    try:
        table: Any = tomllib.loads(f"{text} = 0")
    except tomllib.TOMLDecodeError:
        return (text.strip(),)
    parts: list[str] = []
    while isinstance(table, dict) and len(table) == 1:
        name, table = next(iter(table.items()))
        parts.append(name)
    return tuple(parts)


def _skip_continuation(text: str, in_string: str | None, nesting: int) -> tuple[str | None, int]:
    """Track multi-line strings and arrays so their contents are not read as keys."""
    index = 0
    while index < len(text):
        if in_string:
            end = text.find(in_string, index)
            if end < 0:
                return in_string, nesting
            index, in_string = end + 3, None
            continue
        char = text[index]
        if text.startswith('"""', index) or text.startswith("'''", index):
            in_string, index = text[index:index + 3], index + 3
        elif char in "\"'":
            end = text.find(char, index + 1)
            while end > 0 and char == '"' and text[end - 1] == "\\":
                end = text.find(char, end + 1)
            index = len(text) if end < 0 else end + 1
        elif char == "#":
            break
        else:
            nesting += (char in "[{") - (char in "]}")
            index += 1
    return in_string, nesting


# --- wording -------------------------------------------------------------------------------------


def make_prompt(pack: PromptPack, change: StageChanged, last: UtteranceScored | None) -> PromptShown:
    """The prompt for a new stage, echoing the customer's last words where a line asks for it."""
    text = pack.stages[change.stage]
    reflection = ""
    if last is not None and change.t - last.end <= REFLECTION_MAX_AGE_S:
        reflection = reflect_back(last.text)
    return PromptShown(t=change.t, stage=change.stage, headline=text.headline,
                       line=choose_line(text.lines, reflection), do=text.do, dont=text.dont)


def choose_line(lines: tuple[str, ...], reflection: str) -> str:
    """The first line whose placeholders can be filled (a pack always has one that needs none)."""
    for line in lines:
        if "{reflection}" not in line:
            return line.format()
        if reflection:
            return line.format(reflection=reflection)
    raise PackError("a stage has no line without {reflection}; load packs with load_pack")


_FILLERS = frozenset({
    "um", "umm", "uh", "uhh", "uhm", "erm", "er", "ah", "hmm", "mm", "look", "listen", "well",
    "so", "okay", "ok", "right", "yeah", "yes", "no", "oh", "honestly", "basically",
    "actually", "and", "but", "anyway", "see", "like",
})
"""Words that open a clause without saying anything; dropped from its start."""

_ANYWHERE_FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "erm", "er", "hmm"})

_UNINFORMATIVE = _FILLERS | frozenset({
    "i", "me", "my", "you", "your", "we", "us", "our", "it", "its", "it's", "this", "that",
    "the", "a", "an", "is", "are", "was", "were", "be", "to", "of", "and", "or", "in", "on",
    "for", "with", "just", "i'm", "you're", "what", "do", "know", "mean", "please", "thanks",
    "thank", "hello", "hi", "sorry",
})
"""Words that carry no content; a clause is worth echoing for the other words it has."""

_TURN = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself",
    "i'm": "you're", "i've": "you've", "i'd": "you'd", "i'll": "you'll",
    "we": "you", "us": "you", "our": "your", "ours": "yours", "ourselves": "yourselves",
    "we're": "you're", "we've": "you've", "we'd": "you'd", "we'll": "you'll",
    "your": "my", "yours": "mine", "yourself": "myself",
    "you're": "I'm", "you've": "I've", "you'd": "I'd", "you'll": "I'll",
}
"""First person becomes second and back; plain "you" is handled by :func:`_turn_you`."""

_AFTER_I = {"am": "are", "was": "were", "wasn't": "weren't"}
_INVERTED = {"are": "am", "were": "was", "aren't": "aren't", "weren't": "wasn't", "do": "do",
             "did": "did", "don't": "don't", "didn't": "didn't", "can": "can", "can't": "can't",
             "could": "could", "will": "will", "won't": "won't", "would": "would",
             "have": "have", "haven't": "haven't", "should": "should"}
"""Questions put the verb first ("are you listening"); it must agree with "I" instead."""
_AFTER_YOU = {"are": "am", "were": "was", "weren't": "wasn't", "aren't": "am not"}

_SUBJECT_CONTEXT = frozenset({"and", "but", "that", "because", "when", "if", "so", "then",
                              "said", "think", "thought", "know", "knew", "unless", "until",
                              "since", "as", "where", "why", "how", "what", "whether"})
"""After these words "you" starts a clause, so it is the subject ("I"), not the object."""

_SUBJECT_NEXT = frozenset({
    "are", "were", "aren't", "weren't", "have", "had", "haven't", "hadn't", "do", "did",
    "don't", "didn't", "does", "can", "can't", "could", "couldn't", "will", "won't", "would",
    "wouldn't", "should", "shouldn't", "must", "might", "need", "never", "always", "just",
    "said", "promised", "told", "sent", "charged", "keep", "kept", "lost", "cut", "took",
    "people", "guys", "lot", "say", "want", "know", "think", "also", "still",
})
"""Before these words "you" is doing something, so it is the subject ("I would call")."""

_YOU_GROUPS = frozenset({"people", "guys", "lot", "lads", "lot's"})
""""you people never listen" is the company: the agent says "we never listen"."""

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_CLAUSE_BREAK = re.compile(r"[.!?;:,]+|\s+-+\s+|\bbut\b", re.IGNORECASE)


def reflect_back(text: str) -> str:
    """The customer's most informative clause, pronouns turned, short enough to glance at.

    ``reflect_back("my refund never came") == "your refund never came"``; "" when nothing in
    the text is worth echoing.
    """
    clauses = [_strip_fillers(c) for c in _CLAUSE_BREAK.split(text)]
    scored = [(len(_content_words(c)), len(c), c) for c in clauses if c]
    scored = [item for item in scored if item[0] >= MIN_CONTENT_WORDS]
    if not scored:
        return ""
    best = max(scored, key=lambda item: (item[0], item[1]))[2]
    return _shorten(_sentence_case(_turn_pronouns(best)))


def _strip_fillers(clause: str) -> str:
    words = [w for w in clause.split() if _bare(w) not in _ANYWHERE_FILLERS]
    while words and _bare(words[0]) in _FILLERS:
        words.pop(0)
    return " ".join(words).strip(" \"'")


def _bare(word: str) -> str:
    return word.strip(".,!?;:\"'()").lower()


def _content_words(clause: str) -> list[str]:
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(clause))
            if w not in _UNINFORMATIVE]


def _turn_pronouns(clause: str) -> str:
    matches = list(_WORD.finditer(clause))
    turned = _turn_words([m.group(0) for m in matches])
    pieces: list[str] = []
    position = 0
    for match, word in zip(matches, turned, strict=True):
        pieces += [clause[position:match.start()], word]
        position = match.end()
    pieces.append(clause[position:])
    return re.sub(r"\s{2,}", " ", "".join(pieces))  # a dropped word leaves two spaces


def _turn_words(words: list[str]) -> list[str]:
    """The words with first and second person swapped, verbs agreeing where they must."""
    lower = [w.lower() for w in words]
    out = list(words)
    for i, word in enumerate(lower):
        previous = lower[i - 1] if i else ""
        following = lower[i + 1] if i + 1 < len(lower) else ""
        if word == "you" and following in _YOU_GROUPS:
            out[i], out[i + 1] = "we", ""
        elif word == "you" and previous in _INVERTED:
            out[i - 1], out[i] = _INVERTED[previous], "I"
        elif word == "you":
            out[i] = _turn_you(previous, following)
        elif word in _TURN:
            out[i] = _TURN[word]
        elif previous in ("i", "we") and word in _AFTER_I:
            out[i] = _AFTER_I[word]
        elif previous == "you" and out[i - 1] == "I" and word in _AFTER_YOU:
            out[i] = _AFTER_YOU[word]
    return out


def _turn_you(previous: str, following: str) -> str:
    """ "you" as the subject becomes "I", as an object "me" ("you told me" / "I told you")."""
    if not previous or previous in _SUBJECT_CONTEXT or following in _SUBJECT_NEXT:
        return "I"
    return "me"


def _sentence_case(clause: str) -> str:
    """Lower the first letter: the reflection is dropped into the middle of a line."""
    first = clause.split(" ", 1)[0]
    if first == "I" or first.startswith("I'") or (first[1:] and not first[1:].islower()):
        return clause
    return clause[0].lower() + clause[1:]


def _shorten(clause: str) -> str:
    words = clause.split()
    if len(words) <= MAX_REFLECTION_WORDS:
        return clause.rstrip(" .,;:!?")
    return " ".join(words[:MAX_REFLECTION_WORDS]).rstrip(" .,;:!?") + "…"


# --- hot reload ------------------------------------------------------------------------------


class PackWatcher:
    """Reloads a pack when its file changes; an invalid edit keeps the previous pack.

    ``poll(now)`` is cheap (one ``stat`` at most every ``interval_s``), so the coordinator or a
    Tk timer can call it often. After a failed reload ``error`` holds the message to show
    ("kept the previous pack: ..."); it clears on the next good load.
    """

    def __init__(self, pack: PromptPack | Path | str, *, interval_s: float = 1.0) -> None:
        self.pack = pack if isinstance(pack, PromptPack) else load_pack(str(pack))
        self.path = self.pack.path
        self.error: str | None = None
        self.interval_s = interval_s
        self._stamp = _stamp(self.path)
        self._next_poll = float("-inf")

    def poll(self, now: float) -> PromptPack | None:
        """The new pack if the file changed into a valid one since the last poll, else None."""
        if now < self._next_poll:
            return None
        self._next_poll = now + self.interval_s
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        try:
            pack = load_pack(str(self.path))
        except PackError as e:
            self.error = str(e)
            log.warning("kept the previous prompt pack: %s", e)
            return None
        self.pack = pack
        self.error = None
        log.info("reloaded prompt pack %s", self.path)
        return pack


def _stamp(path: Path) -> tuple[int, int] | None:
    """What changes when an editor saves: modification time and size."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
