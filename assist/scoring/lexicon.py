"""The call-centre word layer on top of VADER: phrases, benign idioms and simple negation.

VADER was built for social media; on a support line it misses the phrases that matter most
("this is the third time I've called" and "my package never arrived" are neutral to it) and
it reads "nobody is helping me" as positive. Each entry here is a regex matched
case-insensitively on word boundaries, with a weight (how angry it sounds, 0..1) and a label
that the evidence shows the agent: ``"never arrived" (missing order)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

NUMBER = (r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
          r"fifteen|twenty|thirty|forty|fifty|sixty|ninety|a few|a couple of|several|many|"
          r"multiple|so many|countless|an?(?= (?:hour|day|week|month)s?\b))")
"""Counts as callers say them: "2 hours", "two hours", "a couple of hours", "an hour" (but
not "a minute", which is no complaint)."""

_TIME_UNIT = r"(?:min(?:ute)?s?|hours?|hrs?|days?|weeks?|months?)"
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_CLOCK = (r"(?:(?:quarter|half|ten|twenty|twenty-five|five) (?:past|to) \w+|\w+ o'?clock|"
          r"\d{1,2}(?::\d\d)? ?(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}[:.]\d\d)")
"""A time of day as said ("half past one", "quarter past two", "3pm") or as a recogniser
writes it ("2.15")."""
_GOODS = r"(?:package|parcel|order|delivery|refund|item|money|replacement|engineer|technician)"
_PRAISE = (r"(?:good|great|awesome|amazing|brilliant|beautiful|gorgeous|funny|hilarious|cool|"
           r"nice|perfect|excellent|lovely|cute|lucky|happy|proud|glad|delicious|love|loved|"
           r"genius|impressive|fantastic|fast|quick|helpful)")
"""Praise that a swear word can intensify without any anger ("damn good", "bloody brilliant")."""

NEGATORS = re.compile(
    r"\b(?:not|no|never|don'?t|doesn'?t|didn'?t|won'?t|wouldn'?t|isn'?t|aren'?t|wasn'?t|"
    r"can'?t|cannot|without|nothing)\b|n't\b",
    re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[.,;:!?]|\b(?:but|if|or|unless|because|so)\b", re.IGNORECASE)
NEGATION_WINDOW_WORDS = 3
"""A negator this many words before a phrase cancels it ("I don't need a manager")."""


@dataclass(frozen=True)
class LexiconEntry:
    pattern: re.Pattern[str]
    weight: float
    label: str
    negatable: bool = True
    """False for words that stay hostile after "not" ("doesn't matter how stupid")."""


_BOUNDARY_BEFORE, _BOUNDARY_AFTER = r"(?<![\w'])", r"(?![\w'])"


def compile_phrase(phrase: str) -> re.Pattern[str]:
    """A phrase or regex, case-insensitive, anchored on word boundaries at both ends."""
    return re.compile(f"{_BOUNDARY_BEFORE}{phrase}{_BOUNDARY_AFTER}", re.IGNORECASE)


def any_entry_pattern(entries: Iterable[LexiconEntry]) -> re.Pattern[str]:
    """One pattern that matches wherever any entry could.

    Most sentences match no entry at all; one search that rules them out costs a tenth of
    trying some three hundred patterns one by one.
    """
    phrases = [_unanchored(entry.pattern.pattern) for entry in entries]
    return compile_phrase(f"(?:{'|'.join(phrases)})" if phrases else "(?!)")


def _unanchored(pattern: str) -> str:
    if pattern.startswith(_BOUNDARY_BEFORE) and pattern.endswith(_BOUNDARY_AFTER):
        pattern = pattern[len(_BOUNDARY_BEFORE):-len(_BOUNDARY_AFTER)]
    return f"(?:{pattern})"


def _entries(label: str, weight: float, *patterns: str, negatable: bool = True,
             ) -> list[LexiconEntry]:
    return [LexiconEntry(compile_phrase(p), weight, label, negatable) for p in patterns]


_THEIR_SIDE = (
    r"(?:you(?:'ve| have)?(?: guys| people| lot| all)?|they'?ve|they have|your (?:lot|people|"
    r"company|firm|staff|team|(?:\w+ )?(?:engineer|fitter|driver|crew|sweep|technician|installer|"
    r"courier|cleaner|man|guy|lads|rep|workers?|system|app|website)))")
"""The agent's side as a caller names it: "you", "you guys", "they've", "your engineer"."""
_IN_PASSING = r"(?:(?:just|still|now|also|then|only|already|actually|somehow|gone and|went and) )?"
"""An adverb between the doer and the deed: "you've *just* taken", "they *still* sent"."""

