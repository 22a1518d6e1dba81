"""`tradai-nb stack ACTION` (plan, an Automation API action, or a state read) and `tradai-nb setup` (the Pulumi CLI)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tradai_nb import config
from tradai_nb.commands import ENV_VARIABLE, default_environment
from tradai_nb.guards import ACTIONS

# Read straight from the backend's state, no Pulumi CLI needed (the Automation API where the CLI is installed).
STATE_READS = ("output", "ls", "history", "resources", "export")
# Adopt one existing AWS resource (dry run by default); create an environment's stacks on its backend.
ENVIRONMENT_ACTIONS = ("import-resource", "init")
STACK_ACTIONS = (*[a for a in ACTIONS if a not in STATE_READS], *STATE_READS, *ENVIRONMENT_ACTIONS)
IMPORT_OPTIONS = ("resource_type", "name", "resource_id", "parent")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stack",
        help="act on one stack: plan (offline), preview/up/refresh/destroy/import/cancel (Pulumi CLI), "
        "read its state: output, ls, history, resources, export (no CLI needed), adopt an existing "
        "resource: import-resource (a dry run by default), or create an environment's stacks: init",
    )
    parser.add_argument("action", choices=STACK_ACTIONS, metavar="ACTION", help=f"one of: {', '.join(STACK_ACTIONS)}")
    parser.add_argument("key", nargs="?", default="", help="output: one output name (its bare value is printed)")
    parser.add_argument(
        "--stack", choices=tuple(_stack_names()), help="persistent, foundation, compute or edge (every action but ls)"
    )
    # Checked in run(), so that `init` of an unknown name can say how environments are added.
    parser.add_argument(
        "--env",
        metavar="ENV",
        default=default_environment(),
        help=f"environment: {', '.join(config.ENVIRONMENTS)} (default: ${ENV_VARIABLE}, else local)",
    )
    parser.add_argument(
        "--confirm",
        default="",
        metavar="ENV",
        help="the environment name again; needed for changing actions in staging and prod",
    )
    parser.add_argument("--allow-destroy", action="store_true", help="allow destroying the foundation stack")
    parser.add_argument(
        "--file",
        metavar="PATH",
        help="import: the deployment file to import; export: where to write the deployment (default: print it)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON (output, ls, history, resources, and a summary of the other actions)",
    )
    parser.add_argument(
        "--show-secrets",
        action="store_true",
        help="output: decrypt secret outputs with the shell's passphrase instead of masking them",
    )
    engine = parser.add_argument_group("the Pulumi engine's logging (preview, up, refresh, destroy)")
    engine.add_argument(
        "--verbose",
        "-v",
        type=int,
        default=0,
        metavar="N",
        help="log verbosity 1-11 to stderr (Pulumi's -v=N --logtostderr)",
    )
    engine.add_argument("--debug", action="store_true", help="debug output (Pulumi's --debug)")
    engine.add_argument("--log-flow", action="store_true", help="flow log settings to plugins (Pulumi's --logflow)")
    engine.add_argument("--trace", metavar="FILE", help="write a trace to FILE (Pulumi's --tracing file:FILE)")
    adopt = parser.add_argument_group("import-resource: adopt an existing AWS resource into --stack")
    adopt.add_argument(
        "--type",
        dest="resource_type",
        metavar="TYPE",
        help="its Pulumi type, e.g. aws:s3/bucket:Bucket or aws:ecs/service:Service",
    )
    adopt.add_argument("--name", metavar="NAME", help="its logical name in the stack program, e.g. configs-bucket")
    adopt.add_argument(
        "--id",
        dest="resource_id",
        metavar="ID",
        help="its import id: bucket name, <cluster>/<service> or service ARN, table name, ...",
    )
    adopt.add_argument("--parent", metavar="URN", help="the URN of its parent resource in the stack")
    adopt.add_argument(
        "--dry-run",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="check that it exists in AWS and show its declaration, import nothing (default); "
        "--no-dry-run imports it (Pulumi CLI)",
    )
    parser.set_defaults(handler=run)

    setup = subparsers.add_parser("setup", help="install the Pulumi CLI and the pinned aws plugin")
    setup.set_defaults(handler=run_setup)


def _stack_names():
    from tradai_nb.stacks.registry import stacks

    return stacks.names()


def run(args: argparse.Namespace) -> int:
    from tradai_nb.errors import ParameterError
    from tradai_nb.settings import load_settings

    if args.action == "init":
        return _init(args)
    if args.env not in config.ENVIRONMENTS:
        _unknown_environment(args.env)
    given = [option for option in IMPORT_OPTIONS if getattr(args, option)]
    if given and args.action != "import-resource":
        raise ParameterError(
            f"{_flag(given[0])}: only action 'import-resource' takes it (action is {args.action!r})",
            name=given[0],
        )
    if args.action != "ls" and not args.stack:
        raise ParameterError(
            f"--stack: action {args.action!r} acts on one stack; pass --stack with one of {', '.join(_stack_names())}",
            name="stack",
        )
    if args.key and args.action != "output":
        raise ParameterError(f"{args.key!r}: only action 'output' takes a KEY (action is {args.action!r})", name="key")
    settings = load_settings(args.env)
    if args.action == "import-resource":
        return _import_resource(args, settings)
    if args.action in STATE_READS:
        return _read_state(args, settings)
    return _act(args, settings)


def _flag(option: str) -> str:
    """The command-line flag of an option's attribute: resource_type -> --type, name -> --name."""
    return f"--{option.removeprefix('resource_').replace('_', '-')}"


