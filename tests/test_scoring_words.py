"""Word anger, pack settings, fusion, the per-call scorer, AUC and `assist score`."""

from __future__ import annotations

import io
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assist.cli import main
from assist.errors import PackError
from assist.events import FinalText, PartialText, Speaker, TriggerHit, UtteranceEnded
from assist.scoring import CallScorer, WordScorer
from assist.scoring.evaluation import Split, auc, load_goemotions
from assist.scoring.fusion import fuse
from assist.scoring.lexicon import BUILTIN_LEXICON, any_entry_pattern, find_hits
from assist.scoring.settings import FusionWeights, ScoringSettings, parse_scoring_settings

WORDS = WordScorer()
LEXICON_ONLY = WordScorer(ScoringSettings(fusion=FusionWeights(tone=0.0)))


def anger(text: str) -> float:
    return WORDS.score(text).anger


@pytest.mark.parametrize(("angry", "neutral"), [
    ("This is the third time I've called about this", "I'm calling about my order"),
    ("I've been on hold for forty minutes", "I was on the bus for forty minutes"),
    ("My package never arrived", "My package arrived on Monday"),
    ("Nobody is helping me", "Somebody is helping me"),
    ("This is unacceptable", "This is my account number"),
    ("I want to cancel my contract", "I want to check my contract"),
    ("You are completely useless", "You are very kind"),
    ("I'd like my money back.", "I'd like my receipt back."),
])
def test_angry_sentences_score_above_their_neutral_twins(angry: str, neutral: str) -> None:
    assert anger(angry) > anger(neutral) + 0.2
    assert anger(neutral) < 0.2


@pytest.mark.parametrize("text", ["No problem at all", "no worries, thanks", "Not bad, cheers",
                                  "Thank you, that's great",
                                  "My bad, I gave you the old number.",
                                  "It was probably my own mistake."])
def test_benign_idioms_are_not_angry(text: str) -> None:
    assert anger(text) < 0.1


@pytest.mark.parametrize(("letting_off", "blaming"), [
    ("Look, sorry I swore at you. It's not your fault.", "This is your fault."),
    ("That's hardly your fault, I know.", "That's your fault, I know."),
    ("It isn't your fault.", "It is your fault."),
    ("I don't blame you.", "I blame you for this."),
    ("I'm not complaining about you.", "I'm complaining about you."),
    # Blaming oneself.
    ("My premium didn't go through. That'll be my fault, I changed banks.",
     "My premium didn't go through. That'll be your fault, you changed the form."),
])
def test_letting_the_agent_off_is_not_contempt(letting_off: str, blaming: str) -> None:
    assert anger(letting_off) < 0.25
    assert anger(blaming) > 0.5


@pytest.mark.parametrize("text", ["This isn't good enough.", "That is not good enough.",
                                  "This isn't acceptable.", "That wasn't acceptable."])
def test_not_good_enough_is_unacceptable_however_it_is_contracted(text: str) -> None:
    assert '(unacceptable)' in " ".join(WORDS.score(text).evidence)
    assert anger(text) > 0.5


