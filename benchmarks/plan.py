"""Benchmark: wall time and peak memory of the offline plan of the whole estate, against its floor.

The floor is what any offline plan of the same estate must pay: importing the pulumi_aws modules the stacks use and
registering the same number of bare resources (same type tokens, no properties) under the same mock runtime.
Each measurement runs in a fresh interpreter; the median of --runs is printed, as seconds and as a ratio.

    python benchmarks/plan.py [--env prod] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_ESTATE = """
import json, resource, sys, time
start = time.perf_counter()
from tradai_nb.engine.plan import plan
from tradai_nb.settings import load_settings
result = plan(load_settings(sys.argv[1]))
elapsed = time.perf_counter() - start
frame = result.resources
print(json.dumps({"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "resources": int(frame["custom"].sum()),
                  "types": sorted(frame.loc[frame["custom"], "type"]),
                  "per_stack": {s: int(n) for s, n in frame[frame["custom"]].groupby("stack").size().items()}}))
"""

_FLOOR = """
import importlib, json, resource, sys, time
types = json.loads(sys.stdin.read())
start = time.perf_counter()
import pulumi
from tradai_nb.engine import mock_runtime
from tradai_nb.engine.plan import PlanMocks
from tradai_nb.settings import load_settings
for type_token in sorted(set(types)):
    module, kind = type_token.split(":")[1].split("/")[0], type_token.split(":")[2]
    # pulumi_aws submodules load lazily: touching the class is what makes the import happen.
    getattr(importlib.import_module(f"pulumi_aws.{module}_" if module == "lambda" else f"pulumi_aws.{module}"), kind)
settings = load_settings(sys.argv[1])

def program():
    for i, type_token in enumerate(types):
        pulumi.CustomResource(type_token, f"r{i}", {})

mock_runtime.run(program, PlanMocks(settings, "floor", {}), project="floor", stack=settings.environment)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _measure(code: str, environment: str, stdin: str = "") -> dict:
    completed = subprocess.run([sys.executable, "-c", code, environment], input=stdin, capture_output=True,
                               text=True, cwd=ROOT, check=True, env=_env())
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _env() -> dict:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="prod")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    estate = [_measure(_ESTATE, args.env) for _ in range(args.runs)]
    types = estate[0]["types"]
    floor = [_measure(_FLOOR, args.env, json.dumps(types)) for _ in range(args.runs)]
    estate_s = statistics.median(r["seconds"] for r in estate)
    floor_s = statistics.median(r["seconds"] for r in floor)
    estate_mib = statistics.median(r["peak_mib"] for r in estate)
    floor_mib = statistics.median(r["peak_mib"] for r in floor)
    print(f"environment {args.env}: {estate[0]['resources']} resources "
          f"({', '.join(f'{s} {n}' for s, n in estate[0]['per_stack'].items())}), median of {args.runs} runs")
    print(f"whole-estate plan : {estate_s:6.2f} s   peak {estate_mib:6.0f} MiB")
    print(f"floor (imports + {len(types)} bare resources): {floor_s:6.2f} s   peak {floor_mib:6.0f} MiB")
    print(f"ratio plan/floor  : {estate_s / floor_s:6.2f}x time, {estate_mib / floor_mib:6.2f}x memory")


if __name__ == "__main__":
    main()
