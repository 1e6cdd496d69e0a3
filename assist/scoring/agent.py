"""The agent's own words saying they are bringing in a supervisor: the call is escalated.

The playbook's escalate step is the agent telling the customer they are bringing in a
supervisor, and handing everything over. Once the agent has said so ("I'm going to bring in
my team leader"), the escalate prompt is what they need on screen, however the customer's
last line sounded. Only recordings and live calls with the agent's channel have these words;
a customer-only call never hears one.

Transferring to another department ("I'll put you through to billing") is not escalation,
and nor is a specialist doing the fix ("our engineer will look at it"): the phrase must name
someone above the agent. A negator just before it cancels it ("I can't get my manager right
now").
"""

from __future__ import annotations

import re

from assist.scoring.lexicon import compile_phrase, is_negated

_SENIOR = (r"(?:manager|supervisor|team ?lead(?:er)?|line manager|someone (?:more )?senior|"
           r"senior (?:colleague|specialist|adviser|advisor|manager)|"
           # "Supervisor" as a small recogniser hears it from a synthetic or phone voice.
           r"super ?(?:vi[sz]|min|mim|mis|miz)\w*)")
_WHOSE = r"(?:(?:my|our|the|a) )?(?:\w+ ){0,2}"
"""Up to two words between: "my shift supervisor", "our appeals supervisor", "the duty manager"."""

HANDOVER: tuple[re.Pattern[str], ...] = tuple(compile_phrase(p) for p in (
    rf"(?:bring|bringing|get|getting|ring|ringing) (?:in )?{_WHOSE}{_SENIOR}",
    rf"(?:pass|passing|refer|referring|escalate|escalating|hand|handing|transfer|transferring|"
    rf"put|putting) (?:this|it|you|your (?:case|complaint|call|claim)) (?:over |on |straight |"
    rf"through )?to {_WHOSE}{_SENIOR}",
    r"(?:i'?m|i am|i'?ll|i will|let me) escalat(?:e|ing) (?:this|it|your \w+)",
    rf"(?:my|our|the) (?:\w+ )?{_SENIOR},? (?:\w+ )?(?:will|is going to|can) (?:be with you|join|"
    rf"call you|ring you|come on)",
))


def find_handover(text: str) -> str:
    """The words in which the agent brings in someone senior (the earliest such phrase that
    no negator cancels), or "" if there are none."""
    found = [match for pattern in HANDOVER for match in pattern.finditer(text)
             if not is_negated(text, match.start())]
    return min(found, key=lambda match: match.start()).group(0) if found else ""