@pytest.mark.parametrize(("grievance", "neutral"), [
    ("Your lot were meant to be here between eight and twelve. It's half past one.",
     "The engineer is due here between eight and twelve. It's half past ten."),
    ("The sofa was booked for this morning and nobody came. No call, no text.",
     "The sofa was booked for this morning and it came at nine."),
    ("I cancelled our subscription in March, and you've just taken another year off my card.",
     "I cancelled our subscription in March, and I'd like to check it has stopped."),
    ("I've been charged for my membership twice this month.",
     "I've been charged for my membership this month."),
    ("I'm ringing about my boiler service. Again.", "I'm ringing about my boiler service."),
    ("Our line's gone down again. Second time this month.",
     "Our line's gone down. The light is red."),
    # The time now set against the time promised.
    ("I was told ten working days. It's now been four weeks.",
     "I was sent a form. It's now been returned."),
    ("I dropped it in on Tuesday for a same-day repair. It's Friday.",
     "I dropped it in on Tuesday for a repair. Is it ready?"),
    ("The technician was due this morning. It's now quarter past two.",
     "The technician came this morning. Is quarter past two free tomorrow?"),
    ("Seven fifteen? That's another hour and a half.", "Seven fifteen? That's fine for me."),
    ("I've been waiting since last June, you know.", "I've been with you since last June."),
    # Silence from their side.
    ("I dropped it off ten days ago. I've heard absolutely nothing.",
     "I dropped it off ten days ago. I've had a text saying it's ready."),
    ("I claimed twelve days ago, got an automatic reply, and then nothing. Not a word.",
     "I claimed twelve days ago and got an automatic reply."),
    ("My bill has gone up by twelve pounds a month and nobody told me.",
     "My bill has gone up by twelve pounds a month, as your letter said."),
    ("I've left four messages and nobody has rung me back.",
     "I've left a message for the engineer to ring me back."),
    ("The heating's been off since Thursday and I've reported it twice.",
     "The heating's been off since Thursday, so I'm reporting it."),
    # Praise said of bad news.
    ("You've just taken another year off my card. So that's great.",
     "You've taken the payment off my card. That's great, thanks."),
    ("I booked the morning off, so that's been a great use of my annual leave.",
     "I booked the morning off, so the engineer can come any time."),
    ("This is my third call about it, so let's see if third time's the charm.",
     "This is about my order, so let's see what you can find."),
    ("Located where, exactly?", "Where do I collect it from?"),
    ("They had bread rolls for lunch, in front of a client. So that went well.",
     "They had bread rolls for lunch with a client, and that went well."),
    ("And nobody wrote it down. Very convenient for you guys.",
     "And somebody wrote it down, which was handy."),
    ("A letter that came three days after the deadline. Excellent planning.",
     "A letter that came three days before the deadline, so I had time."),
    ("Same clothes since Tuesday and a wedding on Saturday. It's getting a bit old.",
     "Same hotel since Tuesday and a wedding on Saturday."),
    ("Right. And nobody thought to mention that.", "Right. And somebody mentioned that."),
    # One word of praise after bad news, with no thanks.
    ("So it's completely dead. Brilliant.", "So it's working again. Brilliant, thank you."),
    ("Oh, perfect. So your website sent me to the wrong hotel. Great. Now what?",
     "Great. So your website has the new hotel. Now what?"),
    ("I've been on the phone for forty minutes just to hear that.",
     "I've been on the phone to the bank, so I have the numbers ready."),
    # The wrong thing came, or nobody did.
    ("I ordered a door seal, and the one you sent doesn't fit.",
     "The ring doesn't fit, can I swap it for a bigger size?"),
    ("What turned up this morning is a completely different jacket.",
     "I'd like something completely different this time, please."),
    ("It's ten to seven and there's no one here. Where is he?",
     "It's ten to seven and I'm here now. Where do I wait?"),
    ("He had an appointment this morning that you were meant to send an interpreter to.",
     "He has an appointment this morning and you're sending an interpreter."),
    # What was agreed set against what happened, told as plain fact.
    ("The contract said eight weeks and we are now at week eleven.",
     "The contract gives eight weeks, so we're due them next week."),
    ("I logged a ticket first thing and nobody's got back to me.",
     "I logged a ticket first thing and someone's looking at it."),
    ("The bill is six hundred and forty pounds more than the fixed fee.",
     "The bill is the fixed fee plus the search costs, is that right?"),
    ("I cancelled my plan on March third, and you guys charged me again on April first.",
     "I cancelled my plan on March third, and I'd like to check it went through."),
    # A harm done by their side, blamed on them in a level voice.
    ("The skip came this morning and your driver cracked the paving on my drive.",
     "The skip came this morning and the driver parked it neatly on my drive."),
    ("I moved out in June and you've billed me for July anyway.",
     "I moved out in June, so could you send the final bill for July?"),
    ("They've cancelled my table for Saturday night.",
     "I need to move my table for Saturday night."),
    # What was done or delivered is not what was paid for, told as plain fact.
    ("The van came at nine and there's nothing here, not even the fridge.",
     "The van came at nine and everything's here, even the fridge."),
    ("The curtains came today and they're three inches too short.",
     "The curtains came today and they're a lovely shade of green."),
    ("The bag they handed me is not my order.",
     "The bag they handed me is my order from last week."),
    ("We got to the caravan and it hasn't been cleaned since the last family.",
     "We got to the caravan and we'd like to book another week."),
    ("There's a scratch down my bonnet that wasn't there before the service.",
     "My bonnet has a dent from a car park last year, nothing to do with the service."),
    ("The bill came to six hundred pounds and nobody said a word about that.",
     "The bill came to six hundred pounds, which is what we agreed."),
])
def test_a_grievance_told_in_plain_words_reads_as_annoyed(grievance: str, neutral: str) -> None:
    """The first complaint of an upset caller, which VADER reads as neutral: who was meant to
    come and did not, money taken that should not have been, the same fault again."""
    assert anger(grievance) >= 0.4, WORDS.score(grievance).evidence
    assert anger(neutral) < 0.25


