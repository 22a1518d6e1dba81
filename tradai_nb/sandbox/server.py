"""The embedded local AWS: a moto server on 127.0.0.1 (start, stop, status) and seeding its rehearsal estate."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pandas as pd

from tradai_nb import config
from tradai_nb.aws import session_for
from tradai_nb.errors import SandboxError
from tradai_nb.sandbox import estate as sandbox_estate
from tradai_nb.sandbox.estate import Seeder
from tradai_nb.settings import HOME_ENV_VAR, PARAMS_DIR_ENV_VAR, Settings, default_params_dir, tradai_home
from tradai_nb.timefmt import parse_iso

STATE_FILE = "sandbox.json"
LOG_FILE = "sandbox.log"
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_POLL_INTERVAL_S = 0.1
_LOG_TAIL_LINES = 20
# moto's own API answers this with its config; nothing else on a port does.
_HEALTH_PATH = "/moto-api/config"
SEED_COLUMNS = ["kind", "name", "action"]


@dataclass(frozen=True)
class SandboxProcess:
    """A running sandbox as recorded in its state file."""

    pid: int
    port: int
    started_at: str
    log_path: str
    # Kernel start time of the process (Linux), so a reused pid is never taken for the sandbox.
    process_start_ticks: int | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def uptime_s(self) -> float:
        return (datetime.now(UTC) - parse_iso(self.started_at)).total_seconds()


@dataclass(frozen=True)
class SandboxStatus:
    """What `tradai-nb sandbox status` reports: the process (if any) and where its files live."""

    home: Path
    process: SandboxProcess | None
    answering: bool

    @property
    def running(self) -> bool:
        return self.process is not None


# Servers this Python process started, so stop() can reap them instead of leaving zombies.
_children: dict[int, subprocess.Popen] = {}


def home_dir() -> Path:
    """The sandbox's home: $TRADAI_HOME, or .tradai/ in the project root."""
    return tradai_home()


def start(
    settings: Settings, *, home: Path | None = None, timeout_s: float = START_TIMEOUT_S
) -> tuple[SandboxProcess, bool]:
    """Start the sandbox on settings.sandbox_port, or reuse the one already running there.

    Returns the process and whether it was reused. The server is detached: it outlives the caller.
    """
    port = _sandbox_port(settings)
    home = home or home_dir()
    recorded = _recorded_process(home)
    if recorded is not None:
        if recorded.port != port:
            raise SandboxError(
                f"a sandbox is already running on port {recorded.port} (pid {recorded.pid}, home {home}); "
                f"use --port {recorded.port}, or stop it first with `tradai-nb sandbox stop`"
            )
        _wait_until_answering(recorded, timeout_s, home)
        return recorded, True
    if not _port_is_free(port):
        raise SandboxError(
            f"port {port} on {HOST} is in use by another process, so the sandbox cannot start there; "
            f"pass --port N with a free port (or set sandbox_port in params/local.yaml), "
            f"or stop the process holding port {port} (find it with `lsof -i :{port}`)"
        )
    process = _spawn(port, home)
    _wait_until_answering(process, timeout_s, home)
    return process, False


def stop(*, home: Path | None = None, timeout_s: float = STOP_TIMEOUT_S) -> SandboxProcess | None:
    """Stop the recorded sandbox (terminate, wait, kill if needed) and remove its state file.

    Returns the process that was stopped, or None when none was running.
    """
    home = home or home_dir()
    recorded = _recorded_process(home)
    if recorded is not None:
        _terminate(recorded.pid, timeout_s)
    _state_path(home).unlink(missing_ok=True)
    return recorded


def status(*, home: Path | None = None) -> SandboxStatus:
    """The recorded sandbox process, if it is alive, and whether it answers."""
    home = home or home_dir()
    recorded = _recorded_process(home)
    return SandboxStatus(home, recorded, recorded is not None and _answers(recorded.port))


def ensure_running(settings: Settings, *, home: Path | None = None) -> str:
    """The sandbox endpoint for settings, starting and seeding a sandbox first when none is running."""
    process, reused = start(settings, home=home)
    if not reused:
        seed(session_for(settings), settings)
    return process.endpoint_url


def seed(session: boto3.Session, settings: Settings, extra_seeders: Sequence[Seeder] = ()) -> pd.DataFrame:
    """Seed the rehearsal estate into the sandbox; idempotent. One row per resource: kind, name, action
    (created, exists, refreshed). extra_seeders run after the built-in ones, with the same arguments."""
    _check_sandbox_session(session, settings)
    seeders = (*sandbox_estate.SEEDERS, *extra_seeders)
    return pd.DataFrame([row for seeder in seeders for row in seeder(session, settings)], columns=SEED_COLUMNS)


def seed_summary(seeded: pd.DataFrame) -> pd.DataFrame:
    """Seed rows counted per kind and action (created / exists / refreshed as columns)."""
    table = seeded.pivot_table(index="kind", columns="action", values="name", aggfunc="count", fill_value=0)
    return table.reset_index().rename_axis(columns=None)


@contextmanager
def isolated_local_environment() -> Iterator[Path]:
    """A throwaway `local` environment for this process and the kernels it starts: TRADAI_HOME and a copy of the
    params folder (with a free sandbox port) in a temporary folder. Nothing of a user's sandbox, local state or
    backups is seen or touched; whatever sandbox is started inside is stopped on the way out."""
    import yaml

    root = Path(tempfile.mkdtemp(prefix="tradai-isolated-"))
    params = root / "params"
    shutil.copytree(default_params_dir(), params)
    local = yaml.safe_load((params / "local.yaml").read_text())
    local["sandbox_port"] = free_port()
    (params / "local.yaml").write_text(yaml.safe_dump(local, sort_keys=False))
    saved = {name: os.environ.get(name) for name in (HOME_ENV_VAR, PARAMS_DIR_ENV_VAR)}
    os.environ[HOME_ENV_VAR] = str(root / "home")
    os.environ[PARAMS_DIR_ENV_VAR] = str(params)
    try:
        yield root
    finally:
        stop(home=root / "home")
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(root, ignore_errors=True)


