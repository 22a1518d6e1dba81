"""`tradai-nb sandbox start|stop|status|seed`: the embedded local AWS and its rehearsal estate."""

from __future__ import annotations

import argparse

from tradai_nb.errors import SandboxError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sandbox", help="the embedded local AWS (a moto server on 127.0.0.1) for --env local"
    )
    actions = parser.add_subparsers(dest="sandbox_action", required=True, metavar="ACTION")

    start = actions.add_parser(
        "start", help="start the sandbox (or reuse the running one) and seed the rehearsal estate"
    )
    start.add_argument("--port", type=int, help="port on 127.0.0.1 (default: sandbox_port in params/local.yaml)")
    start.add_argument("--no-seed", action="store_true", help="start an empty sandbox")
    start.set_defaults(handler=run_start)

    stop = actions.add_parser("stop", help="stop the running sandbox")
    stop.set_defaults(handler=run_stop)

    status = actions.add_parser(
        "status", help="show the running sandbox and what its estate holds (exit 1: none running)"
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(handler=run_status)

    seed = actions.add_parser("seed", help="seed the rehearsal estate into the running sandbox (idempotent)")
    seed.set_defaults(handler=run_seed)


def run_start(args: argparse.Namespace) -> int:
    from tradai_nb.aws import session_for
    from tradai_nb.sandbox import server as sandbox
    from tradai_nb.settings import load_settings

    settings = load_settings("local", {"sandbox_port": args.port} if args.port is not None else None)
    process, reused = sandbox.start(settings)
    verb = "already running" if reused else "started"
    print(f"sandbox {verb} at {process.endpoint_url} (pid {process.pid}, log {process.log_path})")
    if not args.no_seed:
        seeded = sandbox.seed(session_for(settings), settings)
        print("\nrehearsal estate:")
        print(sandbox.seed_summary(seeded).to_string(index=False))
    print("\nuse it with --env local; stop it with `tradai-nb sandbox stop`")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    from tradai_nb.sandbox import server as sandbox

    stopped = sandbox.stop()
    if stopped is None:
        print(f"no sandbox running (home {sandbox.home_dir()})")
    else:
        print(f"sandbox stopped (pid {stopped.pid}, port {stopped.port})")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from tradai_nb.aws import session_for
    from tradai_nb.sandbox import server as sandbox
    from tradai_nb.sandbox.estate import estate_counts, unrealized
    from tradai_nb.settings import load_settings

    current = sandbox.status()
    if args.json:
        return _status_json(current)
    if current.process is None:
        print(f"no sandbox running (home {current.home}); start one with `tradai-nb sandbox start`")
        return 1
    process = current.process
    print(f"pid       {process.pid}")
    print(f"port      {process.port}")
    print(f"endpoint  {process.endpoint_url}")
    print(f"uptime    {_duration(process.uptime_s)} (since {process.started_at})")
    print(f"log       {process.log_path}")
    if not current.answering:
        print("\nthe server does not answer; restart it with `tradai-nb sandbox stop` then `tradai-nb sandbox start`")
        return 1
    settings = load_settings("local", {"sandbox_port": process.port})
    session = session_for(settings)
    print("\nestate:")
    print(estate_counts(session).to_string(index=False))
    missing = unrealized(session)
    if not missing.empty:
        print("\nplanned but not in the sandbox (their rehearsal-state outputs are the plan's mock values):")
        print(missing.to_string(index=False))
    return 0


def _status_json(current) -> int:
    import json
    from dataclasses import asdict

    from tradai_nb.aws import session_for
    from tradai_nb.sandbox.estate import estate_counts, unrealized
    from tradai_nb.settings import load_settings

    status = {
        "home": str(current.home),
        "running": current.running,
        "answering": current.answering,
        "process": asdict(current.process) if current.process else None,
        "estate": None,
        "unrealized": None,
    }
    if current.process is not None and current.answering:
        settings = load_settings("local", {"sandbox_port": current.process.port})
        session = session_for(settings)
        status["estate"] = estate_counts(session).to_dict("records")
        status["unrealized"] = unrealized(session).to_dict("records")
    print(json.dumps(status, indent=2, default=str))
    return 0 if current.answering else 1


def run_seed(args: argparse.Namespace) -> int:
    from tradai_nb.aws import session_for
    from tradai_nb.sandbox import server as sandbox
    from tradai_nb.settings import load_settings

    current = sandbox.status()
    if current.process is None or not current.answering:
        raise SandboxError(f"no sandbox is answering (home {current.home}); start one with `tradai-nb sandbox start`")
    settings = load_settings("local", {"sandbox_port": current.process.port})
    seeded = sandbox.seed(session_for(settings), settings)
    print(sandbox.seed_summary(seeded).to_string(index=False))
    return 0


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s"