def _unknown_environment(name: str) -> None:
    from tradai_nb.errors import ParameterError

    raise ParameterError(
        f"--env {name!r}: unknown environment; choose one of {', '.join(config.ENVIRONMENTS)}", name="env"
    )


def _import_resource(args: argparse.Namespace, settings) -> int:
    from tradai_nb.aws import session_for
    from tradai_nb.errors import ParameterError
    from tradai_nb.ops import resource_import

    missing = [
        flag
        for flag, value in (("--type", args.resource_type), ("--name", args.name), ("--id", args.resource_id))
        if not value
    ]
    if missing:
        raise ParameterError(
            f"{missing[0]}: import-resource needs --type, --name and --id (missing: {', '.join(missing)})",
            name=missing[0].removeprefix("--"),
        )
    request = resource_import.check_parameters(
        settings,
        stack=args.stack,
        resource_type=args.resource_type,
        name=args.name,
        resource_id=args.resource_id,
        parent=args.parent or "",
        dry_run=args.dry_run,
        confirm=args.confirm,
    )
    if args.dry_run:
        plan = resource_import.plan_import(session_for(settings), settings, request)
        if args.json:
            _print_json(
                {
                    **plan.table().to_dict("records")[0],
                    "module": request.module_path(),
                    "code": plan.code,
                    "dry_run": True,
                }
            )
            return 0
        print(f"\n{args.stack} ({settings.environment}): import-resource, dry run")
        print(plan.table().to_string(index=False, max_colwidth=80))
        print(f"\n{plan.instructions()}")
        print("\ndry run: nothing was imported")
        return 0
    result = resource_import.import_checked(
        None, settings, request, confirm=args.confirm, on_output=_engine_line if args.json else print
    )
    if args.json:
        _print_json(
            {
                "environment": settings.environment,
                "stack": args.stack,
                "action": args.action,
                "urn": request.urn,
                "summary": result.summary.to_dict("records"),
            }
        )
        return 0
    print(f"\n{args.stack} ({settings.environment}): imported {request.type.token} {request.id} as {request.urn}")
    print(result.summary.to_string(index=False))
    print(
        f"\ndeclare it in {request.module_path()} (`tradai-nb stack import-resource` without --no-dry-run shows "
        "the code), then preview: it should show no change for it"
    )
    return 0


def _init(args: argparse.Namespace) -> int:
    from tradai_nb.engine import automation
    from tradai_nb.environments import check_known, prepare_params
    from tradai_nb.errors import ParameterError

    check_known(args.env)
    given = [option for option in IMPORT_OPTIONS if getattr(args, option)] + (["stack"] if args.stack else [])
    if given:
        raise ParameterError(
            f"{_flag(given[0])}: `stack init` prepares all four stacks of --env and takes no other option",
            name=given[0],
        )
    settings, params = prepare_params(args.env)
    print(f"params/{args.env}.yaml: {params} (validated)", file=sys.stderr if args.json else sys.stdout)
    # A stack action needs the CLI: say so before the change gate records anything.
    automation.find_pulumi_cli("init")
    result = automation.init_stacks(settings, confirm=args.confirm, on_output=_engine_line if args.json else print)
    if args.json:
        _print_json(
            {"environment": settings.environment, "params": params, "stacks": result.summary.to_dict("records")}
        )
        return 0
    print(f"\n{settings.environment}: stack init")
    print(result.summary.to_string(index=False))
    return 0


def _act(args: argparse.Namespace, settings) -> int:
    from tradai_nb.actions import run_stack_action

    result = run_stack_action(
        settings,
        args.stack,
        args.action,
        confirm=args.confirm,
        allow_destroy=args.allow_destroy,
        state_file=args.file,
        log_level=args.verbose,
        debug=args.debug,
        log_flow=args.log_flow,
        trace_file=args.trace,
        on_output=_engine_line if args.json else print,
    )
    if args.json:
        _print_json(
            {
                "environment": settings.environment,
                "stack": args.stack,
                "action": args.action,
                "summary": result.summary.to_dict("records"),
                "outputs": dict(zip(result.outputs["key"], result.outputs["value"], strict=True)),
            }
        )
        return 0
    print(f"\n{args.stack} ({settings.environment}): {args.action}")
    print(result.summary.to_string(index=False, max_colwidth=80))
    if args.action in ("plan", "up") and not result.outputs.empty:
        print("\noutputs")
        print(result.outputs.to_string(index=False, max_colwidth=80))
    return 0


