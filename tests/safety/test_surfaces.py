"""The same guard on the other surfaces: `tradai-nb run` and plain papermill refuse every unconfirmed change in
staging, name the parameter, exit non-zero and leave a record.

No AWS account exists here: any AWS call for staging would fail with the credentials error (the profile is not
configured on this machine) and any Pulumi command with the missing-CLI error. That each run stops with GuardError
therefore shows the guard came first.
"""

from __future__ import annotations

import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from tradai_nb.cli import main
from tradai_nb.errors import EXIT_REFUSED
from tradai_nb.settings import PROJECT_ROOT

# (notebook, parameters, the kind of change refused, a wrong confirm): every changing action of every notebook.
CHANGES = [
    ("stacks/compute.ipynb", {"action": "up"}, "stack.up", ""),
    ("stacks/edge.ipynb", {"action": "refresh"}, "stack.refresh", "Staging"),
    ("stacks/foundation.ipynb", {"action": "destroy", "allow_destroy": True}, "stack.destroy", "prod"),
    ("stacks/bootstrap.ipynb", {"action": "up"}, "stack.up", " staging"),
    ("runbooks/ecs_operations.ipynb", {"action": "force-redeploy"}, "ecs.force-redeploy", "prod"),
    ("runbooks/ecs_operations.ipynb", {"action": "instance-refresh"}, "asg.instance-refresh", ""),
    ("runbooks/service_access.ipynb", {"action": "restart"}, "host.command", "staging "),
    ("runbooks/rollback.ipynb", {"mode": "ecs-task-definition", "dry_run": False}, "ecs.rollback", "STAGING"),
    ("runbooks/state_locks.ipynb", {"action": "clear", "stack": "compute"}, "state.lock-delete", "dev"),
    ("runbooks/database.ipynb", {"action": "reboot-failover", "dry_run": False}, "rds.reboot-failover", ""),
    ("runbooks/database.ipynb", {"action": "restore", "snapshot_id": "s1", "dry_run": False}, "rds.restore", "prod"),
]
IDS = [f"{n.split('/')[1].removesuffix('.ipynb')}-{p.get('action') or p.get('mode')}" for n, p, _, _ in CHANGES]


@pytest.mark.parametrize(("notebook", "parameters", "kind", "confirm"), CHANGES, ids=IDS)
def test_tradai_nb_run__refuses_with_exit_10_and_records_the_refusal(journal, capsys, notebook, parameters, kind,
                                                                     confirm):
    arguments = [f"{name}={value}" for name, value in {**parameters, "confirm": confirm}.items()]

    code = main(["run", f"notebooks/{notebook}", "--env", "staging", *[a for p in arguments for a in ("-p", p)]])

    assert code == EXIT_REFUSED, capsys.readouterr()
    assert "GuardError" in capsys.readouterr().err
    final = journal.records()[-1]
    assert (final.kind, final.status, final.error["ename"]) == ("run", "refused", "GuardError")
    assert "confirm='staging'" in final.error["evalue"]


@pytest.mark.parametrize(("notebook", "parameters", "kind", "confirm"), CHANGES, ids=IDS)
def test_plain_papermill__stops_at_the_guard_and_the_gate_records_the_refusal(journal, tmp_path, notebook,
                                                                              parameters, kind, confirm):
    with pytest.raises(PapermillExecutionError) as refused:
        papermill.execute_notebook(str(PROJECT_ROOT / "notebooks" / notebook), str(tmp_path / "out.ipynb"),
                                   parameters={"environment": "staging", **parameters, "confirm": confirm},
                                   kernel_name="python3", progress_bar=False, cwd=str(PROJECT_ROOT))

    assert refused.value.ename == "GuardError" and "confirm='staging'" in refused.value.evalue
    records = journal.records()
    assert [(r.kind, r.action, r.status, r.origin) for r in records][-1:] == [("change", kind, "refused",
                                                                               "papermill")]
    assert records[-1].parameters["confirm"] == confirm
