"""`tradai-nb plan`: the offline plan of one stack or the whole estate."""

from __future__ import annotations

import argparse

from tradai_nb.commands import add_env_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plan", help="plan stacks offline (no AWS account, no Pulumi CLI needed)")
    add_env_argument(parser)
    parser.add_argument(
        "--stack",
        choices=("persistent", "foundation", "compute", "edge"),
        help="one stack (with its upstream exports); default: all four",
    )
    parser.add_argument("--json", action="store_true", help="print the whole plan as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tradai_nb.engine.plan import plan
    from tradai_nb.progress import Progress
    from tradai_nb.settings import load_settings

    settings = load_settings(args.env)
    # Progress goes to stderr: stdout stays the summary (or the JSON) alone.
    result = plan(settings, [args.stack] if args.stack else None, on_progress=Progress("plan"))
    if args.json:
        print(result.to_json())
        return 0
    summary = result.summary()
    for stack_plan in result.stacks:
        rows = summary[summary["stack"] == stack_plan.name]
        print(f"\n{stack_plan.name}: {int(rows['count'].sum())} resources, {len(stack_plan.exports)} exports")
        print(rows[["type", "count"]].to_string(index=False))
    total = int(summary["count"].sum())
    print(f"\nenvironment {settings.environment}: {total} resources in {len(result.stacks)} stacks")
    return 0
