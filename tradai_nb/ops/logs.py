"""CloudWatch Logs: tail a log group since a duration, filtered, across all pages, with a bounded follow."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from tradai_nb import config
from tradai_nb.aws import aws_errors
from tradai_nb.errors import ParameterError
from tradai_nb.ops._common import Deadline, check_seconds, parallel_map
from tradai_nb.settings import LOG_RETENTION_DAYS, Settings

EVENT_COLUMNS = ["time", "stream", "message"]
STREAM_COLUMNS = ["stream", "events"]
DEFAULT_SINCE = "30m"
DEFAULT_POLL_S = 5.0
MAX_FOLLOW_S = 3600.0
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(-?)\s*([0-9]+)\s*([smhdw])\s*$")
# The longest window `since` reaches back: CloudWatch Logs' longest retention period (3653 days, ten years);
# nothing older is kept.
MAX_SINCE = timedelta(days=max(LOG_RETENTION_DAYS))
# filter_log_events takes at most 100 stream names per call.
STREAMS_PER_CALL = 100
# A stream's lastEventTimestamp may lag its newest event by up to an hour (CloudWatch updates it lazily),
# so streams are skipped only when their last event is older than the window by more than that.
STREAM_ACTIVITY_LAG_MS = 3_600_000
# Beyond this many active streams, one group-wide query beats listing them all first.
MAX_LISTED_STREAMS = 800
# Concurrent filter_log_events reads: CloudWatch Logs allows an account only a few dozen of these calls per second.
PARALLEL_READS = 4


@dataclass(frozen=True)
class LogTail:
    """What a tail found: events (time, stream, message) oldest first, the count per stream, and the pages read."""

    log_group: str
    since: str
    filter_pattern: str
    events: pd.DataFrame
    per_stream: pd.DataFrame
    pages_read: int


def parse_since(since: object) -> timedelta:
    """A duration such as "30m", "2h", "1d" (units s, m, h, d, w) as a timedelta: above zero, at most MAX_SINCE."""
    match = _DURATION.match(since) if isinstance(since, str) else None
    problem = ""
    if match:
        sign, digits, unit = match.groups()
        digits = digits.lstrip("0") or "0"
        # More digits than this is beyond any limit whatever the unit (and int() refuses thousands of digits).
        seconds = int(digits) * _UNIT_SECONDS[unit] if len(digits) <= 12 else None
        if sign:
            problem = ": a window reaches back from now, so it is written without a sign"
        elif seconds == 0:
            problem = ": zero is an empty window"
        elif seconds is None or seconds > MAX_SINCE.total_seconds():
            problem = (
                f": longer than {MAX_SINCE.days}d, the longest CloudWatch Logs keeps events "
                "(its longest retention period)"
            )
        else:
            return timedelta(seconds=seconds)
    try:
        shown = repr(since) if len(repr(since)) <= 80 else f"{repr(since)[:80]}..."
    except ValueError:  # an integer of more digits than Python converts to text
        shown = f"a number of {since.bit_length()} bits" if isinstance(since, int) else type(since).__name__
    raise ParameterError(
        f"parameter 'since': expected a duration such as 30m, 2h or 1d (a whole number above zero, then one of "
        f"s, m, h, d, w) of at most {MAX_SINCE.days}d, got {shown}{problem}",
        name="since",
    )


def check_parameters(
    settings: Settings,
    *,
    log_group: str,
    since: str,
    filter_pattern: str,
    follow_s: float,
    poll_s: float,
    max_rows: int,
) -> None:
    """Validate the logs runbook's parameters before any AWS call."""
    if not isinstance(log_group, str) or not re.fullmatch(r"[\w\-./#]{1,512}", log_group):
        raise ParameterError(
            f"parameter 'log_group': expected a log group name such as "
            f"{config.CONSOLIDATED_LOG_GROUP}, got {log_group!r}",
            name="log_group",
        )
    parse_since(since)
    if not isinstance(filter_pattern, str):
        raise ParameterError(
            f"parameter 'filter_pattern': expected text (\"\" for all events), got {filter_pattern!r}",
            name="filter_pattern",
        )
    _check_follow(follow_s, poll_s)
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ParameterError(
            f"parameter 'max_rows': expected a whole number above zero, got {max_rows!r}", name="max_rows"
        )


