"""Service access: the consolidated host over SSM, ECS exec command lines, endpoints behind the ALB and their health."""

from __future__ import annotations

import shlex
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from tradai_nb import config
from tradai_nb.aws import aws_errors
from tradai_nb.errors import CheckFailedError, OperationError, ParameterError
from tradai_nb.ops._common import (
    Deadline,
    Message,
    check_choice,
    check_seconds,
    check_service,
    parallel_map,
    require_consolidated,
)
from tradai_nb.records import gate
from tradai_nb.settings import Settings

# What to do where there is no consolidated host, appended to require_consolidated's message.
_ON_FARGATE = "; use ECS Exec into a task instead (action='endpoints' prints the command lines)"

ACTIONS = ("endpoints", "docker-ps", "docker-logs", "restart", "health")
HOST_ACTIONS = ("docker-ps", "docker-logs", "restart")
CHANGING_ACTIONS = ("restart",)
SSM_DOCUMENT = "AWS-RunShellScript"
# send_command refuses execution timeouts under 30 seconds.
SSM_MIN_TIMEOUT_S = 30
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_POLL_S = 2.0
HEALTH_TIMEOUT_S = 5.0
MAX_TAIL_LINES = 10_000
# get_command_invocation states after which the command does nothing more.
COMMAND_ENDED = ("Success", "Cancelled", "TimedOut", "Failed")
COMMAND_COLUMNS = ["purpose", "command"]
ENDPOINT_COLUMNS = ["service", "container", "port", "path", "health_path", "url"]
HEALTH_COLUMNS = ["service", "url", "status", "ok", "error"]
_ERROR_TAIL_CHARS = 2000


@dataclass(frozen=True)
class HostInstance:
    """The running consolidated EC2 host, found by its Name tag."""

    instance_id: str
    name: str
    instance_type: str
    availability_zone: str
    private_ip: str | None


@dataclass(frozen=True)
class CommandResult:
    """One shell command run on the host through SSM Run Command, and what it printed."""

    instance_id: str
    command_id: str
    commands: tuple[str, ...]
    status: str
    exit_code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        output = "\n".join(part for part in (self.stdout.rstrip(), self.stderr.rstrip()) if part) or "(no output)"
        return (
            f"{' && '.join(self.commands)}\n{self.status} (exit code {self.exit_code}) on {self.instance_id}\n{output}"
        )

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(str(self))


def run_action(
    session,
    settings: Settings,
    *,
    action: str,
    service: str = "all",
    tail_lines: int = 50,
    alb_dns_name: str = "",
    confirm: str = "",
    timeout_s: float = DEFAULT_TIMEOUT_S,
):
    """The service-access runbook's action: a host command's result, the health table, or (endpoints) a line
    saying nothing was run."""
    if action == "docker-ps":
        return docker_ps(session, settings, timeout_s=timeout_s)
    if action == "docker-logs":
        return docker_logs(session, settings, service, tail_lines, timeout_s=timeout_s)
    if action == "restart":
        return restart_services(session, settings, service, confirm, timeout_s=timeout_s)
    if action == "health":
        return check_health(settings, alb_dns_name)
    check_choice("action", action, ACTIONS)
    return Message("action 'endpoints': nothing was run on the host")


def check_parameters(
    settings: Settings, *, action: str, service: str, tail_lines: int, alb_dns_name: str, confirm: str, timeout_s: float
) -> None:
    """Validate the service-access runbook's parameters and its guard rail, before any AWS call."""
    check_choice("action", action, ACTIONS)
    check_service("service", service, allow_all=True)
    if action == "docker-logs" and service == "all":
        raise ParameterError(
            "parameter 'service': action 'docker-logs' shows one container's logs; name a service "
            f"({', '.join(config.SERVICES)})",
            name="service",
        )
    check_tail_lines(tail_lines)
    base_url(alb_dns_name)
    check_seconds("timeout_s", timeout_s)
    if action in HOST_ACTIONS:
        require_consolidated(settings, f"action {action!r}", _ON_FARGATE)
    if action in CHANGING_ACTIONS:
        gate.precheck(
            settings, "host.command", target=config.get_consolidated_name(settings.environment), confirm=confirm
        )
    else:
        gate.check_confirm_text(confirm)


def check_tail_lines(tail_lines: object) -> int:
    if isinstance(tail_lines, bool) or not isinstance(tail_lines, int) or not 1 <= tail_lines <= MAX_TAIL_LINES:
        raise ParameterError(
            f"parameter 'tail_lines': expected a whole number from 1 to {MAX_TAIL_LINES}, got {tail_lines!r}",
            name="tail_lines",
        )
    return tail_lines