def _read_state(args: argparse.Namespace, settings) -> int:
    from tradai_nb.aws import session_for
    from tradai_nb.engine import automation
    from tradai_nb.state import backend

    # Through the Automation API the Pulumi CLI reaches the backend itself; a session is for the checkpoint reads.
    through_cli = args.action != "ls" and automation.reads_through_automation_api(settings)
    session = None if through_cli else session_for(settings)
    if args.action == "output":
        return _print_outputs(session, settings, args)
    if args.action == "export":
        return _export(session, settings, args)
    if args.action == "ls":
        table = backend.state_store_for(settings, session).overview(settings.environment)
    elif args.action == "resources":
        table = _resources(_deployment(session, settings, args.stack), args.stack)
    else:
        table = _history(session, settings, args.stack)
    if args.json:
        _print_json(table.to_dict("records"))
    elif table.empty:
        print(f"nothing on the backend of {settings.environment} ({settings.pulumi_backend_url})")
    else:
        print(table.to_string(index=False))
    return 0


def _deployment(session, settings, stack: str) -> dict[str, Any]:
    """The stack's deployment as `pulumi stack export` prints it, secrets left encrypted: from the backend's
    checkpoint, or through the Automation API where the Pulumi CLI is installed."""
    from tradai_nb.engine import automation
    from tradai_nb.state import backend

    if automation.reads_through_automation_api(settings):
        from tradai_nb.engine import automation

        exported = automation.export(settings, stack, on_output=_engine_line).deployment
        if exported is None:
            raise RuntimeError(f"the export of {stack} returned no deployment")
        return exported
    return backend.deployed_deployment(settings, session, stack, action=str(stack), nothing="nothing is deployed there")


def _export(session, settings, args: argparse.Namespace) -> int:
    text = json.dumps(_deployment(session, settings, args.stack), indent=4)
    if args.file:
        from tradai_nb.errors import ParameterError
        from tradai_nb.files import write_atomically

        target = Path(args.file).expanduser()
        if target.is_dir():
            raise ParameterError(
                f"--file {args.file}: is a folder; name the file to write, e.g. "
                f"{target / f'{args.stack}-{settings.environment}.json'}",
                name="file",
            )
        try:
            write_atomically(target, (text + "\n").encode("utf-8"))
        except OSError as error:
            raise ParameterError(
                f"--file {args.file}: cannot be written ({error.strerror or error}); choose a writable path",
                name="file",
            ) from error
        print(
            f"wrote the deployment of {args.stack} ({settings.environment}) to {args.file} (secrets stay "
            "encrypted; `tradai-nb stack import --file` takes it back)",
            file=sys.stderr,
        )
    else:
        print(text)
    return 0


def _resources(deployment: dict[str, Any], stack: str):
    """The deployment's resources as `pulumi stack --show-urns` lists them: type, name, URN, id, parent."""
    import pandas as pd

    rows = []
    for resource in (deployment.get("deployment") or {}).get("resources") or []:
        urn = str(resource.get("urn", ""))
        rows.append(
            {
                "type": resource.get("type", ""),
                "name": urn.rsplit("::", 1)[-1],
                "urn": urn,
                "id": resource.get("id", ""),
                "parent": resource.get("parent", ""),
                "protect": bool(resource.get("protect", False)),
            }
        )
    return pd.DataFrame(rows, columns=["type", "name", "urn", "id", "parent", "protect"])


def _print_outputs(session, settings, args: argparse.Namespace) -> int:
    from tradai_nb.errors import ParameterError
    from tradai_nb.ops.outputs import output_values

    values = output_values(session, settings, args.stack, show_secrets=args.show_secrets)
    if not args.key:
        _print_json(values)
        return 0
    if args.key not in values:
        raise ParameterError(
            f"KEY {args.key!r}: {args.stack} of {settings.environment} has no such output; it has "
            f"{', '.join(values) or 'none'}",
            name="key",
        )
    value = values[args.key]
    print(value if isinstance(value, str) and not args.json else json.dumps(value))
    return 0


def _history(session, settings, stack: str):
    """The stack's updates, newest first, with the same columns whether read from the backend or the CLI."""
    import pandas as pd

    from tradai_nb.engine import automation
    from tradai_nb.engine.automation import HISTORY_COLUMNS
    from tradai_nb.state import backend

    if automation.reads_through_automation_api(settings):
        from tradai_nb.engine import automation

        return automation.history(settings, stack).summary
    state = backend.state_store_for(settings, session)
    rows = [
        (e.version, e.kind, e.result, _time(e.start_time), _time(e.end_time), e.message, e.resource_changes)
        for e in state.history(backend.stack_ref(stack, settings.environment))
    ]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def _time(moment) -> str | None:
    from tradai_nb.state import backend

    return backend.format_time(moment) if moment is not None else None


def _engine_line(line: str) -> None:
    # With --json, stdout is the JSON document alone: what the engine streams goes to stderr.
    print(line, file=sys.stderr)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def run_setup(args: argparse.Namespace) -> int:
    from tradai_nb.engine.automation import install_pulumi_cli

    install_pulumi_cli(print)
    return 0
