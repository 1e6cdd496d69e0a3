"""Score a grid of pack settings against labelled calls.

Every grid point is a full pack (base pack + ``--set`` overrides + the point's values), built
and validated by the pack loader; a point the loader refuses (an exit threshold above its
enter threshold, say) is listed with the loader's reason instead of a score. When the swept
keys are all ``[escalation]`` keys the scores cannot change, so only the stage machine runs
again over the inputs recorded from one full replay; otherwise every call is re-scored.
Points are spread over worker processes in chunks.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import sys
import tomllib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from assist.errors import PackError
from assist.events import StageChanged
from assist.prompts import PromptPack
from assist.tune.cache import CachedCall
from assist.tune.labels import Label
from assist.tune.metrics import Scorecard, score_call, total
from assist.tune.overrides import Override, Sweep, resolve_path
from assist.tune.packs import PackSource, pack_with
from assist.tune.replay import MachineInput, replay_call, replay_machine

log = logging.getLogger(__name__)

CHUNK = 25
"""Grid points per task: big enough to hide process overhead, small enough for a live bar."""
CHATTY_LOGGERS = ("assist.escalation", "assist.scoring", "assist.session", "assist.prompts")
"""Loggers that note every utterance and stage change: fine for one call, but thousands of
replayed calls would flood the log file and slow the sweep several times over."""

Setting = tuple[Override, ...]


@dataclass(frozen=True)
class LabelledCall:
    call: CachedCall
    labels: tuple[Label, ...]


@dataclass(frozen=True)
class SweepRow:
    setting: Setting
    card: Scorecard | None
    error: str = ""


def grid(sweeps: Sequence[Sweep]) -> list[Setting]:
    """Every combination of the swept values (several --sweep make a grid)."""
    axes = [[Override(sweep.key, v) for v in sweep.values] for sweep in sweeps]
    return [tuple(point) for point in itertools.product(*axes)]


def machine_only(base: PackSource, sweeps: Sequence[Sweep]) -> bool:
    """True when the swept keys cannot change any score, only the stage machine."""
    raw = tomllib.loads(base.text)
    return all(resolve_path(raw, s.key)[0] == "escalation" for s in sweeps)


class Evaluator:
    """Scores settings on a corpus; one per process."""

    def __init__(self, base: PackSource, fixed: Setting, corpus: Sequence[LabelledCall],
                 fast: bool) -> None:
        self.base = base
        self.fixed = fixed
        self.corpus = corpus
        self.fast = fast
        self._inputs: list[tuple[MachineInput, ...]] = []
        if fast:
            fixed_pack = pack_with(base, fixed)
            self._inputs = [replay_call(fixed_pack, c.call).inputs for c in corpus]

    def evaluate(self, setting: Setting) -> SweepRow:
        try:
            pack = pack_with(self.base, (*self.fixed, *setting))
        except PackError as e:
            return SweepRow(setting, None, str(e))
        return SweepRow(setting, total(self._score(pack)))

    def _score(self, pack: PromptPack) -> Iterator[Scorecard]:
        for i, labelled in enumerate(self.corpus):
            changes = self._changes(pack, i, labelled.call)
            yield score_call(changes, labelled.labels, labelled.call.duration)

    def _changes(self, pack: PromptPack, index: int, call: CachedCall) -> list[StageChanged]:
        if self.fast:
            return replay_machine(pack.escalation, self._inputs[index])
        return replay_call(pack, call).changes


_worker: Evaluator | None = None


def _start_worker(base: PackSource, fixed: Setting, corpus: Sequence[LabelledCall],
                  fast: bool) -> None:
    global _worker
    _quiet(CHATTY_LOGGERS)
    _worker = Evaluator(base, fixed, corpus, fast)


def _quiet(names: Sequence[str]) -> dict[str, int]:
    """Raise these loggers to WARNING; returns their levels before, for :func:`_restore`."""
    before = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)
    return before


def _restore(levels: dict[str, int]) -> None:
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _evaluate_chunk(settings: Sequence[Setting]) -> list[SweepRow]:
    assert _worker is not None, "worker process was not initialised"
    return [_worker.evaluate(s) for s in settings]


def run_sweep(base: PackSource, fixed: Setting, sweeps: Sequence[Sweep],
              corpus: Sequence[LabelledCall], *, jobs: int = 0,
              progress: Callable[[int], None] | None = None) -> list[SweepRow]:
    """Score every grid point; ``progress(n)`` is called as each chunk of n points finishes."""
    settings = grid(sweeps)
    fast = machine_only(base, sweeps)
    jobs = jobs or os.cpu_count() or 1
    chunks = [settings[i:i + CHUNK] for i in range(0, len(settings), CHUNK)]
    if jobs == 1 or len(chunks) == 1:
        levels = _quiet(CHATTY_LOGGERS)
        try:
            return _run_here(Evaluator(base, fixed, corpus, fast), chunks, progress)
        finally:
            _restore(levels)
    # fork starts workers fastest, but only Linux forks a threaded process safely.
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=context,
                             initializer=_start_worker,
                             initargs=(base, fixed, tuple(corpus), fast)) as pool:
        futures = [pool.submit(_evaluate_chunk, chunk) for chunk in chunks]
        return _collect(futures, progress)


def _run_here(evaluator: Evaluator, chunks: Sequence[Sequence[Setting]],
              progress: Callable[[int], None] | None) -> list[SweepRow]:
    rows: list[SweepRow] = []
    for chunk in chunks:
        rows += [evaluator.evaluate(s) for s in chunk]
        if progress:
            progress(len(chunk))
    return rows


def _collect(futures: Sequence[Future[list[SweepRow]]],
             progress: Callable[[int], None] | None) -> list[SweepRow]:
    rows: list[SweepRow] = []
    for future in futures:
        chunk = future.result()
        rows += chunk
        if progress:
            progress(len(chunk))
    return rows


def best(rows: Sequence[SweepRow]) -> SweepRow | None:
    """The best-ranked valid setting (see Scorecard.rank_key).

    Labels often cannot tell neighbouring values apart, so several settings tie for best.
    Of those, the one nearest the middle of the tie is chosen: it sits furthest from the
    edges where the score drops, so it is the choice least likely to be a lucky fit.
    """
    top = ranked(rows)
    if not top:
        return None
    key = _card(top[0]).rank_key()
    tied = [r for r in top if _card(r).rank_key() == key]
    centre = [sum(float(r.setting[i].value) for r in tied) / len(tied)
              for i in range(len(tied[0].setting))]
    spans = [max(_span(tied, i), 1e-9) for i in range(len(centre))]
    return min(tied, key=lambda r: sum(((float(o.value) - c) / s) ** 2
                                       for o, c, s in zip(r.setting, centre, spans, strict=True)))


def _span(rows: Sequence[SweepRow], axis: int) -> float:
    values = [float(r.setting[axis].value) for r in rows]
    return max(values) - min(values)


def _card(row: SweepRow) -> Scorecard:
    assert row.card is not None, "only scored rows are ranked"
    return row.card


def ranked(rows: Sequence[SweepRow]) -> list[SweepRow]:
    """The scored settings, best first (ties keep grid order)."""
    return sorted((r for r in rows if r.card is not None), key=lambda r: _card(r).rank_key())
