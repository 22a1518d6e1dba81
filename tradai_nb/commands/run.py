"""`tradai-nb run`: execute a notebook headless with papermill and keep the run as an audit record."""

from __future__ import annotations

import argparse
import sys

from tradai_nb import config
from tradai_nb.errors import EXIT_FAILED, EXIT_OK, TradaiError

PARAMETER_FLAGS = ("-p", "--parameter")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run a notebook headless (papermill) and keep an audit record")
    parser.add_argument("notebook", help="the notebook, e.g. notebooks/stacks/foundation.ipynb")
    parser.add_argument("--env", required=True, choices=config.ENVIRONMENTS, help="the environment")
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a notebook parameter or a settings key (repeatable): -p action=preview, or "
        "-p action preview; a value may start with '-' (-p since=-5m)",
    )
    parser.add_argument(
        "-f",
        "--parameters-file",
        metavar="FILE",
        help="a YAML file of parameters (papermill's -f habit); -p values override it",
    )
    parser.add_argument(
        "--show",
        action="store_true",
        help="also print what the executed notebook showed (its text outputs), e.g. for CI logs",
    )
    parser.add_argument("--json", action="store_true", help="print the run's record as JSON (the summary for CI)")
    parser.set_defaults(handler=run)


def joined_parameters(argv: list[str]) -> list[str]:
    """argv with every `-p NAME VALUE` written as `-p NAME=VALUE`, so that a VALUE starting with '-' is not taken
    for an option."""
    joined: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        joined.append(token)
        if token == "--":
            joined.extend(argv[index + 1 :])
            break
        if token in PARAMETER_FLAGS and index + 1 < len(argv) and "=" not in argv[index + 1] and index + 2 < len(argv):
            joined.append(f"{argv[index + 1]}={argv[index + 2]}")
            index += 3
            continue
        index += 1
    return joined


def run(args: argparse.Namespace) -> int:
    from tradai_nb.errors import ParameterError
    from tradai_nb.records.audit import audit_root
    from tradai_nb.runner import notebook_text, run_notebook
    from tradai_nb.settings import load_settings

    parameters: dict[str, object] = {}
    if args.parameters_file:
        parameters.update(_parameters_file(args.parameters_file, args.env))
    given_here: set[str] = set()
    for given in args.parameter:
        name, separator, value = given.partition("=")
        if not separator or not name:
            raise ParameterError(f"-p {given!r}: expected NAME=VALUE (or -p NAME VALUE)", name=name or given)
        if name in given_here:
            raise ParameterError(
                f"parameter {name!r} is given twice ({parameters[name]!r} and {value!r}); give it once", name=name
            )
        given_here.add(name)
        parameters[name] = value
    record = run_notebook(args.notebook, args.env, parameters)
    if args.show and record.notebook_file:
        # With --json, stdout is the record alone: what the notebook showed goes to stderr.
        print(
            notebook_text(audit_root(load_settings(args.env)) / record.notebook_file),
            file=sys.stderr if args.json else sys.stdout,
        )
    if args.json:
        import json

        print(json.dumps(record.to_dict(), indent=2, default=str, ensure_ascii=False))
        return exit_code(record.status, record.error)
    print(
        f"{record.status}: {record.notebook} in {record.environment} ({record.duration_s or 0:.1f} s), "
        f"record {record.id}"
    )
    if record.error:
        print(f"  {record.error['ename']}: {record.error['evalue']}", file=sys.stderr)
    if record.notebook_file:
        print(f"  notebook: {record.notebook_file} (in the audit directory, stopped at: {record.stage})")
    return exit_code(record.status, record.error)


def _parameters_file(path: str, environment: str) -> dict[str, object]:
    """The parameters of a YAML file, read with the params files' limits (a mapping, no aliases, bounded size).
    Settings keys that only repeat the environment's params file are left out (a params file itself may be given,
    as with papermill -f params/dev.yaml); the rest are checked like any -p."""
    from pathlib import Path

    from tradai_nb.errors import ParameterError, SettingsError
    from tradai_nb.settings import load_settings, read_params

    try:
        data = read_params(Path(path).expanduser())
    except SettingsError as exc:
        raise ParameterError(f"-f {path}: {exc}", name="parameters_file") from None
    current = load_settings(environment).model_dump(mode="json")
    return {k: v for k, v in data.items() if k == "environment" or k not in current or not _repeats(current[k], v)}


def _repeats(current: object, given: object) -> bool:
    """Whether a -f value only repeats the setting (a mapping repeats it when each key it names does)."""
    if isinstance(current, dict) and isinstance(given, dict):
        return all(k in current and current[k] == v for k, v in given.items())
    return current == given


def exit_code(status: str, error: dict | None) -> int:
    """A run's exit code: 0 when it succeeded, else the code of the error that stopped it (1 for any error that
    is not one of tradai-nb's own)."""
    if status == "succeeded":
        return EXIT_OK
    from tradai_nb import errors

    found = getattr(errors, str((error or {}).get("ename")), None)
    if isinstance(found, type) and issubclass(found, TradaiError):
        return found.exit_code
    return EXIT_FAILED
