"""Helpers shared by the runbook modules: parallel AWS calls, bounded polling and parameter checks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tradai_nb import config
from tradai_nb.errors import ParameterError
from tradai_nb.settings import Settings

T = TypeVar("T")
R = TypeVar("R")

# Concurrent calls per action: below botocore's default pool of 10 connections, and gentle on API rate limits.
MAX_PARALLEL_CALLS = 8
# The longest duration check_seconds accepts unless a caller sets its own: no timeout, poll interval or warm-up of a
# runbook action needs more than a day, and larger values (1e308, inf) only break the arithmetic of a deadline.
MAX_SECONDS = 24 * 3600.0

Progress = Callable[[str], None]


class Message(str):
    """A sentence a runbook shows as its result; a notebook displays it as plain text, not as a quoted string."""

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(str(self))


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
        raise ParameterError(f"parameter {name!r}: {_shown(value)} is not one of {', '.join(choices)}", name=name)
    return value


def check_flag(name: str, value: object) -> bool:
    """True or False, else a ParameterError naming the parameter (a truthy string is not a flag)."""
    if not isinstance(value, bool):
        raise ParameterError(f"parameter {name!r}: expected True or False, got {value!r}", name=name)
    return value


def check_revision(revision: object) -> int | None:
    """A task-definition revision number (1 or more), or None for the previous one; else a ParameterError."""
    if revision is not None and (isinstance(revision, bool) or not isinstance(revision, int) or revision < 1):
        raise ParameterError(
            f"parameter 'revision': expected a revision number (1 or more) or None for the previous "
            f"one, got {revision!r}",
            name="revision",
        )
    return revision


def check_seconds(name: str, value: object, *, allow_zero: bool = False, maximum: float = MAX_SECONDS) -> float:
    """A duration in seconds (a timeout, a poll interval): a finite number above zero (or zero when allowed) and at
    most `maximum` (MAX_SECONDS, 24 h, unless the caller sets its own)."""
    lowest = "zero or more" if allow_zero else "more than zero"
    problem = None
    if isinstance(value, bool):
        problem = ": True/False is not a number of seconds"
    elif not isinstance(value, (int, float)):
        problem = "" if isinstance(value, (str, type(None))) else f" ({type(value).__name__})"
    elif isinstance(value, float) and math.isnan(value):
        problem = ": not a number"
    elif value in (math.inf, -math.inf):
        problem = ": not a finite number"
    elif value < 0:
        problem = ": a duration cannot be negative"
    elif value == 0 and not allow_zero:
        problem = ": zero leaves no time at all"
    elif value > maximum:
        problem = f": more than {_describe_seconds(maximum)}"
    if problem is not None or not isinstance(value, (int, float)):
        raise ParameterError(
            f"parameter {name!r}: expected a number of seconds, {lowest} and at most {maximum:g} "
            f"({_describe_seconds(maximum)}); got {_shown(value)}{problem or ''}",
            name=name,
        )
    return float(value)


def _shown(value: object, limit: int = 60) -> str:
    """repr(value) for a message, cut to about `limit` characters (a refused value may be huge)."""
    try:
        text = repr(value)
    except ValueError:  # an integer of more digits than Python converts to text
        return f"an integer of {value.bit_length()} bits" if isinstance(value, int) else type(value).__name__
    return text if len(text) <= limit else f"{text[:limit]}..."


def _describe_seconds(seconds: float) -> str:
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def check_service(name: str, value: object, *, allow_all: bool) -> str:
    """A logical service name from config.SERVICES (or "all" where every service is meant)."""
    known = (*config.SERVICES, "all") if allow_all else tuple(config.SERVICES)
    if not isinstance(value, str) or value not in known:
        raise ParameterError(
            f"parameter {name!r}: unknown service {_shown(value)}; choose one of {', '.join(known)}", name=name
        )
    return value


def require_consolidated(settings: Settings, what: str, instead: str) -> None:
    """A ParameterError unless the environment runs the consolidated EC2 host; instead says what to do there."""
    if not settings.consolidated:
        raise ParameterError(
            f"{what} needs the consolidated EC2 host, and {settings.environment} runs its services on ECS Fargate"
            f"{instead}",
            name="action",
        )
