"""tradai-nb: the command line over settings, plans, stacks, runbooks, the sandbox and audit records."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from tradai_nb import __version__
from tradai_nb.errors import EXIT_INTERRUPTED, EXIT_OK, TradaiError

# Each module registers its subcommands; the handler is stored as the parser default `handler`.
COMMAND_MODULES = (
    "tradai_nb.commands.plan",
    "tradai_nb.commands.cost",
    "tradai_nb.commands.policy",
    "tradai_nb.commands.diff",
    "tradai_nb.commands.sandbox",
    "tradai_nb.commands.stack",
    "tradai_nb.commands.images",
    "tradai_nb.commands.run",
    "tradai_nb.commands.audit",
    "tradai_nb.commands.notebooks",
    "tradai_nb.commands.new_module",
    "tradai_nb.commands.doctor",
    "tradai_nb.commands.troubleshoot",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tradai-nb",
        description=__doc__.split(":", 1)[1].strip(),
        epilog="Exit codes: 0 ok, 1 failed, 2 invalid invocation or parameter, 5 a "
        "mandatory policy rule broken, 10 refused by a guard rail, 11 a "
        "prerequisite missing, 12 the audit store cannot record, 13 uploaded "
        "audit copies unreachable, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code says how it ended (see tradai_nb.errors and the README's table)."""
    from tradai_nb.commands.run import joined_parameters

    args = build_parser().parse_args(joined_parameters(list(sys.argv[1:] if argv is None else argv)))
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()
        return code
    except TradaiError as exc:
        print(f"tradai-nb: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tradai-nb: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`tradai-nb audit list | head`): nothing more to say, and no one to say it to.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