def find_consolidated_instance(session, settings: Settings) -> HostInstance:
    """The running instance tagged Name=tradai-consolidated-<env>; the newest one while a refresh runs two."""
    require_consolidated(settings, "finding the consolidated host", _ON_FARGATE)
    name = config.get_consolidated_name(settings.environment)
    with aws_errors(f"looking up the running instance tagged Name={name}"):
        pages = (
            session.client("ec2")
            .get_paginator("describe_instances")
            .paginate(
                Filters=[
                    {"Name": "tag:Name", "Values": [name]},
                    {"Name": "instance-state-name", "Values": ["running"]},
                ]
            )
        )
        instances = [i for page in pages for r in page["Reservations"] for i in r["Instances"]]
    if not instances:
        raise OperationError(
            f"no running EC2 instance tagged Name={name} in {settings.aws_region}; check the host's Auto Scaling "
            "group (ecs_operations runbook, action='status'), and that the compute stack is deployed"
        )
    newest = max(instances, key=lambda i: (i["LaunchTime"], i["InstanceId"]))
    return HostInstance(
        instance_id=newest["InstanceId"],
        name=name,
        instance_type=newest["InstanceType"],
        availability_zone=newest["Placement"]["AvailabilityZone"],
        private_ip=newest.get("PrivateIpAddress"),
    )


def access_commands(session, settings: Settings) -> pd.DataFrame:
    """The exact command lines to get a shell: SSM Session Manager to the consolidated host, or ECS Exec into each
    service's running task (prod). A service without a running task gets the list-tasks line and a placeholder."""
    cli = _cli_options(settings)
    if settings.consolidated:
        host = find_consolidated_instance(session, settings)
        directory = config.CONSOLIDATED_COMPOSE_DIR
        container = config.SERVICES["backend"]["container"]
        rows = [
            (
                "find the host",
                "aws ec2 describe-instances --filters "
                f'"Name=tag:Name,Values={host.name}" "Name=instance-state-name,Values=running" '
                f"--query 'Reservations[].Instances[].InstanceId' --output text {cli}",
            ),
            ("shell on the host", f"aws ssm start-session --target {host.instance_id} {cli}"),
            ("on the host: running containers", "sudo docker ps"),
            ("on the host: a service's logs", f"sudo docker logs {container} --tail 50 -f"),
            ("on the host: restart the services", f"cd {directory} && sudo docker-compose restart"),
        ]
        return pd.DataFrame(rows, columns=COMMAND_COLUMNS)
    ecs = session.client("ecs")
    cluster = config.get_cluster_name(settings.environment)
    rows = []
    for service in config.SERVICES:
        name = config.get_service_name(service, settings.environment)
        with aws_errors(f"listing the running tasks of {name} in ECS cluster {cluster}"):
            tasks = ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus="RUNNING")["taskArns"]
        task = sorted(tasks)[0] if tasks else None
        rows.append(
            (f"{service}: running tasks", f"aws ecs list-tasks --cluster {cluster} --service-name {name} {cli}")
        )
        rows.append(
            (
                f"{service}: shell in the container",
                f"aws ecs execute-command --cluster {cluster} --task {task or '<task-arn>'} "
                f'--container {config.SERVICES[service]["container"]} --interactive --command "/bin/sh" {cli}',
            )
        )
    return pd.DataFrame(rows, columns=COMMAND_COLUMNS)


def run_on_host(
    session,
    settings: Settings,
    commands: list[str],
    *,
    confirm: str = "",
    comment: str = "tradai-nb runbook",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
) -> CommandResult:
    """Run shell commands on the consolidated host (SSM Run Command, as root) and wait for them to finish; in
    staging (and prod) only with confirm=<environment>, and always recorded: any command can change the host.

    A command that fails, is cancelled or times out raises OperationError with the end of what it printed.
    """
    if not commands or not all(isinstance(c, str) and c.strip() for c in commands):
        raise ParameterError(
            f"parameter 'commands': expected one or more shell commands, got {commands!r}", name="commands"
        )
    timeout_s = check_seconds("timeout_s", timeout_s)
    poll_s = check_seconds("poll_s", poll_s, allow_zero=True)
    with gate.change(
        settings,
        "host.command",
        target=config.get_consolidated_name(settings.environment),
        confirm=confirm,
        parameters={"commands": list(commands), "timeout_s": timeout_s},
    ):
        return _run_on_host(session, settings, commands, comment=comment, timeout_s=timeout_s, poll_s=poll_s)


