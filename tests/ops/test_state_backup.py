"""State backups of the sandbox's state (over HTTP) into folders and S3 prefixes: manifest last, checksums, listing."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pandas as pd
import pytest
from pulumi import automation as auto
from state_fixtures import folder_settings, local_settings, plain_session, sdk  # noqa: F401 (fixtures)

from tradai_nb import config
from tradai_nb.errors import OperationError, ParameterError
from tradai_nb.ops import state_backup
from tradai_nb.settings import load_settings
from tradai_nb.stacks.registry import stacks
from tradai_nb.state import backend
from tradai_nb.state.backend import FolderObjectStore, StackRef, StateStore


def backup_folder(settings) -> Path:
    return Path(settings.state_backup_url.removeprefix("file://")) / settings.environment


def quiet(_: str) -> None:
    """Swallows progress lines."""


def test_backup__every_stack_with_a_manifest_whose_checksums_verify(sandbox, local_settings):
    result = state_backup.backup_state(sandbox.session, local_settings, on_output=quiet)

    folder = backup_folder(local_settings) / result.backup_id
    manifest = json.loads((folder / "manifest.json").read_text())
    state = backend.state_store_for(local_settings, sandbox.session)
    assert [e["stack"] for e in manifest["stacks"]] == list(stacks.names())
    assert (manifest["environment"], manifest["source"], manifest["state_url"]) == (
        "local", "checkpoint", "s3://tradai-pulumi-state-local")
    for entry in manifest["stacks"]:
        data = (folder / entry["file"]).read_bytes()
        exported = state.read_deployment(backend.stack_ref(entry["stack"], "local"))
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["size_bytes"]
        assert json.loads(data) == exported and entry["resources"] == len(exported["deployment"]["resources"])
    verification = state_backup.verify_backup(sandbox.session, local_settings, result.backup_id)
    assert verification.ok and set(verification.checks["status"]) == {"ok"}


def test_backup__writes_the_manifest_last(sandbox, local_settings, monkeypatch):
    written = []

    class RecordingStore(FolderObjectStore):
        def write(self, key: str, data: bytes) -> None:
            written.append(key.rsplit("/", 1)[1])
            super().write(key, data)

    monkeypatch.setattr(state_backup, "backup_store",
                        lambda settings, session: RecordingStore(backup_folder(settings).parent))

    state_backup.backup_state(sandbox.session, local_settings, on_output=quiet)

    assert written == [f"{name}.json" for name in stacks.names()] + ["manifest.json"]


def test_verify__a_truncated_backup_fails(sandbox, local_settings):
    backup_id = state_backup.backup_state(sandbox.session, local_settings, on_output=quiet).backup_id
    damaged = backup_folder(local_settings) / backup_id / "foundation.json"
    damaged.write_bytes(damaged.read_bytes()[:1000])

    verification = state_backup.verify_backup(sandbox.session, local_settings, backup_id)

    checks = verification.checks.set_index("stack")
    assert not verification.ok
    assert checks.loc["foundation", "checksum"] == "mismatch"
    assert checks.loc["foundation", "deployment"].startswith("invalid") and "not valid JSON" in \
        checks.loc["foundation", "deployment"]
    assert checks.loc["foundation", "status"].startswith("failed: size differs")
    assert set(checks.drop(index="foundation")["status"]) == {"ok"}


def test_list__a_backup_without_its_manifest_is_partial_newest_first(sandbox, local_settings):
    older = state_backup.backup_state(sandbox.session, local_settings, on_output=quiet).backup_id
    newer = state_backup.backup_state(sandbox.session, local_settings, on_output=quiet).backup_id
    (backup_folder(local_settings) / newer / "manifest.json").unlink()

    listed = state_backup.list_backups(sandbox.session, local_settings)

    assert listed["backup_id"].tolist() == [newer, older]
    assert listed["status"].tolist() == ["partial", "complete"]
    assert listed.loc[1, "stacks"] == "persistent, foundation, compute, edge"
    assert pd.isna(listed.loc[0, "resources"]) and listed.loc[1, "resources"] > 0


def test_verify__a_partial_backup_fails_and_says_why(sandbox, local_settings):
    backup_id = state_backup.backup_state(sandbox.session, local_settings, on_output=quiet).backup_id
    (backup_folder(local_settings) / backup_id / "manifest.json").unlink()

    verification = state_backup.verify_backup(sandbox.session, local_settings, backup_id)

    assert not verification.ok
    assert verification.checks["status"].tolist() == ["failed: no readable manifest (partial backup)"]


def test_backup__into_an_s3_prefix_for_team_environments(sandbox):
    prefix = f"backups-{uuid.uuid4().hex[:8]}"
    bucket = config.get_bucket_name(config.STATE_BUCKET_KEY, "local")
    settings = load_settings("local", {"sandbox_port": sandbox.settings.sandbox_port,
                                       "state_backup_url": f"s3://{bucket}/{prefix}"})

    result = state_backup.backup_state(sandbox.session, settings, stack_names=["compute"], on_output=quiet)

    listed = sandbox.session.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/")
    assert {o["Key"] for o in listed["Contents"]} == {f"{prefix}/local/{result.backup_id}/compute.json",
                                                      f"{prefix}/local/{result.backup_id}/manifest.json"}
    assert result.location == f"s3://{bucket}/{prefix}/local/{result.backup_id}"
    assert state_backup.verify_backup(sandbox.session, settings, result.backup_id).ok


def test_backup__reads_through_the_automation_api_when_the_cli_is_there(folder_settings, plain_session, sdk):
    ref = StackRef("tradai-compute", "dev")
    StateStore(FolderObjectStore(Path(folder_settings.pulumi_backend_url.removeprefix("file://")))).write_checkpoint(
        ref, {"manifest": {}, "resources": []})
    exported = {"version": 3, "deployment": {
        "manifest": {"time": "2026-03-01T10:00:00Z", "magic": "m", "version": "v3.272.0"},
        "resources": [{"urn": "urn:pulumi:dev::tradai-compute::pulumi:pulumi:Stack::tradai-compute-dev",
                       "type": "pulumi:pulumi:Stack", "custom": False}]}}
    sdk.command.run.return_value = auto.CommandResult(stdout=json.dumps(exported), stderr="", code=0)

    result = state_backup.backup_state(plain_session, folder_settings, on_output=quiet)

    assert result.source == "automation-api"
    assert sdk.command.run.call_args.args[0] == ["stack", "export", "--stack", "organization/tradai-compute/dev"]
    written = backup_folder(folder_settings) / result.backup_id / "compute.json"
    assert json.loads(written.read_text()) == exported
    assert state_backup.verify_backup(plain_session, folder_settings, result.backup_id).ok


def test_backup__with_no_state_says_so_before_writing_anything(folder_settings, plain_session):
    with pytest.raises(OperationError, match="nothing to back up"):
        state_backup.backup_state(plain_session, folder_settings, on_output=quiet)

    assert not backup_folder(folder_settings).exists()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"action": "restore"}, "action"), ({"action": "verify"}, "backup_id"),
     ({"action": "list", "backup_id": "20260301T100000Z"}, "backup_id"),
     ({"action": "verify", "backup_id": "20990101T000000Z"}, "backup_id")],
    ids=["unknown-action", "verify-without-id", "id-without-verify", "unknown-backup"],
)
def test_runbook__bad_parameters_are_named(sandbox, local_settings, kwargs, name):
    with pytest.raises(ParameterError) as raised:
        state_backup.run_runbook(sandbox.session, local_settings, on_output=quiet, **kwargs)

    assert raised.value.name == name