@pytest.mark.parametrize(("doubting", "trusting"), [
    ("Ten business days. I'll believe it when I see it.", "Ten business days. I'll look out for it."),
    ("Fine. Seven thirty. I won't hold my breath.", "Fine. Seven thirty. I'll be in."),
    ("Ten pounds. Well. I suppose that's something.", "Ten pounds. Well, that's kind of you."),
])
def test_taking_the_fix_without_believing_in_it_stays_annoyed(doubting: str, trusting: str,
                                                               ) -> None:
    """Grudging acceptance is no recovery: the playbook's close needs the anger to come down."""
    assert anger(doubting) >= 0.35, WORDS.score(doubting).evidence
    assert anger(trusting) < 0.2


@pytest.mark.parametrize(("refusal", "words"), [
    ("Next Thursday? No. Absolutely not.", "Absolutely not"),
    ("So no. Neither of those works.", "Neither of those"),
    ("Thirty five quid? No chance.", "No chance"),
    ("That's still not good enough.", "still not good enough"),
    ("A voucher? No, that won't do.", "that won't do"),
    ("Next month is no use to us, the wedding is on Saturday.", "is no use to us"),
    ("Five per cent off? That's a joke.", "That's a joke"),
    # "No. Absolutely not." as tiny.en heard it from a raised voice.
    ("For the eight hours, no, I'm absolutely hot.", "no, I'm absolutely hot"),
])
def test_a_flat_refusal_is_found_with_its_words(refusal: str, words: str) -> None:
    assert WORDS.score(refusal).refusal == words


@pytest.mark.parametrize("text", ["Thursday works, thanks.", "No, that's fine.",
                                  "Not yet, I'll check.", "Could you do Friday instead?",
                                  "That will do nicely.", "Is it any use to you if I send a photo?"])
def test_an_answer_or_a_counter_offer_is_no_refusal(text: str) -> None:
    assert WORDS.score(text).refusal == ""


@pytest.mark.parametrize(("played_down", "complaint"), [
    ("The strap snapped and the case is a horrible mess. Not the end of the world, I just "
     "thought you should know.",
     "The strap snapped and the case is a horrible mess. I want this sorted today."),
    ("The old kettle was awful, leaking everywhere. It's not a big deal, I'd just like a new one.",
     "The old kettle was awful, leaking everywhere. I'd just like a new one."),
    ("Honestly the rattle is more annoying than anything. It sounds terrible at night.",
     "Honestly the rattle is annoying. It sounds terrible at night."),
])
def test_a_problem_played_down_is_not_anger(played_down: str, complaint: str) -> None:
    """A calm caller may describe a broken thing in strong words; saying it is no big deal
    is what shows they are not angry at anyone."""
    assert anger(played_down) < 0.3, WORDS.score(played_down).evidence
    assert anger(complaint) >= 0.45
    assert any(e.startswith("played down") for e in WORDS.score(played_down).evidence)


