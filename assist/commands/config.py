"""`assist config`: print every setting with its documentation and current value."""

from __future__ import annotations

import argparse
from typing import Any

from assist import paths
from assist.config import Config, render_documented


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="print every setting, documented, with its current value")
    p.add_argument("--path", action="store_true", help="print only the default config file's path")
    # The path is what someone fixing a broken file needs most.
    p.set_defaults(handler=run, works_without_config=lambda args: args.path)


def run(args: argparse.Namespace, config: Config) -> int:
    if args.path:
        print(paths.config_path())
        return 0
    print(render_documented(config))
    return 0
