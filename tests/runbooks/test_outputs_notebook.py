"""The stack outputs runbook, executed headless with papermill against the sandbox."""

from __future__ import annotations

from state_notebooks import execute, project_on_path, shown  # noqa: F401 (fixture)


def test_outputs_notebook__defaults_show_every_stacks_outputs(sandbox, tmp_path):
    notebook = execute("outputs", tmp_path, sandbox_port=sandbox.settings.sandbox_port)

    table = shown(notebook, "run")
    for expected in ("persistent", "bucket_names", "vpc_id", "alb_dns_name", "api_endpoint"):
        assert expected in table


def test_outputs_notebook__one_key(sandbox, tmp_path):
    notebook = execute("outputs", tmp_path, sandbox_port=sandbox.settings.sandbox_port, key="vpc_id")

    table = shown(notebook, "run")
    assert "foundation" in table and "vpc_id" in table and "bucket_names" not in table