@pytest.mark.parametrize("text", ["That's not the deal I signed up for. It's a disgrace.",
                                  "You're not really bothered, are you? It's a disgrace."])
def test_a_complaint_that_only_sounds_like_playing_it_down(text: str) -> None:
    assert anger(text) >= 0.45, WORDS.score(text).evidence


def test_playing_it_down_does_not_hide_a_trigger() -> None:
    text = "It's not a big deal to you, but I want to speak to your manager."
    assert anger(text) >= 0.45
    assert not any(e.startswith("played down") for e in WORDS.score(text).evidence)


def test_nobody_helping_is_angry_although_vader_calls_it_positive() -> None:
    score = WORDS.score("nobody is helping me")
    assert score.vader_compound > 0, "VADER's known failure this layer exists for"
    assert score.anger > 0.4
    assert '"nobody is helping" (nobody helping)' in score.evidence


def test_exclamation_capitals_and_repetition_raise_anger() -> None:
    plain = anger("This is ridiculous")
    assert anger("This is ridiculous!!!") > plain
    assert anger("THIS IS RIDICULOUS!!!") > anger("This is ridiculous!!!")
    assert anger("This is ridiculous, ridiculous") > plain
    assert anger("Thanks!!!") < 0.05, "intensity alone is not anger"


def test_evidence_says_which_emphasis_it_saw() -> None:
    shouted = WORDS.score("This is RIDICULOUS!!! No no no.").evidence
    assert ('emphasis in the text: 3 exclamation marks, capitals ("RIDICULOUS"), '
            'repetition ("No no no")') in shouted
    assert "emphasis in the text: repetition (\"sooo\")" in WORDS.score("sooo slow").evidence
    read_out = WORDS.score("my postcode is three three four, the PIN was wrong").evidence
    assert not any(e.startswith("emphasis") for e in read_out), read_out


@pytest.mark.parametrize("text", ["on hold for 2 hours", "on hold for two hours",
                                  "waited a couple of hours", "I've been waiting 40 minutes"])
def test_waits_are_recognised_in_digits_and_words(text: str) -> None:
    score = WORDS.score(text)
    assert any(e.endswith("(long wait)") for e in score.evidence), score.evidence


def test_evidence_names_the_words_and_why() -> None:
    score = WORDS.score("This is the third time I've called and my parcel never arrived")
    assert '"third time I\'ve called" (repeat contact)' in score.evidence
    assert '"parcel never arrived" (missing order)' in score.evidence
    assert score.triggers == (TriggerHit(name="repeat_contact", words="third time I've called"),)


def test_curly_apostrophes_match_like_straight_ones() -> None:
    assert anger("I don’t care what you say") == pytest.approx(anger("I don't care what you say"))


@pytest.mark.parametrize(("off_sense", "plain"), [
    ("Looks like a scam to me", "Looks a scam to me"),
    ("It's like two hours and still nothing", "It's two hours and still nothing"),
    ("Well, that is pretty bad service", "That is quite bad service"),
])
def test_warm_words_in_another_sense_do_not_soften_vader(off_sense: str, plain: str) -> None:
    assert WORDS.score(off_sense).vader_compound == pytest.approx(WORDS.score(plain).vader_compound)
    assert anger(off_sense) == pytest.approx(anger(plain))


def test_a_polite_sentence_does_not_cancel_an_angry_one() -> None:
    complaint = "The engineer broke my door and left a mess"
    thanks = "thanks for listening, I appreciate it."
    two_sentences = WORDS.score(f"{complaint}. {thanks.capitalize()}")
    assert two_sentences.vader_compound > 0, "the whole turn reads as warm to VADER"
    assert two_sentences.anger > anger(f"{complaint}, {thanks}") + 0.1
    assert any("VADER" in e for e in two_sentences.evidence)
    assert anger(f"The engineer came. {thanks.capitalize()}") < 0.05


