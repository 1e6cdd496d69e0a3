"""Redaction of personal data from transcripts, before anything reaches the store.

Removed, and replaced by a tag saying what was there:

- payment card numbers (13 to 19 digits passing the Luhn check) -> ``[card number]``
- US social security numbers -> ``[ssn]``
- e-mail addresses -> ``[email]``
- phone numbers -> ``[phone]``

Speech-to-text writes numbers either as digits ("4111 1111 ...", "555-123-4567") or as words
("four one one one", "double four", "oh" for zero, "eight hundred"), so both are read into one
digit string per run of number-ish tokens, and the run is judged by its length and shape.
Ordinary numbers stay: prices, quantities, times, thousands ("1,250,000"), and anything said
right after a word like "order" or "invoice number" unless it is a Luhn-valid card or a 3-2-4 SSN.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

CARD = "[card number]"
SSN = "[ssn]"
EMAIL = "[email]"
PHONE = "[phone]"

_UNITS = {"zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2",
          "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
          "nine": "9"}
_TEENS = {"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
          "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19"}
_TENS = {"twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6",
         "seventy": "7", "eighty": "8", "ninety": "9"}
_REPEATS = {"double": 2, "triple": 3, "treble": 3}
_JOINERS = frozenset({"dash", "hyphen"})
# "one" is also a pronoun and "oh"/"o" an interjection or a letter: at the edge of a run
# they may not belong to the number.
_AMBIGUOUS = frozenset({"one", "oh", "o"})
_KEEP_CONTEXT = frozenset({"order", "invoice", "ticket", "reference", "ref", "case", "tracking",
                           "confirmation", "item", "model", "serial", "sku", "part", "receipt",
                           "booking", "reservation", "room", "flight", "version"})
_NUMBER_WORDS = frozenset({"number", "no", "num", "id", "code"})
_CURRENCY = ("$", "£", "€")

_TOKEN = re.compile(r"\d+|[A-Za-z]+(?:-[A-Za-z]+)*")
_GAP = re.compile(r"(?:[\s,.()+\-]|\bdash\b|\bhyphen\b)*", re.IGNORECASE)
_MAX_GAP = 12
_TLD = r"(?:com|net|org|edu|gov|mil|io|co|uk|us|ca|de|fr|es|it|nl|au|in|info|biz|me|ai|app)"
_WRITTEN_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
_SPOKEN_EMAIL = re.compile(
    r"\b\w+(?:(?:\s+(?:dot|underscore|dash|hyphen)\s+|[._-])\w+)*"
    r"(?:\s*@\s*|\s+at(?:\s+sign)?\s+)"
    r"\w+(?:(?:\s+dot\s+|\.)\w+)*(?:\s+dot\s+|\.)" + _TLD + r"\b",
    re.IGNORECASE)


@dataclass(frozen=True)
class _Item:
    """One number-ish token (or a spoken pair like "double four") in the text."""

    start: int
    end: int
    digits: str = ""
    word: str = ""
    written: bool = False  # digits as digits, not as words

    @property
    def joiner(self) -> bool:
        return self.word in _JOINERS

    @property
    def ambiguous(self) -> bool:
        return self.word in _AMBIGUOUS


def redact(text: str) -> str:
    """``text`` with card numbers, SSNs, e-mail addresses and phone numbers replaced by tags."""
    if not text:
        return text
    text = _WRITTEN_EMAIL.sub(EMAIL, text)
    text = _SPOKEN_EMAIL.sub(EMAIL, text)
    return _redact_numbers(text)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _redact_numbers(text: str) -> str:
    pieces: list[str] = []
    position = 0
    for run in _runs(_items(text), text):
        found = _judge_with_trimming(run, text)
        if found is None:
            continue
        tag, start, end = found
        start = _include_opening(text, start)
        pieces.append(text[position:start])
        pieces.append(tag)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _items(text: str) -> list[_Item | None]:
    """Number-ish tokens in order; ``None`` marks a word that breaks a run."""
    tokens = list(_TOKEN.finditer(text))
    out: list[_Item | None] = []
    i = 0
    while i < len(tokens):
        item, used = _read_item(tokens, i, text)
        out.append(item)
        i += used
    return out


def _read_item(tokens: list[re.Match[str]], i: int, text: str) -> tuple[_Item | None, int]:
    token = tokens[i]
    raw = token.group()
    if raw.isdigit():
        return _Item(token.start(), token.end(), raw, written=True), 1
    word = raw.lower()
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if word in _REPEATS:
        return _read_repeat(token, nxt, _REPEATS[word], text)
    if word in _TENS:
        return _read_tens(token, nxt, word, text)
    if "-" in word:
        return _read_hyphenated(token, word)
    if word in _UNITS:
        return _read_unit(token, nxt, word, text)
    if word in _TEENS:
        return _Item(token.start(), token.end(), _TEENS[word], word=word), 1
    if word in _JOINERS:
        return _Item(token.start(), token.end(), word=word), 1
    return None, 1


def _spaced(a: re.Match[str], b: re.Match[str] | None, text: str) -> bool:
    return b is not None and text[a.end():b.start()].strip() == ""


def _unit_of(token: re.Match[str] | None) -> str | None:
    if token is None:
        return None
    raw = token.group().lower()
    if raw.isdigit() and len(raw) == 1:
        return raw
    return _UNITS.get(raw)


def _read_repeat(token: re.Match[str], nxt: re.Match[str] | None, times: int,
                 text: str) -> tuple[_Item | None, int]:
    unit = _unit_of(nxt) if _spaced(token, nxt, text) else None
    if unit is None or nxt is None:
        return None, 1  # "double check" is not a number
    return _Item(token.start(), nxt.end(), unit * times, word="double"), 2


def _read_tens(token: re.Match[str], nxt: re.Match[str] | None, word: str,
               text: str) -> tuple[_Item, int]:
    unit = _unit_of(nxt) if _spaced(token, nxt, text) else None
    if unit is not None and unit != "0" and nxt is not None and not nxt.group().isdigit():
        return _Item(token.start(), nxt.end(), _TENS[word] + unit, word=word), 2
    return _Item(token.start(), token.end(), _TENS[word] + "0", word=word), 1


def _read_hyphenated(token: re.Match[str], word: str) -> tuple[_Item | None, int]:
    first, _, second = word.partition("-")
    if first in _TENS and second in _UNITS and _UNITS[second] != "0":
        return _Item(token.start(), token.end(), _TENS[first] + _UNITS[second], word=word), 1
    return None, 1


def _read_unit(token: re.Match[str], nxt: re.Match[str] | None, word: str,
               text: str) -> tuple[_Item, int]:
    digit = _UNITS[word]
    if nxt is not None and nxt.group().lower() == "hundred" and _spaced(token, nxt, text):
        return _Item(token.start(), nxt.end(), digit + "00", word=word + " hundred"), 2
    return _Item(token.start(), token.end(), digit, word=word), 1


def _runs(items: list[_Item | None], text: str) -> Iterator[list[_Item]]:
    """Maximal runs of number-ish items joined only by spaces and light punctuation."""
    run: list[_Item] = []
    for item in items:
        if item is not None and (not run or _joinable(run[-1], item, text)):
            run.append(item)
            continue
        yield from _trimmed_of_joiners(run)
        run = [item] if item is not None else []
    yield from _trimmed_of_joiners(run)


def _joinable(left: _Item, right: _Item, text: str) -> bool:
    gap = text[left.end:right.start]
    return len(gap) <= _MAX_GAP and _GAP.fullmatch(gap) is not None


def _trimmed_of_joiners(run: list[_Item]) -> Iterator[list[_Item]]:
    while run and run[0].joiner:
        run = run[1:]
    while run and run[-1].joiner:
        run = run[:-1]
    if run:
        yield run


def _judge_with_trimming(run: list[_Item], text: str) -> tuple[str, int, int] | None:
    """The tag and span for a run, trying again without ambiguous words at its edges."""
    for candidate in _edge_trims(run):
        tag = _judge(candidate, text)
        if tag is not None:
            return tag, candidate[0].start, candidate[-1].end
    return None


def _edge_trims(run: list[_Item]) -> Iterator[list[_Item]]:
    yield run
    lead = 0
    while lead < len(run) and run[lead].ambiguous:
        lead += 1
    tail = len(run)
    while tail > lead and run[tail - 1].ambiguous:
        tail -= 1
    for a, b in ((lead, len(run)), (0, tail), (lead, tail)):
        if (a, b) != (0, len(run)) and a < b:
            yield run[a:b]


def _judge(run: list[_Item], text: str) -> str | None:
    digits = "".join(item.digits for item in run)
    groups = _groups(run, text)
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return CARD
    if groups == [3, 2, 4]:
        return SSN
    if _is_thousands(run, text) or _is_money(run, text) or _after_keep_word(run, text):
        return None
    if len(digits) == 9:
        return SSN
    if _looks_like_phone(digits, _after_plus(run, text)):
        return PHONE
    return None


def _looks_like_phone(digits: str, international: bool) -> bool:
    if international:
        return 8 <= len(digits) <= 15
    return len(digits) in (7, 10) or (len(digits) == 11 and digits[0] in "01")


def _groups(run: list[_Item], text: str) -> list[int]:
    """Digit counts of the groups the speaker or writer marked (dashes, commas, digit blocks)."""
    groups: list[int] = []
    previous: _Item | None = None
    for item in run:
        if item.joiner:
            previous = None
            groups.append(0)
            continue
        gap = text[previous.end:item.start] if previous else ""
        if previous is None or previous.written or item.written or gap.strip():
            groups.append(0)
        groups[-1] += len(item.digits)
        previous = item
    return [g for g in groups if g]


def _is_thousands(run: list[_Item], text: str) -> bool:
    """1,250,000 is an amount, not a phone number."""
    if len(run) < 2 or not all(item.written for item in run):
        return False
    gaps = [text[a.end:b.start] for a, b in itertools.pairwise(run)]
    return (all(g == "," for g in gaps) and len(run[0].digits) <= 3
            and all(len(item.digits) == 3 for item in run[1:]))


def _is_money(run: list[_Item], text: str) -> bool:
    return text[:run[0].start].rstrip().endswith(_CURRENCY)


def _after_plus(run: list[_Item], text: str) -> bool:
    return text[:run[0].start].rstrip().endswith("+")


def _after_keep_word(run: list[_Item], text: str) -> bool:
    """Right after "order", "order number", "ticket no." and the like."""
    before = [w.lower() for w in re.findall(r"[A-Za-z]+", text[:run[0].start])[-2:]]
    if before and before[-1] in _KEEP_CONTEXT:
        return True
    return len(before) == 2 and before[-1] in _NUMBER_WORDS and before[0] in _KEEP_CONTEXT


def _include_opening(text: str, start: int) -> int:
    """Take a "+" or "(" right before the number along with it."""
    while start > 0 and text[start - 1] in "+(":
        start -= 1
    return start
