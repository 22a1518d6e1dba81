"""The database runbook's actions. Status, snapshots, restore and the reboot run against the sandbox over HTTP;
botocore's Stubber stands in where moto does not serve or model a call: pending maintenance actions (not
implemented) and the zone swap of a failover (moto reboots without moving the primary)."""

from __future__ import annotations

import datetime

import boto3
import pytest
from botocore.stub import Stubber

from tradai_nb.errors import GuardError, ParameterError
from tradai_nb.ops import database
from tradai_nb.settings import load_settings

pytestmark = pytest.mark.sandbox
IDENTIFIER = "tradai-mlflow-db-local"


@pytest.fixture
def rds(sandbox):
    """The sandbox's RDS client; snapshots and instances a test adds are removed afterwards, so the seeded estate
    stays as it was for the other tests of the session."""
    client = sandbox.session.client("rds")
    instances = {d["DBInstanceIdentifier"] for d in client.describe_db_instances()["DBInstances"]}
    snapshots = {s["DBSnapshotIdentifier"] for s in client.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]}
    yield client
    for d in client.describe_db_instances()["DBInstances"]:
        if d["DBInstanceIdentifier"] not in instances:
            client.delete_db_instance(DBInstanceIdentifier=d["DBInstanceIdentifier"], SkipFinalSnapshot=True)
    for s in client.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]:
        if s["DBSnapshotIdentifier"] not in snapshots:
            client.delete_db_snapshot(DBSnapshotIdentifier=s["DBSnapshotIdentifier"])


def test_identifier__is_the_one_the_foundation_stack_gives_the_instance(sandbox):
    from tradai_nb.stacks.foundation.rds import database_identifier

    assert database.database_identifier(sandbox.settings) == database_identifier(sandbox.settings) == IDENTIFIER


def test_status__shows_the_seeded_instance_as_the_params_file_describes_it(sandbox, rds):
    [row] = database.database_status(sandbox.session, sandbox.settings).to_dict("records")

    assert (row["instance"], row["status"], row["class"], row["multi_az"], row["storage_gb"], row["encrypted"]) == \
        (IDENTIFIER, "available", sandbox.settings.rds_instance_class, sandbox.settings.multi_az,
         sandbox.settings.rds_allocated_storage_gb, True)
    assert row["latest_restorable_time"].endswith("Z") and row["endpoint"].startswith(IDENTIFIER)


def test_snapshot__is_taken_waited_for_listed_and_recorded(sandbox, rds, journal):
    done = database.create_snapshot(sandbox.session, sandbox.settings, poll_s=0.05, timeout_s=30, on_progress=None)

    [row] = done.to_dict("records")
    assert row["status"] == "available" and row["target"].startswith(f"{IDENTIFIER}-")
    listed = database.list_snapshots(sandbox.session, sandbox.settings)
    manual = listed[listed["type"] == "manual"]
    assert row["target"] in set(manual["snapshot"]) and manual.iloc[0]["snapshot"] == row["target"], "newest first"
    assert [(r.action, r.status, r.target) for r in journal.records()] == [
        ("rds.snapshot", "started", IDENTIFIER), ("rds.snapshot", "succeeded", IDENTIFIER)]


def test_restore__dry_run_changes_nothing_and_the_restore_makes_a_new_instance_beside_the_current(
        sandbox, rds, journal):
    snapshot = database.create_snapshot(sandbox.session, sandbox.settings, "restore-source-1", poll_s=0.05,
                                        on_progress=None).loc[0, "target"]
    before = {d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]}

    preview = database.restore_snapshot(sandbox.session, sandbox.settings, snapshot, "tradai-mlflow-db-local-r1")
    assert (preview.loc[0, "applied"], preview.loc[0, "status"]) == (False, "not started")
    assert {d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]} == before

    done = database.restore_snapshot(sandbox.session, sandbox.settings, snapshot, "tradai-mlflow-db-local-r1",
                                     dry_run=False, poll_s=0.05, timeout_s=30, on_progress=None)
    assert (done.loc[0, "applied"], done.loc[0, "status"]) == (True, "available")
    restored = rds.describe_db_instances(DBInstanceIdentifier="tradai-mlflow-db-local-r1")["DBInstances"][0]
    current = rds.describe_db_instances(DBInstanceIdentifier=IDENTIFIER)["DBInstances"][0]
    assert restored["DBInstanceClass"] == current["DBInstanceClass"]
    assert current["DBInstanceStatus"] == "available", "the current instance is untouched"
    assert [r.action for r in journal.records()][-2:] == ["rds.restore", "rds.restore"]
    assert journal.records()[-1].parameters["snapshot_id"] == snapshot


