"""Fixtures and helpers for the Pulumi state runbook tests: settings with their own backup store, the Automation API
as autospecs of the real pulumi.automation classes, and backups written in the documented layout."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any
from unittest.mock import create_autospec

import boto3
import pytest
from pulumi import automation as auto

from tradai_nb.engine import automation
from tradai_nb.ops import state_backup
from tradai_nb.settings import Settings, load_settings
from tradai_nb.state.sealing import LOCAL_PASSPHRASE

# The rehearsal state in the sandbox is sealed under the documented local passphrase; an import checks it opens.
PASSPHRASE = LOCAL_PASSPHRASE
REAL_PULUMI_COMMAND = auto.PulumiCommand


@pytest.fixture
def local_settings(sandbox, tmp_path) -> Settings:
    """The sandbox's local settings with a backup store of the test's own."""
    return load_settings("local", {"sandbox_port": sandbox.settings.sandbox_port,
                                   "state_backup_url": (tmp_path / "backups").as_uri()})


@pytest.fixture
def folder_settings(tmp_path) -> Settings:
    """dev settings whose backend and backup store are folders: a team environment without AWS."""
    return load_settings("dev", {"pulumi_backend_url": (tmp_path / "state").as_uri(),
                                 "state_backup_url": (tmp_path / "backups").as_uri(), "aws_profile": None})


@pytest.fixture
def plain_session() -> boto3.Session:
    """A session that is never used for a call (the stores of folder_settings are folders)."""
    return boto3.Session(region_name="eu-central-1", aws_access_key_id="unused", aws_secret_access_key="unused")


@pytest.fixture
def no_pulumi_cli(monkeypatch):
    """No Pulumi CLI anywhere, whatever this machine has."""
    monkeypatch.setattr(auto, "PulumiCommand", create_autospec(REAL_PULUMI_COMMAND, side_effect=FileNotFoundError))


@pytest.fixture
def sdk(monkeypatch, tmp_path):
    """pulumi.automation's entry points replaced by autospecs of the real ones; the passphrase in the environment."""
    monkeypatch.setattr(automation, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    stack = create_autospec(auto.Stack, instance=True)
    stack.workspace = create_autospec(auto.LocalWorkspace, instance=True)
    command_class = create_autospec(REAL_PULUMI_COMMAND)
    mocks = SimpleNamespace(
        command=command_class.return_value,
        create_or_select=create_autospec(auto.create_or_select_stack, return_value=stack),
        select=create_autospec(auto.select_stack, return_value=stack),
        stack=stack,
    )
    monkeypatch.setattr(auto, "PulumiCommand", command_class)
    monkeypatch.setattr(auto, "create_or_select_stack", mocks.create_or_select)
    monkeypatch.setattr(auto, "select_stack", mocks.select)
    monkeypatch.setattr(auto, "LocalWorkspace", create_autospec(auto.LocalWorkspace))
    return mocks


def write_backup(settings: Settings, session, backup_id: str, exported: Mapping[str, Mapping[str, Any]],
                 reason: str = "test") -> None:
    """A complete backup in the layout the runbook writes: one <stack>.json per stack, then manifest.json."""
    store = state_backup.backup_store(settings, session)
    entries = []
    for stack, deployment in exported.items():
        data = json.dumps(deployment, indent=4).encode() + b"\n"
        store.write(f"{settings.environment}/{backup_id}/{stack}.json", data)
        entries.append({"stack": stack, "project": f"tradai-{stack}", "file": f"{stack}.json",
                        "resources": len(deployment["deployment"]["resources"]), "size_bytes": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"format": 1, "backup_id": backup_id, "environment": settings.environment,
                "created": "2026-03-01T10:00:00Z", "source": "checkpoint", "state_url": "test", "reason": reason,
                "stacks": entries}
    store.write(f"{settings.environment}/{backup_id}/manifest.json", json.dumps(manifest).encode())