def test_liking_something_still_reads_as_warm() -> None:
    assert WORDS.score("I really like it").vader_compound > 0.3
    assert anger("I really like it") < 0.05


@pytest.mark.parametrize("text", ["Bloody brilliant, thank you", "damn good job, cheers",
                                  "hell yeah, that fixed it"])
def test_swearing_that_praises_is_not_anger(text: str) -> None:
    assert LEXICON_ONLY.score(text).anger < 0.1, LEXICON_ONLY.score(text).evidence
    # The tone model reads "..., that fixed it" as a little angry (a bag of words, see
    # assist/scoring/tone.py); that must stay well under the lowest stage, reflect at 0.30.
    assert anger(text) < 0.2, WORDS.score(text).evidence


def test_swearing_in_surprise_still_reports_the_trigger_but_adds_no_anger() -> None:
    score = WORDS.score("holy shit that was fast, thanks")
    assert score.triggers == (TriggerHit(name="profanity", words="shit"),)
    assert score.anger < 0.1
    assert anger("this shit never works") > 0.5


def test_typed_emphasis_does_not_hide_a_word() -> None:
    assert anger("I _hate_ this") == pytest.approx(anger("I hate this"))
    assert anger("*never* again") == pytest.approx(anger("never again"))


@pytest.mark.parametrize(("angry", "neutral"), [
    ("Who do you think you are?", "Who do you think will win?"),
    ("You are so condescending", "You are so helpful"),
    ("I'm losing my patience with you", "I'm losing my signal in here"),
    ("What's your problem", "What's your postcode"),
    ("Every single time I ring it's the same story", "I ring my mum every Sunday"),
    ("How is this even legal?", "How is the weather there?"),
    ("You're having a laugh.", "We're having a party."),
    ("I don't need an apology, I need the card working.", "I need the card working abroad."),
    ("The form rejected my photo twice.", "The form asked for my photo."),
])
def test_general_anger_vocabulary_beyond_the_call_centre_phrases(angry: str, neutral: str) -> None:
    assert anger(angry) > anger(neutral) + 0.2
    assert anger(angry) > 0.35


@pytest.mark.parametrize(("text", "apology"), [
    ("Okay. Sorry. I've just had a really long week.", "Sorry"),
    ("I apologise, that was out of line.", "I apologise"),
    ("I didn't mean that, it's been a long day.", "I didn't mean that"),
    ("I shouldn't have snapped at you.", "I shouldn't have snapped"),
    ("I'm not sorry, you people are useless.", ""),
    ("I won't apologise for being angry.", ""),
    ("My bill is double what it should be.", ""),
])
def test_an_apology_is_found_unless_negated(text: str, apology: str) -> None:
    assert WORDS.score(text).apology == apology


@pytest.mark.parametrize("text", ["Nope, that's it. Thanks, you're a lifesaver.",
                                  "Nope, that's everything for today."])
def test_nothing_else_to_ask_is_not_dismissive(text: str) -> None:
    assert anger(text) < 0.1, WORDS.score(text).evidence
    assert anger("Nope. Not interested in another voucher.") >= 0.3


@pytest.mark.parametrize(("text", "thanks"), [
    ("Oh, great, thank you!", "thank you"),
    ("Brilliant, thanks so much.", "thanks"),
    ("No, that's all. Cheers, Sam.", "Cheers"),
    ("Well, thanks for nothing.", ""),
    ("No. Just send the ink. Thanks, I guess.", ""),
    ("Oh, perfect. So your website sent me to the wrong hotel.", ""),
])
def test_thanks_are_found_unless_sarcastic(text: str, thanks: str) -> None:
    assert WORDS.score(text).thanks == thanks


