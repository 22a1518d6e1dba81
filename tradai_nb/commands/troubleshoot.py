"""`tradai-nb troubleshoot "<error text>"`: the known error a pasted message is, with its cause, fix and runbook."""

from __future__ import annotations

import argparse
import json
import sys

from tradai_nb.errors import EXIT_FAILED, EXIT_OK

ARGUMENT = "ERROR_TEXT"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "troubleshoot",
        help="say which known error a message is (stack locked, passphrase, resource already exists, "
        "credentials, quota, ...): its cause, the fix and the runbook (exit 1: none matches, the "
        "catalogue is listed)",
    )
    parser.add_argument(
        "error_text", metavar=ARGUMENT, help="the error as printed (quote it), or - to read it from stdin"
    )
    parser.add_argument("--json", action="store_true", help="print the matches as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tradai_nb import troubleshooting

    text = _read_text(args.error_text, troubleshooting.MAX_ERROR_TEXT_CHARS)
    troubleshooting.check_error_text(text, name=ARGUMENT)
    if not text.strip():
        from tradai_nb.errors import ParameterError

        source = "stdin" if args.error_text == "-" else "the argument"
        raise ParameterError(
            f"{ARGUMENT}: {source} holds no error text; paste the error (quoted), or pipe it in with `-`", name=ARGUMENT
        )
    found = troubleshooting.find(text)
    if args.json:
        document = {"matches": [m.as_dict() for m in found]}
        if not found:
            document["catalogue"] = [{"id": e.id, "title": e.title} for e in troubleshooting.ENTRIES]
        print(json.dumps(document, indent=2, ensure_ascii=False))
    elif found:
        for position, match in enumerate(found):
            print(("" if position == 0 else "\n") + _described(match))
    else:
        print("nothing in the catalogue matches this text. The known errors:")
        for entry in troubleshooting.ENTRIES:
            print(f"  {entry.id:24} {entry.title}")
        print("Run `tradai-nb doctor` to check the prerequisites, and paste the first 'error:' line of the output.")
    return EXIT_OK if found else EXIT_FAILED


def _read_text(argument: str, limit: int) -> str:
    if argument != "-":
        return argument
    # One character past the limit is enough to refuse it, without reading a runaway pipe whole.
    return sys.stdin.read(limit + 1)


def _described(match) -> str:
    entry = match.entry
    matched = "\n           ".join(match.excerpts)
    return (
        f"{entry.title} [{entry.id}]\n"
        f"  matched: {matched}\n"
        f"  cause:   {entry.cause}\n"
        f"  fix:     {entry.fix}\n"
        f"  runbook: {entry.runbook}"
    )
