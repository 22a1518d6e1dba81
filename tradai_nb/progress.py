"""Progress where people wait: a line per step with the time elapsed, in the notebook's output or on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

Reporter = Callable[[str], None]


class Progress:
    """Call it with what is happening now; it shows that and the time elapsed since it was made."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.started = time.monotonic()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def __call__(self, text: str) -> None:
        line = f"{self.title}: {text} ({self.elapsed_s:.1f} s)"
        # In a notebook the cell's output (stderr would read as an error there); elsewhere stderr, so that what a
        # command prints on stdout (JSON, tables) stays clean for a pipe.
        # One write of the line with its newline: a kernel's stream never splits a line into two outputs.
        stream = sys.stdout if _in_kernel() else sys.stderr
        stream.write(line + "\n")
        stream.flush()


def reporter(title: str, on_progress: Reporter | None = None) -> Reporter:
    """`on_progress` when given, else a new Progress under `title`."""
    return on_progress if on_progress is not None else Progress(title)


def _in_kernel() -> bool:
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
