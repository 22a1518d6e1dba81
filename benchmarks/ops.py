"""Benchmark the ECS status and the log tail against a sandbox of 50 services and 10,000 log events, each next to a
bare boto3 loop making the same calls one after another; prints the times and their ratios (target: within 1.2x).

Run from the project root: `python benchmarks/ops.py`. It starts its own sandbox on a free port and stops it.
"""

from __future__ import annotations

import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tradai_nb import config
from tradai_nb.aws import session_for  # noqa: E402
from tradai_nb.ops import ecs, logs  # noqa: E402
from tradai_nb.sandbox import server as sandbox  # noqa: E402
from tradai_nb.settings import Settings, load_settings  # noqa: E402

SERVICES = 50
LOG_EVENTS = 10_000
LOG_STREAMS = 10
LOG_GROUP = "/tradai/local/benchmark"
REPEATS = 15
# None: the service's own page size (up to 10,000 events); 1,000: many pages per read.
PAGE_SIZES = (None, 1_000)
TARGET_RATIO = 1.2


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fill(session, settings: Settings) -> None:
    """The seeded estate, plus services up to SERVICES in its cluster and LOG_EVENTS events in LOG_GROUP."""
    sandbox.seed(session, settings)
    client = session.client("ecs")
    cluster = config.get_cluster_name(settings.environment)
    family = config.get_service_name("backend", settings.environment)
    for n in range(SERVICES - len(config.SERVICES)):
        client.create_service(cluster=cluster, serviceName=f"tradai-bench-{n:02d}-local", taskDefinition=f"{family}:3",
                              desiredCount=1)
    log_client = session.client("logs")
    log_client.create_log_group(logGroupName=LOG_GROUP)
    start_ms = int(time.time() * 1000) - 20 * 60_000
    per_stream = LOG_EVENTS // LOG_STREAMS
    for stream in range(LOG_STREAMS):
        name = f"worker-{stream}"
        log_client.create_log_stream(logGroupName=LOG_GROUP, logStreamName=name)
        log_client.put_log_events(logGroupName=LOG_GROUP, logStreamName=name, logEvents=[
            {"timestamp": start_ms + n * 100, "message": f"{name} INFO request {n} completed status=200 duration_ms={n % 90}"}
            for n in range(per_stream)])


def bare_status(session, settings: Settings) -> int:
    client = session.client("ecs")
    cluster = config.get_cluster_name(settings.environment)
    arns = [arn for page in client.get_paginator("list_services").paginate(cluster=cluster) for arn in page["serviceArns"]]
    described = []
    for i in range(0, len(arns), 10):
        described.extend(client.describe_services(cluster=cluster, services=arns[i:i + 10])["services"])
    return len(described)


def bare_tail(session, page_size: int | None) -> int:
    client = session.client("logs")
    query = {"logGroupName": LOG_GROUP, "startTime": int(time.time() * 1000) - 3_600_000}
    if page_size:
        query["PaginationConfig"] = {"PageSize": page_size}
    return sum(len(page["events"]) for page in client.get_paginator("filter_log_events").paginate(**query))


def timed(ours: Callable[[], int], bare: Callable[[], int]) -> tuple[float, float, int, int]:
    """Median seconds of each over REPEATS runs, taken in turn so both meet the same machine load (after a warm-up
    run each), and the rows each returned."""
    rows = {ours: ours(), bare: bare()}
    times: dict[Callable[[], int], list[float]] = {ours: [], bare: []}
    for _ in range(REPEATS):
        for fn in (ours, bare):
            started = time.perf_counter()
            rows[fn] = fn()
            times[fn].append(time.perf_counter() - started)
    return statistics.median(times[ours]), statistics.median(times[bare]), rows[ours], rows[bare]


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="tradai-bench-"))
    settings = load_settings("local", {"sandbox_port": free_port()})
    sandbox.start(settings, home=home)
    try:
        session = session_for(settings)
        fill(session, settings)
        cases = [("ECS status (50 services)",
                  lambda: len(ecs.service_status(session, settings)), lambda: bare_status(session, settings))]
        for page_size in PAGE_SIZES:
            label = f"log tail (10,000 events, page size {page_size or 'default'})"
            cases.append((label,
                          lambda p=page_size: len(logs.tail_logs(session, settings, LOG_GROUP, "1h", page_size=p).events),
                          lambda p=page_size: bare_tail(session, p)))
        print(f"{'case':52} {'tradai-nb':>10} {'bare boto3':>11} {'ratio':>6}  rows")
        worst = 0.0
        for label, ours, bare in cases:
            ours_s, bare_s, ours_rows, bare_rows = timed(ours, bare)
            if ours_rows != bare_rows:
                raise SystemExit(f"{label}: tradai-nb returned {ours_rows} rows, the bare loop {bare_rows}")
            ratio = ours_s / bare_s
            worst = max(worst, ratio)
            print(f"{label:52} {ours_s * 1000:8.1f}ms {bare_s * 1000:9.1f}ms {ratio:6.2f}  {ours_rows}")
        print(f"\nworst ratio {worst:.2f} (target within {TARGET_RATIO}); median of {REPEATS} runs each")
        return 0 if worst <= TARGET_RATIO else 1
    finally:
        sandbox.stop(home=home)


if __name__ == "__main__":
    sys.exit(main())
