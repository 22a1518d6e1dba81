"""`tradai-nb diff`: two environments' offline plans compared, resource by resource and property by property."""

from __future__ import annotations

import argparse

from tradai_nb import config
from tradai_nb.commands import add_env_argument

STACKS = ("persistent", "foundation", "compute", "edge")
# Longest value a terminal table shows whole; --json always has whole values.
MAX_SHOWN_CHARS = 80


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="compare two environments' offline plans: resources only in one, properties that differ "
        "(no AWS account, no Pulumi CLI needed)",
    )
    add_env_argument(parser)
    parser.add_argument(
        "--against", choices=config.ENVIRONMENTS, required=True, help="the environment to compare it with (another one)"
    )
    parser.add_argument("--stack", choices=STACKS, help="one stack; default: all four")
    parser.add_argument("--json", action="store_true", help="print the diff as one JSON document")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tradai_nb.errors import ParameterError

    if args.against == args.env:
        others = [e for e in config.ENVIRONMENTS if e != args.env]
        raise ParameterError(
            f"--against {args.against}: is the same environment as --env; a diff needs two "
            f"different environments: pass --against with one of {', '.join(others)}",
            name="against",
        )

    from tradai_nb.progress import Progress
    from tradai_nb.review.env_diff import diff_environments
    from tradai_nb.settings import load_settings

    # Progress goes to stderr: stdout stays the tables (or the JSON) alone.
    result = diff_environments(load_settings(args.env), args.against, args.stack or "", on_progress=Progress("diff"))
    if args.json:
        print(result.to_json())
        return 0
    print(result.summary.to_string(index=False))
    for environment in (result.environment, result.against):
        only = result.only_in(environment)
        if not only.empty:
            print(f"\nonly in {environment}:")
            print(only.to_string(index=False))
    if not result.changes.empty:
        print("\nproperties that differ:")
        print(result.changes.map(_cut).to_string(index=False))
    print(f"\n{result.message}")
    return 0


def _cut(value) -> str:
    text = str(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 2] + " …"
