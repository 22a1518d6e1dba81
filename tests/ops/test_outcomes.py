"""A check that fails makes its runbook fail: a backup that does not verify, a health check not ok, images missing,
drift found or not checkable. The notebooks end with these calls, so papermill, `tradai-nb run` and CI exit non-zero."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from state_fixtures import local_settings  # noqa: F401 (fixture)

from tradai_nb.errors import CheckFailedError, PulumiCliMissingError
from tradai_nb.ops import access, drift, images, state_backup
from tradai_nb.settings import load_settings


def backup_folder(settings) -> Path:
    return Path(settings.state_backup_url.removeprefix("file://")) / settings.environment


def quiet(_: str) -> None:
    """Swallows progress lines."""


def test_backup_verify__a_damaged_backup_fails_the_run(sandbox, local_settings):
    backup_id = state_backup.backup_state(sandbox.session, local_settings, on_output=quiet).backup_id
    shown = state_backup.run_runbook(sandbox.session, local_settings, action="verify", backup_id=backup_id,
                                     on_output=quiet)
    state_backup.check_result("verify", shown, backup_id)

    damaged = backup_folder(local_settings) / backup_id / "edge.json"
    damaged.write_bytes(damaged.read_bytes()[:500])
    shown = state_backup.run_runbook(sandbox.session, local_settings, action="verify", backup_id=backup_id,
                                     on_output=quiet)

    with pytest.raises(CheckFailedError, match=f"backup {backup_id} does not verify .*edge.json"):
        state_backup.check_result("verify", shown, backup_id)


def test_backup_verify__a_partial_backup_fails_the_run(sandbox, local_settings):
    backup_id = state_backup.backup_state(sandbox.session, local_settings, on_output=quiet).backup_id
    (backup_folder(local_settings) / backup_id / "manifest.json").unlink()
    shown = state_backup.run_runbook(sandbox.session, local_settings, action="verify", backup_id=backup_id,
                                     on_output=quiet)

    with pytest.raises(CheckFailedError, match="partial"):
        state_backup.check_result("verify", shown, backup_id)
    state_backup.check_result("list", shown)


def test_health__any_service_not_ok_fails_the_run():
    settings = load_settings("dev")
    healthy = pd.DataFrame([{"service": "backend", "url": "u", "status": 200, "ok": True, "error": ""}])
    access.check_result("health", healthy)
    unreachable = access.check_health(settings, "")

    with pytest.raises(CheckFailedError, match=r"4 of 4 health checks are not ok"):
        access.check_result("health", unreachable)
    access.check_result("endpoints", unreachable)


def test_images__a_missing_image_fails_the_run(sandbox):
    deployed = images.deployed_images(sandbox.session, sandbox.settings)
    images.require_present(images.missing_images(deployed))
    gone = deployed.assign(present=False).head(2)

    with pytest.raises(CheckFailedError, match="2 image\\(s\\) in use are missing from ECR"):
        images.require_present(images.missing_images(gone))


def test_drift__found_fails_and_not_checkable_fails_with_the_reason():
    summary = pd.DataFrame([("compute", "drifted", 2, 10)], columns=drift.SUMMARY_COLUMNS).astype(
        {"drifted": "Int64", "unchanged": "Int64"})
    with pytest.raises(CheckFailedError, match="2 resource"):
        drift.DriftReport(summary, pd.DataFrame(columns=drift.RESOURCE_COLUMNS),
                          "2 resource(s) drifted in dev").raise_if_failed()
    in_sync = summary.assign(status="in sync", drifted=0)
    drift.DriftReport(in_sync, pd.DataFrame(columns=drift.RESOURCE_COLUMNS), "no drift").raise_if_failed()
    missing = PulumiCliMissingError("the Pulumi CLI is not installed; run `tradai-nb setup`")
    with pytest.raises(PulumiCliMissingError):
        drift.DriftReport(in_sync, pd.DataFrame(columns=drift.RESOURCE_COLUMNS), str(missing),
                          missing).raise_if_failed()
