"""The database runbook, executed headless against the sandbox."""

from __future__ import annotations

import ast
import inspect

import papermill
import pytest

from tradai_nb.ops import database
from tradai_nb.records import audit

pytestmark = pytest.mark.sandbox
NOTEBOOK = "database.ipynb"


def test_database__parameters_match_what_the_runbook_validates_with_read_only_defaults(runbook_path):
    declared = papermill.inspect_notebook(str(runbook_path(NOTEBOOK)))
    defaults = {name: ast.literal_eval(p["default"]) for name, p in declared.items()}

    assert set(defaults) - {"environment"} == set(inspect.signature(database.check_parameters).parameters) - {
        "settings"}
    assert (defaults["environment"], defaults["action"], defaults["dry_run"], defaults["confirm"]) == (
        "local", "status", True, "")


def test_database__default_run_shows_instance_and_snapshots_and_changes_nothing(sandbox, run_runbook, cell_text):
    rds = sandbox.session.client("rds")
    before = rds.describe_db_snapshots()["DBSnapshots"]

    notebook = run_runbook(NOTEBOOK, sandbox_port=sandbox.settings.sandbox_port)

    assert database.database_identifier(sandbox.settings) in cell_text(notebook, "instance")
    assert sandbox.settings.rds_instance_class in cell_text(notebook, "instance")
    assert "does not serve" in cell_text(notebook, "maintenance")
    assert cell_text(notebook, "action") == "action 'status': nothing was changed"
    assert rds.describe_db_snapshots()["DBSnapshots"] == before


def test_database__a_snapshot_run_takes_one_and_records_it(sandbox, run_runbook, cell_text, tmp_path, monkeypatch):
    monkeypatch.setenv(audit.AUDIT_DIR_VARIABLE, str(tmp_path / "runs"))
    rds = sandbox.session.client("rds")
    try:
        notebook = run_runbook(NOTEBOOK, sandbox_port=sandbox.settings.sandbox_port, action="snapshot",
                               snapshot_id="notebook-snapshot-1", timeout_s=60)

        assert "available" in cell_text(notebook, "action") and "notebook-snapshot-1" in cell_text(notebook, "action")
        assert rds.describe_db_snapshots(DBSnapshotIdentifier="notebook-snapshot-1")["DBSnapshots"][0]["Status"] == \
            "available"
        records = audit.AuditStore(tmp_path / "runs").records()
        assert [(r.action, r.status, r.origin) for r in records] == [("rds.snapshot", "started", "papermill"),
                                                                    ("rds.snapshot", "succeeded", "papermill")]
    finally:
        rds.delete_db_snapshot(DBSnapshotIdentifier="notebook-snapshot-1")