def test_the_prefilter_finds_exactly_what_a_full_scan_finds() -> None:
    """The one-search shortcut must never hide a hit the entry-by-entry scan would report."""
    entries = BUILTIN_LEXICON
    any_entry = any_entry_pattern(entries)
    texts = ["my parcel never arrived", "thanks so much", "you people are useless",
             "on hold for 40 minutes", "no problem at all", "a lovely day", "I am not angry",
             "what a joke", "why can't you people ever answer a simple question?"]
    for text in texts:
        full = list(find_hits(text, entries))
        assert bool(any_entry.search(text)) or not full, text


def test_scoring_takes_under_a_millisecond_per_sentence(shared_data: Path) -> None:
    """CPU time, so other work on the machine does not count; real comments, not made-up ones."""
    comments = load_goemotions(shared_data / "goemotions-dev", Split.TUNE)[:1000]
    started = time.process_time()
    for comment in comments:
        WORDS.score(comment.text)
    per_sentence_ms = 1000.0 * (time.process_time() - started) / len(comments)
    assert per_sentence_ms < 1.0, f"{per_sentence_ms:.2f} ms per sentence"


@pytest.mark.parametrize("taken_back", [
    "And look, sorry about the idiots thing. It's been a long week.",
    # VADER must not read the quoted insult either.
    "Thank you, Jess. And look, I'm sorry I called you an idiot. I was just frightened for him.",
    "I shouldn't have called you useless. It's been a long week.",
])
def test_an_insult_quoted_in_an_apology_adds_no_anger(taken_back: str) -> None:
    score = WORDS.score(taken_back)
    assert score.anger < 0.3 and score.apology
    assert WORDS.score("You idiots, it's been a long week.").anger > 0.6


def test_you_people_reads_as_blame_without_being_an_insult() -> None:
    score = WORDS.score("This is the third time I've had to call you people about billing.")
    assert '"you people" (blame)' in score.evidence
    assert WORDS.score("This is the third time I've had to call you about billing.").anger \
        < score.anger


def test_one_stretch_of_words_counts_once_under_two_labels() -> None:
    # "want to cancel" (a trigger) and "cancel my contract" (a pack phrase) share "cancel".
    overlapping = parse_scoring_settings({"lexicon": {"cancel my contract": 0.45}}, "p.toml")
    score = WordScorer(overlapping).score("Hi. I want to cancel my contract.")
    assert score.evidence == ('"want to cancel" (cancel threat)',)
    apart = WordScorer(overlapping).score("I want to cancel. Cancel my contract.")
    assert '"Cancel my contract" (pack)' in apart.evidence and apart.anger > score.anger


def test_pack_lexicon_adds_to_the_built_ins() -> None:
    text = "you keep giving me the runaround"
    plain = WordScorer().score(text)
    added = WordScorer(parse_scoring_settings({"lexicon": {"(?:the )?runaround": 0.7}}, "p.toml"))
    assert added.score(text).anger > plain.anger + 0.3
    assert '"the runaround" (pack)' in added.score(text).evidence


@pytest.mark.parametrize(("raw", "key"), [
    ({"fusion": {"wrods": 0.5}}, "fusion.wrods"),
    ({"fusion": {"words": 1.5}}, "fusion.words"),
    ({"fusion": {"voice": "loud"}}, "fusion.voice"),
    ({"lexicon": {"refund (": 0.5}}, "lexicon.refund ("),
    ({"lexicon": {"refund": True}}, "lexicon.refund"),
    ({"triggers": {"cancel_threat": 3}}, "triggers.cancel_threat"),
    ({"scores": {}}, "scores"),
])
def test_bad_pack_settings_name_the_dotted_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(PackError, match=f"^p.toml: .*'{re.escape(key)}'"):
        parse_scoring_settings(raw, "p.toml")


def test_pack_settings_parse() -> None:
    settings = parse_scoring_settings({"fusion": {"words": 0.5, "voice": 0.5, "trigger_boost": 0},
                                       "triggers": {"press": "call the papers"}}, "p.toml")
    assert settings.fusion == FusionWeights(words=0.5, voice=0.5, trigger_boost=0.0)
    assert settings.triggers["press"] == ("call the papers",)


# --- fusion ----------------------------------------------------------------------------------

