"""The ``assist`` command.

Each subcommand lives in ``assist/commands/<name>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``handler`` to a function ``(args, config) -> int``. Only the
requested subcommand's module is imported, so ``assist`` starts quickly whatever the others
need. Any
:class:`AssistError` becomes one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from assist import __version__, paths
from assist.config import Config, load_config
from assist.errors import AssistError, ConfigError

COMMANDS = (
    "run", "replay", "transcribe", "devices", "models", "score", "config",
    "review", "tune", "history",
)
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (no usage dump) and exit 2."""

    command: str | None = None
    """The subcommand asked for: argparse reports its stray arguments from the top parser."""

    def error(self, message: str) -> NoReturn:
        prog = self.prog
        if self.command and prog == "assist":
            prog = f"assist {self.command}"
        self.exit(EXIT_USAGE, f"assist: error: {message} (see `{prog} --help`)\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that subcommand's module is imported (fast start-up)."""
    parser = _Parser(prog="assist", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.command = only
    parser.add_argument("--version", action="version", version=f"assist {__version__}")
    parser.add_argument("--config", type=Path, default=None,
                        help="configuration file (default: `assist config --path`)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in (only,) if only else COMMANDS:
        importlib.import_module(f"assist.commands.{name}").register(sub)
    return parser


def requested_command(argv: list[str]) -> str | None:
    """The subcommand named on the command line, if any (skipping global options)."""
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            next(args, None)
        elif arg in COMMANDS:
            return arg
        elif not arg.startswith("-"):
            return None
    return None


def setup_logging(verbose: bool) -> None:
    """Warnings to stderr (debug with -v); everything to a log file per run in the data dir."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("assist: %(levelname)s: %(message)s"))
    root.addHandler(console)
    try:
        log_dir = paths.data_dir() / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_dir / f"assist-{os.getpid()}.log", encoding="utf-8",
                                      errors="backslashreplace",
                                      delay=True)
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s"))
        root.addHandler(handler)
    except AssistError:
        pass  # the data folder is unusable: a command that needs it says so, in one line
    except OSError:
        logging.getLogger(__name__).warning("cannot write a log file; logging to stderr only")
    for noisy in ("faster_whisper", "matplotlib", "PIL", "urllib3", "httpx", "multipart"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(requested_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    setup_logging(args.verbose)
    try:
        return int(args.handler(args, _config_for(args)) or 0)
    except AssistError as e:
        print(f"assist: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _config_for(args: argparse.Namespace) -> Config:
    try:
        return load_config(args.config)
    except ConfigError as e:
        works_without = getattr(args, "works_without_config", None)
        if works_without is None or not works_without(args):
            raise
        logging.getLogger(__name__).warning("%s; going on with the defaults", e)
        return Config()


if __name__ == "__main__":
    sys.exit(main())
