"""What the agent's own words say they have done: brought in a supervisor, reflected back the
problem, acknowledged the customer's feelings, offered a fix. The stage machine uses it
(``StageMachine.on_agent``) to keep the prompt on the playbook's next step; only recordings
and live calls with the agent's channel have these words, and a customer-only call never
hears any.

**Handover.** The playbook's escalate step is the agent telling the customer they are
bringing in a supervisor, and handing everything over. Once the agent has said so ("I'm going
to bring in my team leader"), the escalate prompt is what they need on screen, however the
customer's last line sounded.

Transferring to another department ("I'll put you through to billing") is not escalation,
and nor is a specialist doing the fix ("our engineer will look at it"): the phrase must name
someone above the agent. A negator just before it cancels it ("I can't get my manager right
now").

**Reflection.** "So you cancelled in March and we've charged you again": the playbook's reflect
back step, done, in the shape of its own example ("So the parcel that should have come on
Monday still hasn't arrived."): a sentence that opens with "So" and says the customer's
situation back. Its next row, empathize, is for when the frustration persists. Reading back a
request ("so you'd like to move to the eleventh") or an answer ("so the earliest slot is
Thursday") is not reflecting a problem, and neither is "so" inside a sentence.

**Empathy.** "I understand how frustrating that is", "I do apologise for the wasted day": the
playbook's empathize step, done. Its next row, offer a solution, is for when the feelings
have been acknowledged and anger is still present. A bare "sorry" is not enough: agents say
it to calm callers all day ("sorry, could you spell that?").

**Offer.** "What I can do is book you in for Thursday", "I can offer a fifty pound credit":
the agent has made the effort the playbook's escalate row speaks of ("still dissatisfied after
real effort"). The offer itself changes nothing; the customer's reply decides (see
:meth:`assist.escalation.StageMachine.on_agent`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assist.scoring.lexicon import compile_phrase, is_negated

_SENIOR = (r"(?:manager|supervisor|team ?lead(?:er)?|line manager|someone (?:more )?senior|"
           r"senior (?:colleague|specialist|adviser|advisor|manager)|"
           # "Supervisor" as a small recogniser hears it from a synthetic or phone voice.
           r"super ?(?:vi[sz]|min|mim|mis|miz|mam)\w*)")
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
    """The words in which the agent brings in someone senior, or "" if there are none."""
    return _earliest(HANDOVER, text)


_FIX = (r"(?:offer|give|send|book|arrange|refund|credit|waive|get|move|rebook|reschedule|"
        r"replace|reimburse|cover|knock|upgrade|courier|cancel|switch)")
"""What an agent does to put a problem right (not "check", "see" or "look", which are not
yet an offer)."""

OFFER: tuple[re.Pattern[str], ...] = tuple(compile_phrase(p) for p in (
    rf"(?:i|we) (?:can|could) (?:also |still |definitely )?{_FIX}",
    rf"(?:i'?ll|i will|we'?ll|we will|let me|i'?m able to|we'?re able to) (?:\w+ )?{_FIX}",
    r"what (?:i|we) can do is",
    r"the (?:best|most) (?:i|we) can (?:do|offer|give|authori[sz]e)",
    r"how about", r"would (?:you like|it help|that help|you accept|you be happy with)",
    r"(?:the )?(?:earliest|next available|first available) (?:slot|appointment|date|visit|"
    r"engineer|technician|flight|sailing|delivery)",
))


def find_offer(text: str) -> str:
    """The words in which the agent offers a fix, or "" if there are none."""
    return _earliest(OFFER, text)


EMPATHY: tuple[re.Pattern[str], ...] = tuple(compile_phrase(p) for p in (
    r"i (?:completely |totally |really |fully |can |do )?understand (?:how|why|your|what)",
    r"frustrat\w*|upsetting|stressful|infuriating|maddening|worrying|disappointing|exhausting",
    r"i can (?:hear|imagine|see) (?:how|why|that|you'?re|you are)",
    r"(?:that|this|it) must (?:be|have been|feel)",
    r"i(?:'m| am) (?:so |really |very |truly |genuinely |terribly )sorry",
    r"i (?:do |sincerely |really |truly )?apologi[sz]e",
    r"(?:you have|you'?ve got) every right", r"no wonder you",
    r"you(?:'re| are) (?:right|quite right|absolutely right) to",
))


_LEAD_IN = r"(?:(?:okay|ok|right|alright|oh no|oh dear|i see|sure|yes|yeah)[,.!]? )?"
"""What an agent says before the "So" of a paraphrase: "Okay, so you...", "Oh no. So the..."."""
_NOT_A_PROBLEM = (r"(?!(?:(?:'d| would) like|'d prefer| want| need| just (?:want|need)|"
                  r"(?:'re| are) (?:looking|after|hoping|wanting|calling to)|"
                  r" can| could| should|'ll| will| may| might)(?![\w']))")
"""After "so you": a request or a next step read back, not a problem."""
_NOT_AN_OFFER = r"(?! earliest| next available| first available| best (?:i|we) can)"

REFLECTION: tuple[re.Pattern[str], ...] = tuple(compile_phrase(p) for p in (
    rf"(?:(?<=^)|(?<=[.!?] )){_LEAD_IN}so,? (?:you{_NOT_A_PROBLEM}(?:'ve|'re|'d)?|your|"
    rf"the{_NOT_AN_OFFER}|this|after|even|with|of|since|what (?:came|arrived|turned up)|"
    rf"it'?s (?:been|now|still)|there'?s|nobody|no one)",
    r"let me (?:just )?(?:make sure|check) i(?:'ve| have) (?:got|understood) (?:this|that|it|you)",
    r"just so i(?:'m| am)? (?:clear|sure|understand)", r"if i(?:'ve| have) understood",
))


def find_reflection(text: str) -> str:
    """The words with which the agent starts saying the customer's problem back, or ""."""
    return _earliest(REFLECTION, text)


def find_empathy(text: str) -> str:
    """The words in which the agent acknowledges the customer's feelings, or "" if none."""
    return _earliest(EMPATHY, text)


@dataclass(frozen=True)
class AgentSaid:
    """What one agent utterance has done, as the words that did it ("" where it did not)."""

    handover: str = ""
    empathy: str = ""
    offer: str = ""
    reflection: str = ""

    def __bool__(self) -> bool:
        return bool(self.handover or self.empathy or self.offer or self.reflection)


def read_agent(text: str) -> AgentSaid:
    return AgentSaid(handover=find_handover(text), empathy=find_empathy(text),
                     offer=find_offer(text), reflection=find_reflection(text))


def _earliest(patterns: tuple[re.Pattern[str], ...], text: str) -> str:
    """The earliest match of any pattern that no negator just before it cancels."""
    found = [match for pattern in patterns for match in pattern.finditer(text)
             if not is_negated(text, match.start())]
    return min(found, key=lambda match: match.start()).group(0) if found else ""