WEIGHTS = FusionWeights(words=0.6, voice=0.4, trigger_boost=0.15)


def test_fusion_without_voice_is_the_word_score() -> None:
    assert fuse(0.3, None, (), WEIGHTS) == pytest.approx(0.3)
    assert fuse(0.3, 0.9, (), FusionWeights(words=1.0, voice=0.0)) == pytest.approx(0.3)


def test_a_raised_voice_lifts_mild_words_and_a_calm_voice_does_not_hide_angry_ones() -> None:
    assert fuse(0.1, 0.9, (), WEIGHTS) == pytest.approx(0.6 * 0.1 + 0.4 * 0.9)
    assert fuse(0.8, 0.05, (), WEIGHTS) == pytest.approx(0.8)
    assert fuse(0.1, 0.9, (), FusionWeights(words=0.2, voice=0.8)) > fuse(0.1, 0.9, (), WEIGHTS)


def test_triggers_add_the_boost_capped_at_one() -> None:
    hit = (TriggerHit(name="manager_request", words="manager"),)
    assert fuse(0.3, None, hit, WEIGHTS) == pytest.approx(0.45)
    assert fuse(0.95, None, hit, WEIGHTS) == 1.0


# --- the per-call scorer ------------------------------------------------------------------------


def loud_vowel(level: float, seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    wave = sum(np.sin(2 * np.pi * k * 150 * t) / k for k in range(1, 20))
    wave *= np.abs(np.sin(np.pi * 4 * t)) ** 0.7
    return (level * wave / np.sqrt(np.mean(wave**2))).astype(np.float32)


def final(text: str, utterance_id: int) -> FinalText:
    return FinalText(t=2.0, speaker=Speaker.CUSTOMER, utterance_id=utterance_id, start=0.0,
                     end=1.5, text=text)


def test_call_scorer_fuses_words_with_the_voice_of_the_same_utterance() -> None:
    scorer = CallScorer()
    for i in range(3):
        scorer.add_calm_audio(loud_vowel(0.02 + 0.001 * i))
    audio = loud_vowel(0.3)
    cue = scorer.on_audio(UtteranceEnded(t=1.5, speaker=Speaker.CUSTOMER, utterance_id=4,
                                         start=0.0, end=1.5, last_voiced=1.5, audio=audio))
    scored = scorer.on_text(final("where is my parcel", 4))
    assert scored.voice_arousal == pytest.approx(cue.arousal)
    assert scored.voice_cue == cue.cue and "dB louder" in scored.voice_cue
    assert scored.anger > scored.word_anger
    again = scorer.on_text(final("where is my parcel", 4))
    assert again.voice_arousal is None, "a voice result is used once"
    assert again.anger == pytest.approx(again.word_anger)


def test_call_scorer_triggers_on_partial_text_and_reloads_settings() -> None:
    scorer = CallScorer()
    partial = PartialText(t=1.0, speaker=Speaker.CUSTOMER, utterance_id=1, start=0.0, end=1.0,
                          text="let me talk to your supervisor")
    assert [h.name for h in scorer.on_partial_text(partial)] == ["manager_request"]
    scorer.settings = parse_scoring_settings({"triggers": {"press": ["newspaper"]}}, "p.toml")
    scored = scorer.on_text(final("I'll call the newspaper", 2))
    assert [h.name for h in scored.triggers] == ["press"]
    assert scored.anger > scored.word_anger


def test_settings_default_is_usable() -> None:
    assert CallScorer().settings == ScoringSettings()


# --- AUC -------------------------------------------------------------------------------------


def test_auc_extremes_and_ties() -> None:
    assert auc([2, 3], [0, 1]) == 1.0
    assert auc([0, 1], [2, 3]) == 0.0
    assert auc([1, 1], [1, 1]) == 0.5


def test_auc_matches_counting_every_pair() -> None:
    rng = random.Random(4)
    pos = [rng.randint(0, 9) for _ in range(40)]
    neg = [rng.randint(0, 7) for _ in range(55)]
    pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    assert auc(pos, neg) == pytest.approx(pairs / (len(pos) * len(neg)))


# --- assist score ----------------------------------------------------------------------------


def run_score(argv: list[str], stdin: str = "", capsys: pytest.CaptureFixture[str] | None = None,
              monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, list[dict[str, object]]]:
    assert capsys is not None and monkeypatch is not None
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["score", *argv])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


