"""The rollback runbook, executed headless with papermill against the sandbox (dry runs only)."""

from __future__ import annotations

from state_notebooks import execute, project_on_path, shown  # noqa: F401 (fixture)

from tradai_nb.ops import state_backup
from tradai_nb.settings import load_settings


def test_rollback_notebook__defaults_offer_the_backups_and_change_nothing(sandbox, tmp_path):
    notebook = execute("rollback", tmp_path, sandbox_port=sandbox.settings.sandbox_port,
                       state_backup_url=(tmp_path / "backups").as_uri())

    assert "no complete backup of local holds compute" in shown(notebook, "run")


def test_rollback_notebook__dry_run_of_a_state_import(sandbox, tmp_path):
    backups = (tmp_path / "backups").as_uri()
    settings = load_settings("local", {"sandbox_port": sandbox.settings.sandbox_port, "state_backup_url": backups})
    backup_id = state_backup.backup_state(sandbox.session, settings, on_output=lambda _: None).backup_id

    notebook = execute("rollback", tmp_path, sandbox_port=sandbox.settings.sandbox_port, state_backup_url=backups,
                       backup_id=backup_id)

    assert (f"dry run: importing backup {backup_id} into organization/tradai-compute/local would change its "
            "state: no differences; nothing was changed") in shown(notebook, "run")
