"""Redaction: card numbers, SSNs, e-mails and phone numbers never reach the store."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from assist.config import StoreConfig
from assist.events import CallStarted, FinalText, Speaker
from assist.store import StoreSink, open_engine, queries, redact, session_factory
from assist.store.redaction import CARD, EMAIL, PHONE, SSN, luhn_valid

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@pytest.mark.parametrize(("said", "expected"), [
    ("my card is 4111 1111 1111 1111 thanks", "my card is [card number] thanks"),
    ("it's 4111-1111-1111-1111.", "it's [card number]."),
    ("amex 3782 822463 10005", "amex [card number]"),
    ("four one one one, one one one one, one one one one, one one one one",
     "[card number]"),
    ("five five double oh, four three two one, one two three four, five six seven eight",
     None),  # made Luhn-valid below
    ("ssn 123-45-6789 ok", "ssn [ssn] ok"),
    ("my social is one two three four five six seven eight nine", "my social is [ssn]"),
    ("one two three dash four five dash six seven eight nine", "[ssn]"),
    ("write to john.smith@example.com please", "write to [email] please"),
    ("it's john dot smith at gmail dot com", "it's [email]"),
    ("J.Smith at Yahoo.co.uk", "[email]"),
    ("call (555) 123-4567", "call [phone]"),
    ("call +44 20 7946 0958 tomorrow", "call [phone] tomorrow"),
    ("five five five, one two three, four five six seven", "[phone]"),
    ("one eight hundred five five five one two one two", "[phone]"),
    ("it's 555-1234", "it's [phone]"),
    ("about my order, call me on 555 123 4567", "about my order, call me on [phone]"),
])
def test_each_form_is_redacted(said: str, expected: str | None) -> None:
    if expected is None:
        said, expected = _luhn_spoken_card(), "[card number]"
    assert redact(said) == expected


def _luhn_spoken_card() -> str:
    digits = "5500432112345678"[:15]
    digits += next(d for d in "0123456789" if luhn_valid(digits + d))
    return " ".join(WORDS[int(d)] for d in digits)


@pytest.mark.parametrize("said", [
    "it cost $49.99 and I paid $1,250,000 once",
    "I ordered 3 boxes at 10:30 on 12/10/2024",
    "order number 4821973 and invoice 123456789",
    "order 4111111111111112 is not a valid card",
    "the 2 of us waited 45 minutes in 2023",
    "twenty five dollars for 100 units",
    "Oh, one more thing, I need one of those",
    "double check the 15th of May",
])
def test_ordinary_numbers_are_kept(said: str) -> None:
    assert redact(said) == said


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


# --- the generated set --------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    text: str
    secret: str      # the form of the secret inserted in the text
    digits: str      # its digits ("" for an e-mail)
    tag: str
    kept: str        # an ordinary fact in the same sentence that must survive


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice((("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16),
                                 ("4", 13), ("36", 14), ("62", 19)))
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + next(d for d in "0123456789" if luhn_valid(body + d))


def _ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"


def _phone(rng: random.Random) -> str:
    return f"{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"


def _spoken(digits: str, rng: random.Random) -> str:
    """Digits as a caller says them: words, "oh" for zero, "double"/"triple" for repeats."""
    out: list[str] = []
    i = 0
    while i < len(digits):
        run = 1
        while i + run < len(digits) and digits[i + run] == digits[i] and run < 3:
            run += 1
        word = "oh" if digits[i] == "0" and rng.random() < 0.5 else WORDS[int(digits[i])]
        if run >= 2 and rng.random() < 0.7:
            out.append(f"{'double' if run == 2 else 'triple'} {word}")
        else:
            out.extend([word] * run)
        i += run
    return rng.choice((" ", ", ")).join(out) if rng.random() < 0.3 else " ".join(out)


def _grouped(digits: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, i = [], 0
    for size in sizes:
        parts.append(digits[i:i + size])
        i += size
    return sep.join(parts)


def _card_form(digits: str, rng: random.Random) -> str:
    form = rng.randrange(4)
    if form == 0:
        return digits
    if form == 1 or form == 2:
        sizes = (4, 6, 5) if len(digits) == 15 else tuple(
            min(4, len(digits) - i) for i in range(0, len(digits), 4))
        return _grouped(digits, sizes, " " if form == 1 else "-")
    return _spoken(digits, rng)


def _ssn_form(digits: str, rng: random.Random) -> str:
    form = rng.randrange(4)
    if form == 0:
        return _grouped(digits, (3, 2, 4), "-")
    if form == 1:
        return _grouped(digits, (3, 2, 4), " ")
    if form == 2:
        return " dash ".join(_spoken(part, rng) for part in (digits[:3], digits[3:5], digits[5:]))
    return _spoken(digits, rng)


def _phone_form(digits: str, rng: random.Random) -> str:
    form = rng.randrange(7)
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return (f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", digits,
            f"{b}-{c}", ", ".join(_spoken(p, rng) for p in (a, b, c)))[form]


def _email(rng: random.Random) -> str:
    first = rng.choice(("john", "maria", "li", "sam", "olu", "anna"))
    last = rng.choice(("smith", "garcia", "wei", "okafor", "jones", "berg"))
    domain = rng.choice(("gmail", "yahoo", "example", "outlook"))
    tld = rng.choice(("com", "net", "org", "co dot uk"))
    form = rng.randrange(4)
    if form == 0:
        return f"{first}.{last}{rng.randint(1, 99)}@{domain}.{tld.replace(' dot ', '.')}"
    if form == 1:
        return f"{first} dot {last} at {domain} dot {tld}"
    if form == 2:
        return f"{first}_{last} at {domain}.{tld.replace(' dot ', '.')}"
    return f"{first}{last} at {domain} dot {tld}"


ORDINARY = ("$49.99", "3 boxes", "10:30", "order number 58213", "$1,299.00", "12 items",
            "2 weeks", "ticket 4471923")
SENTENCES = ("my {what} is {secret} and I paid {kept} already",
             "please note {secret}, that was at {kept}",
             "ok so {secret} and also {kept}",
             "{secret} is the one they have, {kept} was the rest")


def generate(count: int, seed: int = 1234) -> list[Sample]:
    rng = random.Random(seed)
    kinds = (("card number", CARD, _card, _card_form), ("ssn", SSN, _ssn, _ssn_form),
             ("phone number", PHONE, _phone, _phone_form))
    samples = []
    for i in range(count):
        kept = rng.choice(ORDINARY)
        template = rng.choice(SENTENCES)
        if i % 4 == 3:
            secret = _email(rng)
            samples.append(Sample(template.format(what="email", secret=secret, kept=kept),
                                  secret, "", EMAIL, kept))
            continue
        what, tag, make, form = kinds[i % 4]
        digits = make(rng)
        secret = form(digits, rng)
        samples.append(Sample(template.format(what=what, secret=secret, kept=kept), secret,
                              digits, tag, kept))
    return samples


def _digits_of(text: str) -> str:
    """Every digit in ``text``, spoken or written, in order."""
    spoken = {w: str(i) for i, w in enumerate(WORDS)} | {"oh": "0"}
    out = []
    for token in re.findall(r"\d+|[a-z]+", text.lower()):
        out.append(token if token.isdigit() else spoken.get(token, " "))
    return "".join(out)


def test_generated_set_is_never_stored_unredacted(tmp_path: Path) -> None:
    samples = generate(600)
    assert sum(s.tag == CARD for s in samples) >= 100
    url = f"sqlite:///{tmp_path / 'calls.sqlite3'}"
    sink = StoreSink(url, StoreConfig(agent="gen"))
    sink(CallStarted(t=0, call_id="generated"))
    for uid, sample in enumerate(samples, start=1):
        sink(FinalText(t=uid, speaker=Speaker.CUSTOMER, utterance_id=uid, start=uid - 1,
                       end=uid, text=sample.text))
    sink.close()

    engine = open_engine(url)
    with session_factory(engine)() as session:
        call = queries.get_call(session, "generated")
        assert call is not None
        stored = [u.text for u in call.utterances]
    engine.dispose()

    assert len(stored) == len(samples)
    leaks = []
    for sample, text in zip(samples, stored, strict=True):
        leaked = sample.secret in text or (sample.digits and sample.digits[-7:] in _digits_of(text))
        if leaked or sample.tag not in text or sample.kept not in text:
            leaks.append((sample.text, text))
    assert not leaks, f"{len(leaks)} of {len(samples)} wrong, e.g. {leaks[:3]}"