HARSH_LABELS = frozenset({"anger word", "hostile", "contempt", "mild swearing"})
"""Labels of words that are harsh whatever they are said of ("terrible", "useless", "bloody"):
a calm caller says them of a storm or a broken machine. Every other label is a grievance
against the agent's side by its nature ("never arrived", "third time I've called")."""
FEELING = re.compile(
    r"\b(?:angry|furious|livid|fuming|annoyed|frustrat\w*|upset|fed up|sick of|tired of|cross|"
    r"irritated|pissed|had enough)\b", re.IGNORECASE)
"""The caller naming their own upset: "I'm really annoyed" is aimed, whoever it is aimed at."""
OTHER_SIDE = re.compile(r"\b(?:you|your|yours|you'\w+|they|them|their|they'\w+)\b",
                        re.IGNORECASE)
"""Someone to blame in a negative sentence: the agent, their company, "they"."""

_GRUDGING_THANKS = r"(?:thanks|thank you),? I guess"

_BARE_PRAISE = (
    r"(?<=[.!] )(?:oh,? |just |how |well,? )?(?:brilliant|marvellous|lovely|wonderful|fantastic|"
    r"great|perfect|super|terrific|fabulous|amazing|excellent|splendid)(?=[.!]|$)"
    r"(?!.*\b(?:thanks|thank you|cheers)\b)")
"""One word of praise said as a sentence of its own after bad news ("Friday. Brilliant.", "It's
completely dead. Brilliant."), with no thanks in the turn. Opening a turn ("Great. Do I need
to book?") or after a question ("So all three are cancelled? Brilliant.") it is meant."""

IRONIC_PRAISE = (
    r"so that'?s (?:just )?(?:great|fun|nice|brilliant|lovely|handy|helpful|fantastic|"
    r"wonderful|marvellous)",
    r"(?:great|good|wonderful|brilliant) use of my", r"in case (?:that|it) matters",
    r"which is (?:interesting|funny|great|nice|brilliant)", r"third time'?s (?:the|a) charm",
    r"just what I needed", _GRUDGING_THANKS, r"I suppose that'?s something",
    r"so that went (?:well|great|brilliantly|swimmingly)", r"very convenient(?: for you)?",
    r"(?:excellent|great|brilliant|good|fantastic) planning", _BARE_PRAISE,
)
"""Praise said of bad news ("So that's great", "a great use of my annual leave"). VADER does
not see these words: read as praise they would cancel the sarcasm they carry."""

