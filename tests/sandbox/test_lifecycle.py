"""The sandbox server's life: a separate process, health-checked, reused, refused on a busy port, stopped cleanly."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sys
import textwrap

import pytest

from tradai_nb.errors import SandboxError
from tradai_nb.sandbox import server as sandbox_api
from tradai_nb.settings import load_settings

# A stand-in server that answers moto's health path but ignores SIGTERM, to exercise the kill path of stop().
_STUBBORN_SERVER = textwrap.dedent(
    """
    import http.server, json, signal, sys
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"batch": {}, "lambda": {}}).encode()
            self.send_response(201)
            self.end_headers()
            self.wfile.write(body)

    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """
)


def test_start__runs_moto_in_a_separate_process_recorded_in_home(sandbox, process_is_gone):
    state = sandbox.home / sandbox_api.STATE_FILE
    assert sandbox.process.pid != os.getpid()
    assert not process_is_gone(sandbox.process.pid)
    assert state.exists() and f'"pid": {sandbox.process.pid}' in state.read_text()
    assert sandbox.endpoint_url == f"http://127.0.0.1:{sandbox.settings.sandbox_port}"


def test_start__reuses_the_running_sandbox(sandbox):
    process, reused = sandbox_api.start(sandbox.settings, home=sandbox.home)

    assert reused is True
    assert process.pid == sandbox.process.pid


def test_start__another_port_while_one_runs_names_the_running_one(sandbox, free_port):
    other = load_settings("local", {"sandbox_port": free_port})

    with pytest.raises(SandboxError, match=rf"already running on port {sandbox.settings.sandbox_port}.*sandbox stop"):
        sandbox_api.start(other, home=sandbox.home)


@pytest.mark.parametrize("holder", ["plain-listener", "sandbox-of-another-home"])
def test_start__busy_port_is_a_clear_error_naming_port_and_fix(holder, sandbox, tmp_path):
    with socket.socket() as listener:
        if holder == "plain-listener":
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
        else:
            port = sandbox.settings.sandbox_port
        settings = load_settings("local", {"sandbox_port": port})

        with pytest.raises(SandboxError, match=rf"port {port} .*in use.*--port") as raised:
            sandbox_api.start(settings, home=tmp_path)

    assert f"stop the process holding port {port}" in str(raised.value)
    assert not (tmp_path / sandbox_api.STATE_FILE).exists()


def test_start__refuses_a_team_environment(tmp_path):
    with pytest.raises(SandboxError, match="only the local environment.*--env local"):
        sandbox_api.start(load_settings("dev"), home=tmp_path)


def test_start__server_that_dies_reports_the_tail_of_its_log(monkeypatch, tmp_path, free_port):
    def failing_server(port: int) -> list[str]:
        return [sys.executable, "-c", "import sys; print('bind failed: simulated for the test'); sys.exit(3)"]

    monkeypatch.setattr(sandbox_api, "_server_command", failing_server)
    settings = load_settings("local", {"sandbox_port": free_port})

    with pytest.raises(SandboxError, match="exited before answering") as raised:
        sandbox_api.start(settings, home=tmp_path, timeout_s=20)

    assert "bind failed: simulated for the test" in str(raised.value)
    assert not (tmp_path / sandbox_api.STATE_FILE).exists()


def test_stop__kills_a_server_that_ignores_sigterm_and_removes_the_state(monkeypatch, tmp_path, free_port, process_is_gone):
    monkeypatch.setattr(sandbox_api, "_server_command", lambda port: [sys.executable, "-c", _STUBBORN_SERVER, str(port)])
    settings = load_settings("local", {"sandbox_port": free_port})
    process, reused = sandbox_api.start(settings, home=tmp_path, timeout_s=20)
    assert reused is False and sandbox_api.status(home=tmp_path).answering

    stopped = sandbox_api.stop(home=tmp_path, timeout_s=1)

    assert stopped.pid == process.pid
    assert process_is_gone(process.pid)
    assert not (tmp_path / sandbox_api.STATE_FILE).exists()
    assert sandbox_api.status(home=tmp_path).running is False


def test_status__a_stale_state_file_counts_as_not_running(tmp_path, free_port):
    # A pid above the kernel's maximum (2**22) can never belong to a live process.
    stale = sandbox_api.SandboxProcess(pid=2**22 + 7, port=free_port, started_at="2026-01-01T00:00:00+00:00",
                                       log_path=str(tmp_path / sandbox_api.LOG_FILE))
    (tmp_path / sandbox_api.STATE_FILE).write_text(json.dumps(dataclasses.asdict(stale)))

    assert sandbox_api.status(home=tmp_path).running is False
    assert sandbox_api.stop(home=tmp_path) is None
    assert not (tmp_path / sandbox_api.STATE_FILE).exists()


def test_home__follows_tradai_home(monkeypatch, tmp_path):
    monkeypatch.setenv(sandbox_api.HOME_ENV_VAR, str(tmp_path / "elsewhere"))

    assert sandbox_api.home_dir() == tmp_path / "elsewhere"


def test_ensure_running__returns_the_running_sandbox_endpoint(sandbox):
    assert sandbox_api.ensure_running(sandbox.settings) == sandbox.endpoint_url
    assert sandbox_api.status().process.pid == sandbox.process.pid
