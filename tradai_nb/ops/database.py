"""The MLflow PostgreSQL instance (RDS): status, snapshots, a reboot with failover, a restore to a new instance."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

from tradai_nb import config
from tradai_nb.aws import aws_errors
from tradai_nb.errors import OperationError, ParameterError
from tradai_nb.ops._common import Deadline, Message, Progress, check_choice, check_flag, check_seconds
from tradai_nb.records import gate
from tradai_nb.settings import Settings

ACTIONS = ("status", "snapshot", "reboot-failover", "restore")
CHANGING_ACTIONS = ("snapshot", "reboot-failover", "restore")
DEFAULT_TIMEOUT_S = 1800.0
DEFAULT_POLL_S = 15.0
STATUS_COLUMNS = [
    "instance",
    "status",
    "engine",
    "class",
    "multi_az",
    "availability_zone",
    "secondary_zone",
    "storage_gb",
    "storage_type",
    "encrypted",
    "backup_retention_days",
    "latest_restorable_time",
    "endpoint",
]
MAINTENANCE_COLUMNS = ["action", "description", "auto_applied_after", "forced_apply_date", "opt_in_status"]
SNAPSHOT_COLUMNS = ["snapshot", "type", "status", "created", "storage_gb", "encrypted", "progress_percent"]
RESULT_COLUMNS = ["action", "instance", "target", "status", "applied", "detail"]
# RDS identifiers: 1-63 letters, digits and hyphens, starting with a letter, no double or trailing hyphen.
_IDENTIFIER = re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)")


def database_identifier(settings: Settings) -> str:
    """The RDS instance identifier of the environment: tradai-mlflow-db-<environment>."""
    return config.get_database_identifier(settings.environment)


def snapshot_name(settings: Settings, moment: datetime | None = None) -> str:
    """The name of a manual snapshot taken now: tradai-mlflow-db-<env>-YYYYMMDD-HHMMSS (UTC)."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return f"{database_identifier(settings)}-{moment:%Y%m%d-%H%M%S}"


def _check_identifier(name: str, value: object, *, allow_empty: bool = True) -> None:
    if not isinstance(value, str):
        raise ParameterError(f"parameter {name!r}: expected text, got {value!r}", name=name)
    if value == "" and allow_empty:
        return
    if not _IDENTIFIER.fullmatch(value):
        raise ParameterError(
            f"parameter {name!r}: {value!r} is not an RDS identifier (1-63 letters, digits and hyphens, starting with "
            "a letter, no double or trailing hyphen)",
            name=name,
        )


