"""`tradai-nb sandbox ...` end to end; `start` runs as its own process, so the server must outlive it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tradai_nb import config
from tradai_nb.cli import main
from tradai_nb.errors import EXIT_FAILED
from tradai_nb.sandbox import server as sandbox_api
from tradai_nb.settings import PROJECT_ROOT


def _has_row(table_text: str, kind: str, count: int) -> bool:
    """A row of kind whose first count is count (the seed's table has a second, `exists`, column when the rehearsal
    data found some of its resources made by the plan)."""
    words = [*kind.split(), str(count)]
    return any(line.split()[: len(words)] == words for line in table_text.splitlines())


def _planned_kinds_the_sandbox_lacks() -> set[tuple[str, str]]:
    from tradai_nb.sandbox import planned
    from tradai_nb.settings import load_settings

    return {
        (config.get_stack_project(stack.name), kind)
        for stack in planned.local_plan(load_settings("local")).stacks
        for kind in stack.resources["type"]
        if kind not in planned.REALIZERS
    }


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    """TRADAI_HOME of the test's own; whatever the test leaves running there is stopped afterwards."""
    monkeypatch.setenv(sandbox_api.HOME_ENV_VAR, str(tmp_path))
    yield tmp_path
    sandbox_api.stop(home=tmp_path)


def test_cli__start_seeds_and_outlives_the_command_status_reports_stop_leaves_nothing(
    cli_home, free_port, process_is_gone, capsys
):
    started = subprocess.run(
        [sys.executable, "-m", "tradai_nb", "sandbox", "start", "--port", str(free_port)],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True, timeout=120,
    )
    assert started.returncode == 0, started.stderr
    pid = json.loads((cli_home / sandbox_api.STATE_FILE).read_text())["pid"]
    assert not process_is_gone(pid), "the server must outlive `sandbox start`"
    assert f"http://127.0.0.1:{free_port}" in started.stdout
    assert _has_row(started.stdout, "dynamodb table", len(config.DYNAMODB_TABLES)), started.stdout

    assert main(["sandbox", "status"]) == 0
    status = capsys.readouterr().out
    assert f"pid       {pid}" in status and f"port      {free_port}" in status and "uptime    0h" in status
    assert _has_row(status, "ecr repository", len(config.ECR_REPOSITORIES)), status
    assert main(["sandbox", "status", "--json"]) == 0
    unrealized = json.loads(capsys.readouterr().out)["unrealized"]
    # Every planned kind no realizer creates is named, per project, with its count: none is skipped in silence.
    assert {(row["project"], row["type"]) for row in unrealized} == _planned_kinds_the_sandbox_lacks()
    assert "planned but not in the sandbox" in status
    assert all(_has_row(status, f"{row['project']} {row['type']}", row["count"]) for row in unrealized), status

    assert main(["sandbox", "stop"]) == 0
    assert f"pid {pid}" in capsys.readouterr().out
    assert process_is_gone(pid)
    assert not (cli_home / sandbox_api.STATE_FILE).exists()

    assert main(["sandbox", "status"]) == 1
    assert "no sandbox running" in capsys.readouterr().out


def test_cli__seed_without_a_running_sandbox_says_how_to_start_one(cli_home, capsys):
    assert main(["sandbox", "seed"]) == EXIT_FAILED
    assert "tradai-nb sandbox start" in capsys.readouterr().err
