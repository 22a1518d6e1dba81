"""The change gate at the point of change: every changing function refuses an unconfirmed change itself, first,
before any AWS or Pulumi call, and records the refusal; a confirmed change is recorded ahead and after."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from pulumi import automation as auto

from tradai_nb.aws import EnvironmentSession
from tradai_nb.engine import automation
from tradai_nb.errors import AuditStoreError, GuardError
from tradai_nb.ops import access, database, ecs, image_push, locks, resource_import, rollback, state_backup
from tradai_nb.records import audit, gate
from tradai_nb.settings import load_settings
from tradai_nb.state import backend, sealing
from tradai_nb.state.backend import StackRef, StateLock

# The kinds of change, pinned as literals: a change kind added to the code without a guard fails here.
CHANGE_KINDS = {
    "stack.up": "protected", "stack.refresh": "protected", "stack.destroy": "protected", "stack.import": "protected",
    "stack.cancel": "protected", "ecs.force-redeploy": "protected", "ecs.rollback": "protected",
    "asg.instance-refresh": "protected", "ecr.push": "protected", "host.command": "protected",
    "state.lock-delete": "always", "state.backup": "never", "rollback.state-import": "protected",
    "rollback.git-revision": "protected", "rds.snapshot": "never", "rds.reboot-failover": "protected",
    "rds.restore": "protected", "stack.import-resource": "protected", "stack.init": "protected",
}


def _deployment(environment: str) -> dict:
    return {"version": 3, "deployment": {
        "manifest": {"time": "2026-01-01T00:00:00Z", "magic": "m", "version": "v3.272.0"},
        "secrets_providers": {"type": "passphrase",
                              "state": sealing.secrets_provider_state(environment, "tradai-compute")},
        "resources": [{"urn": f"urn:pulumi:{environment}::tradai-compute::aws:ecs/cluster:Cluster::c",
                       "type": "aws:ecs/cluster:Cluster", "custom": True, "id": "c"}]}}


def _lock(environment: str) -> StateLock:
    ref = StackRef("tradai-compute", environment)
    return StateLock(ref=ref, lock_id="l1", key=backend.lock_key(ref, "l1"), url="s3://x/l1", pid=1,
                     username="ana", hostname="h", timestamp=None)


# Every public function that changes AWS or Pulumi state, pinned as a literal: (kind, call(session, settings, confirm)).
CHANGING_FUNCTIONS = {
    "automation.up": ("stack.up", lambda s, e, c: automation.up(e, "compute", confirm=c)),
    "automation.refresh": ("stack.refresh", lambda s, e, c: automation.refresh(e, "compute", confirm=c)),
    "automation.destroy": ("stack.destroy", lambda s, e, c: automation.destroy(e, "compute", confirm=c)),
    "automation.import_state": ("stack.import", lambda s, e, c: automation.import_state(
        e, "compute", _deployment(e.environment), confirm=c)),
    "automation.cancel": ("stack.cancel", lambda s, e, c: automation.cancel(e, "compute", confirm=c)),
    "automation.import_resource": ("stack.import-resource", lambda s, e, c: automation.import_resource(
        e, "persistent", resource_type="aws:s3/bucket:Bucket", name="configs-bucket",
        resource_id=f"tradai-configs-{e.environment}", confirm=c)),
    "resource_import.import_resource": ("stack.import-resource", lambda s, e, c: resource_import.import_resource(
        s, e, stack="compute", resource_type="aws:ecs:Service", name="backend",
        resource_id=f"tradai-{e.environment}/tradai-backend-{e.environment}", dry_run=False, confirm=c)),
    "automation.init_stacks": ("stack.init", lambda s, e, c: automation.init_stacks(e, confirm=c)),
    "automation.run_action(up)": ("stack.up", lambda s, e, c: automation.run_action(e, "edge", "up", confirm=c)),
    "ecs.force_redeploy": ("ecs.force-redeploy", lambda s, e, c: ecs.force_redeploy(s, e, "all", c)),
    "ecs.rollback_service": ("ecs.rollback", lambda s, e, c: ecs.rollback_service(s, e, "backend", dry_run=False,
                                                                                confirm=c)),
    "ecs.start_instance_refresh": ("asg.instance-refresh", lambda s, e, c: ecs.start_instance_refresh(s, e, c)),
    "ecs.refresh_instances": ("asg.instance-refresh", lambda s, e, c: ecs.refresh_instances(s, e, c)),
    "image_push.push_image": ("ecr.push", lambda s, e, c: image_push.push_image(s, e, "backend", confirm=c)),
    "access.run_on_host": ("host.command", lambda s, e, c: access.run_on_host(s, e, ["uptime"], confirm=c)),
    "access.restart_services": ("host.command", lambda s, e, c: access.restart_services(s, e, "all", c)),
    "locks.clear_stale_locks": ("state.lock-delete", lambda s, e, c: locks.clear_stale_locks(
        s, e, stack="compute", confirm=c, on_output=lambda line: None)),
    "locks.delete_lock": ("state.lock-delete", lambda s, e, c: locks.delete_lock(backend.StateStore(
        mock.create_autospec(backend.ObjectStore, instance=True)), _lock(e.environment), e, confirm=c)),
    "rollback.import_backup": ("rollback.state-import", lambda s, e, c: rollback.import_backup(
        s, e, stack="compute", backup_id="20260101T000000Z", dry_run=False, confirm=c)),
    "rollback.redeploy_git_revision": ("rollback.git-revision", lambda s, e, c: rollback.redeploy_git_revision(
        e, git_ref="HEAD", stack="edge", dry_run=False, confirm=c)),
    "database.reboot_with_failover": ("rds.reboot-failover", lambda s, e, c: database.reboot_with_failover(
        s, e, dry_run=False, confirm=c, on_progress=None)),
    "database.restore_snapshot": ("rds.restore", lambda s, e, c: database.restore_snapshot(
        s, e, "tradai-mlflow-db-snapshot-1", dry_run=False, confirm=c, on_progress=None)),
}
# Functions on the consolidated host exist only where there is one (staging here); prod runs on Fargate.
HOST_FUNCTIONS = {"ecs.start_instance_refresh", "ecs.refresh_instances", "access.run_on_host",
                  "access.restart_services"}
WRONG_CONFIRMS = {
    "staging": ["", "prod", "Staging", " staging", "staging "],
    "prod": ["", "staging", "PROD", "prod\n"],
}
CASES = [(environment, name, confirm) for environment, confirms in WRONG_CONFIRMS.items()
         for name in CHANGING_FUNCTIONS if environment == "staging" or name not in HOST_FUNCTIONS
         for confirm in confirms]


@pytest.fixture
def untouched(monkeypatch):
    """A session double that records every client asked of it, and autospecs of the Automation API's entry points
    and of the Pulumi CLI class: a refused change must reach none of them."""
    session = mock.create_autospec(EnvironmentSession, instance=True)
    entries = {name: mock.create_autospec(getattr(auto, name)) for name in
               ("PulumiCommand", "create_or_select_stack", "select_stack", "create_stack", "LocalWorkspace")}
    for name, double in entries.items():
        monkeypatch.setattr(auto, name, double)
    backup_store = mock.create_autospec(state_backup.backup_store)
    monkeypatch.setattr(state_backup, "backup_store", backup_store)
    yield session
    session.client.assert_not_called()
    session.resource.assert_not_called()
    backup_store.assert_not_called()
    for double in entries.values():
        double.assert_not_called()


def test_change_kinds__are_the_pinned_ones_with_their_confirm_rule():
    assert {kind: rule.confirm for kind, rule in gate.CHANGES.items()} == CHANGE_KINDS


@pytest.mark.parametrize(("environment", "name", "confirm"), CASES,
                         ids=[f"{e}-{n}-{c!r}" for e, n, c in CASES])
def test_changing_function__refuses_an_unconfirmed_change_before_any_aws_or_pulumi_call_and_records_it(
        untouched, journal, environment, name, confirm):
    kind, call = CHANGING_FUNCTIONS[name]
    settings = load_settings(environment)

    with pytest.raises(GuardError) as refused:
        call(untouched, settings, confirm)

    assert refused.value.name == "confirm" and f"confirm={environment!r}" in str(refused.value)
    [record] = journal.records()
    assert (record.kind, record.action, record.status, record.environment) == ("change", kind, "refused",
                                                                                environment)
    assert record.error["ename"] == "GuardError" and record.parameters["confirm"] == confirm


@pytest.mark.parametrize("environment", ["local", "dev"])
def test_lock_deletion__needs_confirm_in_every_environment(untouched, journal, environment):
    for name in ("locks.clear_stale_locks", "locks.delete_lock"):
        with pytest.raises(GuardError):
            CHANGING_FUNCTIONS[name][1](untouched, load_settings(environment), "")
    assert [r.status for r in journal.records()] == ["refused", "refused"]


@pytest.mark.parametrize("stack", ["persistent", "foundation"])
def test_destroy__of_persistent_never_and_of_foundation_only_when_allowed_even_confirmed(untouched, journal, stack):
    with pytest.raises(GuardError) as refused:
        automation.destroy(load_settings("prod"), stack, confirm="prod")
    assert refused.value.name == ("action" if stack == "persistent" else "allow_destroy")
    assert [r.status for r in journal.records()] == ["refused"]


def test_import__of_an_empty_deployment_is_refused_even_confirmed_in_prod(untouched, journal):
    empty = _deployment("prod")
    empty["deployment"]["resources"] = []

    with pytest.raises(GuardError, match="holds no resources"):
        automation.import_state(load_settings("prod"), "compute", empty, confirm="prod")
    assert journal.records()[0].status == "refused"


def test_damaged_journal__refuses_a_confirmed_change_before_any_call(untouched, journal):
    journal.root.mkdir(parents=True)
    (journal.root / audit.INDEX_FILE).write_text("{garbage\n")

    with pytest.raises(AuditStoreError, match="damaged"):
        ecs.force_redeploy(untouched, load_settings("local"), "backend", "local")
    assert (journal.root / audit.INDEX_FILE).read_text() == "{garbage\n"


def test_confirmed_change__is_recorded_ahead_and_its_failure_after(journal, monkeypatch):
    order = []
    real_append = audit.AuditStore.append

    def tracking_append(self, entry, notebook=None):
        order.append(("record", entry["status"]))
        return real_append(self, entry, notebook)

    monkeypatch.setattr(audit.AuditStore, "append", tracking_append)
    session = mock.create_autospec(EnvironmentSession, instance=True)
    session.client.side_effect = lambda *a, **k: order.append(("aws", a[0])) or (_ for _ in ()).throw(
        RuntimeError("network down"))

    with pytest.raises(RuntimeError, match="network down"):
        ecs.force_redeploy(session, load_settings("staging"), "backend", "staging", timeout_s=5)

    assert order == [("record", "started"), ("aws", "ecs"), ("record", "failed")]
    started, failed = journal.records()
    assert started.id == failed.id and failed.error["evalue"] == "network down"
    assert started.origin == "python"


def test_nested_changes__name_the_enclosing_one_as_parent(journal, monkeypatch):
    settings = load_settings("local")
    with gate.change(settings, "rollback.state-import", target="compute", confirm="local") as outer:
        with gate.change(settings, "state.backup", target="compute"):
            pass

    records = journal.records()
    assert [(r.action, r.status) for r in records] == [
        ("rollback.state-import", "started"), ("state.backup", "started"), ("state.backup", "succeeded"),
        ("rollback.state-import", "succeeded")]
    assert {r.parent for r in records if r.action == "state.backup"} == {outer.id}
    assert all(json.loads(line)["chain"] == records[0].chain for line in journal.index.read_text().splitlines())
