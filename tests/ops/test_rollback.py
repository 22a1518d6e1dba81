"""Rollback: state import from backups of the sandbox's state (the Automation API as autospecs of the real SDK),
redeploying a git revision (planned offline in a temporary repository), and the ECS mode's call contract."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess

import pytest
from pulumi import automation as auto
from state_fixtures import local_settings, no_pulumi_cli, sdk, write_backup  # noqa: F401 (fixtures)

from tradai_nb import config
from tradai_nb.errors import GuardError, ParameterError, PulumiCliMissingError, StateError
from tradai_nb.ops import rollback, state_backup
from tradai_nb.settings import PROJECT_ROOT, load_settings
from tradai_nb.state import backend


def quiet(_: str) -> None:
    """Swallows progress lines."""


def current(sandbox, stack: str) -> dict:
    return backend.state_store_for(sandbox.settings, sandbox.session).read_deployment(
        backend.stack_ref(stack, "local"))


def test_state_import_dry_run__without_backup_id_lists_the_backups_to_choose(sandbox, local_settings):
    backup_id = state_backup.backup_state(sandbox.session, local_settings, on_output=quiet).backup_id

    result = rollback.rollback(sandbox.session, local_settings, mode="state-import", stack="compute")

    assert result.dry_run and result.changes["backup_id"].tolist() == [backup_id]
    assert result.message.startswith("choose backup_id from the 1 complete backup(s) holding compute")


def test_state_import_dry_run__shows_exactly_what_the_import_would_change(sandbox, local_settings):
    restored = copy.deepcopy(current(sandbox, "foundation"))
    resources = restored["deployment"]["resources"]
    removed = resources.pop()
    changed = next(r for r in resources if r["type"] == "aws:ec2/vpc:Vpc")
    changed["id"] = "vpc-0restored"
    resources.append({"urn": "urn:pulumi:local::tradai-foundation::aws:sqs/queue:Queue::old-queue", "custom": True,
                      "type": "aws:sqs/queue:Queue", "id": "old-queue", "inputs": {}, "outputs": {}})
    write_backup(local_settings, sandbox.session, "20260301T100000Z", {"foundation": restored})

    result = rollback.rollback(sandbox.session, local_settings, mode="state-import", stack="foundation",
                               backup_id="20260301T100000Z", on_output=quiet)

    assert result.changes.values.tolist() == sorted([
        ["added", "foundation", "aws:sqs/queue:Queue", "old-queue", "id old-queue"],
        ["changed", "foundation", "aws:ec2/vpc:Vpc", changed["urn"].rsplit("::", 1)[1], "id"],
        ["removed", "foundation", removed["type"], removed["urn"].rsplit("::", 1)[1], f"id {removed['id']}"],
    ])
    assert "added 1, changed 1, removed 1; nothing was changed" in result.message
    assert current(sandbox, "foundation")["deployment"]["resources"][-1] == removed


@pytest.mark.parametrize("owner", ["another-stack", "another-environment"])
def test_state_import__refuses_a_backup_of_another_stack_or_environment(sandbox, local_settings, sdk, owner):
    foreign = current(sandbox, "persistent") if owner == "another-stack" else \
        _renamed(current(sandbox, "compute"), "urn:pulumi:local::", "urn:pulumi:dev::")
    write_backup(local_settings, sandbox.session, "20260301T100000Z", {"compute": foreign})

    for dry_run in (True, False):
        with pytest.raises(ParameterError, match="holds resources of another stack") as refused:
            rollback.rollback(sandbox.session, local_settings, mode="state-import", stack="compute",
                              backup_id="20260301T100000Z", dry_run=dry_run, on_output=quiet)
        assert refused.value.name == "backup_id"

    sdk.stack.import_stack.assert_not_called()
    assert state_backup.list_backups(sandbox.session, local_settings)["backup_id"].tolist() == ["20260301T100000Z"]


def test_state_import__backs_up_the_current_state_then_imports_through_the_automation_api(
        sandbox, local_settings, sdk):
    chosen = state_backup.backup_state(sandbox.session, local_settings, stack_names=["compute"],
                                       on_output=quiet).backup_id
    backups_at_import = []
    sdk.stack.import_stack.side_effect = lambda state: backups_at_import.append(
        state_backup.list_backups(sandbox.session, local_settings))

    result = rollback.rollback(sandbox.session, local_settings, mode="state-import", stack="compute",
                               backup_id=chosen, dry_run=False, on_output=quiet)

    [(imported,), _] = sdk.stack.import_stack.call_args
    assert isinstance(imported, auto.Deployment)
    assert imported.deployment == current(sandbox, "compute")["deployment"] and imported.version == 3
    [before_import] = backups_at_import
    pre_import = before_import[before_import["reason"] == f"before importing {chosen} into compute"]
    assert len(pre_import) == 1 and pre_import["status"].tolist() == ["complete"]
    assert f"the state before the import is backup {pre_import['backup_id'].iloc[0]}" in result.message


def test_state_import__refuses_a_partial_backup(sandbox, local_settings, sdk):
    chosen = state_backup.backup_state(sandbox.session, local_settings, on_output=quiet).backup_id
    (state_backup.backup_store(local_settings, None).root / "local" / chosen / "manifest.json").unlink()

    with pytest.raises(StateError, match="partial"):
        rollback.rollback(sandbox.session, local_settings, mode="state-import", stack="compute", backup_id=chosen,
                          dry_run=False, on_output=quiet)

    sdk.stack.import_stack.assert_not_called()


def test_state_import__without_the_cli_fails_before_any_backup_is_taken(sandbox, local_settings, no_pulumi_cli):
    chosen = state_backup.backup_state(sandbox.session, local_settings, on_output=quiet).backup_id

    with pytest.raises(PulumiCliMissingError, match="tradai-nb setup"):
        rollback.rollback(sandbox.session, local_settings, mode="state-import", stack="compute", backup_id=chosen,
                          dry_run=False, on_output=quiet)

    assert state_backup.list_backups(sandbox.session, local_settings)["backup_id"].tolist() == [chosen]


def test_state_import__in_prod_needs_confirm_before_anything_is_read(tmp_path, sdk):
    settings = load_settings("prod", {"pulumi_backend_url": (tmp_path / "state").as_uri(),
                                      "state_backup_url": (tmp_path / "backups").as_uri()})

    with pytest.raises(GuardError) as refused:
        rollback.rollback(None, settings, mode="state-import", stack="compute", backup_id="20260301T100000Z",
                          dry_run=False, on_output=quiet)

    assert refused.value.name == "confirm"
    sdk.create_or_select.assert_not_called()


@pytest.fixture(scope="module")
def revision_repo(tmp_path_factory):
    """A git repository of the project's programs: HEAD~1 as they are, HEAD with CodeArtifact removed and a shorter
    Cognito token validity."""
    repo = tmp_path_factory.mktemp("repo")
    for folder in ("tradai_nb", "params"):
        shutil.copytree(PROJECT_ROOT / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__"))

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), "-c", "user.name=ops", "-c", "user.email=ops@tradai.local", *args],
                       check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "programs as deployed")
    program = repo / "tradai_nb/stacks/persistent/__init__.py"
    program.write_text(program.read_text().replace(
        "        package_domain, package_repository = codeartifact.create_package_repository(settings)\n", "")
        .replace('        pulumi.export("codeartifact_domain", package_domain.domain)\n', "")
        .replace('        pulumi.export("codeartifact_repository", package_repository.repository)\n', ""))
    cognito = repo / "tradai_nb/stacks/persistent/cognito.py"
    cognito.write_text(cognito.read_text().replace("ACCESS_TOKEN_VALIDITY_MINUTES = 60",
                                                   "ACCESS_TOKEN_VALIDITY_MINUTES = 30"))
    git("commit", "-q", "-am", "drop CodeArtifact, shorter tokens")
    return repo


def test_git_revision_dry_run__shows_what_redeploying_the_revision_would_change(revision_repo):
    result = rollback.rollback(None, load_settings("local"), mode="git-revision", stack="persistent",
                               git_ref="HEAD~1", repo_dir=revision_repo)

    changes = result.changes
    assert result.dry_run and set(changes["stack"]) == {"persistent"}
    assert changes.loc[changes["change"] == "create", "type"].tolist() == [
        "aws:codeartifact/domain:Domain", "aws:codeartifact/repository:Repository"]
    updated = changes[changes["change"] == "update"]
    assert updated["type"].tolist() == ["aws:cognito/userPoolClient:UserPoolClient"]
    assert updated["details"].tolist() == ["accessTokenValidity"]
    assert "delete" not in set(changes["change"])
    assert "would make these changes: create 2, update 1" in result.message


def test_git_revision__an_unknown_ref_is_named_before_any_plan(revision_repo):
    with pytest.raises(ParameterError, match="'no-such-tag' is not a commit") as refused:
        rollback.rollback(None, load_settings("local"), mode="git-revision", git_ref="no-such-tag",
                          repo_dir=revision_repo)

    assert refused.value.name == "git_ref"


def test_git_revision_deploy__needs_the_pulumi_cli(revision_repo, no_pulumi_cli):
    with pytest.raises(PulumiCliMissingError, match="action 'up' needs it"):
        rollback.rollback(None, load_settings("local"), mode="git-revision", stack="persistent", git_ref="HEAD~1",
                          dry_run=False, repo_dir=revision_repo)


def test_ecs_mode__dry_run_names_the_previous_revision_and_changes_nothing(sandbox):
    ecs = sandbox.session.client("ecs")
    cluster, service = config.get_cluster_name("local"), config.get_service_name("backend", "local")

    def running() -> str:
        return ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]

    before = running()
    result = rollback.rollback(sandbox.session, sandbox.settings, mode="ecs-task-definition", service="backend")

    (change,) = result.changes.to_dict("records")
    assert change["service"] == service and change["applied"] is False
    assert change["to_revision"] == change["from_revision"] - 1
    assert before.endswith(f":{change['from_revision']}") and running() == before
    assert result.message == "would move service backend of local to its previous revision"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"mode": "revert"}, "mode"), ({"mode": "state-import", "stack": ""}, "stack"),
     ({"mode": "state-import", "stack": "compute", "dry_run": False}, "backup_id"),
     ({"mode": "ecs-task-definition"}, "service"),
     ({"mode": "ecs-task-definition", "service": "backend", "revision": 0}, "revision"),
     ({"mode": "git-revision", "git_ref": ""}, "git_ref"), ({"mode": "state-import", "dry_run": "no"}, "dry_run")],
    ids=["unknown-mode", "import-without-stack", "import-without-backup", "ecs-without-service", "revision-zero",
         "git-without-ref", "dry-run-not-bool"],
)
def test_rollback__bad_parameters_are_named(sandbox, local_settings, sdk, kwargs, name):
    with pytest.raises(ParameterError) as raised:
        rollback.rollback(sandbox.session, local_settings, on_output=quiet, **kwargs)

    assert raised.value.name == name


def _renamed(exported: dict, old: str, new: str) -> dict:
    return json.loads(json.dumps(exported).replace(old, new))
