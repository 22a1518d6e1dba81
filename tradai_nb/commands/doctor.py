"""`tradai-nb doctor`: the guide's prerequisites checked on this machine, each missing one with its fix."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from tradai_nb.errors import EXIT_OK, EXIT_PREREQUISITE

MIN_PYTHON = (3, 11)
MIN_PASSPHRASE_LENGTH = 8
DOCKER_TIMEOUT_S = 10
TEAM_ENVIRONMENTS = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Check:
    """One prerequisite: what, whether it is there, what was found, and what to do when it is not."""

    check: str
    ok: bool
    detail: str
    fix: str = ""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the prerequisites (Python, Pulumi CLI and aws plugin, "
        "credentials, passphrase, just, Docker, sandbox) and say the fix "
        f"for each missing one (exit {EXIT_PREREQUISITE} when any is)",
    )
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    checks = [
        _python(),
        *_pulumi(),
        *(_credentials(env) for env in TEAM_ENVIRONMENTS),
        _passphrase(),
        _just(),
        _docker(),
        _sandbox(),
    ]
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        width = max(len(c.check) for c in checks)
        for c in checks:
            print(
                f"{'ok' if c.ok else 'MISSING':7}  {c.check.ljust(width)}  {c.detail}"
                + (f"\n{' ' * (width + 11)}fix: {c.fix}" if not c.ok and c.fix else "")
            )
    return EXIT_OK if all(c.ok for c in checks) else EXIT_PREREQUISITE


def _python() -> Check:
    found = ".".join(map(str, sys.version_info[:3]))
    return Check(
        "python",
        sys.version_info[:2] >= MIN_PYTHON,
        f"Python {found} ({sys.executable})",
        f"use Python {'.'.join(map(str, MIN_PYTHON))} or newer: make install PYTHON=python3.11",
    )


def _pulumi() -> list[Check]:
    from tradai_nb.engine.automation import aws_plugin_version, find_pulumi_cli
    from tradai_nb.errors import PulumiCliMissingError

    try:
        command = find_pulumi_cli("doctor")
    except PulumiCliMissingError as exc:
        return [
            Check("pulumi cli", False, str(exc).split(", and action", 1)[0], "tradai-nb setup"),
            Check("aws plugin", False, f"{aws_plugin_version()} needs the Pulumi CLI", "tradai-nb setup"),
        ]
    version = aws_plugin_version()
    plugin = Path.home() / ".pulumi" / "plugins" / f"resource-aws-{version}"
    return [
        Check("pulumi cli", True, f"{command.version} ({command.command})"),
        Check(
            "aws plugin",
            plugin.is_dir(),
            f"{version} in {plugin}" if plugin.is_dir() else f"{version} not in {plugin.parent}",
            "tradai-nb setup",
        ),
    ]


def _credentials(environment: str) -> Check:
    from tradai_nb.aws import session_for
    from tradai_nb.errors import TradaiError
    from tradai_nb.settings import load_settings

    name = f"credentials {environment}"
    try:
        settings = load_settings(environment)
        session = session_for(settings)
        # Resolves the credential chain locally; nothing is asked of AWS.
        found = session.get_credentials()
    except TradaiError as exc:
        return Check(name, False, str(exc).split(":", 1)[0], _login_fix(environment))
    except Exception as exc:  # noqa: BLE001 - a broken profile, SSO cache or config file: reported, not raised
        return Check(name, False, f"{type(exc).__name__}: {exc}", _login_fix(environment))
    if found is None:
        return Check(name, False, "no credentials in the chain", _login_fix(environment))
    profile = f"profile {settings.aws_profile}" if settings.aws_profile else "the default chain"
    return Check(name, True, f"{found.method} ({profile})")


def _login_fix(environment: str) -> str:
    from tradai_nb.settings import load_settings

    try:
        profile = load_settings(environment).aws_profile
    except Exception:  # noqa: BLE001 - the params file itself is what to fix then
        return f"fix params/{environment}.yaml"
    return f"aws sso login --profile {profile}" if profile else "aws configure"


def _passphrase() -> Check:
    from tradai_nb.state.sealing import shell_passphrase

    passphrase = shell_passphrase()
    fix = "export PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) in the shell that runs tradai-nb"
    if passphrase is None:
        return Check("passphrase", False, "PULUMI_CONFIG_PASSPHRASE and PULUMI_CONFIG_PASSPHRASE_FILE are not set", fix)
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        return Check(
            "passphrase",
            False,
            f"set, but shorter than {MIN_PASSPHRASE_LENGTH} characters (staging and prod refuse it)",
            f"use a passphrase of at least {MIN_PASSPHRASE_LENGTH} characters",
        )
    return Check("passphrase", True, "set (its value is never shown)")


def _just() -> Check:
    found = shutil.which("just") or shutil.which("just", path=str(Path(sys.executable).parent))
    return Check(
        "just", found is not None, found or "not on PATH nor in the venv", "make install (just is in the lock)"
    )


def _docker() -> Check:
    found = shutil.which("docker")
    if found is None:
        return Check(
            "docker",
            False,
            "not installed (needed only to build and push images)",
            "install Docker Engine: https://docs.docker.com/engine/install/",
        )
    try:
        info = subprocess.run(
            [found, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=DOCKER_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("docker", False, f"{found}: `docker info` did not answer ({exc})", "start the Docker engine")
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        return Check(
            "docker",
            False,
            f"{found} is installed but its engine does not answer ({reason})",
            "start the Docker engine (sudo systemctl start docker)",
        )
    return Check("docker", True, f"engine {info.stdout.strip()}")


def _sandbox() -> Check:
    from tradai_nb.sandbox import server as sandbox

    current = sandbox.status()
    if current.process is not None and current.answering:
        return Check("sandbox", True, f"answering on {current.process.endpoint_url} (home {current.home})")
    return Check(
        "sandbox", False, f"not running (home {current.home}); only --env local needs it", "tradai-nb sandbox start"
    )