def check_parameters(
    settings: Settings,
    *,
    action: str,
    snapshot_id: str = "",
    target_instance: str = "",
    dry_run: bool = True,
    confirm: str = "",
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> None:
    """Validate the database runbook's parameters and its guard rail, before any AWS call."""
    check_choice("action", action, ACTIONS)
    _check_identifier("snapshot_id", snapshot_id)
    _check_identifier("target_instance", target_instance)
    check_flag("dry_run", dry_run)
    check_seconds("timeout_s", timeout_s)
    gate.check_confirm_text(confirm)
    source = database_identifier(settings)
    if action == "restore":
        if not snapshot_id:
            raise ParameterError(
                "parameter 'snapshot_id': action 'restore' needs the snapshot to restore (the "
                "runbook's snapshots table lists them)",
                name="snapshot_id",
            )
        if target_instance == source:
            raise ParameterError(
                f"parameter 'target_instance': a restore makes a new instance and never replaces "
                f"{source}; choose another name (or '' for {source}-restore-<time>)",
                name="target_instance",
            )
    if action in CHANGING_ACTIONS and not (dry_run and action != "snapshot"):
        gate.precheck(settings, f"rds.{action}", target=source, confirm=confirm)


def run_action(
    session,
    settings: Settings,
    *,
    action: str,
    snapshot_id: str = "",
    target_instance: str = "",
    dry_run: bool = True,
    confirm: str = "",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_progress: Progress | None = print,
):
    """The database runbook's action: a table of what the change did (or, in a dry run, would do), or (status) a
    line saying nothing was changed."""
    check_choice("action", action, ACTIONS)
    if action == "snapshot":
        return create_snapshot(
            session, settings, snapshot_id or None, confirm=confirm, timeout_s=timeout_s, on_progress=on_progress
        )
    if action == "reboot-failover":
        return reboot_with_failover(
            session, settings, dry_run=dry_run, confirm=confirm, timeout_s=timeout_s, on_progress=on_progress
        )
    if action == "restore":
        return restore_snapshot(
            session,
            settings,
            snapshot_id,
            target_instance or None,
            dry_run=dry_run,
            confirm=confirm,
            timeout_s=timeout_s,
            on_progress=on_progress,
        )
    return Message("action 'status': nothing was changed")


def _describe(session, identifier: str) -> dict[str, Any]:
    with aws_errors(f"describing RDS instance {identifier}"):
        return session.client("rds").describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def _time(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return str(value) if value else None


def database_status(session, settings: Settings) -> pd.DataFrame:
    """The instance: status, engine, class, Multi-AZ and its zones, storage, encryption, backups, the latest time a
    point-in-time restore can reach, and its endpoint."""
    identifier = database_identifier(settings)
    db = _describe(session, identifier)
    endpoint = db.get("Endpoint") or {}
    row = [
        identifier,
        db.get("DBInstanceStatus"),
        f"{db.get('Engine')} {db.get('EngineVersion')}",
        db.get("DBInstanceClass"),
        bool(db.get("MultiAZ")),
        db.get("AvailabilityZone"),
        db.get("SecondaryAvailabilityZone"),
        db.get("AllocatedStorage"),
        db.get("StorageType"),
        bool(db.get("StorageEncrypted")),
        db.get("BackupRetentionPeriod"),
        _time(db.get("LatestRestorableTime")),
        f"{endpoint.get('Address')}:{endpoint.get('Port')}" if endpoint.get("Address") else None,
    ]
    return pd.DataFrame([row], columns=STATUS_COLUMNS)


def pending_maintenance(session, settings: Settings) -> pd.DataFrame | Message:
    """Maintenance RDS has scheduled for the instance (an empty table when none). The sandbox does not serve this
    call (moto answers it with an internal error): on local the result says so instead of pretending there is
    none."""
    identifier = database_identifier(settings)
    if settings.is_local:
        return Message(
            f"pending maintenance of {identifier}: the sandbox does not serve "
            "describe-pending-maintenance-actions; rehearse this part in dev"
        )
    arn = _describe(session, identifier)["DBInstanceArn"]
    with aws_errors(f"listing the pending maintenance of RDS instance {identifier}"):
        found = session.client("rds").describe_pending_maintenance_actions(ResourceIdentifier=arn)[
            "PendingMaintenanceActions"
        ]
    rows = [
        (
            a.get("Action"),
            a.get("Description"),
            _time(a.get("AutoAppliedAfterDate")),
            _time(a.get("ForcedApplyDate")),
            a.get("OptInStatus"),
        )
        for item in found
        for a in item.get("PendingMaintenanceActionDetails", [])
    ]
    return pd.DataFrame(rows, columns=MAINTENANCE_COLUMNS)


def list_snapshots(session, settings: Settings) -> pd.DataFrame:
    """The instance's snapshots, manual and automated, newest first."""
    identifier = database_identifier(settings)
    rds = session.client("rds")
    snapshots: list[dict[str, Any]] = []
    with aws_errors(f"listing the snapshots of RDS instance {identifier}"):
        for page in rds.get_paginator("describe_db_snapshots").paginate(DBInstanceIdentifier=identifier):
            snapshots.extend(page.get("DBSnapshots", []))
    snapshots.sort(key=lambda s: s.get("SnapshotCreateTime") or datetime.min.replace(tzinfo=UTC), reverse=True)
    rows = [
        (
            s["DBSnapshotIdentifier"],
            s.get("SnapshotType"),
            s.get("Status"),
            _time(s.get("SnapshotCreateTime")),
            s.get("AllocatedStorage"),
            bool(s.get("Encrypted")),
            s.get("PercentProgress"),
        )
        for s in snapshots
    ]
    return pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)


def _wait(
    what: str,
    read_status,
    wanted: str,
    deadline: Deadline,
    poll_s: float,
    on_progress: Progress | None,
    *,
    status: str | None = None,
) -> str:
    """Poll read_status() until it is `wanted`; `status` is one already known (what the call that started the
    change answered), so a change AWS reports as done at once needs no poll."""
    while True:
        status = read_status() if status is None else status
        if status == wanted:
            return status
        if status in ("failed", "incompatible-restore", "incompatible-parameters", "storage-full"):
            raise OperationError(f"{what}: RDS reports {status!r}; see the instance's events in the RDS console")
        if deadline.passed_after(poll_s):
            raise OperationError(
                f"{what}: still {status!r} after {deadline.elapsed_s:.0f} s; it goes on in AWS — "
                "run the runbook again (action 'status') to follow it, or raise timeout_s"
            )
        if on_progress:
            on_progress(f"{what}: {status} ({deadline.elapsed_s:.0f} s)")
        time.sleep(poll_s)
        status = None


def create_snapshot(
    session,
    settings: Settings,
    snapshot_id: str | None = None,
    *,
    confirm: str = "",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    on_progress: Progress | None = print,
) -> pd.DataFrame:
    """Take a manual snapshot of the instance and wait until it is available. It only adds a snapshot, so it needs
    no confirmation; it is recorded like every change."""
    _check_identifier("snapshot_id", snapshot_id or "")
    identifier = database_identifier(settings)
    name = snapshot_id or snapshot_name(settings)
    with gate.change(
        settings,
        "rds.snapshot",
        target=identifier,
        confirm=confirm,
        parameters={"snapshot_id": name},
        on_output=on_progress,
    ):
        rds = session.client("rds")
        with aws_errors(f"creating snapshot {name} of RDS instance {identifier}"):
            rds.create_db_snapshot(
                DBInstanceIdentifier=identifier,
                DBSnapshotIdentifier=name,
                Tags=[
                    {"Key": k, "Value": v}
                    for k, v in config.get_tags(service="mlflow", environment=settings.environment, Name=name).items()
                ],
            )

        def status() -> str:
            with aws_errors(f"reading snapshot {name}"):
                return rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0]["Status"]

        final = _wait(f"snapshot {name}", status, "available", Deadline(timeout_s), poll_s, on_progress)
    return pd.DataFrame(
        [("snapshot", identifier, name, final, True, "manual snapshot; kept until deleted")], columns=RESULT_COLUMNS
    )