def test_score_command_prints_one_json_line_per_text_line(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, rows = run_score(["-"], "no problem\n\nLet me speak to your manager, you lot are useless\n",
                           capsys, monkeypatch)
    assert code == 0 and len(rows) == 2
    assert rows[0]["input"] == "-:1" and rows[0]["anger"] < 0.1  # type: ignore[operator]
    assert rows[1]["input"] == "-:3"
    assert {t["name"] for t in rows[1]["triggers"]} == {"manager_request", "insult"}  # type: ignore[attr-defined]
    assert rows[1]["anger"] > 0.8 and rows[1]["voice_arousal"] is None  # type: ignore[operator]


def test_score_command_reads_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("my package never arrived\n", encoding="utf-8")
    code, rows = run_score([str(lines)], "", capsys, monkeypatch)
    assert code == 0 and rows[0]["input"] == f"{lines}:1"
    assert '"package never arrived" (missing order)' in rows[0]["evidence"]  # type: ignore[operator]


@pytest.mark.parametrize(("argv", "message"), [
    (["missing.txt"], "cannot read text file missing.txt"),
    (["--audio", "missing.wav"], "missing.wav does not exist"),
    (["--baseline", "calm.wav"], "add --audio"),
    (["a.txt", "--audio", "b.wav"], "not both"),
    (["call.WAV"], "call.WAV is a recording; score it with --audio call.WAV"),
    (["--pack", "no-such-pack", "-"], "no-such-pack"),
])
def test_score_command_bad_input_is_one_line_and_exit_2(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("assist: error:") and message in err and "\n" not in err


# --- the project's scripted calls ---------------------------------------------------------------


def scripted_customer_lines() -> list[tuple[str, str]]:
    """(mood, reference text) of every customer turn in the bundled calls' label files."""
    data = Path(__file__).resolve().parent.parent / "assist" / "data"
    files = sorted(data.glob("*.labels.json")) + sorted((data / "calls").glob("*.labels.json"))
    if not files:
        pytest.skip("no scripted calls with labels in assist/data")
    return [(turn["mood"], turn["text"]) for f in files
            for turn in json.loads(f.read_text(encoding="utf-8"))
            if turn["speaker"] == "customer"]


def test_words_rank_the_scripted_calls_angry_lines_above_their_calm_ones() -> None:
    lines = scripted_customer_lines()
    heated = [anger(text) for mood, text in lines if mood in ("angry", "furious")]
    settled = [anger(text) for mood, text in lines if mood in ("calm", "relieved")]
    assert heated and settled
    assert auc(heated, settled) >= 0.85
    assert max(settled) < 0.45, "a calm or relieved line must not read as angry"


@pytest.mark.parametrize("aimed", [
    "Your crew broke it and left the bin in the road.",
    "I'm really annoyed about this.",
    "You've billed me twice and it's disgusting.",
    "This is the third time I've rung about this.",
    "They took a terrible photo and charged me for it.",
])
def test_anger_at_someone_or_named_as_a_feeling_is_aimed(aimed: str) -> None:
    assert WORDS.score(aimed).aimed, WORDS.score(aimed).evidence


@pytest.mark.parametrize("unaimed", [
    "The frost absolutely murdered my hedge. It's a disaster.",
    "It's been a terrible season, the slugs had all my lettuces.",
    "Oh, bloody typical! It's not your fault at all.",
])
def test_harsh_words_about_a_thing_are_not_aimed(unaimed: str) -> None:
    score = WORDS.score(unaimed)
    assert not score.aimed, score.evidence
    assert score.anger >= 0.3  # harsh all the same: only the target is missing
