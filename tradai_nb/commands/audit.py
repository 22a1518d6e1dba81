"""`tradai-nb audit`: list, show and verify the audit records of headless runs."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from tradai_nb import config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("audit", help="list, show and verify the audit records of headless runs")
    commands = parser.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")

    listing = commands.add_parser("list", help="the runs, oldest first")
    listing.add_argument("--env", choices=config.ENVIRONMENTS, help="only this environment's runs")
    listing.add_argument("--since", type=_since,
                         help="only runs started at or after this date (YYYY-MM-DD) or time (ISO 8601, UTC)")
    listing.set_defaults(handler=list_runs)

    show = commands.add_parser("show", help="one record, in full")
    show.add_argument("id", help="the record id, or a prefix of it that only one record has")
    show.set_defaults(handler=show_run)

    check = commands.add_parser("verify", help="recompute the record chain and every stored notebook's hash")
    check.set_defaults(handler=verify_runs)


def list_runs(args: argparse.Namespace) -> int:
    from tradai_nb.audit import list_records, records_table

    records = [r for root in _roots(args.env) for r in list_records(root, args.env, args.since)]
    if not records:
        since = f" since {args.since:%Y-%m-%d %H:%M}" if args.since else ""
        print("no audit records" + (f" for {args.env}" if args.env else "") + since)
        return 0
    print(records_table(records).to_string(index=False))
    return 0


def show_run(args: argparse.Namespace) -> int:
    from tradai_nb.audit import find_record
    from tradai_nb.errors import AuditError

    errors = []
    for root in _roots(None):
        try:
            record = find_record(root, args.id)
        except AuditError as exc:
            errors.append(exc)
            continue
        print(json.dumps(record.to_dict(), indent=2, ensure_ascii=False))
        print(f"stored notebook: {root / record.notebook_file}")
        return 0
    raise errors[0]


def verify_runs(args: argparse.Namespace) -> int:
    from tradai_nb.audit import verify

    for root in _roots(None):
        count = verify(root)
        print(f"{root}: {count} records verified (chain and notebook hashes intact)")
    return 0


def _roots(environment: str | None) -> list[Path]:
    """The audit directories of the environment (or of all environments), each once."""
    from tradai_nb.audit import audit_root
    from tradai_nb.settings import load_settings

    roots: list[Path] = []
    for name in [environment] if environment else config.ENVIRONMENTS:
        root = audit_root(load_settings(name))
        if root not in roots:
            roots.append(root)
    return roots


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