def reboot_with_failover(
    session,
    settings: Settings,
    *,
    dry_run: bool = True,
    confirm: str = "",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    on_progress: Progress | None = print,
) -> pd.DataFrame:
    """Reboot the instance with a failover to its standby (Multi-AZ only) and wait until it is available again. The
    primary and secondary zones swap; clients reconnect through the same endpoint after about a minute."""
    identifier = database_identifier(settings)
    if dry_run:
        db = _multi_az_instance(session, settings)
        return pd.DataFrame(
            [
                (
                    "reboot-failover",
                    identifier,
                    db.get("SecondaryAvailabilityZone"),
                    db.get("DBInstanceStatus"),
                    False,
                    f"dry run: would fail over from {db.get('AvailabilityZone')} to the standby in "
                    f"{db.get('SecondaryAvailabilityZone')}",
                )
            ],
            columns=RESULT_COLUMNS,
        )
    with gate.change(settings, "rds.reboot-failover", target=identifier, confirm=confirm, on_output=on_progress):
        before = _multi_az_instance(session, settings).get("AvailabilityZone")
        with aws_errors(f"rebooting RDS instance {identifier} with failover"):
            rebooting = session.client("rds").reboot_db_instance(DBInstanceIdentifier=identifier, ForceFailover=True)[
                "DBInstance"
            ]
        final = _wait(
            f"failover of {identifier}",
            lambda: _describe(session, identifier)["DBInstanceStatus"],
            "available",
            Deadline(timeout_s),
            poll_s,
            on_progress,
            status=rebooting.get("DBInstanceStatus") or None,
        )
        after = _describe(session, identifier).get("AvailabilityZone")
    return pd.DataFrame(
        [("reboot-failover", identifier, after, final, True, f"primary was in {before}, now in {after}")],
        columns=RESULT_COLUMNS,
    )


def _multi_az_instance(session, settings: Settings) -> dict[str, Any]:
    identifier = database_identifier(settings)
    db = _describe(session, identifier)
    if not db.get("MultiAZ"):
        raise ParameterError(
            f"action 'reboot-failover': {identifier} is single-AZ (multi_az is false in params/"
            f"{settings.environment}.yaml), so it has no standby to fail over to; a failover test needs a Multi-AZ "
            "instance (prod)",
            name="action",
        )
    return db