def tail_logs(
    session,
    settings: Settings,
    log_group: str = config.CONSOLIDATED_LOG_GROUP,
    since: str = DEFAULT_SINCE,
    filter_pattern: str = "",
    *,
    follow_s: float = 0.0,
    poll_s: float = DEFAULT_POLL_S,
    page_size: int | None = None,
    on_events: Callable[[pd.DataFrame], None] | None = None,
) -> LogTail:
    """Every event of log_group since the duration (matching filter_pattern, CloudWatch's syntax), across all pages;
    a window of more than one page is read stream by stream in parallel. With follow_s, keep polling every poll_s for
    new events until follow_s has passed, handing each batch that arrives meanwhile to on_events (the result holds them
    all)."""
    window = parse_since(since)
    follow_s, poll_s = _check_follow(follow_s, poll_s)
    if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1):
        raise ParameterError(
            f"parameter 'page_size': expected a whole number above zero or None, got {page_size!r}", name="page_size"
        )
    logs = session.client("logs")
    start_ms = _now_ms() - int(window.total_seconds() * 1000)
    reader = _Reader(logs, log_group, filter_pattern, page_size)
    with aws_errors(f"reading log group {log_group}"):
        events = reader.read(start_ms)
    deadline = Deadline(follow_s)
    while follow_s and not deadline.passed_after(0):
        deadline.sleep(poll_s)
        # Re-reading from the newest time seen (event ids drop the overlap) also finds events stamped in the same
        # millisecond that arrived after the last read.
        newest_ms = max((e["timestamp"] for e in events), default=start_ms)
        with aws_errors(f"following log group {log_group}"):
            fresh = reader.read(newest_ms)
        if on_events and fresh:
            on_events(_frame(fresh))
        events.extend(fresh)
    frame = _frame(events)
    per_stream = (
        frame.groupby("stream").size().rename("events").reset_index()
        if len(frame)
        else pd.DataFrame(columns=STREAM_COLUMNS)
    )
    return LogTail(log_group, since, filter_pattern, frame, per_stream[STREAM_COLUMNS], reader.pages_read)


class _Reader:
    """filter_log_events over every page of a window, counting pages, never returning an event twice."""

    def __init__(self, logs, log_group: str, filter_pattern: str, page_size: int | None) -> None:
        self.logs = logs
        self.log_group = log_group
        self.filter_pattern = filter_pattern
        self.page_size = page_size
        self.pages_read = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def read(self, start_ms: int) -> list[dict[str, Any]]:
        """The events since start_ms not returned before. One group-wide query while it fits one page; when there
        is more, the active streams are read in parallel instead (the first page's events are dropped as seen)."""
        pages = self._pages(start_ms, None)
        first = next(pages)
        fresh = self._unseen(first["events"])
        if not first.get("nextToken"):
            return fresh
        groups = _stream_groups(self.logs, self.log_group, start_ms)
        if groups == [None]:
            return fresh + [e for page in pages for e in self._unseen(page["events"])]
        batches = parallel_map(
            lambda streams: [e for page in self._pages(start_ms, streams) for e in page["events"]],
            groups,
            max_workers=PARALLEL_READS,
        )
        return fresh + [e for batch in batches for e in self._unseen(batch)]

    def _pages(self, start_ms: int, streams: list[str] | None) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] = {"logGroupName": self.log_group, "startTime": start_ms}
        if streams:
            query["logStreamNames"] = streams
        if self.filter_pattern:
            query["filterPattern"] = self.filter_pattern
        if self.page_size:
            query["PaginationConfig"] = {"PageSize": self.page_size}
        for page in self.logs.get_paginator("filter_log_events").paginate(**query):
            with self._lock:
                self.pages_read += 1
            yield page

    def _unseen(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fresh = [e for e in events if e["eventId"] not in self._seen]
        self._seen.update(e["eventId"] for e in fresh)
        return fresh


def _stream_groups(logs, log_group: str, start_ms: int) -> list[list[str] | None]:
    """The group's streams with events in the window, split for parallel reading; [None] means one group-wide query
    (one stream or none, or more streams than are worth listing)."""
    streams: list[str] = []
    pages = logs.get_paginator("describe_log_streams").paginate(
        logGroupName=log_group, orderBy="LastEventTime", descending=True
    )
    for page in pages:
        for stream in page["logStreams"]:
            # Streams come newest first: once one is older than the window (and its lag), all after it are too.
            if stream.get("lastEventTimestamp", stream.get("creationTime", 0)) < start_ms - STREAM_ACTIVITY_LAG_MS:
                return _split(streams)
            streams.append(stream["logStreamName"])
            if len(streams) > MAX_LISTED_STREAMS:
                return [None]
    return _split(streams)


def _split(streams: list[str]) -> list[list[str] | None]:
    if len(streams) <= 1:
        return [None]
    groups = max(min(PARALLEL_READS, len(streams)), -(-len(streams) // STREAMS_PER_CALL))
    return [chunk for chunk in (streams[i::groups] for i in range(groups)) if chunk]


def _frame(events: list[dict[str, Any]]) -> pd.DataFrame:
    # One int64 array converted at once: pandas parses a list of ints element by element, several times slower.
    milliseconds = np.fromiter((e["timestamp"] for e in events), dtype=np.int64, count=len(events))
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime(milliseconds, unit="ms", utc=True),
            "stream": [e["logStreamName"] for e in events],
            "message": [e["message"].rstrip("\n") for e in events],
        },
        columns=EVENT_COLUMNS,
    )
    return frame.sort_values(["time", "stream"], kind="stable", ignore_index=True)


def _check_follow(follow_s: object, poll_s: object) -> tuple[float, float]:
    follow_s = check_seconds("follow_s", follow_s, allow_zero=True)
    if follow_s > MAX_FOLLOW_S:
        raise ParameterError(
            f"parameter 'follow_s': at most {MAX_FOLLOW_S:.0f} s per run (got {follow_s:g}); "
            "run again to keep following",
            name="follow_s",
        )
    return follow_s, check_seconds("poll_s", poll_s)


def _now_ms() -> int:
    return int(time.time() * 1000)