def _run_on_host(
    session, settings: Settings, commands: list[str], *, comment: str, timeout_s: float, poll_s: float = DEFAULT_POLL_S
) -> CommandResult:
    host = find_consolidated_instance(session, settings)
    ssm = session.client("ssm")
    with aws_errors(f"sending a command to {host.instance_id} ({host.name}) through SSM"):
        command_id = ssm.send_command(
            InstanceIds=[host.instance_id],
            DocumentName=SSM_DOCUMENT,
            Comment=comment[:100],
            TimeoutSeconds=max(SSM_MIN_TIMEOUT_S, int(timeout_s)),
            Parameters={"commands": list(commands)},
        )["Command"]["CommandId"]
    invocation = _wait_for_invocation(ssm, command_id, host.instance_id, timeout_s, poll_s)
    result = CommandResult(
        instance_id=host.instance_id,
        command_id=command_id,
        commands=tuple(commands),
        status=invocation["Status"],
        exit_code=int(invocation.get("ResponseCode", -1)),
        stdout=invocation.get("StandardOutputContent", ""),
        stderr=invocation.get("StandardErrorContent", ""),
    )
    if result.status != "Success":
        raise OperationError(
            f"command {command_id} on {host.instance_id} ended {result.status} (exit code {result.exit_code}): "
            f"{' && '.join(commands)}\n{(result.stderr or result.stdout)[-_ERROR_TAIL_CHARS:]}"
        )
    return result


