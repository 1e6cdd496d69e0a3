"""`assist tune`: replay calls with a prompt pack and overrides, sweep settings, measure prompts."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from assist.commands import common
from assist.config import Config
from assist.errors import ConfigError, PackError
from assist.tune.overrides import Override, Sweep, parse_set, parse_sweep

if TYPE_CHECKING:  # the heavy modules (matplotlib, SQLAlchemy) load only when tune runs
    from assist.tune.cache import CachedCall
    from assist.tune.packs import PackSource
    from assist.tune.report import CallReport
    from assist.tune.sweep import LabelledCall, SweepRow

log = logging.getLogger(__name__)

DEFAULT_REPORT_DIR = Path("tune-report")
PIPED_WIDTH = 160


def register(sub: Any) -> None:
    p = sub.add_parser(
        "tune", help="replay calls with a prompt pack, sweep its settings, measure prompts",
        description="Replay recordings (or stored calls, from their transcripts) through the "
        "pipeline with a prompt pack and --set overrides, and write a report comparing the "
        "current pack with the change. With labelled recordings (NAME.labels.json beside "
        "NAME.ogg), --sweep scores a grid of settings and --out writes the best pack. "
        "--effect shows how anger moved after each prompt in the call store.")
    p.add_argument("recordings", nargs="*", type=Path, metavar="FILE|DIR",
                   help="recordings to replay (a directory means every recording in it)")
    p.add_argument("--call", action="append", default=[], metavar="ID",
                   help="a stored call to re-score from its transcript (repeatable)")
    p.add_argument("--recent", type=int, default=0, metavar="N",
                   help="also re-score the N most recent stored calls")
    common.add_pack_option(p)
    p.add_argument("--set", action="append", default=[], dest="overrides",
                   metavar="KEY=VALUE",
                   help="change a pack setting, e.g. escalation.enter.empathize=0.45 or "
                        "fusion.words=0.7 (repeatable)")
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=START:STOP:STEP",
                   help="score every value of a setting against the labels (repeat for a grid)")
    p.add_argument("--out", type=Path, metavar="PACK.toml",
                   help="write the best swept pack (or the pack with --set) to this file")
    p.add_argument("--report", type=Path, default=DEFAULT_REPORT_DIR, metavar="DIR",
                   help="where the HTML report goes (default: %(default)s)")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.add_argument("--top", type=int, default=15, metavar="N",
                   help="rows of the sweep table to print (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=0, metavar="N",
                   help="worker processes for a sweep (default: one per core)")
    p.add_argument("--script-text", action="store_true",
                   help="score what the labels say each customer turn was (their \"text\") "
                        "instead of what the recogniser heard: what is left of a disagreement "
                        "is the scoring's")
    p.add_argument("--effect", action="store_true",
                   help="print how anger moved in the minute after each prompt, and the "
                        "agents' useful/not useful marks, from the call store")
    common.add_file_channel_options(p)
    common.add_model_option(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    if args.effect:
        return _print_effects(config)
    overrides = tuple(parse_set(text) for text in args.overrides)
    sweeps = [parse_sweep(text) for text in args.sweep]
    _check_args(args)
    from assist.tune.packs import check_sweep_keys, pack_with, read_pack_source

    base = read_pack_source(args.pack or config.prompts.pack)
    pack_with(base, overrides)  # refuse a bad --set or --sweep before any model loads
    check_sweep_keys(base, overrides, sweeps)
    console = Console(stderr=True)
    corpus = _gather(args, config, base.path, console)
    if not corpus:
        suffixes = ", ".join(common.AUDIO_SUFFIXES)
        raise ConfigError(f"no recordings ({suffixes}) or stored calls found to tune on; check "
                          "the paths, or take calls with the store on")
    if sweeps:
        return _sweep(args, base, overrides, sweeps, corpus, console)
    return _compare(args, base, overrides, corpus, console)


def _check_args(args: argparse.Namespace) -> None:
    if not (args.recordings or args.call or args.recent):
        raise ConfigError("nothing to tune on: give recordings (files or a directory), "
                          "--call ID or --recent N; or use --effect")
    if args.jobs < 0 or args.recent < 0 or args.top < 1:
        raise ConfigError("--jobs and --recent must be 0 or more, --top at least 1")
    for path in args.recordings:
        if not path.exists():
            raise ConfigError(f"{path} does not exist; give a recording or a directory of them")
    if args.out:
        from assist.tune.packs import check_pack_out

        check_pack_out(args.out)
    if not args.no_report:
        _check_report_dir(args.report)


def _check_report_dir(report: Path) -> None:
    """The report comes last; a bad folder must not cost the trainer the whole run."""
    if report.exists() and not report.is_dir():
        raise ConfigError(f"--report {report} is a file; give a folder for the HTML report")
    try:
        report.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create the report folder {report} ({e.strerror or e}); "
                          "give --report a writable folder, or --no-report") from e


# --- gathering calls ----------------------------------------------------------------------------


def _recordings(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir()
                            if p.suffix.lower() in common.AUDIO_SUFFIXES)
        else:
            found.append(path)
    return found


def _gather(args: argparse.Namespace, config: Config, pack_path: Path,
            console: Console) -> list[LabelledCall]:
    from assist.prompts import load_pack
    from assist.tune.corpus import Channels, RecordingLoader
    from assist.tune.labels import find_labels, with_script_text
    from assist.tune.sweep import LabelledCall

    files = _recordings(args.recordings)
    channels = Channels(args.customer_channel, common.agent_channel(args.agent_channel))
    for path in files:  # every file and channel checked before the first is transcribed
        common.check_input_file(path, channels.customer, channels.agent)
    stored = [LabelledCall(call, ()) for call in _stored(args, config)]  # a wrong --call too
    loader = RecordingLoader(config, load_pack(str(pack_path)), model=args.model,
                             channels=channels)
    corpus: list[LabelledCall] = []
    with _progress(console, "replaying recordings", len(files)) as advance:
        for path in files:
            call, labels = loader.load(path), find_labels(path) or ()
            if args.script_text:
                call = dataclasses.replace(call, events=with_script_text(call.events, labels))
            corpus.append(LabelledCall(call, labels))
            advance(1)
    if files:
        console.print(f"{len(files)} recordings: {loader.stats.hits} from the tune cache, "
                      f"{loader.stats.transcribed} transcribed")
    return corpus + stored


def _stored(args: argparse.Namespace, config: Config) -> list[CachedCall]:
    if not (args.call or args.recent):
        return []
    from assist.store import open_engine, session_factory
    from assist.tune.corpus import load_stored, stored_call_ids

    engine = open_engine(config.store.url or None)
    try:
        with session_factory(engine)() as session:
            ids = list(args.call) + stored_call_ids(session, limit=args.recent)
            return [load_stored(session, call_id) for call_id in dict.fromkeys(ids)]
    finally:
        engine.dispose()


@contextmanager
def _progress(console: Console, what: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (nothing when stderr is not a terminal)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True,
                  disable=total == 0) as progress:
        task = progress.add_task(what, total=total)
        yield lambda n: progress.advance(task, n)


# --- compare: current pack vs overrides -----------------------------------------------------------


def _compare(args: argparse.Namespace, base: PackSource, overrides: tuple[Override, ...],
             corpus: Sequence[LabelledCall], console: Console) -> int:
    from assist.tune.packs import write_pack

    sides: list[tuple[str, tuple[Override, ...]]] = [("current pack", ())]
    if overrides:
        sides.append(("with " + " ".join(map(str, overrides)), overrides))
    reports = _call_reports(base, sides, corpus)
    _print_comparison(reports)
    if args.out:
        console.print(f"pack written to {write_pack(base, overrides, args.out)}")
    _write_report(args, reports, console, f"assist tune: {base.path.name}")
    return 0


def _call_reports(base: PackSource, sides: Sequence[tuple[str, tuple[Override, ...]]],
                  corpus: Sequence[LabelledCall]) -> list[CallReport]:
    from assist.tune.metrics import score_call
    from assist.tune.packs import pack_with
    from assist.tune.replay import replay_call
    from assist.tune.report import CallReport, Column

    packs = [(title, pack_with(base, overrides)) for title, overrides in sides]
    reports = []
    for labelled in corpus:
        columns = []
        for title, pack in packs:
            outcome = replay_call(pack, labelled.call)
            card = (score_call(outcome.changes, labelled.labels, outcome.duration)
                    if labelled.labels else None)
            columns.append(Column(title, outcome, pack.escalation, card))
        reports.append(CallReport(labelled.call.name, labelled.labels or None, tuple(columns)))
    return reports


def _print_comparison(reports: Sequence[CallReport]) -> None:
    from assist.tune.report import describe_card

    table = Table(title="calls replayed")
    table.add_column("call")
    for column in reports[0].columns if reports else ():
        table.add_column(column.title)
    for report in reports:
        cells = []
        for column in report.columns:
            stages = " > ".join(c.stage.value for c in column.outcome.changes) or "calm"
            cells.append(f"{len(column.outcome.prompts)} prompts: {stages}"
                         + (f"\n{describe_card(column.card)}" if column.card else ""))
        table.add_row(report.name, *cells)
    _stdout().print(table)


def _write_report(args: argparse.Namespace, reports: Sequence[CallReport], console: Console,
                  title: str, summary: Sequence[str] = ()) -> None:
    if args.no_report or not reports:
        return
    from assist.tune.report import write_report

    try:
        path = write_report(reports, args.report, title=title, summary=summary)
    except OSError as e:
        raise ConfigError(f"cannot write the report into {args.report} ({e.strerror or e}); "
                          "the results above stand; give --report a writable folder") from e
    console.print(f"report written to {path}")


# --- sweep ----------------------------------------------------------------------------------------


def _sweep(args: argparse.Namespace, base: PackSource, overrides: tuple[Override, ...],
           sweeps: Sequence[Sweep], corpus: Sequence[LabelledCall], console: Console) -> int:
    from assist.tune.packs import write_pack
    from assist.tune.sweep import best, grid, run_sweep

    labelled = [c for c in corpus if c.labels]
    if not labelled:
        raise PackError("--sweep needs labelled calls: put NAME.labels.json beside NAME.ogg "
                        "(a JSON list of {\"t\": seconds, \"stage\": \"reflect\"})")
    for skipped in (c for c in corpus if not c.labels):
        log.warning("%s has no labels; the sweep leaves it out", skipped.call.name)
    points = len(grid(sweeps))
    started = time.perf_counter()
    with _progress(console, f"sweeping {points} settings", points) as advance:
        rows = run_sweep(base, overrides, sweeps, labelled, jobs=args.jobs, progress=advance)
    elapsed = time.perf_counter() - started
    winner = best(rows)
    _print_sweep(rows, sweeps, args.top, winner)
    rate = points / elapsed * 60 if elapsed > 0 else float("inf")
    speed = (f"scored {points} settings on {len(labelled)} calls in {elapsed:.1f} s "
             f"({rate:.0f} settings/minute)")
    print(speed)
    if winner is None:
        raise PackError("no swept setting gave a valid pack; see the errors above")
    chosen = (*overrides, *winner.setting)
    print("best: " + " ".join(map(str, winner.setting)))
    if args.out:
        print(f"best pack written to {write_pack(base, chosen, args.out)}")
    reports = _call_reports(base, [("current pack", overrides), ("best: " + " ".join(
        map(str, winner.setting)), chosen)], labelled)
    _write_report(args, reports, console, f"assist tune sweep: {base.path.name}", [speed])
    return 0


def _print_sweep(rows: Sequence[SweepRow], sweeps: Sequence[Sweep], top: int,
                 winner: SweepRow | None) -> None:
    from assist.tune.sweep import ranked

    # The chosen setting first: among settings tied for best it is the middle one.
    scored = ranked(rows)
    if winner is not None:
        scored = [winner, *(r for r in scored if r is not winner)]
    table = Table(title=f"best {min(top, len(scored))} of {len(scored)} valid settings")
    for sweep in sweeps:
        # The last two parts name a threshold well enough and keep the table narrow.
        table.add_column(".".join(sweep.key.split(".")[-2:]), justify="right")
    for name in ("agreement", "missed esc.", "unwanted/h", "early s", ""):
        table.add_column(name, justify="right")
    for row in scored[:top]:
        card = row.card
        assert card is not None  # ranked() keeps scored rows only
        early = card.mean_early_s
        table.add_row(*(str(o.value) for o in row.setting), f"{card.agreement:.0%}",
                      f"{card.missed}/{card.escalations}", f"{card.unwanted_per_hour:.0f}",
                      "-" if early is None else f"{early:+.1f}",
                      "chosen" if row is winner else "")
    _stdout().print(table)
    refused = [r for r in rows if r.card is None]
    if refused:
        print(f"{len(refused)} settings refused by the pack's validation, e.g.: "
              f"{refused[0].error}")


def _stdout() -> Console:
    """Tables on stdout; piped into a file they keep their full width rather than 80 columns."""
    console = Console()
    return console if console.is_terminal else Console(width=PIPED_WIDTH)


# --- effect ---------------------------------------------------------------------------------------


def _print_effects(config: Config) -> int:
    from assist.store import open_engine, session_factory
    from assist.summary import PROMPT_EFFECT_WINDOW_S
    from assist.tune.effect import prompt_effects

    engine = open_engine(config.store.url or None)
    try:
        with session_factory(engine)() as session:
            effects = prompt_effects(session)
    finally:
        engine.dispose()
    table = Table(title=f"anger in the {PROMPT_EFFECT_WINDOW_S:.0f} s after each prompt")
    for name, justify in (("stage", "left"), ("prompt", "left"), ("shown", "right"),
                          ("mean change", "right"), ("n", "right"), ("useful", "right"),
                          ("not useful", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for e in effects:
        change = "-" if e.mean_change is None else f"{e.mean_change:+.2f}"
        table.add_row(e.stage, e.headline, str(e.shown), change, str(len(e.changes)),
                      str(e.useful), str(e.not_useful))
    _stdout().print(table)
    if not effects:
        print("no prompts in the store yet: replay or take calls with the store on")
    return 0
