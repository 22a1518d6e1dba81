"""The state backup runbook, executed headless with papermill against the sandbox, with a backup store of its own."""

from __future__ import annotations

from state_notebooks import execute, project_on_path, shown  # noqa: F401 (fixture)

from tradai_nb.stacks.registry import stacks


def test_state_backup_notebook__defaults_list_and_change_nothing(sandbox, tmp_path):
    backups = tmp_path / "backups"

    notebook = execute("state_backup", tmp_path, sandbox_port=sandbox.settings.sandbox_port,
                       state_backup_url=backups.as_uri())

    state = shown(notebook, "state")
    assert all(f"tradai-{name}" in state for name in stacks.names())
    assert "0 backup(s) of local" in shown(notebook, "run")
    assert not backups.exists()


def test_state_backup_notebook__backup_then_verify(sandbox, tmp_path):
    backups = tmp_path / "backups"
    common = {"sandbox_port": sandbox.settings.sandbox_port, "state_backup_url": backups.as_uri()}

    backed_up = execute("state_backup", tmp_path, action="backup", **common)
    [backup_id] = [p.name for p in (backups / "local").iterdir()]
    verified = execute("state_backup", tmp_path, action="verify", backup_id=backup_id, **common)

    assert f"backup {backup_id} complete: 4 stack(s)" in shown(backed_up, "run")
    assert f"backup {backup_id}: verified" in shown(verified, "run")
