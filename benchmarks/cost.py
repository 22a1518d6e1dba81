"""Benchmark: the cost estimate's time beyond the offline plan (target: at most 0.2 s), per environment."""

from __future__ import annotations

import statistics
import time

from tradai_nb.engine.plan import plan
from tradai_nb.review import cost
from tradai_nb.settings import load_settings

TARGET_S = 0.2
ROUNDS = 5


def main() -> int:
    prices = cost.load_prices()
    worst = 0.0
    for environment in ("dev", "prod"):
        settings = load_settings(environment)
        started = time.perf_counter()
        planned = plan(settings)
        plan_s = time.perf_counter() - started
        timings = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            cost.estimate(planned, settings, prices)
            timings.append(time.perf_counter() - started)
        estimate_s = statistics.median(timings)
        worst = max(worst, estimate_s)
        print(f"{environment}: plan {plan_s:.2f} s, estimate beyond the plan {estimate_s * 1000:.0f} ms "
              f"(median of {ROUNDS}; {estimate_s / plan_s:.1%} of the plan; target {TARGET_S * 1000:.0f} ms, "
              f"{estimate_s / TARGET_S:.2f} of it)")
    print(f"worst estimate {worst * 1000:.0f} ms: {'within' if worst <= TARGET_S else 'OVER'} the {TARGET_S} s target")
    return 0 if worst <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
