"""`tradai-nb new-module`: a new module for one stack, registered in its program, with a plan test and a checklist."""

from __future__ import annotations

import argparse
from pathlib import Path

STACKS = ("persistent", "foundation", "compute", "edge")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "new-module",
        help="add a module to a stack: tradai_nb/stacks/<stack>/<name>.py declaring one tagged log "
        "group, its call and export in the stack's program, and tests/stacks/test_<stack>_<name>.py",
    )
    parser.add_argument("--stack", required=True, choices=STACKS, help="the stack the module belongs to")
    parser.add_argument("--name", required=True, help="the module's name: snake_case, not a module of that stack yet")
    parser.add_argument("--root", type=Path, help="the project folder to write into (default: this project)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tradai_nb.scaffold import new_module

    added = new_module(args.stack, args.name, args.root)
    print(f"wrote {added.module_path}")
    print(f"registered {added.name} in {added.init_path} (create_{added.name} in program, export {added.export})")
    print(f"wrote {added.test_path}")
    print("\nnext steps:")
    for number, step in enumerate(added.next_steps, 1):
        print(f"  {number}. {step}")
    return 0
