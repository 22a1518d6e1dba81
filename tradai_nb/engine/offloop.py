"""Pulumi work on one worker thread with its own event loop, never on the caller's (a Jupyter kernel's) loop."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

THREAD_NAME = "tradai-pulumi"
# How often the caller looks for output from the worker while it waits.
_POLL_S = 0.05


# Pulumi's runtime keeps process-wide settings (the root resource, the mock monitor, the RPC bookkeeping), and its
# `_sync_await` pumps whatever event loop is current in the calling thread. Inside a Jupyter kernel that loop is
# the kernel's own: pumping it runs queued execute requests in the middle of a cell, which breaks Run All. One
# dedicated thread, with an event loop of its own, runs every program in turn.
def _own_event_loop() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())


_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME, initializer=_own_event_loop)


def on_worker() -> bool:
    """Whether the caller already runs on the Pulumi worker thread."""
    return threading.current_thread().name.startswith(THREAD_NAME)


def call(function: Callable[..., T], *args: Any, on_output: Callable[[str], Any] | None = None, **kwargs: Any) -> T:
    """Run function(*args, **kwargs) on the worker thread and return its result (or raise its error).

    When `on_output` is given, the function receives `on_output=` a thread-safe stand-in: every line it emits is
    handed to the real `on_output` on the caller's thread, so a notebook shows it in the cell that is running.
    """
    if on_worker():
        return function(*args, **kwargs) if on_output is None else function(*args, on_output=on_output, **kwargs)
    if on_output is None:
        return _executor.submit(function, *args, **kwargs).result()
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()
    future: Future[T] = _executor.submit(function, *args, on_output=lines.put, **kwargs)
    while True:
        _drain(lines, on_output)
        try:
            result = future.result(timeout=_POLL_S)
        except TimeoutError:
            continue
        except BaseException:
            _drain(lines, on_output)
            raise
        _drain(lines, on_output)
        return result


def _drain(lines: queue.SimpleQueue[str], on_output: Callable[[str], Any]) -> None:
    while True:
        try:
            line = lines.get_nowait()
        except queue.Empty:
            return
        on_output(line)
