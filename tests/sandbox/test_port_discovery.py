"""A sandbox started on another port is the one local runs reach: settings, sessions and notebooks find it."""

from __future__ import annotations

import pytest

from tradai_nb.aws import session_for
from tradai_nb.sandbox import server as sandbox_api
from tradai_nb.settings import HOME_ENV_VAR, load_settings, recorded_sandbox


def test_local_settings__follow_the_port_the_running_sandbox_recorded(tmp_path, monkeypatch, free_port):
    monkeypatch.setenv(HOME_ENV_VAR, str(tmp_path / "home"))
    configured = load_settings("local").sandbox_port
    assert recorded_sandbox() is None

    process, _ = sandbox_api.start(load_settings("local", {"sandbox_port": free_port}))
    try:
        found = load_settings("local")
        assert found.sandbox_port == free_port != configured
        assert recorded_sandbox()["pid"] == process.pid
        buckets = session_for(found).client("s3").list_buckets()["Buckets"]
        assert isinstance(buckets, list)
        assert load_settings("local", {"sandbox_port": configured}).sandbox_port == configured
    finally:
        sandbox_api.stop()

    assert recorded_sandbox() is None and load_settings("local").sandbox_port == configured


@pytest.mark.parametrize("content", ["not json", '{"pid": 1}', '{"pid": 999999999, "port": 6000}'],
                         ids=["garbage", "no-port", "dead-pid"])
def test_recorded_sandbox__a_stale_or_damaged_record_is_ignored(tmp_path, monkeypatch, content):
    home = tmp_path / "home"
    home.mkdir()
    (home / "sandbox.json").write_text(content)
    monkeypatch.setenv(HOME_ENV_VAR, str(home))

    assert recorded_sandbox() is None
    assert load_settings("local").sandbox_port != 6000
