"""`assist score`: score text lines or audio files, one JSON line each, for trainers and evaluation.

    assist score -                     # lines from stdin
    assist score lines.txt             # lines from a file
    assist score --audio a.wav b.flac --baseline calm1.wav calm2.wav [--transcribe]

Audio files are scored for the voice only (each file as one utterance, against the calm
baseline clips if given, else population defaults); with ``--transcribe`` Whisper's text is
scored too and fused with the voice. Without words there is no anger score: voice arousal on
its own is not anger (excitement is aroused too), so ``anger`` is null then.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from assist.commands.common import AUDIO_SUFFIXES, CHANNELS_HELP
from assist.config import Config
from assist.errors import AudioError, ConfigError
from assist.scoring import ScoringSettings, WordScorer
from assist.scoring.fusion import fuse
from assist.scoring.voice import CallerVoice, VoiceAssessment, extract_features

log = logging.getLogger(__name__)

MAX_LINE_CHARS = 5000
"""A minute of fast speech is about 1,000 characters; VADER's time grows with the square of
a line's length, so a pasted document would take minutes."""

EXAMPLES = """examples:
  echo "this is the third time I've called" | assist score -
  assist score lines.txt --pack strict
  assist score --audio angry.wav --baseline calm1.wav calm2.wav
  assist score --audio call.flac --transcribe"""


def register(sub: Any) -> None:
    p = sub.add_parser("score", help="score text lines or audio files for anger (JSON lines)",
                       description="Score text lines or audio files for anger: one JSON line "
                                   "per input with the word,\nvoice and fused scores, the "
                                   "triggers and the evidence.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="FILE",
                   help="text files, one utterance per line; - for stdin (the default)")
    p.add_argument("--audio", nargs="+", type=Path, metavar="AUDIO", default=[],
                   help="audio files to score (WAV, FLAC, OGG, MP3), each as one utterance")
    p.add_argument("--baseline", nargs="+", type=Path, metavar="AUDIO", default=[],
                   help="calm clips of the same speaker, used as the voice baseline")
    p.add_argument("--transcribe", action="store_true",
                   help="transcribe audio files with Whisper and score their words too")
    p.add_argument("--customer-channel", default="auto", metavar="CH",
                   help=f"channel of the audio files to score: {CHANNELS_HELP} (default: right "
                        "for stereo, the only channel for mono)")
    p.add_argument("--pack", metavar="NAME|PATH",
                   help="prompt pack whose lexicon, triggers and fusion weights to use "
                        "(default: prompts.pack from the config)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    if args.audio and args.inputs:
        raise ConfigError("give text FILEs or --audio files, not both in one run")
    if (args.baseline or args.transcribe) and not args.audio:
        raise ConfigError("--baseline and --transcribe apply to --audio files; add --audio")
    settings = scoring_settings(args.pack or config.prompts.pack)
    if args.audio:
        score_audio_files(args, config, settings, sys.stdout)
    else:
        score_text_inputs(args.inputs or ["-"], settings, sys.stdout)
    return 0


def scoring_settings(pack: str) -> ScoringSettings:
    """The pack's fusion weights, lexicon and triggers."""
    from assist.prompts import load_pack

    return load_pack(pack).scoring


# --- text -------------------------------------------------------------------------------------


def score_text_inputs(inputs: list[str], settings: ScoringSettings, out: TextIO) -> None:
    words = WordScorer(settings)
    scored = 0
    for source, text in text_lines(inputs):
        scored += 1
        score = words.score(text)
        anger = fuse(score.anger, None, score.triggers, settings.fusion)
        _print(out, {"input": source, "text": text, "word_anger": score.anger,
                     "voice_arousal": None, "anger": anger, "triggers": _triggers(score.triggers),
                     "evidence": list(score.evidence)})
    if not scored:
        log.warning("nothing to score: %s held no text", ", ".join(inputs))


def text_lines(inputs: list[str]) -> Iterator[tuple[str, str]]:
    """(``name:line``, text) for every non-blank line of every input."""
    for name in inputs:
        if name == "-":
            if sys.stdin is None:
                raise ConfigError("there is no standard input to read; give text files, or "
                                  "pipe the lines in")
            yield from _numbered("-", sys.stdin)
            continue
        if Path(name).suffix.lower() in AUDIO_SUFFIXES:
            raise ConfigError(f"{name} is a recording; score it with --audio {name}")
        try:
            with Path(name).open(encoding="utf-8") as f:
                yield from _numbered(name, f)
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read text file {name} ({e}); give a UTF-8 text file "
                              "with one utterance per line, or - for stdin") from e


def _numbered(name: str, lines: TextIO) -> Iterator[tuple[str, str]]:
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if len(text) > MAX_LINE_CHARS:
            raise ConfigError(f"{name}:{number} is {len(text)} characters long; each line is "
                              f"one utterance (at most {MAX_LINE_CHARS}), so split it")
        if text:
            yield f"{name}:{number}", text


# --- audio ------------------------------------------------------------------------------------


def score_audio_files(args: argparse.Namespace, config: Config, settings: ScoringSettings,
                      out: TextIO) -> None:
    voice = caller_baseline(args.baseline, args.customer_channel)
    transcriber = _transcriber(config) if args.transcribe else None
    words = WordScorer(settings)
    for path in args.audio:
        audio = read_customer_audio(path, args.customer_channel)
        features = extract_features(audio)
        assessed: VoiceAssessment | None = voice.assess(features) if features else None
        arousal = assessed.arousal if assessed else None
        record: dict[str, Any] = {
            "input": str(path), "text": None, "word_anger": None, "voice_arousal": arousal,
            "voice_cue": assessed.cue if assessed else "too little speech to judge the voice",
            "anger": None, "triggers": [], "evidence": [],
            "baseline": "given calm clips" if args.baseline else "population defaults"}
        if transcriber is not None:
            text = transcriber.transcribe(audio)
            score = words.score(text)
            record.update(text=text, word_anger=score.anger,
                          anger=fuse(score.anger, arousal, score.triggers, settings.fusion),
                          triggers=_triggers(score.triggers), evidence=list(score.evidence))
        _print(out, record)


def caller_baseline(paths: list[Path], channel: str) -> CallerVoice:
    voice = CallerVoice()
    for path in paths:
        if not voice.add_calm_audio(read_customer_audio(path, channel)):
            raise AudioError(f"baseline clip {path} does not sound like speech (too short, "
                             "silent, a tone or music); give a clip with a few seconds of the "
                             "caller talking calmly")
    return voice


def read_customer_audio(path: Path, channel: str) -> np.ndarray:
    """The whole file's customer channel at 16 kHz, via the same reader as replays."""
    from assist.audio.sources import AudioBlock, open_file

    source = open_file(path, customer_channel=channel, agent_channel=None, speed="max")
    blocks = [b.customer for b in source.blocks() if isinstance(b, AudioBlock)]
    if not blocks:
        raise AudioError(f"{path} holds no audio; record or export it again")
    return np.concatenate(blocks)


def _transcriber(config: Config) -> Any:
    from assist.asr import load_transcriber

    return load_transcriber(None, config.asr)


def _triggers(hits: tuple[Any, ...]) -> list[dict[str, str]]:
    return [{"name": h.name, "words": h.words} for h in hits]


def _print(out: TextIO, record: dict[str, Any]) -> None:
    rounded = {k: round(v, 3) if isinstance(v, float) else v for k, v in record.items()}
    out.write(json.dumps(rounded, ensure_ascii=False) + "\n")
    out.flush()