def restore_snapshot(
    session,
    settings: Settings,
    snapshot_id: str,
    target_instance: str | None = None,
    *,
    dry_run: bool = True,
    confirm: str = "",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    on_progress: Progress | None = print,
) -> pd.DataFrame:
    """Restore a snapshot to a new instance beside the current one (same class, Multi-AZ, subnet group, security
    groups) and wait until it is available. The current instance is never touched: point MLflow at the new one (or
    copy data back) once it is checked."""
    _check_identifier("snapshot_id", snapshot_id, allow_empty=False)
    identifier = database_identifier(settings)
    target = target_instance or f"{identifier}-restore-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    _check_identifier("target_instance", target)
    if target == identifier:
        raise ParameterError(
            f"parameter 'target_instance': a restore never replaces {identifier}; choose another name",
            name="target_instance",
        )
    if dry_run:
        _, detail = _restore_request(session, settings, snapshot_id, target)
        return pd.DataFrame(
            [("restore", identifier, target, "not started", False, f"dry run: would restore {detail}")],
            columns=RESULT_COLUMNS,
        )
    with gate.change(
        settings,
        "rds.restore",
        target=identifier,
        confirm=confirm,
        parameters={"snapshot_id": snapshot_id, "target_instance": target},
        on_output=on_progress,
    ):
        arguments, detail = _restore_request(session, settings, snapshot_id, target)
        with aws_errors(f"restoring snapshot {snapshot_id} to a new RDS instance {target}"):
            session.client("rds").restore_db_instance_from_db_snapshot(**arguments)
        final = _wait(
            f"restore to {target}",
            lambda: _describe(session, target)["DBInstanceStatus"],
            "available",
            Deadline(timeout_s),
            poll_s,
            on_progress,
        )
    return pd.DataFrame(
        [("restore", identifier, target, final, True, f"restored {detail}; {identifier} untouched")],
        columns=RESULT_COLUMNS,
    )


def _restore_request(session, settings: Settings, snapshot_id: str, target: str) -> tuple[dict[str, Any], str]:
    """The restore call's arguments, after checking that the snapshot is an available one of this instance."""
    identifier = database_identifier(settings)
    rds = session.client("rds")
    try:
        with aws_errors(f"reading snapshot {snapshot_id}"):
            try:
                snapshot = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "DBSnapshotNotFound":
                    raise LookupError from None
                raise
    except LookupError:
        raise ParameterError(
            f"parameter 'snapshot_id': no snapshot {snapshot_id!r} in {settings.environment}; "
            "the runbook's snapshots table lists them",
            name="snapshot_id",
        ) from None
    if snapshot.get("DBInstanceIdentifier") != identifier:
        raise ParameterError(
            f"parameter 'snapshot_id': {snapshot_id} is a snapshot of "
            f"{snapshot.get('DBInstanceIdentifier')}, not of {identifier}",
            name="snapshot_id",
        )
    if snapshot.get("Status") != "available":
        raise ParameterError(
            f"parameter 'snapshot_id': {snapshot_id} is {snapshot.get('Status')!r}, not available "
            "yet; wait for it (the runbook's snapshots table)",
            name="snapshot_id",
        )
    source = _describe(session, identifier)
    subnet_group = (source.get("DBSubnetGroup") or {}).get("DBSubnetGroupName")
    security_groups = [g["VpcSecurityGroupId"] for g in source.get("VpcSecurityGroups", [])]
    arguments: dict[str, Any] = {
        "DBInstanceIdentifier": target,
        "DBSnapshotIdentifier": snapshot_id,
        "DBInstanceClass": source.get("DBInstanceClass"),
        "MultiAZ": bool(source.get("MultiAZ")),
        "PubliclyAccessible": False,
        "CopyTagsToSnapshot": True,
        "DeletionProtection": settings.protect_data,
        "Tags": [
            {"Key": k, "Value": v}
            for k, v in config.get_tags(service="mlflow", environment=settings.environment, Name=target).items()
        ],
    }
    if subnet_group:
        arguments["DBSubnetGroupName"] = subnet_group
    if security_groups:
        arguments["VpcSecurityGroupIds"] = security_groups
    detail = (
        f"{snapshot_id} ({_time(snapshot.get('SnapshotCreateTime'))}) as {source.get('DBInstanceClass')}, "
        f"subnet group {subnet_group or 'default'}, security groups {', '.join(security_groups) or 'default'}"
    )
    return arguments, detail
