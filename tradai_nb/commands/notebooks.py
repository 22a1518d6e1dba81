"""`tradai-nb notebooks refresh`: re-execute the notebooks in place, so their stored outputs are current."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("notebooks", help="maintain the committed notebooks")
    commands = parser.add_subparsers(dest="notebooks_command", required=True, metavar="SUBCOMMAND")
    refresh = commands.add_parser(
        "refresh",
        help="re-execute notebooks in place with their defaults (env local, "
        "read-only actions) against a fresh sandbox: the outputs nbval compares against",
    )
    refresh.add_argument("notebooks", nargs="*", type=Path, help="notebooks to refresh (default: all of notebooks/)")
    refresh.set_defaults(handler=refresh_outputs)


def refresh_outputs(args: argparse.Namespace) -> int:
    from tradai_nb.runner import refresh_notebooks

    refreshed = refresh_notebooks(args.notebooks or None)
    print(f"{len(refreshed)} notebooks refreshed; commit them with their outputs")
    return 0
