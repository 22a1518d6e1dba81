"""Benchmark: wall time of the diff of two environments against the offline plan of one, as a ratio.

Both are measured from a fresh interpreter (imports included), as `tradai-nb diff` and `tradai-nb plan` pay them:
the diff plans both environments in one process, so the stack modules and pulumi_aws load once, and then compares
them (that comparison is also timed on its own). The median of --runs is printed; the target is 1.5x at most.

    python benchmarks/env_diff.py [--env dev] [--against prod] [--stack S] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5

_PLAN = """
import json, sys, time
start = time.perf_counter()
from tradai_nb.engine.plan import plan
from tradai_nb.settings import load_settings
plan(load_settings(sys.argv[1]), [sys.argv[3]] if sys.argv[3] else None)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

_DIFF = """
import json, sys, time
start = time.perf_counter()
from tradai_nb.engine.plan import plan
from tradai_nb.review import env_diff
from tradai_nb.settings import load_settings
from tradai_nb.stacks.registry import stacks
names = [s.name for s in stacks.with_upstreams(sys.argv[3])] if sys.argv[3] else None
plans = [plan(load_settings(env), names) for env in (sys.argv[1], sys.argv[2])]
compared = time.perf_counter()
result = env_diff.diff_plans(*plans, [sys.argv[3]] if sys.argv[3] else None)
end = time.perf_counter()
print(json.dumps({"seconds": end - start, "compare_seconds": end - compared, "properties": len(result.changes)}))
"""


def _measure(code: str, environment: str, against: str, stack: str) -> dict:
    completed = subprocess.run([sys.executable, "-c", code, environment, against, stack], capture_output=True,
                               text=True, cwd=ROOT, check=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")})
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--against", default="prod")
    parser.add_argument("--stack", default="", help="one stack (with its upstreams); default: all four")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    plans = [_measure(_PLAN, args.env, args.against, args.stack) for _ in range(args.runs)]
    diffs = [_measure(_DIFF, args.env, args.against, args.stack) for _ in range(args.runs)]
    plan_s = statistics.median(r["seconds"] for r in plans)
    diff_s = statistics.median(r["seconds"] for r in diffs)
    compare_s = statistics.median(r["compare_seconds"] for r in diffs)
    print(f"{args.env} against {args.against} ({args.stack or 'all stacks'}), median of {args.runs} runs, "
          f"{diffs[0]['properties']} properties differ")
    print(f"plan of {args.env}           : {plan_s:6.2f} s")
    print(f"diff of {args.env} and {args.against}: {diff_s:6.2f} s   (the comparison itself {compare_s:5.2f} s)")
    print(f"ratio diff/plan       : {diff_s / plan_s:6.2f}x (target {TARGET_RATIO}x at most)")


if __name__ == "__main__":
    main()
