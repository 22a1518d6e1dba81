"""`tradai-nb cost`: the monthly cost estimate of an environment's plan, or the difference between two environments."""

from __future__ import annotations

import argparse

from tradai_nb import config
from tradai_nb.commands import add_env_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cost", help="estimate the monthly cost of an environment from its offline plan")
    add_env_argument(parser)
    parser.add_argument(
        "--against",
        choices=config.ENVIRONMENTS,
        help="a second environment: show both estimates per stack and type and the difference",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the estimate (or the comparison) as one JSON document"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tradai_nb.errors import ParameterError
    from tradai_nb.progress import Progress
    from tradai_nb.review import cost
    from tradai_nb.settings import load_settings

    if args.against == args.env:
        raise ParameterError(
            f"parameter '--against': it names {args.env!r}, the environment of --env; "
            "give another environment to compare with",
            name="against",
        )
    prices = cost.load_prices()
    # Progress goes to stderr: stdout stays the tables (or the JSON) alone.
    progress = Progress("cost")
    estimate = cost.estimate_environment(load_settings(args.env), prices, on_progress=progress)
    if args.against:
        against = cost.estimate_environment(load_settings(args.against), prices, on_progress=progress)
        comparison = cost.compare(estimate, against)
        print(comparison.to_json() if args.json else comparison_text(comparison))
        return 0
    print(estimate.to_json() if args.json else estimate_text(estimate))
    return 0


def _money(frame, columns):
    return frame.to_string(index=False, formatters=dict.fromkeys(columns, "{:,.2f}".format))


def estimate_text(estimate) -> str:
    """The estimate as plain-text tables: per stack, per type, not priced, the guide's savings, assumptions, prices."""
    prices = estimate.prices
    out = [
        f"monthly cost estimate: {estimate.environment} ({prices.region}, {prices.currency}, list prices as of "
        f"{prices.as_of})",
        "",
        "per stack:",
        _money(estimate.per_stack(), ["monthly_usd"]),
        f"total: ${estimate.total_usd:,.2f} a month",
        "",
    ]
    per_type = estimate.per_type()
    for stack in estimate.stacks:
        rows = per_type[per_type["stack"] == stack][["type", "count", "monthly_usd"]]
        if not rows.empty:
            out += [f"{stack} by type:", _money(rows.sort_values("monthly_usd", ascending=False), ["monthly_usd"]), ""]
    if estimate.not_priced.empty:
        out += ["not priced: none", ""]
    else:
        out += ["not priced (not counted in the totals):", estimate.not_priced.to_string(index=False), ""]
    free = int(estimate.free["count"].sum()) if not estimate.free.empty else 0
    out += [
        f"free by rule: {free} resources of {estimate.free['type'].nunique() if free else 0} types "
        "(see the price data's `free` list)",
        "",
    ]
    savings = estimate.savings.drop(columns=["basis"]).fillna("")
    out += ["the guide's cost optimisations, computed for this plan:", savings.to_string(index=False), ""]
    out += [f"  {row.optimisation}: {row.basis}" for row in estimate.savings.itertuples()] + [""]
    out += ["assumptions (params cost_assumptions):"]
    out += [f"  {key}: {value:g}" for key, value in estimate.assumptions.items()]
    out += ["", f"price data: {prices.path} as of {prices.as_of}; {prices.note}"]
    return "\n".join(out)


def comparison_text(comparison) -> str:
    """Two estimates side by side, per stack and per type, with the difference (second minus first)."""
    a, b = comparison.estimate.environment, comparison.against.environment
    per_type = comparison.per_type()
    changed = per_type[per_type["difference"] != 0].sort_values("difference", key=abs, ascending=False)
    out = [
        f"monthly cost: {a} ${comparison.estimate.total_usd:,.2f}, {b} ${comparison.against.total_usd:,.2f}, "
        f"difference ({b} - {a}) ${comparison.difference_usd:+,.2f}",
        "",
        "per stack:",
        _money(comparison.per_stack(), [a, b, "difference"]),
        "",
        "per type (where they differ):",
        _money(changed, [a, b, "difference"]) if not changed.empty else "  no difference",
        "",
    ]
    for estimate in (comparison.estimate, comparison.against):
        if not estimate.not_priced.empty:
            out += [
                f"not priced in {estimate.environment} (not counted):",
                estimate.not_priced.to_string(index=False),
                "",
            ]
    out.append(f"price data as of {comparison.estimate.prices.as_of}; assumptions from each environment's params file")
    return "\n".join(out)