@pytest.mark.parametrize(("snapshot", "message"), [
    ("no-such-snapshot", "no snapshot 'no-such-snapshot'"),
    ("bad--name", "is not an RDS identifier"),
])
def test_restore__of_a_missing_or_malformed_snapshot_is_refused_naming_the_parameter(sandbox, rds, journal,
                                                                                      snapshot, message):
    with pytest.raises(ParameterError, match=message) as refused:
        database.restore_snapshot(sandbox.session, sandbox.settings, snapshot, dry_run=False, on_progress=None)

    assert refused.value.name == "snapshot_id"
    assert all(r.status != "succeeded" for r in journal.records())


def test_restore__never_replaces_the_current_instance():
    with pytest.raises(ParameterError, match="never replaces") as refused:
        database.check_parameters(load_settings("local"), action="restore", snapshot_id="s1",
                                  target_instance=IDENTIFIER)
    assert refused.value.name == "target_instance"


def test_reboot_failover__of_a_single_az_instance_is_refused_and_recorded(sandbox, rds, journal):
    with pytest.raises(ParameterError, match="single-AZ"):
        database.reboot_with_failover(sandbox.session, sandbox.settings, dry_run=False, on_progress=None)

    assert [(r.action, r.status) for r in journal.records()] == [("rds.reboot-failover", "started"),
                                                                  ("rds.reboot-failover", "refused")]


def test_reboot_failover__of_a_multi_az_instance_reboots_it_and_waits(sandbox, rds, journal):
    rds.modify_db_instance(DBInstanceIdentifier=IDENTIFIER, MultiAZ=True, ApplyImmediately=True)
    try:
        preview = database.reboot_with_failover(sandbox.session, sandbox.settings)
        assert preview.loc[0, "applied"] == False  # noqa: E712 (a numpy bool)
        done = database.reboot_with_failover(sandbox.session, sandbox.settings, dry_run=False, poll_s=0.05,
                                             timeout_s=30, on_progress=None)
    finally:
        rds.modify_db_instance(DBInstanceIdentifier=IDENTIFIER, MultiAZ=False, ApplyImmediately=True)

    assert (done.loc[0, "applied"], done.loc[0, "status"]) == (True, "available")
    assert [(r.action, r.status) for r in journal.records()] == [("rds.reboot-failover", "started"),
                                                                  ("rds.reboot-failover", "succeeded")]


def _instance(zone: str, secondary: str, status: str = "available") -> dict:
    return {"DBInstanceIdentifier": "tradai-mlflow-db-prod", "DBInstanceStatus": status, "MultiAZ": True,
            "AvailabilityZone": zone, "SecondaryAvailabilityZone": secondary,
            "DBInstanceArn": "arn:aws:rds:eu-central-1:123456789012:db:tradai-mlflow-db-prod"}


class _StubbedSession:
    """A session whose rds client is one Stubber-wrapped client (the calls moto does not serve or model)."""

    def __init__(self) -> None:
        self.rds = boto3.session.Session(aws_access_key_id="AKIDSTUBBEREXAMPLE00", aws_secret_access_key="x",
                                         region_name="eu-central-1").client("rds")
        self.stubber = Stubber(self.rds)

    def client(self, name: str):
        assert name == "rds"
        return self.rds


