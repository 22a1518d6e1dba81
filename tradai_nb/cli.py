"""tradai-nb: the command line over settings, plans, stacks, runbooks, the sandbox and audit records."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tradai_nb.errors import TradaiError

# Each module registers its subcommands; the handler is stored as the parser default `handler`.
COMMAND_MODULES = (
    "tradai_nb.commands.plan",
    "tradai_nb.commands.sandbox",
    "tradai_nb.commands.stack",
    "tradai_nb.commands.run",
    "tradai_nb.commands.audit",
    "tradai_nb.commands.notebooks",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradai-nb", description=__doc__.split(":", 1)[1].strip())
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except TradaiError as exc:
        print(f"tradai-nb: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tradai-nb: interrupted", file=sys.stderr)
        return 130
