"""The state locks runbook, executed headless with papermill against the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from state_notebooks import execute, project_on_path, shown  # noqa: F401 (fixture)

from tradai_nb.state import backend


def test_state_locks_notebook__defaults_list_the_seeded_lock(sandbox, tmp_path):
    notebook = execute("state_locks", tmp_path, sandbox_port=sandbox.settings.sandbox_port)

    table = shown(notebook, "run")
    assert "ci-deployer" in table and "build-agent-7" in table and "compute" in table
    assert "pulumi cancel --stack organization/tradai-<stack>/local" in shown(notebook, "cli")


def test_state_locks_notebook__clears_a_stale_lock_with_confirm(sandbox, tmp_path):
    state = backend.state_store_for(sandbox.settings, sandbox.session)
    edge = backend.stack_ref("edge", "local")
    state.write_lock(edge, "abandoned", pid=9, username="ana", hostname="laptop-3",
                     timestamp=datetime.now(timezone.utc) - timedelta(hours=5))

    notebook = execute("state_locks", tmp_path, sandbox_port=sandbox.settings.sandbox_port, action="clear",
                       stack="edge", confirm="local")

    assert "cleared" in shown(notebook, "run") and state.locks(edge) == []
    assert "tradai-nb stack cancel --stack edge --env local" in shown(notebook, "cli")