def test_reboot_failover__sends_force_failover_and_reports_the_zone_swap(journal):
    session = _StubbedSession()
    describe = {"DBInstanceIdentifier": "tradai-mlflow-db-prod"}
    session.stubber.add_response("describe_db_instances", {"DBInstances": [_instance("eu-central-1a", "eu-central-1b")]},
                                 describe)
    session.stubber.add_response("reboot_db_instance", {"DBInstance": _instance("eu-central-1a", "eu-central-1b",
                                                                                "rebooting")},
                                 {"DBInstanceIdentifier": "tradai-mlflow-db-prod", "ForceFailover": True})
    for zone, secondary, status in [("eu-central-1a", "eu-central-1b", "rebooting"),
                                    ("eu-central-1b", "eu-central-1a", "available"),
                                    ("eu-central-1b", "eu-central-1a", "available")]:
        session.stubber.add_response("describe_db_instances", {"DBInstances": [_instance(zone, secondary, status)]},
                                     describe)

    with session.stubber:
        done = database.reboot_with_failover(session, load_settings("prod"), dry_run=False, confirm="prod",
                                             poll_s=0.01, on_progress=None)
        session.stubber.assert_no_pending_responses()

    assert done.loc[0, "detail"] == "primary was in eu-central-1a, now in eu-central-1b"


def test_reboot_failover__in_prod_without_confirm_is_refused_before_any_call(journal):
    session = _StubbedSession()
    with session.stubber, pytest.raises(GuardError, match="pass confirm='prod'"):
        database.reboot_with_failover(session, load_settings("prod"), dry_run=False, on_progress=None)
    assert [r.status for r in journal.records()] == ["refused"]


def test_pending_maintenance__lists_what_rds_scheduled(journal):
    session = _StubbedSession()
    arn = _instance("a", "b")["DBInstanceArn"]
    session.stubber.add_response("describe_db_instances", {"DBInstances": [_instance("a", "b")]},
                                 {"DBInstanceIdentifier": "tradai-mlflow-db-prod"})
    forced = datetime.datetime(2027, 1, 10, 3, 30, tzinfo=datetime.UTC)
    session.stubber.add_response("describe_pending_maintenance_actions", {"PendingMaintenanceActions": [
        {"ResourceIdentifier": arn, "PendingMaintenanceActionDetails": [
            {"Action": "system-update", "Description": "New Operating System update is available",
             "ForcedApplyDate": forced, "OptInStatus": "next-maintenance"}]}]}, {"ResourceIdentifier": arn})

    with session.stubber:
        table = database.pending_maintenance(session, load_settings("prod"))

    assert table.to_dict("records") == [{"action": "system-update",
                                         "description": "New Operating System update is available",
                                         "auto_applied_after": None, "forced_apply_date": "2027-01-10T03:30:00Z",
                                         "opt_in_status": "next-maintenance"}]


def test_pending_maintenance__on_the_sandbox_says_it_cannot_be_rehearsed(sandbox):
    assert "does not serve" in database.pending_maintenance(sandbox.session, sandbox.settings)


@pytest.mark.parametrize(("parameters", "name"), [
    ({"action": "drop"}, "action"),
    ({"action": "restore"}, "snapshot_id"),
    ({"action": "snapshot", "snapshot_id": "-x"}, "snapshot_id"),
    ({"action": "restore", "snapshot_id": "s1", "target_instance": "a" * 64}, "target_instance"),
    ({"action": "reboot-failover", "dry_run": "no"}, "dry_run"),
    ({"action": "status", "timeout_s": -1}, "timeout_s"),
])
def test_check_parameters__names_the_bad_parameter(parameters, name):
    with pytest.raises(ParameterError) as refused:
        database.check_parameters(load_settings("local"), **parameters)
    assert refused.value.name == name


def test_check_parameters__a_change_in_staging_needs_confirm_unless_a_dry_run(journal):
    staging = load_settings("staging")
    database.check_parameters(staging, action="restore", snapshot_id="s1")  # dry run: nothing to confirm
    database.check_parameters(staging, action="snapshot")  # adds only: no confirm needed
    with pytest.raises(GuardError):
        database.check_parameters(staging, action="restore", snapshot_id="s1", dry_run=False)
