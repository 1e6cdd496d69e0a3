"""Named triggers: the phrases that move the stage machine on their own, whatever the level.

A manager request or a legal threat means "escalate" even when said politely; an insult,
profanity or a threat means "set a boundary" (:data:`ABUSE`). Phrases are regexes matched on
word boundaries; a negator a few words before, in the same clause, cancels a match so
"I don't need a manager" and "no need to cancel" do not fire.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from assist.events import TriggerHit
from assist.scoring.lexicon import NUMBER, compile_phrase, is_apologised_for, is_negated

_ORDINAL = (r"(?:second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|umpteenth|"
            r"hundredth|\d+(?:st|nd|rd|th))")
_STAFF = r"(?:manager|supervisor|boss|team leader|line manager|someone in charge)"
_SENIOR = rf"(?:a |your |the |my )?(?:\w+ )?{_STAFF}"
"""Whoever is above the agent, with one word of title: "the duty manager", "a shift supervisor"."""
_REGULATOR = (r"(?:ofcom|ofgem|ofwat|the fca|the ico|the cma|citizens advice|the fcc|the ftc|"
              r"the cfpb|the attorney general|the bbb|the dvsa|the sra|the cqc|the dvla)")
"""Regulators by name (UK and US): "I'm going to Ofcom" is the same threat as "the regulator"."""

_DEGREE = (r"(?:(?:all|both|just|so|such|completely|totally|absolutely|utterly|really|a|an|"
           r"bloody|fucking|people|lot|guys|actually) )*")
"""Words between "you" and an insult: "you're all useless", "you people completely useless"."""

_THEM = (r"(?:you(?: lot| people| guys)?|your (?:lot|staff|people|company|firm|shop)|"
         r"(?:this|the) (?:company|firm|place|outfit|lot)|(?:all|both|each) of you)")
"""The agent or their side, at whom an insult is aimed ("you lot", "this company")."""

BUILTIN_TRIGGERS: Mapping[str, tuple[str, ...]] = {
    "manager_request": (
        rf"(?:speak|talk|speaking|talking) (?:to|with) {_SENIOR}",
        rf"(?:get|want|need|put me through to|transfer me to|connect me to) (?:me )?{_SENIOR}",
        # The verb lost to the line ("I want to stick to a manager") but not the request.
        rf"(?:want|like|need) to (?!speak|talk)\w+ (?:to|with) {_SENIOR}",
        r"escalate (?:this|it|my (?:complaint|case|issue))",
        # Taking it above the agent in writing, as the playbook's "escalate" stage answers.
        r"formal complaint",
        r"someone (?:higher up|more senior|senior|in charge|above you)",
        # "Actually" says the person on the line cannot: "get me someone who can actually fix
        # it". Without it ("someone who can fix my boiler") it is a calm request for an engineer.
        r"(?:someone|somebody|anyone|anybody) (?:else )?(?:who|that) (?:can|could|will) "
        r"actually",
        rf"(?:where is|who is) your {_STAFF}",
        # A demand whose verb was lost to a noisy line: "get me your manager right now" is often
        # heard as "... me from your manager right now"; the object and the urgency survive.
        rf"me (?!speak|talk)(?:\w+ ){{0,2}}(?:a |your |the ){_STAFF}",
        rf"your {_STAFF},? (?:right now|now|immediately|please)",
        # "Supervisor" as a small recogniser hears it over a phone line: "super minor",
        # "supermiser", "super visor".
        r"(?:speak|talk|speaking|talking) (?:to|with) (?:a |your |the |my )?"
        r"super ?(?:vi[sz]|min|mis)\w*",
    ),
    "cancel_threat": (
        r"cancel (?:my|the|this|our) (?:account|subscription|contract|service|order|"
        r"membership|plan|policy|broadband|phone)",
        r"(?:want|going|like) to cancel", r"(?:i'?ll|i will|i'?m going to) cancel",
        r"(?:close|terminate|end) (?:my|the|our) (?:account|contract|subscription)",
        r"take my (?:business|money|custom) elsewhere",
        r"switch(?:ing)? (?:to )?(?:another|a different|a new) (?:provider|company|bank|network|"
        r"supplier)",
        r"(?:i'?m|i am) (?:leaving|done with you)",
    ),
    "legal_threat": (
        r"lawyers?", r"attorneys?", r"solicitors?", r"suing", r"lawsuit",
        # "Sue" the verb, not Sue the agent ("Hello Sue", "Thanks, Sue").
        r"(?:(?:i|we|they)'?ll|will|would|could|can|gonna|might|and|i|we|(?:going|want|have|"
        r"try|trying|like|planning|right|able|decided|threatening) to) sue|"
        r"sue (?:you|them|him|her|the|your|this|that|for|over|everyone|somebody|someone)",
        # Not "court" alone: "18 Maple Court" is an address.
        r"(?:take|taking|drag|dragging|see) (?:you|this|it|them|your company) (?:to|in) court",
        r"(?:go|going|went) to court", r"court (?:action|case|claim|order)", r"ombudsman",
        r"small claims", r"tribunal", r"legal action",
        r"report(?:ing|ed)? (?:you|this|it|them|your (?:\w+ )?\w+) to",
        r"trading standards", r"better business bureau", r"consumer protection",
        r"regulators?", r"chargeback", _REGULATOR,
        r"(?:go|going|went|talk|talking|speak|speaking) to the (?:press|papers|media|news)",
    ),
    "insult": (
        r"you(?:'re| are) (?:an? |so |such an? |completely |totally )?(?:idiot|moron|"
        r"imbecile|stupid|useless|incompetent|pathetic|clown|joke|liar|clueless|hopeless|"
        r"waste of space|dumb)",
        # "Useless" aimed at the agent or their side; a calm caller says it of a thing ("the
        # lenses were torn, completely useless"; "it's pretty useless in noisy places").
        rf"{_THEM}(?:'re| are| were| is|'s)? {_DEGREE}useless",
        r"useless (?:\w+ )?(?:idiots?|cowboys?|morons?|lot|bunch|people|person|agents?|staff|"
        r"company|firm|muppets?|clowns?|jobsworths?|twats?|gits?|waste of space)",
        r"(?:bunch|lot|load|pack) of useless", r"(?:be|being) (?:this |so |that )?useless",
        r"incompetent", r"idiots?", r"morons?", r"imbeciles?", r"clueless",
        r"(?:stupid|dumb|lazy|brainless) (?:people|person|agent|woman|man|company|girl|guy)",
        # Called thieves to their face, not "the thieves who took my bike".
        rf"{_THEM}(?:'re| are| is|'s) {_DEGREE}(?:bunch of |load of |pack of )?"
        rf"(?:thieves|crooks|frauds|fraudsters|cheats|con artists|swindlers|robbers)",
    ),
    # Strong swearing only: it forces "set a boundary". Mild words ("damn", "bloody", "crap",
    # "what the hell") are frustration more than abuse, so they only raise the word score
    # (assist/scoring/lexicon.py, "mild swearing").
    "profanity": (
        r"\w*f+u+c+k\w*", r"\w*shit\w*", r"bullshit", r"bitch\w*", r"bastards?", r"assholes?",
        r"arseholes?", r"wtf", r"piss off", r"go to hell", r"cunt\w*", r"dickheads?",
        r"pricks?", r"f[*#@]+c?k\w*", r"s[*#@]+t",
    ),
    "threat": (
        r"(?:i'?ll|i will|i'?m going to|gonna) (?:kill|hurt|smash|punch|beat|find|come for|"
        r"get) you",
        r"(?:i'?ll|i will|i'?m going to) come (?:down|over|round) (?:there|to your)",
        r"you(?:'ll| will) (?:regret|pay for) (?:this|it)", r"watch your back",
        r"i know where you (?:live|work)", r"burn (?:it|the place|you) down",
        r"(?:kill|hurt|punch|smash) (?:you|someone|somebody)",
    ),
    "repeat_contact": (
        rf"{_ORDINAL} time (?:i'?ve |i have |i'?m |i am |that i'?ve )?(?:called|calling|rung|"
        r"ringing|phoned|phoning|contacted|contacting|asked|asking|explained|explaining|"
        r"been through|chased|chasing)",
        rf"(?:called|rung|phoned|contacted) (?:you |you guys |you people |here )?"
        rf"(?:{NUMBER}|{_ORDINAL}) times",
        r"(?:called|rang|phoned|contacted you) (?:you )?(?:yesterday|last week|this morning|"
        r"earlier|already|before|twice|last month) and",
        r"(?:keep|kept) (?:having to )?(?:call|calling|ring|ringing|chasing)",
        r"every time i call", r"called (?:you )?(?:twice|so many times|again and again)",
        rf"(?:my|this is (?:my|the)|on my) {_ORDINAL} (?:call|time calling|attempt)",
        rf"(?:explained|told you|been through|gone through) (?:this|it|all this|all of this|that) "
        rf"(?:twice|{NUMBER} times)(?: already)?",
        r"(?:explained|told you|been through) (?:this|it|that) (?:already|before)",
        rf"(?:reported|raised|logged) (?:it|this|that|the \w+) (?:twice|{NUMBER} times|already)",
        rf"left (?:you )?(?:{NUMBER}|loads of) (?:messages|voicemails)",
        rf"(?:i'?ve|i have) (?:done|asked|said|sent) (?:this |that |it )?"
        rf"(?:twice|{NUMBER} times)",
    ),
}
"""Built-in triggers. Pack additions (settings.triggers) are appended per name."""

ABUSE = frozenset({"insult", "profanity", "threat"})
"""Triggers that call for setting a boundary rather than climbing the ladder."""
NOT_NEGATABLE = frozenset({"insult", "profanity"})
"""Still abuse after a negator: "I don't give a shit", "don't be stupid"."""


@dataclass(frozen=True)
class _Trigger:
    name: str
    pattern: re.Pattern[str]


class TriggerMatcher:
    """Finds named triggers in text; built once per call with the pack's additions."""

    def __init__(self, extra: Mapping[str, tuple[str, ...]] | None = None) -> None:
        phrases: dict[str, list[str]] = {name: list(p) for name, p in BUILTIN_TRIGGERS.items()}
        for name, added in (extra or {}).items():
            phrases.setdefault(name, []).extend(added)
        self._triggers = tuple(_Trigger(name, compile_phrase(p))
                               for name, group in phrases.items() for p in group)

    def find(self, text: str) -> tuple[TriggerHit, ...]:
        """One hit per trigger name (its first non-negated match), in order of appearance."""
        first: dict[str, tuple[int, str]] = {}
        for trigger in self._triggers:
            for match in trigger.pattern.finditer(text):
                if trigger.name not in NOT_NEGATABLE and is_negated(text, match.start()):
                    continue
                if trigger.name in ABUSE and is_apologised_for(text, match.start()):
                    continue
                known = first.get(trigger.name)
                if known is None or match.start() < known[0]:
                    first[trigger.name] = (match.start(), match.group(0).strip())
                break
        ordered = sorted(first.items(), key=lambda item: item[1][0])
        return tuple(TriggerHit(name=name, words=words) for name, (_, words) in ordered)

