"""Pulumi work off the caller's event loop: a plan inside a running loop (as in a Jupyter kernel) never pumps it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tradai_nb.engine import offloop
from tradai_nb.engine.plan import plan


def _run_as_a_kernel_does(cell):
    """asyncio.run(cell()) on a thread of its own: the cell runs inside a running event loop, as a kernel's cell does,
    whatever loop this test's thread may have."""
    results: list = []
    thread = threading.Thread(target=lambda: results.append(asyncio.run(cell())))
    thread.start()
    thread.join(timeout=120)
    assert results, "the cell did not complete"
    return results[0]


def test_plan_inside_a_running_loop__completes_without_running_the_loops_queued_callbacks(settings_of):
    async def cell():
        loop = asyncio.get_running_loop()
        ran_meanwhile: list[str] = []
        # What a kernel's queued execute request is to ipykernel: a callback waiting for the loop's next turn.
        loop.call_soon(ran_meanwhile.append, "queued request")
        planned = plan(settings_of("local"), ["edge"])
        during = list(ran_meanwhile)
        await asyncio.sleep(0)
        return planned, during, list(ran_meanwhile)

    planned, during, after = _run_as_a_kernel_does(cell)

    assert [s.name for s in planned.stacks] == ["edge"] and len(planned.stack("edge").resources) > 10
    assert during == [], "the plan pumped the caller's event loop"
    assert after == ["queued request"], "the caller's loop is not usable after the plan"


def test_plan_inside_a_running_loop__twice_gives_the_same_plan(settings_of):
    async def cell():
        return plan(settings_of("dev"), ["foundation"]).to_json(), plan(settings_of("dev"), ["foundation"]).to_json()

    first, second = _run_as_a_kernel_does(cell)

    assert first == second


def test_call__hands_output_to_the_callers_thread_in_order_and_raises_the_workers_error():
    seen: list[tuple[str, str]] = []

    def work(count, *, on_output):
        for number in range(count):
            on_output(f"line {number}")
        return threading.current_thread().name

    worker = offloop.call(work, 3, on_output=lambda line: seen.append((threading.current_thread().name, line)))

    assert worker.startswith(offloop.THREAD_NAME)
    assert seen == [(threading.current_thread().name, f"line {n}") for n in range(3)]

    def fail(*, on_output):
        on_output("before the error")
        raise ValueError("from the worker")

    seen.clear()
    with pytest.raises(ValueError, match="from the worker"):
        offloop.call(fail, on_output=lambda line: seen.append(("caller", line)))
    assert seen == [("caller", "before the error")]
