"""`tradai-nb run`: execute a notebook headless with papermill and keep the run as an audit record."""

from __future__ import annotations

import argparse

from tradai_nb import config

# Exit codes: the run succeeded, its notebook failed, or it was refused (by a parameter check or a guard).
EXIT_CODES = {"succeeded": 0, "failed": 1, "refused": 2}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run a notebook headless (papermill) and keep an audit record")
    parser.add_argument("notebook", help="the notebook, e.g. notebooks/stacks/foundation.ipynb")
    parser.add_argument("--env", required=True, help=f"environment: {', '.join(config.ENVIRONMENTS)}")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a notebook parameter or a settings key (repeatable), e.g. -p action preview")
    parser.add_argument("--show", action="store_true",
                        help="also print what the executed notebook showed (its text outputs), e.g. for CI logs")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tradai_nb.audit import audit_root
    from tradai_nb.errors import ParameterError
    from tradai_nb.runner import notebook_text, run_notebook
    from tradai_nb.settings import load_settings

    parameters: dict[str, str] = {}
    for name, value in args.parameter:
        if name in parameters:
            raise ParameterError(f"parameter {name!r} is given twice ({parameters[name]!r} and {value!r}); give it once",
                                 name=name)
        parameters[name] = value
    record = run_notebook(args.notebook, args.env, parameters)
    if args.show:
        print(notebook_text(audit_root(load_settings(args.env)) / record.notebook_file))
    print(f"{record.status}: {record.notebook} in {record.environment} ({record.duration_s:.1f} s), record {record.id}")
    if record.error:
        print(f"  {record.error['ename']}: {record.error['evalue']}")
    print(f"  notebook: {record.notebook_file} (in the audit directory)")
    if record.upload:
        where = f"s3://{record.upload['bucket']}/{record.upload['notebook_key']}"
        print(f"  upload: {where}" + (f" FAILED ({record.upload['error']})" if record.upload["error"] else ""))
    return EXIT_CODES[record.status]