def free_port() -> int:
    """A port on 127.0.0.1 that the OS reports free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _sandbox_port(settings: Settings) -> int:
    if not settings.is_local or settings.sandbox_port is None:
        raise SandboxError(
            f"the sandbox serves only the local environment, not {settings.environment!r}: use --env local"
        )
    return settings.sandbox_port


def _state_path(home: Path) -> Path:
    return home / STATE_FILE


def _recorded_process(home: Path) -> SandboxProcess | None:
    """The process in the state file if it is still that sandbox; a stale state file is removed."""
    path = _state_path(home)
    try:
        recorded = SandboxProcess(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise SandboxError(f"{path}: unreadable sandbox state ({exc}); remove the file and start again") from None
    if _is_alive(recorded.pid) and _process_start_ticks(recorded.pid) == recorded.process_start_ticks:
        return recorded
    path.unlink(missing_ok=True)
    return None


def _forget(home: Path, pid: int) -> None:
    """Remove the state file if it still records pid (a concurrent start may have recorded its own server)."""
    path = _state_path(home)
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def _server_command(port: int) -> list[str]:
    return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]


def _server_environment(port: int) -> dict[str, str]:
    # moto reports a new ECS service's tasks as pending forever unless told how many run; the estate's services
    # (one task each) run, so the runbooks can wait for them to be stable as on the real estate. The sandbox's account
    # is the plan's, so the ARNs of the rehearsal state and of the sandbox agree. moto holds the AWS-managed IAM
    # policies the planned roles attach only when told to load them; loading them costs about a second and a half, once,
    # at the first IAM call.
    return {
        "MOTO_PORT": str(port),
        "MOTO_ECS_SERVICE_RUNNING": "1",
        "MOTO_ACCOUNT_ID": config.PLAN_ACCOUNT_ID,
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    }


def _spawn(port: int, home: Path) -> SandboxProcess:
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / LOG_FILE
    with log_path.open("wb") as log:
        # A new session detaches the server from the caller's terminal and process group.
        child = subprocess.Popen(
            _server_command(port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=home,
            env={**os.environ, **_server_environment(port)},
            start_new_session=True,
            close_fds=True,
        )
    _children[child.pid] = child
    process = SandboxProcess(
        pid=child.pid,
        port=port,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        log_path=str(log_path),
        process_start_ticks=_process_start_ticks(child.pid),
    )
    _state_path(home).write_text(json.dumps(asdict(process), indent=2) + "\n")
    return process


def _wait_until_answering(process: SandboxProcess, timeout_s: float, home: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _answers(process.port):
            return
        if not _is_alive(process.pid):
            _forget(home, process.pid)
            raise SandboxError(
                f"the sandbox server (pid {process.pid}, port {process.port}) exited before answering; "
                f"the end of its log {process.log_path}:\n{_log_tail(process.log_path)}"
            )
        time.sleep(_POLL_INTERVAL_S)
    _terminate(process.pid, STOP_TIMEOUT_S)
    _forget(home, process.pid)
    raise SandboxError(
        f"the sandbox server (pid {process.pid}) did not answer on {process.endpoint_url} within {timeout_s:.0f} s "
        f"and was stopped; the end of its log {process.log_path}:\n{_log_tail(process.log_path)}"
    )


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{_HEALTH_PATH}", timeout=2) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):
        return False
    return isinstance(body, dict) and "lambda" in body


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Same option the server sets, so a port left in TIME_WAIT by a stopped sandbox counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _is_alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _children[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _proc_stat(pid)
    # A zombie has exited already; only its parent has not collected it yet.
    return stat is None or stat[0] != "Z"


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None where there is no /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def _process_start_ticks(pid: int) -> int | None:
    fields = _proc_stat(pid)
    # Field 22 of stat (starttime); fields here start at field 3 (state).
    return int(fields[19]) if fields else None


def _terminate(pid: int, timeout_s: float) -> None:
    _signal(pid, signal.SIGTERM)
    if _wait_for_exit(pid, timeout_s):
        return
    _signal(pid, signal.SIGKILL)
    if not _wait_for_exit(pid, timeout_s):
        raise SandboxError(f"the sandbox server (pid {pid}) survived SIGKILL; check it with `ps -p {pid}`")


def _signal(pid: int, signum: int) -> None:
    try:
        # The server leads its own session; signal its whole group so nothing it started is left behind.
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _wait_for_exit(pid: int, timeout_s: float) -> bool:
    child = _children.get(pid)
    if child is not None:
        try:
            child.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return False
        _children.pop(pid, None)
        return True
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _is_alive(pid):
            return True
        time.sleep(_POLL_INTERVAL_S)
    return not _is_alive(pid)


def _log_tail(log_path: str) -> str:
    try:
        lines = Path(log_path).read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(log unreadable: {exc})"
    return "\n".join(lines[-_LOG_TAIL_LINES:]) or "(log is empty)"


def _check_sandbox_session(session: boto3.Session, settings: Settings) -> None:
    endpoint = getattr(session, "endpoint_url", None)
    if not settings.is_local or endpoint is None or endpoint != settings.endpoint_url:
        raise SandboxError(
            "the rehearsal estate is seeded only into the sandbox: pass aws.session_for(settings) with local settings "
            f"(got environment {settings.environment!r}, session endpoint {endpoint!r})"
        )
