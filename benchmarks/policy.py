"""Benchmark: what the policy check costs beyond the offline plan it checks (target: at most 0.5 s on prod).

One fresh interpreter per run plans the whole estate, then checks it (the first check includes reading which resource
types take tags from the pulumi_aws SDK). Prints the medians of --runs: plan and check in seconds, and their ratio.

    python benchmarks/policy.py [--env prod] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.5

_RUN = """
import json, sys, time
start = time.perf_counter()
from tradai_nb.engine.plan import plan
from tradai_nb.review.policy import check_plan
from tradai_nb.settings import load_settings
settings = load_settings(sys.argv[1])
result = plan(settings)
planned = time.perf_counter()
report = check_plan(result, settings)
checked = time.perf_counter()
print(json.dumps({"plan_s": planned - start, "check_s": checked - planned,
                  "resources": int(result.resources["custom"].sum()), "violations": len(report.violations)}))
"""


def _measure(environment: str) -> dict:
    completed = subprocess.run([sys.executable, "-W", "ignore", "-c", _RUN, environment], capture_output=True,
                               text=True, cwd=ROOT, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"the measurement failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--env", default="prod")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs: give at least 1 run")
    runs = [_measure(args.env) for _ in range(args.runs)]
    plan_s = statistics.median(r["plan_s"] for r in runs)
    check_s = statistics.median(r["check_s"] for r in runs)
    print(f"policy check of the {args.env} plan ({runs[0]['resources']} resources, {runs[0]['violations']} "
          f"violations), median of {args.runs} runs:")
    print(f"  plan   {plan_s:.3f} s")
    print(f"  check  {check_s:.3f} s beyond the plan (target <= {TARGET_S} s)")
    print(f"  ratio  {check_s / plan_s:.3f} of the plan's time")
    return 0 if check_s <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
