"""`tradai-nb policy check`: the policy rules over the offline plan, as the policy pack applies them with the CLI."""

from __future__ import annotations

import argparse
import json

from tradai_nb.commands import add_env_argument

STACKS = ("persistent", "foundation", "compute", "edge")
TABLE_COLUMNS = ["rule", "level", "stack", "type", "name", "urn", "message"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "policy", help="check the offline plan against the estate's policy rules (exit 5 on a mandatory violation)"
    )
    actions = parser.add_subparsers(dest="policy_action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="plan stacks offline and check them; exit 5 when a mandatory rule is "
        "broken, 0 when only advisory ones are",
    )
    add_env_argument(check)
    check.add_argument(
        "--stack", choices=STACKS, help="one stack (planned with its upstream exports); default: all four"
    )
    check.add_argument("--json", action="store_true", help="print the violations and the summary as JSON")
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    from tradai_nb.engine.plan import plan
    from tradai_nb.errors import EXIT_OK, EXIT_POLICY
    from tradai_nb.progress import Progress
    from tradai_nb.review.policy import check_plan
    from tradai_nb.settings import load_settings

    settings = load_settings(args.env)
    # Progress goes to stderr: stdout stays the table (or the JSON) alone.
    result = plan(settings, [args.stack] if args.stack else None, on_progress=Progress("policy"))
    report = check_plan(result, settings)
    if args.json:
        print(
            json.dumps(
                {
                    "environment": report.environment,
                    "stacks": list(report.stacks),
                    "passed": report.passed,
                    "mandatory": len(report.mandatory),
                    "advisory": len(report.advisory),
                    "violations": report.table().to_dict(orient="records"),
                },
                indent=2,
            )
        )
    else:
        table = report.table()
        if table.empty:
            print("no violations")
        else:
            print(table[TABLE_COLUMNS].to_string(index=False))
        summary = report.summary()
        print()
        print(summary[["rule", "level", "violations"]].to_string(index=False))
        print()
        print(report.headline())
    return EXIT_OK if report.passed else EXIT_POLICY
