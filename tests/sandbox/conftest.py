"""Helpers for the sandbox tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _process_is_gone(pid: int) -> bool:
    """True once the process has exited (a zombie waiting for its parent to collect it counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rpartition(")")[2].split()[0] == "Z"


@pytest.fixture
def process_is_gone():
    """process_is_gone(pid) -> whether that process has exited."""
    return _process_is_gone
