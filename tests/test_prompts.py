"""Prompt packs: wording, the default pack, strict validation with lines, and hot reload."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from assist import paths
from assist.errors import PackError
from assist.escalation import EscalationSettings
from assist.events import Stage, StageChanged, UtteranceScored
from assist.prompts import (
    MAX_REFLECTION_WORDS,
    PackWatcher,
    PromptPack,
    find_line,
    load_pack,
    make_prompt,
    reflect_back,
)

DEFAULT = paths.PROJECT_ROOT / "prompts" / "default.toml"


# --- reflect_back --------------------------------------------------------------------------


@pytest.mark.parametrize(("said", "reflected"), [
    ("my refund never came", "your refund never came"),
    ("I'm sick of being lied to.", "you're sick of being lied to"),
    ("I've been waiting since Monday for my engineer", "you've been waiting since Monday for your engineer"),
    ("Um, look, I was told you would call me back yesterday.",
     "you were told I would call you back yesterday"),
    ("You promised me a refund and I never got it!", "I promised you a refund and you never got it"),
    ("We paid for our tickets myself", "you paid for your tickets yourself"),
    ("the fault is mine", "the fault is yours"),
    ("You people never listen to me", "we never listen to you"),
    ("Are you even listening to me?", "am I even listening to you"),
    ("Why won't you just refund me", "why won't I just refund you"),
    ("It's four seven two nine. This is the third time I've called about it, and it "
     "still hasn't come.", "this is the third time you've called about it"),
    ("Okay, so, uh, the parcel that was due on Monday still isn't here",
     "the parcel that was due on Monday still isn't here"),
])
def test_reflect_back_turns_pronouns_and_keeps_the_informative_clause(said: str,
                                                                      reflected: str) -> None:
    assert reflect_back(said) == reflected


@pytest.mark.parametrize("said", ["", "um", "Biscuit!", "Yes. Okay. Right.", "uh, well, no"])
def test_reflect_back_returns_nothing_when_nothing_is_worth_echoing(said: str) -> None:
    assert reflect_back(said) == ""


def test_reflect_back_trims_a_long_clause_to_a_glance() -> None:
    said = ("I have been trying to get somebody from your billing department to explain the "
            "extra charges on my account for the best part of three months now")
    reflected = reflect_back(said)
    assert reflected.startswith("you have been trying to get somebody from my billing")
    assert reflected.endswith("…")
    assert len(reflected.split()) == MAX_REFLECTION_WORDS


# --- make_prompt -------------------------------------------------------------------------------


def change(stage: Stage, t: float = 30.0) -> StageChanged:
    return StageChanged(t=t, stage=stage, previous=Stage.CALM, reason="test", level=0.4,
                        trend=0.1)


def said(text: str, end: float = 28.0) -> UtteranceScored:
    return UtteranceScored(t=end, utterance_id=1, start=end - 3, end=end, text=text,
                           word_anger=0.4, voice_arousal=0.5, anger=0.4)


def test_make_prompt_fills_in_the_customers_own_words() -> None:
    pack = load_pack("default")
    prompt = make_prompt(pack, change(Stage.REFLECT), said("Look, my refund never came."))
    assert prompt.stage is Stage.REFLECT
    assert prompt.headline == pack.stages[Stage.REFLECT].headline
    assert "your refund never came" in prompt.line
    assert "{" not in prompt.line
    assert prompt.do == pack.stages[Stage.REFLECT].do and prompt.do
    assert prompt.dont == pack.stages[Stage.REFLECT].dont and prompt.dont
    assert prompt.t == 30.0


@pytest.mark.parametrize("last", [None, said("Biscuit!"), said("my refund never came", end=-5.0)])
def test_make_prompt_falls_back_to_a_line_without_words(last: UtteranceScored | None) -> None:
    pack = load_pack("default")
    prompt = make_prompt(pack, change(Stage.REFLECT), last)
    assert prompt.line in pack.stages[Stage.REFLECT].lines
    assert "{reflection}" not in prompt.line


def test_every_stage_of_the_default_pack_has_a_prompt() -> None:
    pack = load_pack("default")
    assert set(pack.stages) == set(Stage)
    for stage in Stage:
        prompt = make_prompt(pack, change(stage), said("my order never arrived"))
        assert prompt.headline and prompt.line
        assert "{" not in prompt.line


def test_default_pack_loads_its_settings() -> None:
    pack = load_pack("default")
    assert pack.path == DEFAULT
    assert isinstance(pack.escalation, EscalationSettings)
    assert pack.escalation.enter.reflect < pack.escalation.enter.empathize
    assert pack.escalation.force["insult"] is Stage.BOUNDARY
    assert pack.scoring.fusion.words + pack.scoring.fusion.voice == pytest.approx(1.0)
    assert "manager_request" in pack.scoring.triggers


def test_a_pack_can_be_named_by_path(tmp_path: Path) -> None:
    copy = tmp_path / "mine.toml"
    copy.write_text(DEFAULT.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_pack(str(copy)).path == copy


def test_an_unknown_pack_name_lists_the_ones_that_exist() -> None:
    with pytest.raises(PackError, match=r"prompt pack 'nosuchpack' not found.*default"):
        load_pack("nosuchpack")


# --- validation ------------------------------------------------------------------------------------


def line_of(source: str, needle: str) -> int:
    """1-based line of the first occurrence of ``needle`` in ``source``."""
    return source[:source.index(needle)].count("\n") + 1


def broken(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    source = DEFAULT.read_text(encoding="utf-8")
    assert old in source
    text = source.replace(old, new, 1)
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    return path, text


@pytest.mark.parametrize(("old", "new", "key", "says"), [
    ("trend_window_s = 20.0", "trend_windw_s = 20.0", "escalation.trend_windw_s",
     "not a known key"),
    ("confirm_utterances = 2", 'confirm_utterances = "two"', "escalation.confirm_utterances",
     "must be a number"),
    ("confirm_utterances = 2", "confirm_utterances = 2.5", "escalation.confirm_utterances",
     "whole number"),
    ("silence_half_life_s = 45.0", "silence_half_life_s = -3", "escalation.silence_half_life_s",
     "out of range"),
    ("boundary_clear_s = 8.0", "boundary_clear_s = nan", "escalation.boundary_clear_s",
     "must be a finite number"),
    ("voice_early = true", "voice_early = 1", "escalation.voice_early", "must be true or false"),
    ("[escalation.exit]\nreflect = 0.20", "[escalation.exit]\nreflect = 0.35",
     "escalation.exit.reflect", "must be below enter.reflect"),
    ("[escalation.enter]\nreflect = 0.30\nempathize = 0.42",
     "[escalation.enter]\nreflect = 0.30\nempathize = 0.25", "escalation.enter.empathize",
     "must be above enter.reflect"),
    ('legal_threat = "escalate"', 'legal_threat = "empathize"', "escalation.force.legal_threat",
     "must be \"escalate\" or \"boundary\""),
    ('insult = "boundary"', 'insutl = "boundary"', "escalation.force.insutl",
     "names no trigger"),
    ("Just so I follow you: {reflection}?", "Just so I follow you: {reflexion}?",
     "stages.reflect.lines", "only placeholder is {reflection}"),
    ("Just so I follow you: {reflection}?", "Just so I follow you: {reflection!r}?",
     "stages.reflect.lines", "only placeholder is {reflection}"),
    ("Just so I follow you: {reflection}?", "Just so I follow you: {reflection?",
     "stages.reflect.lines", "stray brace"),
    ('dont = ["Hurry them off the line"]', 'donts = ["Hurry them off the line"]',
     "stages.close.donts", "not a known key"),
    ('headline = "All calm: just listen"', "headline = 3", "stages.calm.headline",
     "must be a string"),
    ("words = 0.6", "words = 1.6", "fusion.words", "out of range"),
    ("[stages.close]", "[stages.closing]", "stages.closing", "not a known key"),
])
def test_a_malformed_pack_names_file_key_and_line(tmp_path: Path, old: str, new: str, key: str,
                                                  says: str) -> None:
    path, text = broken(tmp_path, old, new)
    with pytest.raises(PackError) as caught:
        load_pack(str(path))
    message = str(caught.value)
    expected_line = line_of(text, new.splitlines()[-1])
    assert message.startswith(f"{path}:{expected_line}: '{key}'"), message
    assert says in message


def test_a_toml_syntax_error_names_its_line(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "close_after_raised_s = 15.0", "close_after_raised_s = = 15")
    with pytest.raises(PackError, match="not valid TOML") as caught:
        load_pack(str(path))
    assert str(caught.value).startswith(f"{path}:{line_of(text, '= = 15')}: ")


def test_a_missing_stage_is_named(tmp_path: Path) -> None:
    source = DEFAULT.read_text(encoding="utf-8")
    start = source.index("[stages.boundary]")
    text = source[:start] + source[source.index("[stages.close]"):]
    path = tmp_path / "short.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PackError, match=r"'stages.boundary' is missing") as caught:
        load_pack(str(path))
    assert str(caught.value).startswith(f"{path}:")


def test_a_stage_needs_a_line_that_works_without_the_callers_words(tmp_path: Path) -> None:
    old = 'lines = ["Nothing to do but listen: give them your full attention."]'
    path, text = broken(tmp_path, old, 'lines = ["So {reflection}?"]')
    with pytest.raises(PackError, match=r"needs one line without \{reflection\}") as caught:
        load_pack(str(path))
    assert f":{line_of(text, 'So {reflection}?')}: 'stages.calm.lines'" in str(caught.value)


def test_a_bad_lexicon_regex_is_located(tmp_path: Path) -> None:
    path, text = broken(tmp_path, '"cancel my (?:account|contract|subscription)" = 0.45',
                        '"cancel my (account" = 0.45')
    with pytest.raises(PackError, match="not a valid pattern") as caught:
        load_pack(str(path))
    assert str(caught.value).startswith(f"{path}:{line_of(text, 'cancel my (account')}: ")


def test_find_line_follows_tables_dotted_and_quoted_keys() -> None:
    source = "\n".join([
        "[a]",                      # 1
        "x = 1",                    # 2
        'note = """',               # 3
        "y = not a key",            # 4
        '"""',                      # 5
        "list = [",                 # 6
        "  'z = also not a key',",  # 7
        "]",                        # 8
        "b.c = 2",                  # 9
        "[a.d]",                    # 10
        '"with \\\\d space" = 3',   # 11
        "y = 4",                    # 12
    ])
    assert find_line(source, ("a", "x")) == 2
    assert find_line(source, ("a", "y")) == 1  # y exists only inside a string: parent table
    assert find_line(source, ("a", "b", "c")) == 9
    assert find_line(source, ("a", "d", "with \\d space")) == 11
    assert find_line(source, ("a", "d", "y")) == 12
    assert find_line(source, ("nowhere",)) is None


