"""Helpers shared by the runbook modules: parallel AWS calls, bounded polling and parameter checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tradai_nb import config
from tradai_nb.errors import ParameterError

T = TypeVar("T")
R = TypeVar("R")

# Concurrent calls per action: below botocore's default pool of 10 connections, and gentle on API rate limits.
MAX_PARALLEL_CALLS = 8

Progress = Callable[[str], None]


def parallel_map(fn: Callable[[T], R], items: Sequence[T], max_workers: int = MAX_PARALLEL_CALLS) -> list[R]:
    """fn over items on a few threads (boto3 clients are thread-safe), results in the order of items.

    A single item runs in the caller's thread: no pool for nothing. The first exception propagates.
    """
    if len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        return list(pool.map(fn, items))


class Deadline:
    """A bounded wait: how long is left, and a sleep that never overshoots the end."""

    def __init__(self, timeout_s: float) -> None:
        self.started = time.monotonic()
        self.end = self.started + timeout_s

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def passed_after(self, pause_s: float) -> bool:
        """Whether the deadline falls before another pause of pause_s would end."""
        return time.monotonic() + pause_s > self.end

    def sleep(self, pause_s: float) -> None:
        time.sleep(min(pause_s, self.remaining_s))


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """One of the choices, else a ParameterError naming the parameter and listing them."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(f"parameter {name!r}: {value!r} is not one of {', '.join(choices)}", name=name)
    return value


def check_seconds(name: str, value: object, *, allow_zero: bool = False) -> float:
    """A duration in seconds: a number above zero (or zero when allowed)."""
    number_given = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number_given or value < 0 or (value == 0 and not allow_zero):
        lowest = "zero or more" if allow_zero else "more than zero"
        raise ParameterError(f"parameter {name!r}: expected a number of seconds, {lowest}; got {value!r}", name=name)
    return float(value)


def check_service(name: str, value: object, *, allow_all: bool) -> str:
    """A logical service name from config.SERVICES (or "all" where every service is meant)."""
    known = (*config.SERVICES, "all") if allow_all else tuple(config.SERVICES)
    if not isinstance(value, str) or value not in known:
        raise ParameterError(f"parameter {name!r}: unknown service {value!r}; choose one of {', '.join(known)}",
                             name=name)
    return value