# Weights are on VADER's scale of "how negative": about 0.3 a mild complaint, 0.6 plainly
# angry, 0.8 hostile. They were set by hand from the playbook and checked (not fitted) on
# the GoEmotions tuning half (see assist/scoring/evaluation.py).
BUILTIN_LEXICON: tuple[LexiconEntry, ...] = tuple(
    _entries("long wait", 0.45,
             rf"on (?:hold|(?:the )?phone|the line) for (?:over |more than |nearly |almost )?"
             rf"{NUMBER} {_TIME_UNIT}",
             rf"(?:been |was |kept )?(?:waiting|waited) (?:for )?(?:over |more than |nearly |"
             rf"almost )?{NUMBER} {_TIME_UNIT}",
             rf"{NUMBER} {_TIME_UNIT} (?:on hold|waiting|and (?:still )?nothing)",
             r"still waiting", r"(?:been )?waiting (?:for )?(?:ages|forever|weeks|months)",
             r"(?:been )?waiting since",
             rf"that'?s (?:another|a further) (?:\w+ )?(?:and a half )?{_TIME_UNIT}",
             r"kept me (?:on hold|waiting)")
    + _entries("lost time", 0.4,
               r"took (?:a|the|half a) day off", r"(?:wasted|lost) (?:a|my|the|half a) (?:whole )?"
               r"(?:day|morning|afternoon|weekend)")
    + _entries("missing order", 0.45,
               rf"{_GOODS} (?:has |have |is |was )?(?:still )?(?:never|hasn'?t|has not|"
               r"didn'?t|did not|isn'?t|wasn'?t|not) (?:been |yet |even )?"
               r"(?:arrived|arrive|came|come|turned up|shown up|showed up|delivered|refunded|"
               r"processed|received)",
               r"never (?:arrived|received|got|came|turned up)",
               r"(?:still )?(?:haven'?t|have not|didn'?t|did not) (?:received|get|got) (?:it|my|the|"
               r"a|any)",
               rf"lost my {_GOODS}",
               r"there'?s nothing here",
               r"(?:half|most|some|none|all) of (?:it|them|the \w+) (?:isn'?t|is not|aren'?t|are not|"
               r"wasn'?t|weren'?t|never) (?:here|there|came|arrived|turned up)",
               r"(?:hasn'?t|has not|haven'?t|have not) (?:even )?been (?:cleaned|fixed|repaired|"
               r"paid|refunded|collected|done|touched|sorted)")
    + _entries("no-show", 0.45,
               r"(?:nobody|no one|no-one) (?:came|turned up|showed up|showed|rang|called|arrived)",
               r"no (?:call|phone call|text|email|note|message),? (?:no|nothing)",
               r"(?:there'?s |there is )?(?:nobody|no one|no-one)(?:'s| is)? (?:here|there)"
               r"(?= yet|[.,!?]|$)")
    + _entries("wrong goods", 0.4,
               r"(?:sent|delivered|gave|given) (?:me |us )?(?:the )?wrong",
               r"(?:you(?:'ve)?|they(?:'ve)?) (?:sent|delivered|fitted|supplied) (?:me |us )?"
               r"(?:doesn'?t|does not|don'?t|won'?t) (?:even )?fit",
               r"(?:is|was|it'?s|sent(?: me| us)?|got|received) (?:a |an )?(?:completely|"
               r"totally|entirely) different",
               r"not what (?:i|we) (?:ordered|asked for|booked|paid for)",
               r"(?:it'?s|is|was|are|were) not (?:my|our) (?:order|parcel|food|bag|box|delivery)",
               r"(?:inch|inches|centimetres?|centimeters?|cm|mil|sizes?) too (?:short|narrow|long|wide|"
               r"small|big|tight|loose|low|high)")
    + _entries("wrongly charged", 0.45,
               r"cancell?ed (?:[\w,]+ ){0,8}(?:and|but) (?:you'?ve|you have|you)(?: guys| people| lot)?"
               r" (?:still |just |now )?(?:taken|charged|billed|debited)",
               r"more than the (?:fixed |agreed |quoted )?(?:fee|quote|price|estimate)",
               r"you'?ve (?:just |now |still )?(?:taken|charged|billed|debited) (?:me )?(?:another|"
               r"again|twice|the full)",
               r"(?:charged|billed|taken|paid) (?:[\w,]+ ){0,6}(?:twice|two times|double)",
               r"double[- ]charged",
               r"(?:i'?ve|i have) never (?:heard of|ordered|bought|used|authori[sz]ed|made)",
               r"i didn'?t (?:make|authori[sz]e|order|agree to) (?:it|that|this|them|these)"
               r"(?=[.!?]|$)")
    # A harm done by the agent's side, said as plain fact ("your crew broke it", "you still
    # sent me a box", or damage that "wasn't there before" their visit): the first complaint,
    # blamed on them, even in a level voice.
    + _entries("their doing", 0.45,
               rf"{_THEIR_SIDE} {_IN_PASSING}(?:charged|overcharged|billed|debited|taken (?:another|more|"
               r"(?:[\w-]+ ){1,4}(?:pounds|quid|dollars|euros|bucks))|broke|broken|"
               r"damaged|cracked|scratched|ruined|lost|cancell?ed|moved|declined|rejected|"
               r"refused|forfeited|dropped|double[- ]booked|still sent|"
               r"sent (?:me |us )?(?:the )?wrong)",
               rf"{_THEIR_SIDE} {_IN_PASSING}(?:didn'?t|did not|never|haven'?t|have not|hasn'?t|"
               r"has not) (?:even )?(?:come|turn(?:ed)? up|show(?:ed)? up|fix(?:ed)?|call(?:ed)?|"
               r"r[iu]ng|sen[dt]|pa(?:y|id)|refund(?:ed)?|clean(?:ed)?|touch(?:ed)?|bother(?:ed)?)",
               r"(?:was(?:n'?t| not)|weren'?t|were not) (?:\w+ ){0,2}there (?:before|when)",
               # The mess a trade leaves behind; a car "covered in mud" is why a calm caller
               # rings the valet, so dirt in general is no grievance.
               r"covered in (?:soot|paint|plaster|muck)")
    + _entries("nobody helping", 0.55,
               r"(?:nobody|no one|no-one|none of you)(?:'s|'ve)? (?:\w+ ){0,3}(?:help|helps|helping|"
               r"helped|"
               r"listen|listens|listening|cares?|fix|fixed|answers?|bothered|called back|"
               r"r[au]ng (?:me |us )?back|got back|tell|explain)",
               r"nothing (?:ever )?(?:happens|happened|changes|changed)",
               r"nothing (?:is being|has been|ever gets|gets|was) (?:done|fixed|sorted)",
               r"you (?:people |guys )?(?:never|don'?t|won'?t|didn'?t) (?:listen|help|care|fix|"
               r"call back|get back)",
               r"(?:not|no) help(?:ful|ing)? at all", r"no help(?: whatsoever)?",
               r"getting nowhere", r"going (?:round|around) in circles",
               r"(?:nobody|no one|no-one) (?:\w+ )?(?:told|mentioned|warned|informed|asked) "
               r"(?:me|us|anything)",
               r"(?:nobody|no one|no-one) (?:\w+ )?said (?:a word|anything)",
               r"(?:nobody|no one|no-one) (?:thought|bothered|cared) to (?:tell|mention|warn|"
               r"inform)",
               r"(?:heard|had|got) (?:absolutely |literally |precisely )?nothing"
               r"(?! to| against| else| wrong| but)",
               r"not (?:a|one) (?:single )?(?:word|call|email|text|letter|peep)",
               r"and then nothing",
               r"passed (?:around|from one person)", r"thanks for nothing")
    + _entries("unacceptable", 0.6,
               r"unacceptable", r"(?:not|isn'?t|aren'?t|wasn'?t|ain'?t) (?:acceptable|good enough)",
               r"ridiculous",
               r"absurd", r"outrageous", r"disgraceful", r"appalling", r"a joke", r"shambles",
               r"pathetic", r"insane", r"unbelievable", r"(?:a |complete |total )?waste of "
               r"(?:my |our )?(?:time|money)", r"last straw", r"enough is enough",
               r"(?:had|have had) enough", r"fed up", r"sick (?:and tired )?of", r"tired of",
               r"(?:the )?last thing I need(?:ed)?", r"lied to",
               r"(?:not )?(?:going|go) through (?:all )?(?:of )?(?:this|that|it) again",
               r"are you (?:kidding|serious|joking)", r"you'?ve got to be kidding",
               r"you(?:'re| are) (?:having a laugh|joking|kidding)",
               r"how (?:hard|difficult) (?:can it |is it )?(?:be )?to", r"how many times")
    + _entries("broken promise", 0.35,
               r"(?:you|someone|somebody|they) (?:said|promised|promises|told me)",
               r"(?:the|our|my|your) (?:contract|quote|booking|agreement|terms|website|confirmation)"
               r" (?:said|says|stated|states|promised)",
               r"(?:i )?was (?:told|promised)",
               r"(?:broken|leaking|failing|failed|wrong|stopped working|happening) again",
               r"(?:supposed|meant) to (?:be|have|arrive|call|ring|get|come|turn up|send|deliver|fix)",
               r"supposedly", r"(?:gone|went|go|is|are|it'?s) (?:down|off|out|wrong) again",
               r"packed (?:in|up) again", r"(?<=[.!?] )again(?=[.!?])", r"^again(?=[.!?])",
               r"still (?:not|isn'?t|hasn'?t been) "
               r"(?:fixed|resolved|sorted|working|done)", r"(?:still )?doesn'?t work",
               r"keeps? (?:breaking|failing|crashing|dropping)",
               r"(?:declined|rejected|refused|bounced|failed|cancell?ed) (?:\w+ ){0,3}"
               r"(?:twice|three times|four times|five times|\d+ times|again)")
    # The time now set against the time promised ("I was told ten days. It's now been four
    # weeks", "You said same day. It's Friday."): the caller is keeping count.
    + _entries("overdue", 0.35,
               rf"(?:it'?s|it is) now (?:been )?(?:over |nearly |almost |about )?{NUMBER} "
               rf"{_TIME_UNIT}",
               rf"(?:it'?s|it is) now (?:the \w+(?:-\w+)? of|{_WEEKDAY}|{_CLOCK})",
               rf"(?:we'?re|we are|i'?m|i am) now (?:at|on|in|into) (?:{_TIME_UNIT}) \w+",
               rf"(?<=[.!?] )(?:and )?(?:it'?s|it is) {_WEEKDAY}(?: now| already)?(?=[.!?])",
               rf"(?:it'?s|it is) (?:{_WEEKDAY}|{_CLOCK}) (?:now|already)")
    + _entries("sarcasm", 0.4, *IRONIC_PRAISE)
    # Doubt that a promise will be kept: agreeing to the fix without believing in it.
    + _entries("doubt", 0.4,
               r"(?:i'?ll|i will) believe (?:it|that) when", r"won'?t hold my breath",
               r"(?:try|trying) my luck")
    + _entries("rhetorical question", 0.35,
               r"(?:why|how) exactly", r"where,? exactly\?")
    + _entries("demand", 0.3,
               r"(?:i )?want (?:a|my) (?:refund|money back|compensation)",
               r"give me my money back", r"fix (?:this|it) (?:now|today|immediately)",
               r"(?:want|like|need) (?:my|that|the|our) money back",
               r"sort (?:it|this) out", r"(?:fixed|done) properly",
               r"right now", r"immediately")
    + _entries("anger word", 0.65,
               r"angry", r"furious", r"livid", r"fuming", r"pissed(?: off)?", r"mad at",
               r"(?:so|getting|really|very) mad", r"put off", r"upset",
               r"annoyed", r"annoying", r"irritat(?:ed|ing)", r"frustrat(?:ed|ing)",
               r"infuriat(?:ed|ing)", r"outraged?", r"hate", r"hated", r"can'?t stand",
               r"drives? me (?:crazy|nuts|mad|insane)", r"(?:the )?worst", r"terrible",
               r"horrible", r"awful", r"disgusting", r"garbage", r"trash", r"rubbish",
               r"ugh+", r"smh", r"seriously\?+", r"why (?:the hell|on earth|would you)",
               r"rage", r"raging", r"fury", r"resent(?:ful)?", r"grr+", r"argh+", r"ffs",
               r"for (?:god'?s|christ'?s|fuck'?s|pete'?s) sake", r"what(?: i|')s wrong with you",
               r"do you even", r"learn to read", r"give it a rest", r"knock it off",
               r"cut it out", r"back off", r"(?:piss|sod|bugger|f\w*k) off",
               r"leave me alone")
    + _entries("hostile", 0.75,
               r"shut up", r"stfu", r"screw (?:you|this|that|them)", r"go to hell",
               r"get lost", r"grow up", r"nobody asked", r"who asked", r"how dare you",
               r"dumb", r"stupid", r"idiots?", r"idiotic", r"morons?", r"moronic",
               r"clowns?", r"fools?", r"losers?", r"jerks?", r"pathetic", r"incompetent", r"useless",
               r"liars?", r"lying", r"insufferable", r"bigots?", r"racists?", r"sexists?",
               r"hateful", r"disgrace", r"shameless", r"idiocy", r"are you (?:stupid|deaf|blind)",
               negatable=False)
    + _entries("mild swearing", 0.5,
               r"damn(?:ed|it)?", r"dammit", r"goddamn\w*", r"crap(?:py)?", r"bloody",
               r"(?:what|why|who|where|how) the (?:hell|heck)", r"hell", r"arse", r"bugger",
               negatable=False)
    + _entries("contempt", 0.5,
               r"rude", r"scum\w*", r"disrespectful", r"toxic", r"ignorant", r"hypocrit\w*",
               r"nonsense", r"bs", r"selfish", r"entitled", r"lame", r"sucks?", r"worse",
               r"shameful", r"shame on", r"despicable", r"unfair", r"excuses?", r"blame",
               r"fault", r"complain(?:ing|t|ts)?", r"lies", r"scam(?:med|mers?)?",
               r"rip(?:ped)? ?off", negatable=False)
    + _entries("blame", 0.35, r"your lot", r"you lot")
    # Contempt, but no insult to answer with a boundary: every blind writer who had a caller
    # say "you people" without an insult ("the third time I've had to call you people")
    # kept the ladder going.
    + _entries("blame", 0.45, r"you people")
    + _entries("dismissive", 0.45,
               r"who cares", r"(?:i|we) (?:really )?(?:don'?t|do not|couldn'?t) (?:even )?care",
               r"doesn'?t matter", r"don'?t bother", r"get out of here", r"so what",
               r"you could at least", r"why would anyone", r"get over it", r"bugging me",
               r"let down", r"cringe", r"give me a break", r"spare me", r"yeah right",
               r"whatever",
               # Not the answer to "anything else?": "Nope, that's everything."
               r"nope(?![,.]? (?:that'?s (?:it|all|everything)|all good|i'?m good|we'?re good))",
               r"(?:don'?t|do not) (?:want|need) (?:another|your|an?|the|any more) "
               r"(?:apology|apologies|sorry|excuses?|script)", r"not another (?:apology|script|excuse)",
               r"stop (?:it|this|that|doing|being|telling|saying|\w+ing)",
               r"enough already", r"seriously")
    # General emotion vocabulary, written from everyday English rather than picked from a
    # data set, so that it carries over to callers nobody has read yet. Its effect on the
    # GoEmotions TUNE half is nil (most of these words are rare there); it is here for calls.
    + _entries("anger word", 0.6,
               r"(?:piss|pisses|pissing) (?:me|us|him|her|them|everyone) off",
               r"gets? on my nerves", r"(?:makes?|making) my blood boil", r"boils my blood",
               r"(?:lost|losing|running out of|out of) (?:my )?patience", r"sick to death of",
               r"enraged?", r"enraging", r"irate", r"incensed", r"seething", r"exasperat\w*",
               r"aggravat(?:ed|ing)", r"annoy(?:s|ance)", r"irritates", r"infuriates",
               r"frustrates", r"frustration", r"disgusted", r"bothers me",
               r"grinds? my gears", r"wtf", r"what the f\w*", r"hate (?:it|this|that|you|them)",
               r"(?:so|really|very|pretty|kinda|a bit) (?:angry|annoyed|irritated|cross)")
    + _entries("contempt", 0.5,
               r"arrogan(?:t|ce)", r"condescending", r"patroni[sz]ing", r"smug", r"childish",
               r"immature", r"pretentious", r"obnoxious", r"delusional", r"petty",
               r"spineless", r"gutless", r"cowards?", r"cowardly", r"creepy", r"sleazy",
               r"slimy", r"greedy", r"dishonest", r"brainless",
               r"brain ?dead", r"stupidity", r"dumbass\w*", r"jackass\w*", r"douche\w*",
               r"hypocrisy", r"pointless", r"worthless", r"lazy",
               r"sloppy", r"inept", r"negligent", r"laughable", r"ludicrous", r"asinine",
               r"insulting", r"offensive", r"disrespect(?:ed|ing)?", r"egotistical",
               r"narcissis\w*", r"vile", r"nasty", r"clueless", r"whining",
               negatable=False)
    + _entries("hostile", 0.7,
               r"who (?:do|does) (?:you|he|she|they) think (?:you|he|she|they) (?:are|is)",
               r"you have no (?:idea|clue)", r"get a life", r"(?:nobody|no one) cares",
               r"(?:you|u) suck", r"get over yourself",
               r"mind your own (?:damn )?business", r"how (?:dare|could) (?:you|they|he|she)",
               r"did you even (?:read|watch|listen|look)",
               r"(?:do|does) (?:you|he|she|they) (?:even|actually) (?:know|understand|read|care)",
               r"(?:learn|try) (?:how )?to (?:read|spell|think|drive)", r"use your (?:brain|head)",
               r"what(?: is|'s) your problem", r"you(?:'re| are) (?:so|such an?) (?:idiot|joke|"
               r"hypocrite|child|baby)", negatable=False)
    + _entries("rhetorical question", 0.4,
               r"why (?:is|does) it (?:always|so hard|take so long)", r"what(?:'s| is) the point",
               r"who (?:the hell |on earth )?(?:thought|decided) (?:this|that|it)",
               r"how is (?:this|that|it) (?:even )?(?:legal|allowed|possible|ok|okay|acceptable|"
               r"fair)",
               r"what (?:were|was) (?:you|they|he|she) thinking", r"is it too much to ask",
               r"why (?:can'?t|won'?t|don'?t|do|does|would) (?:you|they|people|anyone|he|she) "
               r"(?:ever |just |always |even )?(?:\w+ ){0,4}\w+\?",
               r"are you for real", r"oh come on", r"oh please")
    + _entries("repeated letdown", 0.4,
               r"every (?:single )?time", r"(?:not|yet|once) again", r"here we go again",
               r"for the (?:last|hundredth|millionth|umpteenth) time", r"over and over",
               r"getting (?:a bit |really |very |pretty )?old",
               r"(?:this is|that'?s|it'?s|this'?s) the (?:second|third|fourth|fifth) time",
               r"(?:second|third|fourth|fifth) time (?:this|in) (?:week|month|year|a row)",
               r"(?:second|third|fourth|fifth) time (?:this|that|it'?s|it has) (?:has )?"
               r"happened")
)

