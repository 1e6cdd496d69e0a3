"""A trainer saves the prompt pack during a call: the running pipeline picks it up, and a broken
save keeps the previous pack and says why (the overlay shows both as a notice)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from test_pipeline import DurationTranscriber, ListSource, conversation

from assist.audio.sources import AudioBlock, Blocks
from assist.audio.vad import EnergyActivityForTests
from assist.config import Config
from assist.events import Cue, Event, PromptShown, Stage
from assist.paths import prompts_dir
from assist.pipeline import Pipeline
from assist.prompts import load_pack

SPEED = 3.0


class PacedListSource(ListSource):
    """The synthetic conversation at three times real pace, so a save lands mid-call."""

    def blocks(self) -> Blocks:
        started = time.monotonic()
        for item in super().blocks():
            if isinstance(item, AudioBlock):
                delay = started + item.t / SPEED - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield item


def wait_for(events: list[Event], predicate: object, seconds: float = 20) -> Event:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [e for e in list(events) if predicate(e)]  # type: ignore[operator]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("timed out waiting for an event")


def test_a_saved_pack_takes_effect_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    pack_file = tmp_path / "team.toml"
    shutil.copy(prompts_dir() / "default.toml", pack_file)
    seen: list[Event] = []
    customer, agent = conversation()
    pipeline = Pipeline(PacedListSource(customer, agent), Config(),
                        transcriber=DurationTranscriber(), pack=load_pack(str(pack_file)),
                        sinks=[seen.append], vad_factory=EnergyActivityForTests, watch_pack=True)
    pipeline.start()
    try:
        original = pack_file.read_text(encoding="utf-8")
        pack_file.write_text(original.replace('headline = "', 'headline = "NEW: '),
                             encoding="utf-8")
        reloaded = wait_for(seen, lambda e: isinstance(e, Cue) and e.kind == "pack_reloaded")
        assert isinstance(reloaded, Cue) and reloaded.message == "Prompt pack reloaded: team.toml"

        pack_file.write_text(original + "\n[escalation]\nnot_a_key = 1\n", encoding="utf-8")
        refused = wait_for(seen, lambda e: isinstance(e, Cue) and e.kind == "pack_error")
        assert isinstance(refused, Cue)
        assert "Kept the previous prompt pack" in refused.message and "team.toml" in refused.message
        assert pipeline.wait(60)
    finally:
        pipeline.stop()
        pipeline.wait(30)

    after = seen[seen.index(reloaded):]
    prompts = [e for e in after if isinstance(e, PromptShown) and e.stage is not Stage.CALM]
    assert prompts, "the call should raise prompts after the save"
    assert all(p.headline.startswith("NEW: ") for p in prompts), [p.headline for p in prompts]


def test_watching_is_off_for_replays_by_default() -> None:
    customer, agent = conversation()
    seen: list[Event] = []
    pipeline = Pipeline(ListSource(customer, agent), Config(), transcriber=DurationTranscriber(),
                        pack=load_pack("default"), sinks=[seen.append],
                        vad_factory=EnergyActivityForTests)
    pipeline.start()
    assert pipeline.wait(60)
    assert not any(isinstance(e, Cue) and e.kind.startswith("pack") for e in seen)
