"""In the browser: the stack notebooks set to dev plan offline without credentials; a notebook that needs AWS shows
the credentials message as one paragraph; a change made interactively is recorded with the notebook as saved."""

from __future__ import annotations

import json

import pytest
from lab_driver import STDERR, evidence, is_message, open_notebook, problems_of, run_all, set_parameters

from tradai_nb.records import audit

pytestmark = pytest.mark.browser


# The bootstrap plans all four stacks; compute also decides whether to look for its images.
DEV_NOTEBOOKS = ["notebooks/stacks/bootstrap.ipynb", "notebooks/stacks/compute.ipynb"]


@pytest.mark.parametrize("notebook", DEV_NOTEBOOKS, ids=[n.removeprefix("notebooks/") for n in DEV_NOTEBOOKS])
def test_run_all_in_dev__the_offline_plan_needs_no_credentials(page, lab, notebook):
    open_notebook(page, lab, notebook)
    set_parameters(page, notebook, environment="dev")
    cells = run_all(page)

    problems = problems_of(cells, set())
    shown = "\n".join(o["text"] for c in cells for o in c["outputs"])
    if "in dev" not in shown or not any(c["tables"] for c in cells):
        problems.append("no plan of dev was shown")
    if problems:
        folder = evidence(page, lab, notebook, f"dev-{notebook}")
        pytest.fail(f"{notebook} with environment dev: " + "; ".join(problems) + f" (evidence: {folder})")


def test_run_all_in_dev__a_notebook_that_needs_aws_shows_the_credentials_message_not_a_traceback(page, lab):
    notebook = "notebooks/runbooks/ecs_operations.ipynb"
    open_notebook(page, lab, notebook)
    set_parameters(page, notebook, environment="dev")
    cells = run_all(page)

    failing = [(i, o["text"]) for i, c in enumerate(cells) for o in c["outputs"] if o["mime"] == STDERR]
    if not failing or not is_message(failing[0][1]) or "profile" not in failing[0][1]:
        folder = evidence(page, lab, notebook, "dev-credentials")
        pytest.fail(f"expected one short credentials message first, got {failing[:1]!r} (evidence: {folder})")
    assert failing[0][1].startswith("CredentialsMissingError: AWS profile 'tradai'")


def test_interactive_change__is_recorded_with_the_notebook_as_saved(page, lab):
    notebook = "notebooks/runbooks/state_backup.ipynb"
    before = len(audit.AuditStore(lab.audit_dir).records()) if (lab.audit_dir / audit.INDEX_FILE).exists() else 0
    open_notebook(page, lab, notebook)
    set_parameters(page, notebook, action="backup")
    page.keyboard.press("Control+s")
    cells = run_all(page)

    problems = problems_of(cells, set())
    changes = [r for r in audit.AuditStore(lab.audit_dir).records()[before:] if r.kind == "change"]
    if problems or [(r.action, r.status) for r in changes] != [("state.backup", "started"),
                                                               ("state.backup", "succeeded")]:
        folder = evidence(page, lab, notebook, "interactive-record")
        pytest.fail(f"problems {problems}, changes recorded {changes} (evidence: {folder})")
    started = changes[0]
    assert started.origin == "interactive" and started.environment == "local"
    assert started.notebook == str((lab.root / notebook).resolve())
    kept = json.loads((lab.audit_dir / started.notebook_file).read_text())
    assert 'action = "backup"' in "".join(kept["cells"][1]["source"]), "the record keeps the notebook as saved"
    assert audit.local_problems(audit.AuditStore(lab.audit_dir))[1] == []