BENIGN_PHRASES: tuple[re.Pattern[str], ...] = tuple(compile_phrase(p) for p in (
    r"no (?:problem|problems|worries|issue|issues|trouble|complaints)",
    r"not (?:a|any) (?:problem|issue|worry)", r"not (?:too |that |so )?bad",
    r"(?:can'?t|cannot|couldn'?t) complain", r"nothing wrong", r"no doubt",
    r"no harm done", r"never mind", r"don'?t worry", r"no rush", r"no hurry",
    r"not (?:angry|annoyed|upset|mad) at all", r"(?:i'?m|i am) not (?:angry|annoyed|upset|mad)",
    r"no need (?:to|for)", r"(?:don'?t|do not) need",
    # Letting the agent off, often inside an apology ("sorry I snapped, it's not your fault").
    r"(?:not|isn'?t|wasn'?t|hardly|never) (?:really |exactly )?(?:your|you(?:r)? guys'?|"
    r"the agent'?s) fault", r"(?:don'?t|do not) blame you",
    r"(?:i'?m|i am) not complaining",
    # Blaming oneself ("that'll be my fault, I changed banks") is no complaint about anyone.
    r"(?:(?:that|it)(?:'?s|'?ll be| is| was| will be)|probably|all) (?:entirely |totally )?"
    r"my (?:own )?fault", r"my (?:own )?mistake", r"my bad",
    # Swearing as delight or surprise: the swear word intensifies something good.
    r"(?:hell|heck) (?:yeah|yes|yea|yeh|yep)", r"holy (?:shit|crap|cow|hell|fuck|moly)",
    rf"(?:so )?(?:damn|damned|bloody|fucking|freaking|effing|hella|goddamn) {_PRAISE}",
))
"""Idioms that sound negative word by word but mean "fine" ("no problem", "not bad", "bloody
brilliant")."""


