"""`tradai-nb audit`: list, show, verify and upload the audit records of runs and changes."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

from tradai_nb import config
from tradai_nb.errors import EXIT_AUDIT_UNREACHABLE, EXIT_FAILED, EXIT_OK
from tradai_nb.timefmt import parse_iso


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("audit", help="list, show, verify and upload the audit records")
    commands = parser.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")

    listing = commands.add_parser("list", help="the runs and changes, oldest first, with where each came from")
    listing.add_argument("--env", choices=config.ENVIRONMENTS, help="only this environment's records")
    listing.add_argument(
        "--since", type=_since, help="only records started at or after this date (YYYY-MM-DD) or time (ISO 8601, UTC)"
    )
    listing.add_argument("--json", action="store_true", help="print the records as JSON, one object per run or change")
    listing.set_defaults(handler=list_runs)

    show = commands.add_parser("show", help="one run or change, in full (each of its records, as JSON)")
    show.add_argument("id", help="the record id, or a prefix of it that only one record has")
    show.add_argument(
        "--json",
        action="store_true",
        help="print JSON only: its records, each with the path of the notebook it keeps (stored_notebook)",
    )
    show.set_defaults(handler=show_run)

    check = commands.add_parser(
        "verify",
        help="check the local chain, then compare it with its uploaded copies (exit 1: a problem found, "
        f"{EXIT_AUDIT_UNREACHABLE}: an uploaded copy could not be read)",
    )
    check.add_argument(
        "--env",
        action="append",
        choices=config.ENVIRONMENTS,
        dest="environments",
        help="compare only with this environment's logs bucket (repeatable; default: every "
        "environment the chain holds records of, and local)",
    )
    check.add_argument(
        "--local-only",
        action="store_true",
        help="check the local chain only (proves less: see the README's Safety section)",
    )
    check.set_defaults(handler=verify_runs)

    upload = commands.add_parser("upload", help="upload the records whose upload failed to the logs buckets")
    upload.add_argument("--env", choices=config.ENVIRONMENTS, help="only this environment's records")
    upload.set_defaults(handler=upload_runs)


def list_runs(args: argparse.Namespace) -> int:
    from tradai_nb.records.audit import list_records, records_table

    roots = _roots(args.env)
    found = [entry for root in roots for entry in list_records(root, args.env, args.since)]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        **records_table([e]).to_dict("records")[0],
                        "parent": e.parent,
                        "error": e.error,
                        "lines": [r.seq for r in e.records],
                    }
                    for e in found
                ],
                indent=2,
                default=str,
            )
        )
        return EXIT_OK
    if not found:
        since = f" since {args.since:%Y-%m-%d %H:%M}" if args.since else ""
        print(
            "no audit records" + (f" for {args.env}" if args.env else "") + since + f" in {', '.join(map(str, roots))}"
        )
        return EXIT_OK
    print(records_table(found).to_string(index=False))
    return EXIT_OK


def show_run(args: argparse.Namespace) -> int:
    from tradai_nb.errors import AuditError
    from tradai_nb.records.audit import find_record

    errors = []
    for root in _roots(None):
        try:
            entry = find_record(root, args.id)
        except AuditError as exc:
            errors.append(exc)
            continue
        if args.json:
            print(
                json.dumps(
                    [
                        {**r.to_dict(), "stored_notebook": str(root / r.notebook_file) if r.notebook_file else None}
                        for r in entry.records
                    ],
                    indent=2,
                    ensure_ascii=False,
                )
            )
            return EXIT_OK
        print(json.dumps([r.to_dict() for r in entry.records], indent=2, ensure_ascii=False))
        for record in entry.records:
            if record.notebook_file:
                print(f"stored notebook: {root / record.notebook_file}")
        return EXIT_OK
    raise errors[0]


def verify_runs(args: argparse.Namespace) -> int:
    codes = [_verify_root(root, args) for root in _roots(None)]
    return max(codes, key=lambda code: (code == EXIT_FAILED, code))


def _verify_root(root: Path, args: argparse.Namespace) -> int:
    from tradai_nb.records import anchoring
    from tradai_nb.records.audit import AuditStore

    result = anchoring.verify(AuditStore(root), args.environments, compare=not args.local_only)
    print(f"{result.root}: chain {result.chain or '(none)'}, {result.records} records")
    for compared in result.compared:
        print(f"  compared with {compared}")
    for note in result.notes:
        print(f"  note: {note}")
    for problem in result.problems:
        print(f"  PROBLEM: {problem}")
    for unreachable in result.unreachable:
        print(f"  UNREACHABLE: {unreachable}")
    if result.problems:
        print(f"{len(result.problems)} problem(s) found")
        return EXIT_FAILED
    if result.unreachable:
        print("the local chain is intact, but some uploaded copies could not be compared")
        return EXIT_AUDIT_UNREACHABLE
    print("verified: the local chain is intact" + ("" if args.local_only else " and matches its uploaded copies"))
    return EXIT_OK


def upload_runs(args: argparse.Namespace) -> int:
    from tradai_nb.records import anchoring
    from tradai_nb.records.audit import AuditStore
    from tradai_nb.settings import load_settings

    failed = False
    for environment in [args.env] if args.env else config.ENVIRONMENTS:
        settings = load_settings(environment)
        store = AuditStore.for_settings(settings)
        records, _ = store.lines()
        if not any(r.get("environment") == environment for r in records):
            continue
        result = anchoring.upload_pending(store, settings)
        if result.error:
            failed = True
            print(f"{environment}: upload to s3://{result.bucket} failed: {result.error}")
        elif result.bucket:
            print(f"{environment}: {result.uploaded} record(s) uploaded to s3://{result.bucket}")
    return EXIT_AUDIT_UNREACHABLE if failed else EXIT_OK


def _roots(environment: str | None) -> list[Path]:
    """The audit folders of the environment (or of all environments), each once (settings.audit_dir may differ)."""
    from tradai_nb.records.audit import audit_root
    from tradai_nb.settings import load_settings

    roots: list[Path] = []
    for name in [environment] if environment else config.ENVIRONMENTS:
        root = audit_root(load_settings(name))
        if root not in roots:
            roots.append(root)
    return roots


def _since(text: str) -> datetime:
    try:
        return parse_iso(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
