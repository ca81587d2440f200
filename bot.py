"""Entry point: `python bot.py [--config FILE]`, the same as `memebot run`."""

from __future__ import annotations

import sys

from bot.cli import entry_point

if __name__ == "__main__":
    args = sys.argv[1:]
    config = args[:2] if args[:1] == ["--config"] else []
    entry_point([*config, "run", *args[len(config) :]])