_TYPOGRAPHIC = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
_EMPHASIS = re.compile(r"(?<![\w*])[_*]{1,2}(\w[\w' ]*?)[_*]{1,2}(?![\w*])")
"""Typed emphasis ("I _hate_ it", "*never*"), which hides the word from the word boundaries."""


def normalize(text: str) -> str:
    """Curly quotes as straight ones, so "don\u2019t" matches the patterns written with "'",
    and typed emphasis unwrapped ("_hate_" reads as "hate")."""
    return _EMPHASIS.sub(r"\1", text.translate(_TYPOGRAPHIC))


def benign_spans(text: str) -> list[tuple[int, int]]:
    return _spans(text, BENIGN_PHRASES)


def _spans(text: str, patterns: Iterable[re.Pattern[str]]) -> list[tuple[int, int]]:
    return [m.span() for pattern in patterns for m in pattern.finditer(text)]


def _blanked(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


_IRONIC_PRAISE = tuple(entry.pattern for entry in BUILTIN_LEXICON if entry.label == "sarcasm")
"""The sarcasm entries' own patterns, which VADER must not read as praise."""


VADER_OFF_SENSE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<!\bi )(?<!\bwe )(?<!\bthey )(?<!\byou )(?<!\breally )(?<!\bdo )"
                r"(?<!\bdon't )(?<!\bwould )(?<!'d )\blike\b", re.IGNORECASE), " "),
    (re.compile(r"\bpretty(?= [a-z])", re.IGNORECASE), "quite"),
    (re.compile(r"(?:^|(?<=[.!?] ))well\b,?", re.IGNORECASE), " "),
)
"""Words VADER always reads as warm, replaced where they carry another sense: "like" as a
comparison or filler ("it's like two hours", "looks like a scam"; kept after "I", "really",
"would" ...), "pretty" as "quite" ("pretty bad" is not half praise) and "well," opening a
sentence. Replacements, not lexicon edits, so VADER itself stays as published."""


