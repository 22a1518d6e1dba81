"""`tradai-nb stack ACTION` (plan or an Automation API action on one stack) and `tradai-nb setup` (the Pulumi CLI)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tradai_nb import config
from tradai_nb.guards import ACTIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stack", help="run an action on one stack: plan (offline) or preview/up/refresh/destroy/... (Pulumi CLI)"
    )
    parser.add_argument("action", choices=ACTIONS, metavar="ACTION", help=f"one of: {', '.join(ACTIONS)}")
    parser.add_argument("--stack", required=True, help="persistent, foundation, compute or edge")
    parser.add_argument("--env", default="local", help=f"environment: {', '.join(config.ENVIRONMENTS)} (default: local)")
    parser.add_argument("--confirm", default="", metavar="ENV",
                        help="the environment name again; needed for changing actions in staging and prod")
    parser.add_argument("--allow-destroy", action="store_true", help="allow destroying the foundation stack")
    parser.add_argument("--file", metavar="PATH",
                        help="import: the deployment file to import; export: where to write the deployment "
                             "(default: print it)")
    parser.set_defaults(handler=run)

    setup = subparsers.add_parser("setup", help="install the Pulumi CLI and the pinned aws plugin")
    setup.set_defaults(handler=run_setup)


def run(args: argparse.Namespace) -> int:
    from tradai_nb.actions import run_stack_action
    from tradai_nb.settings import load_settings

    settings = load_settings(args.env)
    # export writes to --file itself; for any other action the guards decide what --file may mean.
    state_file = None if args.action == "export" else args.file
    result = run_stack_action(settings, args.stack, args.action, confirm=args.confirm,
                              allow_destroy=args.allow_destroy, state_file=state_file)
    if args.action == "export":
        text = json.dumps(result.deployment, indent=4)
        if args.file:
            Path(args.file).expanduser().write_text(text + "\n")
            print(f"wrote the deployment of {args.stack} ({args.env}) to {args.file}")
        else:
            print(text)
        return 0
    print(f"\n{args.stack} ({settings.environment}): {args.action}")
    print(result.summary.to_string(index=False, max_colwidth=80))
    if args.action in ("plan", "up") and not result.outputs.empty:
        print("\noutputs")
        print(result.outputs.to_string(index=False, max_colwidth=80))
    return 0


def run_setup(args: argparse.Namespace) -> int:
    from tradai_nb.engine.automation import install_pulumi_cli

    install_pulumi_cli(print)
    return 0