def docker_ps(session, settings: Settings, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> CommandResult:
    """`docker ps` on the consolidated host: the containers and their state."""
    # Read-only and fixed, so not a change: no confirm, no record.
    return _run_on_host(
        session,
        settings,
        ["docker ps --all --format 'table {{.Names}}\\t{{.Image}}\\t{{.Status}}'"],
        comment="tradai-nb: docker ps",
        timeout_s=check_seconds("timeout_s", timeout_s),
    )


def docker_logs(
    session, settings: Settings, service: str, tail_lines: int = 50, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> CommandResult:
    """The last tail_lines lines a service's container logged, from the consolidated host."""
    check_service("service", service, allow_all=False)
    check_tail_lines(tail_lines)
    container = str(config.SERVICES[service]["container"])
    return _run_on_host(
        session,
        settings,
        [f"docker logs {shlex.quote(container)} --tail {tail_lines} 2>&1"],
        comment=f"tradai-nb: docker logs {container}",
        timeout_s=check_seconds("timeout_s", timeout_s),
    )


def restart_services(
    session, settings: Settings, service: str = "all", confirm: str = "", *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> CommandResult:
    """Restart the compose services on the consolidated host (all, or one), from config.CONSOLIDATED_COMPOSE_DIR."""
    check_service("service", service, allow_all=True)
    target = "" if service == "all" else f" {shlex.quote(service)}"
    return run_on_host(
        session,
        settings,
        [f"cd {shlex.quote(config.CONSOLIDATED_COMPOSE_DIR)} && docker-compose restart{target}"],
        confirm=confirm,
        comment=f"tradai-nb: docker-compose restart {service}",
        timeout_s=timeout_s,
    )


def service_endpoints(settings: Settings, alb_dns_name: str = "") -> pd.DataFrame:
    """The services behind the ALB: container, port, path and health path, with URLs when the ALB's name is known."""
    base = base_url(alb_dns_name)
    rows = [
        {
            "service": service,
            "container": spec["container"],
            "port": spec["port"],
            "path": spec["path"],
            "health_path": config.HEALTH_CHECK_PATHS[service],
            "url": f"{base}{config.HEALTH_CHECK_PATHS[service]}" if base else "",
        }
        for service, spec in config.SERVICES.items()
    ]
    return pd.DataFrame(rows, columns=ENDPOINT_COLUMNS)


def check_health(settings: Settings, alb_dns_name: str, *, timeout_s: float = HEALTH_TIMEOUT_S) -> pd.DataFrame:
    """GET each service's health path behind the ALB. Every service gets a row: an unreachable one carries the
    error, and with no ALB name known each row says where to find it."""
    base = base_url(alb_dns_name)
    timeout_s = check_seconds("timeout_s", timeout_s)
    if not base:
        note = (
            "no ALB DNS name known: pass alb_dns_name (the compute stack's output alb_dns_name, "
            f"`tradai-nb stack outputs compute --env {settings.environment}`)"
        )
        return pd.DataFrame(
            [{"service": s, "url": "", "status": None, "ok": False, "error": note} for s in config.SERVICES],
            columns=HEALTH_COLUMNS,
        )

    def probe(service: str) -> dict[str, Any]:
        url = f"{base}{config.HEALTH_CHECK_PATHS[service]}"
        return {"service": service, "url": url, **_get(url, timeout_s)}

    return pd.DataFrame(parallel_map(probe, list(config.SERVICES)), columns=HEALTH_COLUMNS)


def check_result(action: str, shown: object) -> None:
    """The runbook's outcome: a health check with any service not ok raises CheckFailedError, so the run fails."""
    if action != "health" or not isinstance(shown, pd.DataFrame):
        return
    failed = shown[~shown["ok"].astype(bool)]
    if not failed.empty:
        reasons = "; ".join(f"{row.service}: {row.error or row.status}" for row in failed.itertuples())
        raise CheckFailedError(
            f"{len(failed)} of {len(shown)} health checks are not ok ({reasons}); see the "
            "service's logs (action='docker-logs') and the ECS operations runbook"
        )


def base_url(alb_dns_name: object) -> str:
    """http://<alb_dns_name> (a scheme given stays), or "" when no name is given; anything else is refused."""
    if not isinstance(alb_dns_name, str):
        raise ParameterError(f"parameter 'alb_dns_name': expected text, got {alb_dns_name!r}", name="alb_dns_name")
    name = alb_dns_name.strip()
    if not name:
        return ""
    url = name if "://" in name else f"http://{name}"
    if " " in name or not _is_host_url(url):
        raise ParameterError(
            f"parameter 'alb_dns_name': expected the ALB's DNS name such as tradai-alb-dev-123.eu-central-1.elb."
            f"amazonaws.com (optionally with http:// or https:// and a port, no path), got {alb_dns_name!r}",
            name="alb_dns_name",
        )
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}"


def _is_host_url(url: str) -> bool:
    parsed = urlparse(url)
    try:
        _ = parsed.port  # reading it raises ValueError on a port that is not a number from 0 to 65535
    except ValueError:
        return False
    return (
        parsed.scheme in ("http", "https")
        and bool(parsed.hostname)
        and parsed.path in ("", "/")
        and not (parsed.query or parsed.fragment)
    )


def _get(url: str, timeout_s: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return {"status": response.status, "ok": 200 <= response.status < 300, "error": ""}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "ok": False, "error": f"HTTP {exc.code} {exc.reason}"}
    except urllib.error.URLError as exc:
        return {"status": None, "ok": False, "error": f"unreachable: {exc.reason}"}
    except TimeoutError:
        return {"status": None, "ok": False, "error": f"no answer within {timeout_s:g} s"}
    except OSError as exc:
        return {"status": None, "ok": False, "error": f"unreachable: {exc}"}


def _wait_for_invocation(ssm, command_id: str, instance_id: str, timeout_s: float, poll_s: float) -> dict[str, Any]:
    deadline = Deadline(timeout_s)
    while True:
        with aws_errors(f"reading the result of command {command_id} on {instance_id}"):
            try:
                invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
            except ssm.exceptions.InvocationDoesNotExist:
                # Right after send_command the invocation may not be registered yet.
                invocation = None
        if invocation is not None and invocation["Status"] in COMMAND_ENDED:
            return invocation
        if deadline.passed_after(poll_s):
            status = invocation["Status"] if invocation else "not registered yet"
            raise OperationError(
                f"command {command_id} on {instance_id} is still {status} after {timeout_s:.0f} s; check that the "
                "SSM agent on the host is online (Systems Manager > Fleet Manager) and run again with a longer "
                "timeout_s"
            )
        deadline.sleep(poll_s)


def _cli_options(settings: Settings) -> str:
    options = []
    if settings.aws_profile:
        options.append(f"--profile {shlex.quote(settings.aws_profile)}")
    options.append(f"--region {settings.aws_region}")
    if settings.endpoint_url:
        options.append(f"--endpoint-url {settings.endpoint_url}")
    return " ".join(options)


def shell_commands(session, settings: Settings) -> Message:
    """The access command lines as text to paste into a terminal: each under a `# purpose` comment line."""
    commands = access_commands(session, settings)
    return Message("\n\n".join(f"# {row.purpose}\n{row.command}" for row in commands.itertuples(index=False)))
