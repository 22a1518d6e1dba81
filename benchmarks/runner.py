"""Overhead of `tradai-nb run` on a stack notebook against calling the same plan function directly in one process.

Usage: python benchmarks/runner.py [--stack foundation] [--runs 5]
Runs in env local against a private moto server (so the audit upload really happens) and a temporary audit
directory; prints medians in seconds and the overhead as a ratio and in seconds (target: at most 2 s per notebook).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

TARGET_OVERHEAD_S = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stack", default="foundation", choices=["persistent", "foundation", "compute", "edge"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per moto request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        port = server.get_host_and_port()[1]
        with tempfile.TemporaryDirectory(prefix="tradai-bench-") as audit_dir:
            os.environ["TRADAI_AUDIT_DIR"] = audit_dir
            _create_logs_bucket(port)
            direct = _direct(args.stack, port, args.runs)
            direct_cold = _direct_cold(args.stack, port, args.runs)
            in_process = _run_notebook_in_process(args.stack, port, args.runs)
            command = _command(args.stack, port, args.runs, audit_dir)
    finally:
        server.stop()

    print(f"stack notebook {args.stack}.ipynb, env local, median of {args.runs} runs each")
    print(f"  direct run_stack_action(plan), one warm process:   {direct:6.2f} s")
    print(f"  direct run_stack_action(plan), a new process:      {direct_cold:6.2f} s  (imports paid, as a kernel pays them)")
    _report("  run_notebook() in one process (imports paid once):", in_process, direct)
    _report("  `tradai-nb run` (a new process per run):          ", command, direct)
    overhead = command - direct
    print(f"target: overhead <= {TARGET_OVERHEAD_S:.1f} s per notebook -> {'met' if overhead <= TARGET_OVERHEAD_S else 'NOT met'}"
          f" against the warm call; {command - direct_cold:.2f} s ({command / direct_cold:.1f}x) against the new-process call")
    return 0


def _report(label: str, seconds: float, direct: float) -> None:
    print(f"{label} {seconds:6.2f} s  overhead {seconds - direct:5.2f} s  ratio {seconds / direct:6.1f}x")


def _create_logs_bucket(port: int) -> None:
    from tradai_nb import config
    from tradai_nb.aws import session_for
    from tradai_nb.settings import load_settings

    settings = load_settings("local", {"sandbox_port": port})
    session_for(settings).client("s3").create_bucket(
        Bucket=config.get_bucket_name("logs", "local"),
        CreateBucketConfiguration={"LocationConstraint": settings.aws_region},
        ObjectLockEnabledForBucket=True,
    )


def _direct(stack: str, port: int, runs: int) -> float:
    from tradai_nb.actions import run_stack_action
    from tradai_nb.settings import load_settings

    settings = load_settings("local", {"sandbox_port": port})
    run_stack_action(settings, stack, "plan", on_output=lambda line: None)  # warm-up: imports and first plan
    return statistics.median(_timed(lambda: run_stack_action(settings, stack, "plan", on_output=lambda line: None), runs))


def _direct_cold(stack: str, port: int, runs: int) -> float:
    code = ("import sys; from tradai_nb.actions import run_stack_action; from tradai_nb.settings import load_settings; "
            "run_stack_action(load_settings('local', {'sandbox_port': int(sys.argv[2])}), sys.argv[1], 'plan', "
            "on_output=lambda line: None)")
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return statistics.median(_timed(lambda: subprocess.run([sys.executable, "-c", code, stack, str(port)], cwd=PROJECT_ROOT,
                                                            env=environment, check=True), runs))


def _run_notebook_in_process(stack: str, port: int, runs: int) -> float:
    from tradai_nb.runner import STACK_NOTEBOOKS_DIR, run_notebook

    def run() -> None:
        record = run_notebook(STACK_NOTEBOOKS_DIR / f"{stack}.ipynb", "local", {"sandbox_port": str(port)}, progress_bar=False)
        assert record.status == "succeeded" and record.upload["error"] is None, record

    return statistics.median(_timed(run, runs))


def _command(stack: str, port: int, runs: int, audit_dir: str) -> float:
    command = [sys.executable, "-m", "tradai_nb", "run", f"notebooks/stacks/{stack}.ipynb", "--env", "local",
               "-p", "sandbox_port", str(port)]
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TRADAI_AUDIT_DIR": audit_dir}

    def run() -> None:
        subprocess.run(command, cwd=PROJECT_ROOT, env=environment, check=True, capture_output=True)

    return statistics.median(_timed(run, runs))


def _timed(action, runs: int) -> list[float]:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return durations


if __name__ == "__main__":
    raise SystemExit(main())