def for_vader(text: str) -> str:
    """The text as VADER should read it: benign idioms, ironic praise and insults taken back
    blanked, off-sense warm words removed."""
    text = mask_benign(text)
    text = _blanked(text, _spans(text, _IRONIC_PRAISE))
    text = _blanked(text, _spans(text, (_TAKEN_BACK,)))
    for pattern, replacement in VADER_OFF_SENSE:
        text = pattern.sub(replacement, text)
    return text


def mask_benign(text: str) -> str:
    """The text with benign idioms blanked out, for VADER (which reads "no problem" as bad).

    Only VADER sees the masked text: the lexicon and triggers need the negators in it
    ("no need to cancel"), and skip matches inside benign spans instead.
    """
    return _blanked(text, benign_spans(text))


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in spans)


_TAKING_BACK = (r"\b(?:(?:sorry|apologi[sz]e|apologies) (?:about|for|(?:that )?i (?:called|said))"
                r"|i shouldn'?t have (?:called|said)|i didn'?t mean (?:to call|to say))")
"""The start of an apology that names what it takes back: "sorry for calling you useless",
"I'm sorry I called you an idiot", "I shouldn't have said"."""
_APOLOGISED_FOR = re.compile(_TAKING_BACK + r" (?:\w+ ){0,4}$", re.IGNORECASE)
_TAKEN_BACK = re.compile(_TAKING_BACK + r"(?: [\w']+){1,5}", re.IGNORECASE)


