"""Session-wide fixtures: one seeded sandbox (moto server in its own process) shared by the tests that need AWS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tradai_nb.aws import EnvironmentSession, session_for
from tradai_nb.records import audit
from tradai_nb.sandbox import server as sandbox_api
from tradai_nb.settings import Settings, load_settings


def _unused_port() -> int:
    """A port the OS reports free on 127.0.0.1 (never a fixed port: several test runs share this machine), other than
    the one the session's params give `local` (kept for the runbook notebooks' own sandbox, see ../conftest.py)."""
    reserved = load_settings("local").sandbox_port
    while (port := sandbox_api.free_port()) == reserved:
        pass
    return port


@pytest.fixture(scope="session")
def settings_of():
    """settings_of("dev") -> the validated settings of that environment's params file (loaded once)."""
    cache: dict[str, Settings] = {}

    def get(environment: str) -> Settings:
        if environment not in cache:
            cache[environment] = load_settings(environment)
        return cache[environment]

    return get


@pytest.fixture
def journal(tmp_path, monkeypatch):
    """The audit store of one test: TRADAI_AUDIT_DIR points at a temporary folder."""
    monkeypatch.setenv(audit.AUDIT_DIR_VARIABLE, str(tmp_path / "runs"))
    return audit.AuditStore(tmp_path / "runs")


@pytest.fixture
def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    return _unused_port()


@dataclass(frozen=True)
class RunningSandbox:
    """The session's sandbox: local settings with its port, a session bound to it, and what the first seed did."""

    settings: Settings
    session: EnvironmentSession
    endpoint_url: str
    home: Path
    process: sandbox_api.SandboxProcess
    seeded: pd.DataFrame


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    """One seeded sandbox for the whole session, with TRADAI_HOME in a temporary folder; stopped at the end."""
    home = tmp_path_factory.mktemp("tradai-home")
    with pytest.MonkeyPatch.context() as patch:
        # Code under test that looks for the sandbox (the runner, ensure_running) finds this one, never a user's.
        patch.setenv(sandbox_api.HOME_ENV_VAR, str(home))
        settings = load_settings("local", {"sandbox_port": _unused_port()})
        process, _ = sandbox_api.start(settings, home=home)
        try:
            session = session_for(settings)
            seeded = sandbox_api.seed(session, settings)
            yield RunningSandbox(settings, session, process.endpoint_url, home, process, seeded)
        finally:
            sandbox_api.stop(home=home)
