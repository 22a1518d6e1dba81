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


class Rehearsal:
    """The rehearsal checkpoints of the seeded sandbox, read as the realized tests need them."""

    STACKS = ("persistent", "foundation", "compute", "edge")

    def __init__(self, sandbox):
        self.sandbox = sandbox

    def checkpoint(self, stack: str) -> list[dict]:
        """The stack's checkpoint resources (its stack resource, with the exports, first)."""
        from tradai_nb.sandbox import rehearsal_state

        return rehearsal_state.checkpoint_resources(self.sandbox.session, self.sandbox.settings, stack)

    def resources(self, resource_type: str) -> list[dict]:
        """Every stack's checkpoint resources of resource_type."""
        return [r for stack in self.STACKS for r in self.checkpoint(stack) if r["type"] == resource_type]

    def of(self, stack: str, resource_type: str) -> list[dict]:
        """The stack's checkpoint resources of resource_type; the plan has at least one."""
        found = [r for r in self.checkpoint(stack) if r["type"] == resource_type]
        assert found, (stack, resource_type)
        return found

    def exports(self, stack: str) -> dict:
        return self.checkpoint(stack)[0]["outputs"]


@pytest.fixture
def rehearsal(sandbox) -> Rehearsal:
    """The rehearsal checkpoints of the session's seeded sandbox: resources(type), of(stack, type), exports(stack)."""
    return Rehearsal(sandbox)