def is_apologised_for(text: str, start: int) -> bool:
    """True if the words at ``start`` are what the speaker is apologising for ("sorry about
    the idiots thing", "sorry for calling you useless", "I'm sorry I called you an idiot",
    "I shouldn't have called you useless"): an insult quoted to take it back.
    "Sorry, but you're an idiot" is still an insult."""
    return bool(_APOLOGISED_FOR.search(_clause_before(text, start)))


def _clause_before(text: str, start: int) -> str:
    before = text[:start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    return before[breaks[-1].end():] if breaks else before


def is_negated(text: str, start: int) -> bool:
    """True if a negator sits within a few words before ``start``, in the same clause."""
    words = _clause_before(text, start).split()[-NEGATION_WINDOW_WORDS:]
    return bool(NEGATORS.search(" ".join(words)))


APOLOGY: tuple[re.Pattern[str], ...] = tuple(compile_phrase(p) for p in (
    r"(?:so |really |very )?sorry", r"(?:i |i do )?apologi[sz]e", r"my apologies",
    r"i didn'?t mean (?:to|that|it)",
    r"i shouldn'?t have (?:said|snapped|shouted|yelled|sworn|called|spoken)",
    r"(?:that|it|i) was (?:uncalled for|out of line)",
))
"""A customer taking back an outburst ("sorry for snapping", "I didn't mean that"): the
sign, in the playbook's terms, that a boundary has been heard."""


def find_apology(text: str) -> str:
    """The words of the first apology not negated ("I'm not sorry"), or "" if none."""
    for pattern in APOLOGY:
        for match in pattern.finditer(text):
            if not is_negated(text, match.start()):
                return match.group(0)
    return ""


THANKS: re.Pattern[str] = compile_phrase(r"thank you|thanks|cheers")
THANKLESS: re.Pattern[str] = compile_phrase(
    rf"thanks (?:for nothing|a bunch|a lot)|{_GRUDGING_THANKS}")
"""Thanks said sarcastically or grudgingly, which is no sign of relief."""


REFUSAL: re.Pattern[str] = compile_phrase(
    r"absolutely not|no chance|(?:neither|none) of (?:those|them|these)|"
    r"(?:still )?(?:not|isn'?t) (?:good enough|acceptable|an option)|unacceptable|"
    r"(?:that|this|it) (?:won'?t|will not) do|(?:is|'s|are) (?:no|of no) use to (?:me|us)|"
    r"(?:that'?s|that is|this is|it'?s) a joke|"
    # "No. Absolutely not." as tiny.en often hears it from a raised voice.
    r"no[,.]? (?:i'?m )?absolutely hot")
"""Turning something down flatly ("No. Absolutely not.", "Neither of those works", "that won't
do", "September's no use to us"). Said in reply to the agent's offer, it is the playbook's
"still dissatisfied after real effort"."""


def find_refusal(text: str) -> str:
    """The words of the first flat refusal, or "" if none."""
    return _first_words(REFUSAL, text)


DOWNPLAY: re.Pattern[str] = compile_phrase(
    r"(?:not|no) (?:a |such a |that |that much of a |a very |too )?(?:big|huge|massive) deal|"
    r"not the end of the world|worse things happen|"
    r"(?:these |those )?things happen|stuff happens|(?:it'?s )?one of those things|"
    r"easily done|honest mistake|which is fine,|"
    r"more (?:annoying|irritating|of a nuisance|a nuisance|inconvenient) than anything|"
    r"(?:thought|figured) (?:you|you'?d|you would|someone) (?:should|ought to|might want to|"
    r"would want to|might like to) know|just (?:thought i'?d|wanted to) (?:let you know|"
    r"mention it|flag it)|"
    # The speaker's own calm, not "you're not really bothered, are you?"
    r"(?:i'?m|i am|we'?re|we are) not (?:too |that |overly |really |all that )?"
    r"(?:fussed|bothered|worried)")
"""The caller saying the problem is small ("It's not a big deal, but I figured you should
know", "Not the end of the world"): negative words around it describe a thing, not anger at
anyone."""


def find_downplay(text: str) -> str:
    """The words with which the speaker plays the problem down, or "" if none."""
    return _first_words(DOWNPLAY, text)


def _first_words(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    return match.group(0) if match else ""


def find_thanks(text: str) -> str:
    """The words of the first thanks not said sarcastically, or "" if none.

    A caller thanking the agent in a raised voice is pleased, not angry: joy is as loud as
    anger (RAVDESS happy clips are as aroused as angry ones), so the stage machine does not
    count such an utterance as frustration.
    """
    for match in THANKS.finditer(text):
        if not THANKLESS.match(text, match.start()):
            return match.group(0)
    return ""


def pack_entries(extra: Mapping[str, float]) -> list[LexiconEntry]:
    """Lexicon additions from a prompt pack, labelled so the agent sees where they came from."""
    return [LexiconEntry(compile_phrase(p), w, "pack") for p, w in extra.items()]


@dataclass(frozen=True)
class LexiconHit:
    words: str
    weight: float
    label: str

    @property
    def evidence(self) -> str:
        return f'"{self.words}" ({self.label})'


def find_hits(text: str, entries: Iterable[LexiconEntry]) -> Iterator[LexiconHit]:
    """Every match of every entry outside benign idioms and not negated, in entry order."""
    benign = benign_spans(text)
    for entry in entries:
        for match in entry.pattern.finditer(text):
            if _inside(match.span(), benign) or is_apologised_for(text, match.start()):
                continue
            if not (entry.negatable and is_negated(text, match.start())):
                yield LexiconHit(match.group(0).strip(), entry.weight, entry.label)
