"""Run All of the bootstrap notebook in JupyterLab (real Chromium) against `tradai-nb run` of the same notebook.

Usage: python benchmarks/browser.py [--runs 3]
Both in one isolated local environment (its own sandbox, params and audit folder); prints medians in seconds and the
ratio (target: the browser at most 1.5x the headless run). Needs Chromium (`make chromium`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(PROJECT_ROOT / "tests" / "browser"))

NOTEBOOK = "notebooks/stacks/bootstrap.ipynb"
TARGET_RATIO = 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from lab_driver import NOTEBOOKS, launch_chromium, open_notebook, problems_of, run_all, start_lab, stop_lab
    from playwright.sync_api import sync_playwright

    from tradai_nb.records.audit import AUDIT_DIR_VARIABLE
    from tradai_nb.sandbox.server import ensure_running, isolated_local_environment
    from tradai_nb.settings import load_settings

    with isolated_local_environment() as root, tempfile.TemporaryDirectory(prefix="tradai-bench-lab-") as base:
        os.environ[AUDIT_DIR_VARIABLE] = str(root / "runs")
        ensure_running(load_settings("local"))
        headless = []
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tradai_nb", "run", NOTEBOOK, "--env", "local"], check=True,
                           cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL)
            headless.append(time.perf_counter() - started)
        lab, server = start_lab(Path(base), NOTEBOOKS)
        in_browser = []
        try:
            with sync_playwright() as playwright:
                chromium = launch_chromium(playwright)
                for _ in range(args.runs):
                    context = chromium.new_context(viewport={"width": 1500, "height": 1100})
                    page = context.new_page()
                    # Timed as an operator waits: from opening the notebook until the last cell has run.
                    started = time.perf_counter()
                    open_notebook(page, lab, NOTEBOOK)
                    cells = run_all(page)
                    in_browser.append(time.perf_counter() - started)
                    problems = problems_of(cells, set())
                    if problems:
                        raise SystemExit(f"Run All of {NOTEBOOK} did not complete cleanly: {problems}")
                    context.close()
                    for session in lab.api("sessions"):
                        lab.api(f"sessions/{session['id']}", method="DELETE")
                chromium.close()
        finally:
            stop_lab(server)

    browser_s, headless_s = statistics.median(in_browser), statistics.median(headless)
    ratio = browser_s / headless_s
    print(f"{NOTEBOOK}, env local, median of {args.runs} runs each")
    print(f"  `tradai-nb run` headless (a new process, kernel start included): {headless_s:6.2f} s")
    print(f"  JupyterLab Run All in Chromium (open to last cell done):       {browser_s:6.2f} s")
    print(f"  ratio {ratio:.2f}x; target <= {TARGET_RATIO}x -> {'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