# --- hot reload ---------------------------------------------------------------------------------------


def edit(path: Path, old: str, new: str, bump_s: float) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    # Coarse file-system clocks could hide a quick second save; move the mtime on explicitly.
    stamp = path.stat().st_mtime + bump_s
    os.utime(path, (stamp, stamp))


@pytest.fixture
def pack_file(tmp_path: Path) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(DEFAULT.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def test_hot_reload_picks_up_a_valid_edit(pack_file: Path) -> None:
    watcher = PackWatcher(load_pack(str(pack_file)), interval_s=0.0)
    assert watcher.poll(1.0) is None
    edit(pack_file, 'headline = "Bring in a supervisor"', 'headline = "Get your team leader"', 2)
    new = watcher.poll(2.0)
    assert isinstance(new, PromptPack)
    assert new.stages[Stage.ESCALATE].headline == "Get your team leader"
    assert watcher.pack is new and watcher.error is None
    assert watcher.poll(3.0) is None


def test_hot_reload_keeps_the_old_pack_on_an_invalid_edit(pack_file: Path) -> None:
    watcher = PackWatcher(pack_file, interval_s=0.0)
    old = watcher.pack
    edit(pack_file, "[escalation.exit]\nreflect = 0.20", "[escalation.exit]\nreflect = 0.9", 2)
    assert watcher.poll(1.0) is None
    assert watcher.pack is old
    assert watcher.error is not None and "'escalation.exit.reflect'" in watcher.error
    edit(pack_file, "[escalation.exit]\nreflect = 0.9", "[escalation.exit]\nreflect = 0.15", 4)
    fixed = watcher.poll(2.0)
    assert fixed is not None and fixed.escalation.exit.reflect == 0.15
    assert watcher.error is None


def test_hot_reload_survives_the_file_disappearing(pack_file: Path) -> None:
    watcher = PackWatcher(pack_file, interval_s=0.0)
    pack_file.unlink()
    assert watcher.poll(1.0) is None
    assert watcher.pack.path == pack_file
    assert watcher.error is not None and "not found" in watcher.error


def test_hot_reload_polls_at_most_every_interval(pack_file: Path) -> None:
    watcher = PackWatcher(pack_file, interval_s=5.0)
    assert watcher.poll(100.0) is None
    edit(pack_file, 'headline = "Set a calm, firm boundary"', 'headline = "Boundary"', 2)
    assert watcher.poll(101.0) is None  # too soon to look again
    reloaded = watcher.poll(105.0)
    assert reloaded is not None and reloaded.stages[Stage.BOUNDARY].headline == "Boundary"


# --- documentation stays in step with the code ------------------------------------------------------


def setting_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted key of a settings dataclass, nested tables included."""
    keys: list[str] = []
    for f in dataclasses.fields(cls):
        nested = f.default_factory
        if isinstance(nested, type) and dataclasses.is_dataclass(nested):
            keys += setting_keys(nested, f"{f.name}.")
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def test_the_trainers_readme_documents_every_escalation_key() -> None:
    readme = (paths.PROJECT_ROOT / "prompts" / "README.md").read_text(encoding="utf-8")
    keys = setting_keys(EscalationSettings)
    assert "enter.reflect" in keys and "speech_half_life_s" in keys
    for key in keys:
        table, _, name = key.rpartition(".")
        documented = f"`{key}`" in readme or (
            f"[escalation.{table}]" in readme and f"`{name}`" in readme)
        assert documented, key
    for stage in Stage:
        assert f"`{stage.value}`" in readme


def test_the_default_pack_spells_out_the_built_in_defaults() -> None:
    # Trainers read the numbers in default.toml; they must be what the code does without it.
    assert load_pack("default").escalation == EscalationSettings()


def test_a_pack_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    source = (paths.prompts_dir() / "default.toml").read_bytes()
    bommed = tmp_path / "notepad.toml"
    bommed.write_bytes(b"\xef\xbb\xbf" + source)
    assert load_pack(str(bommed)).stages == load_pack("default").stages
