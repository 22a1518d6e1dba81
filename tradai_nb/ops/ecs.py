"""ECS services and the consolidated host's Auto Scaling group: status, redeployments, rollbacks, instance refresh."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from tradai_nb import config
from tradai_nb.aws import aws_errors
from tradai_nb.errors import OperationError, ParameterError
from tradai_nb.ops._common import (
    Deadline,
    Message,
    Progress,
    check_choice,
    check_flag,
    check_revision,
    check_seconds,
    check_service,
    parallel_map,
    require_consolidated,
)
from tradai_nb.records import gate
from tradai_nb.settings import Settings

# What to do where there is no consolidated host, appended to require_consolidated's message.
_ON_FARGATE = " (consolidated: false); use action='force-redeploy' to replace the services' tasks"

ACTIONS = ("status", "force-redeploy", "instance-refresh")
CHANGING_ACTIONS = ("force-redeploy", "instance-refresh")
# describe_services accepts at most ten services per call.
DESCRIBE_BATCH = 10
DEFAULT_TIMEOUT_S = 600.0
DEFAULT_POLL_S = 10.0
STATUS_COLUMNS = [
    "service",
    "status",
    "desired",
    "running",
    "pending",
    "task_definition",
    "revision",
    "deployments",
    "rollout_state",
    "last_event",
    "last_event_at",
]
REDEPLOY_COLUMNS = [
    "service",
    "previous_deployment",
    "new_deployment",
    "revision",
    "running",
    "desired",
    "rollout_state",
]
ROLLBACK_COLUMNS = ["service", "from_revision", "to_revision", "from_image", "to_image", "applied"]
REVISION_COLUMNS = ["revision", "status", "image", "current"]
ASG_COLUMNS = [
    "group",
    "desired",
    "min",
    "max",
    "launch_template",
    "template_version",
    "instance",
    "lifecycle_state",
    "health",
    "instance_template_version",
    "up_to_date",
    "instance_type",
    "availability_zone",
]
REFRESH_COLUMNS = ["group", "refresh_id", "status", "percent_complete", "instances_to_update", "status_reason"]
# Instance refresh states after which nothing more happens.
REFRESH_SUCCEEDED = ("Successful",)
REFRESH_ENDED = ("Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed")


def check_parameters(settings: Settings, *, action: str, service: str, confirm: str, timeout_s: float) -> None:
    """Validate the ECS runbook's parameters and its guard rail, before any AWS call."""
    check_choice("action", action, ACTIONS)
    check_service("service", service, allow_all=True)
    check_seconds("timeout_s", timeout_s)
    if action == "instance-refresh":
        require_consolidated(settings, "action 'instance-refresh'", _ON_FARGATE)
        gate.precheck(
            settings, "asg.instance-refresh", target=config.get_consolidated_name(settings.environment), confirm=confirm
        )
    elif action == "force-redeploy":
        gate.precheck(settings, "ecs.force-redeploy", target=_described_services(service), confirm=confirm)
    else:
        gate.check_confirm_text(confirm)


def run_action(
    session,
    settings: Settings,
    *,
    action: str,
    service: str = "all",
    confirm: str = "",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_progress: Progress | None = print,
):
    """The ECS runbook's action: the redeployment's or the refresh's table, or (status) a line saying nothing was
    changed."""
    if action == "force-redeploy":
        return force_redeploy(session, settings, service, confirm, timeout_s=timeout_s, on_progress=on_progress)
    if action == "instance-refresh":
        return refresh_instances(session, settings, confirm, timeout_s=timeout_s, on_progress=on_progress)
    check_choice("action", action, ACTIONS)
    return Message("action 'status': nothing was changed")


def service_status(session, settings: Settings) -> pd.DataFrame:
    """Every service in the environment's cluster: counts, task-definition revision, deployments, the last event."""
    ecs = session.client("ecs")
    cluster = config.get_cluster_name(settings.environment)
    names = cluster_service_names(ecs, cluster)
    services = [s for s in describe_services(ecs, cluster, names) if s["status"] != "INACTIVE"]
    rows = [_status_row(service) for service in services]
    return pd.DataFrame(rows, columns=STATUS_COLUMNS).sort_values("service", ignore_index=True)


def cluster_service_names(ecs, cluster: str) -> list[str]:
    """Names of all services in a cluster, across pages."""
    with aws_errors(f"listing the services of ECS cluster {cluster}"):
        pages = ecs.get_paginator("list_services").paginate(cluster=cluster)
        return [arn.rsplit("/", 1)[-1] for page in pages for arn in page["serviceArns"]]


def describe_services(ecs, cluster: str, names: Sequence[str]) -> list[dict[str, Any]]:
    """describe_services over any number of services: batches of ten, several batches at a time."""
    batches = [list(names[i : i + DESCRIBE_BATCH]) for i in range(0, len(names), DESCRIBE_BATCH)]

    def describe(batch: list[str]) -> dict[str, Any]:
        return ecs.describe_services(cluster=cluster, services=batch)

    with aws_errors(f"describing services in ECS cluster {cluster}"):
        answers = parallel_map(describe, batches)
    missing = [f["arn"].rsplit("/", 1)[-1] for answer in answers for f in answer.get("failures", [])]
    if missing:
        raise OperationError(
            f"ECS cluster {cluster} has no service {', '.join(missing)}; check the environment, "
            "and that the compute stack is deployed (its services list: action='status')"
        )
    return [service for answer in answers for service in answer["services"]]


def resolve_services(ecs, settings: Settings, services: str | Sequence[str]) -> list[str]:
    """ECS service names for "all" (every service in the cluster), one logical service name or a list of them."""
    if isinstance(services, str):
        if check_service("services", services, allow_all=True) == "all":
            return cluster_service_names(ecs, config.get_cluster_name(settings.environment))
        services = [services]
    if not services:
        raise ParameterError("parameter 'services': name at least one service, or 'all'", name="services")
    return [
        config.get_service_name(check_service("services", s, allow_all=False), settings.environment) for s in services
    ]


def _active_services(ecs, settings: Settings, services: str | Sequence[str]) -> list[dict[str, Any]]:
    """The described services meant by `services`; deleted (INACTIVE) ones are skipped for "all", refused by name."""
    cluster = config.get_cluster_name(settings.environment)
    described = describe_services(ecs, cluster, resolve_services(ecs, settings, services))
    inactive = [s["serviceName"] for s in described if s["status"] == "INACTIVE"]
    if inactive and services != "all":
        raise OperationError(
            f"{', '.join(inactive)} in ECS cluster {cluster} is deleted (INACTIVE); "
            "check the service name and the environment"
        )
    return [s for s in described if s["status"] != "INACTIVE"]


def force_redeploy(
    session,
    settings: Settings,
    services: str | Sequence[str] = "all",
    confirm: str = "",
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    on_progress: Progress | None = None,
) -> pd.DataFrame:
    """Start a new deployment of one service, a list of them or all (same task definition, fresh tasks, newly pulled
    images), then wait until every one is stable; raises OperationError when they are not within timeout_s."""
    timeout_s = check_seconds("timeout_s", timeout_s)
    poll_s = check_seconds("poll_s", poll_s, allow_zero=True)
    with gate.change(
        settings,
        "ecs.force-redeploy",
        target=_described_services(services),
        confirm=confirm,
        parameters={"services": services, "timeout_s": timeout_s},
        on_output=on_progress,
    ):
        return _force_redeploy(session, settings, services, timeout_s=timeout_s, poll_s=poll_s, on_progress=on_progress)


def _force_redeploy(
    session,
    settings: Settings,
    services: str | Sequence[str],
    *,
    timeout_s: float,
    poll_s: float,
    on_progress: Progress | None,
) -> pd.DataFrame:
    ecs = session.client("ecs")
    cluster = config.get_cluster_name(settings.environment)
    current = _active_services(ecs, settings, services)
    names = [s["serviceName"] for s in current]
    before = {s["serviceName"]: _primary(s) for s in current}

    def redeploy(name: str) -> dict[str, Any]:
        return ecs.update_service(cluster=cluster, service=name, forceNewDeployment=True)["service"]

    with aws_errors(f"forcing a new deployment in ECS cluster {cluster}"):
        updated = parallel_map(redeploy, names)
    if on_progress:
        on_progress(f"new deployments started for {len(updated)} service(s); waiting until stable")
    final = wait_until_stable(session, settings, names, timeout_s=timeout_s, poll_s=poll_s, on_progress=on_progress)
    started = {s["serviceName"]: _primary(s).get("id") for s in updated}
    rows = [
        {
            "service": row.service,
            "previous_deployment": before[row.service].get("id"),
            "new_deployment": started[row.service],
            "revision": row.revision,
            "running": row.running,
            "desired": row.desired,
            "rollout_state": row.rollout_state,
        }
        for row in final.itertuples()
    ]
    return pd.DataFrame(rows, columns=REDEPLOY_COLUMNS).sort_values("service", ignore_index=True)


def wait_until_stable(
    session,
    settings: Settings,
    names: Sequence[str],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    on_progress: Progress | None = None,
) -> pd.DataFrame:
    """Poll the services until each has one deployment with all its tasks running (ECS's own `services-stable`
    rule); returns their status. A failed rollout or the timeout raises OperationError naming the services."""
    ecs = session.client("ecs")
    cluster = config.get_cluster_name(settings.environment)
    deadline = Deadline(timeout_s)
    while True:
        services = describe_services(ecs, cluster, list(names))
        failed = [s["serviceName"] for s in services if _primary(s).get("rolloutState") == "FAILED"]
        if failed:
            raise OperationError(
                f"the deployment of {', '.join(failed)} failed (rollout state FAILED); read the service events "
                "(action='status', column last_event) and the stopped tasks' reasons in the ECS console"
            )
        waiting = [s for s in services if not _is_stable(s)]
        if on_progress:
            on_progress(
                f"{deadline.elapsed_s:5.0f}s: {len(services) - len(waiting)}/{len(services)} stable"
                + (f"; waiting for {_describe_waiting(waiting)}" if waiting else "")
            )
        if not waiting:
            return pd.DataFrame([_status_row(s) for s in services], columns=STATUS_COLUMNS).sort_values(
                "service", ignore_index=True
            )
        if deadline.passed_after(poll_s):
            raise OperationError(
                f"not stable after {timeout_s:.0f} s: {_describe_waiting(waiting)}; the deployment goes on in ECS. "
                "Check the service events (action='status'), and run again with a longer timeout_s to keep waiting"
            )
        deadline.sleep(poll_s)


def task_definition_revisions(session, settings: Settings, service: str) -> pd.DataFrame:
    """The active revisions of a service's task definition, newest first, with their images and the one in use."""
    check_service("service", service, allow_all=False)
    ecs = session.client("ecs")
    cluster = config.get_cluster_name(settings.environment)
    name = config.get_service_name(service, settings.environment)
    current = _revision(describe_services(ecs, cluster, [name])[0]["taskDefinition"])
    revisions = sorted(_active_revisions(ecs, name), reverse=True)

    def describe(revision: int) -> dict[str, Any]:
        return ecs.describe_task_definition(taskDefinition=f"{name}:{revision}")["taskDefinition"]

    with aws_errors(f"describing the task definitions of {name}"):
        definitions = parallel_map(describe, revisions)
    rows = [
        {"revision": d["revision"], "status": d["status"], "image": _images(d), "current": d["revision"] == current}
        for d in definitions
    ]
    return pd.DataFrame(rows, columns=REVISION_COLUMNS)


def rollback_service(
    session,
    settings: Settings,
    service: str,
    revision: int | None = None,
    dry_run: bool = True,
    confirm: str = "",
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    on_progress: Progress | None = None,
) -> pd.DataFrame:
    """Move a service back to its previous active task-definition revision (or the one named), then wait until it is
    stable. One row: service, from/to revision, from/to image, applied. The dry run changes nothing."""
    check_service("service", service, allow_all=False)
    check_revision(revision)
    check_flag("dry_run", dry_run)
    timeout_s = check_seconds("timeout_s", timeout_s)
    poll_s = check_seconds("poll_s", poll_s, allow_zero=True)
    if dry_run:
        return _rollback_service(
            session, settings, service, revision, True, timeout_s=timeout_s, poll_s=poll_s, on_progress=on_progress
        )
    with gate.change(
        settings,
        "ecs.rollback",
        target=config.get_service_name(service, settings.environment),
        confirm=confirm,
        parameters={"service": service, "revision": revision, "timeout_s": timeout_s},
        on_output=on_progress,
    ):
        return _rollback_service(
            session, settings, service, revision, False, timeout_s=timeout_s, poll_s=poll_s, on_progress=on_progress
        )


def _rollback_service(
    session,
    settings: Settings,
    service: str,
    revision: int | None,
    dry_run: bool,
    *,
    timeout_s: float,
    poll_s: float,
    on_progress: Progress | None,
) -> pd.DataFrame:
    ecs = session.client("ecs")
    cluster = config.get_cluster_name(settings.environment)
    name = config.get_service_name(service, settings.environment)
    current_arn = describe_services(ecs, cluster, [name])[0]["taskDefinition"]
    current = _revision(current_arn)
    if revision is None:
        earlier = [r for r in _active_revisions(ecs, name) if r < current]
        if not earlier:
            raise OperationError(
                f"{name} runs revision {current} and no earlier revision is active, so there is "
                "nothing to roll back to; name a revision with revision=N"
            )
        revision = max(earlier)
    elif revision == current:
        raise ParameterError(f"parameter 'revision': {name} already runs revision {current}", name="revision")
    with aws_errors(f"describing task definitions {name}:{current} and {name}:{revision}"):
        before = ecs.describe_task_definition(taskDefinition=current_arn)["taskDefinition"]
        target = ecs.describe_task_definition(taskDefinition=f"{name}:{revision}")["taskDefinition"]
    if target["status"] != "ACTIVE":
        raise OperationError(
            f"{name}:{revision} is {target['status']} (deregistered) and cannot be deployed; "
            "pick an active revision (task_definition_revisions lists them)"
        )
    row = {
        "service": name,
        "from_revision": current,
        "to_revision": revision,
        "from_image": _images(before),
        "to_image": _images(target),
        "applied": False,
    }
    if dry_run:
        return pd.DataFrame([row], columns=ROLLBACK_COLUMNS)
    with aws_errors(f"updating service {name} to {name}:{revision}"):
        ecs.update_service(cluster=cluster, service=name, taskDefinition=target["taskDefinitionArn"])
    if on_progress:
        on_progress(f"{name}: revision {current} -> {revision}; waiting until stable")
    wait_until_stable(session, settings, [name], timeout_s=timeout_s, poll_s=poll_s, on_progress=on_progress)
    return pd.DataFrame([{**row, "applied": True}], columns=ROLLBACK_COLUMNS)


def no_host_message(settings: Settings) -> Message:
    """What the host section says where the services run on ECS Fargate."""
    return Message(f"{settings.environment} runs its services on ECS Fargate: there is no consolidated host")


def asg_status(session, settings: Settings) -> pd.DataFrame:
    """The consolidated host's Auto Scaling group, one row per instance, and whether each runs the group's
    current launch-template version (an instance refresh replaces those that do not)."""
    require_consolidated(settings, "the consolidated host's status", _ON_FARGATE)
    name = config.get_consolidated_name(settings.environment)
    group = _auto_scaling_group(session, name)
    template = group.get("LaunchTemplate") or {}
    template_version = _resolved_template_version(session, template)
    base = {
        "group": name,
        "desired": group["DesiredCapacity"],
        "min": group["MinSize"],
        "max": group["MaxSize"],
        "launch_template": template.get("LaunchTemplateName"),
        "template_version": template_version,
    }
    rows = []
    for instance in sorted(group["Instances"], key=lambda i: i["InstanceId"]):
        version = (instance.get("LaunchTemplate") or {}).get("Version")
        rows.append(
            {
                **base,
                "instance": instance["InstanceId"],
                "lifecycle_state": instance["LifecycleState"],
                "health": instance["HealthStatus"],
                "instance_template_version": version,
                "up_to_date": version is not None and version == template_version,
                "instance_type": instance.get("InstanceType"),
                "availability_zone": instance["AvailabilityZone"],
            }
        )
    return pd.DataFrame(rows or [base], columns=ASG_COLUMNS)


def start_instance_refresh(
    session,
    settings: Settings,
    confirm: str = "",
    *,
    min_healthy_percentage: int = 100,
    max_healthy_percentage: int = 200,
    instance_warmup_s: int | None = None,
) -> str:
    """Start replacing the consolidated host's instances with the current launch template; returns the refresh id.

    The defaults launch the new host before the old one is terminated (min 100 %, max 200 % healthy), so the
    single host is never down for the switch.
    """
    require_consolidated(settings, "an instance refresh", _ON_FARGATE)
    _check_percentages(min_healthy_percentage, max_healthy_percentage)
    if instance_warmup_s is not None:
        instance_warmup_s = int(check_seconds("instance_warmup_s", instance_warmup_s))
    name = config.get_consolidated_name(settings.environment)
    with gate.change(
        settings,
        "asg.instance-refresh",
        target=name,
        confirm=confirm,
        parameters={
            "min_healthy_percentage": min_healthy_percentage,
            "max_healthy_percentage": max_healthy_percentage,
            "instance_warmup_s": instance_warmup_s,
        },
    ):
        return _start_instance_refresh(session, name, min_healthy_percentage, max_healthy_percentage, instance_warmup_s)


def _start_instance_refresh(
    session, name: str, min_healthy_percentage: int, max_healthy_percentage: int, instance_warmup_s: int | None
) -> str:
    preferences: dict[str, Any] = {
        "MinHealthyPercentage": min_healthy_percentage,
        "MaxHealthyPercentage": max_healthy_percentage,
    }
    if instance_warmup_s is not None:
        preferences["InstanceWarmup"] = instance_warmup_s
    with aws_errors(f"starting an instance refresh of Auto Scaling group {name}"):
        answer = session.client("autoscaling").start_instance_refresh(
            AutoScalingGroupName=name, Preferences=preferences
        )
    return answer["InstanceRefreshId"]


def follow_instance_refresh(
    session,
    settings: Settings,
    refresh_id: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    on_progress: Progress | None = None,
) -> pd.DataFrame:
    """Poll an instance refresh until it ends; returns its final row. A refresh that ends other than Successful,
    or is still running at timeout_s, raises OperationError (a timed-out refresh goes on in AWS)."""
    require_consolidated(settings, "following an instance refresh", _ON_FARGATE)
    timeout_s = check_seconds("timeout_s", timeout_s, allow_zero=True)
    poll_s = check_seconds("poll_s", poll_s, allow_zero=True)
    name = config.get_consolidated_name(settings.environment)
    autoscaling = session.client("autoscaling")
    deadline = Deadline(timeout_s)
    while True:
        with aws_errors(f"reading instance refresh {refresh_id} of {name}"):
            refreshes = autoscaling.describe_instance_refreshes(
                AutoScalingGroupName=name, InstanceRefreshIds=[refresh_id]
            )["InstanceRefreshes"]
        if not refreshes:
            raise OperationError(
                f"Auto Scaling group {name} has no instance refresh {refresh_id}; "
                "check the environment and the refresh id"
            )
        row = _refresh_row(name, refreshes[0])
        if on_progress:
            on_progress(
                f"{deadline.elapsed_s:5.0f}s: {row['status']} {row['percent_complete']}% "
                f"({row['instances_to_update']} instance(s) to update)"
            )
        if row["status"] in REFRESH_ENDED:
            if row["status"] not in REFRESH_SUCCEEDED:
                raise OperationError(
                    f"instance refresh {refresh_id} of {name} ended {row['status']}: "
                    f"{row['status_reason'] or 'no reason given'}; "
                    "check the group's activity history (`aws autoscaling describe-scaling-activities "
                    f"--auto-scaling-group-name {name}`)"
                )
            return pd.DataFrame([row], columns=REFRESH_COLUMNS)
        if deadline.passed_after(poll_s):
            raise OperationError(
                f"instance refresh {refresh_id} of {name} is still {row['status']} at {row['percent_complete']}% after "
                f"{timeout_s:.0f} s; it goes on in AWS. Follow it again with a longer timeout_s, or cancel it with "
                f"`aws autoscaling cancel-instance-refresh --auto-scaling-group-name {name}`"
            )
        deadline.sleep(poll_s)


def refresh_instances(
    session,
    settings: Settings,
    confirm: str = "",
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    on_progress: Progress | None = None,
) -> pd.DataFrame:
    """Start an instance refresh of the consolidated host and follow it to the end (one record, its outcome the
    refresh's)."""
    require_consolidated(settings, "an instance refresh", _ON_FARGATE)
    timeout_s = check_seconds("timeout_s", timeout_s)
    poll_s = check_seconds("poll_s", poll_s, allow_zero=True)
    name = config.get_consolidated_name(settings.environment)
    with gate.change(
        settings,
        "asg.instance-refresh",
        target=name,
        confirm=confirm,
        parameters={"timeout_s": timeout_s, "follow": True},
        on_output=on_progress,
    ):
        refresh_id = _start_instance_refresh(session, name, 100, 200, None)
        if on_progress:
            on_progress(f"instance refresh {refresh_id} started")
        return follow_instance_refresh(
            session, settings, refresh_id, timeout_s=timeout_s, poll_s=poll_s, on_progress=on_progress
        )


def _described_services(services: str | Sequence[str]) -> str:
    return services if isinstance(services, str) else ", ".join(map(str, services))


def _check_percentages(min_healthy: object, max_healthy: object) -> None:
    if (
        not isinstance(min_healthy, int)
        or not isinstance(max_healthy, int)
        or isinstance(min_healthy, bool)
        or isinstance(max_healthy, bool)
        or not (0 <= min_healthy <= 100 <= max_healthy <= 200)
        or max_healthy - min_healthy > 100
    ):
        raise ParameterError(
            "parameters 'min_healthy_percentage' / 'max_healthy_percentage': expected whole percentages with "
            f"0 <= min <= 100 <= max <= 200 and max - min <= 100 (got {min_healthy!r} and {max_healthy!r})",
            name="min_healthy_percentage",
        )


def _auto_scaling_group(session, name: str) -> dict[str, Any]:
    with aws_errors(f"describing Auto Scaling group {name}"):
        groups = session.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    if not groups["AutoScalingGroups"]:
        raise OperationError(
            f"no Auto Scaling group named {name}; check the environment, and that the compute "
            "stack is deployed with consolidated: true"
        )
    return groups["AutoScalingGroups"][0]


def _resolved_template_version(session, template: dict[str, Any]) -> str | None:
    """The launch-template version number a group launches ("$Latest" and "$Default" resolved)."""
    version = template.get("Version")
    if version not in ("$Latest", "$Default"):
        return version
    query = (
        {"LaunchTemplateIds": [template["LaunchTemplateId"]]}
        if template.get("LaunchTemplateId")
        else {"LaunchTemplateNames": [template["LaunchTemplateName"]]}
    )
    with aws_errors(
        f"describing launch template {template.get('LaunchTemplateName') or template.get('LaunchTemplateId')}"
    ):
        described = session.client("ec2").describe_launch_templates(**query)["LaunchTemplates"][0]
    key = "LatestVersionNumber" if version == "$Latest" else "DefaultVersionNumber"
    return str(described[key])


def _refresh_row(group: str, refresh: dict[str, Any]) -> dict[str, Any]:
    return {
        "group": group,
        "refresh_id": refresh["InstanceRefreshId"],
        "status": refresh["Status"],
        "percent_complete": refresh.get("PercentageComplete", 0),
        "instances_to_update": refresh.get("InstancesToUpdate", 0),
        "status_reason": refresh.get("StatusReason", ""),
    }


def _active_revisions(ecs, family: str) -> list[int]:
    with aws_errors(f"listing the task definitions of {family}"):
        pages = ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status="ACTIVE")
        arns = [arn for page in pages for arn in page["taskDefinitionArns"]]
    # familyPrefix also matches longer families (tradai-backend-local-x); keep this family only.
    return [int(arn.rsplit(":", 1)[1]) for arn in arns if arn.rsplit("/", 1)[1].rsplit(":", 1)[0] == family]


def _revision(task_definition: str) -> int:
    """Revision number of a task-definition ARN or family:revision."""
    return int(task_definition.rsplit(":", 1)[1])


def _images(task_definition: dict[str, Any]) -> str:
    return ", ".join(container["image"] for container in task_definition["containerDefinitions"])


def _primary(service: dict[str, Any]) -> dict[str, Any]:
    return next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {})


def _is_stable(service: dict[str, Any]) -> bool:
    return len(service.get("deployments", [])) == 1 and service["runningCount"] == service["desiredCount"]


def _describe_waiting(services: Sequence[dict[str, Any]]) -> str:
    return ", ".join(
        f"{s['serviceName']} (running {s['runningCount']}/{s['desiredCount']}, "
        f"{len(s.get('deployments', []))} deployment(s))"
        for s in services
    )


def _status_row(service: dict[str, Any]) -> dict[str, Any]:
    deployments = sorted(service.get("deployments", []), key=lambda d: d.get("status") != "PRIMARY")
    events = sorted(service.get("events", []), key=lambda e: e["createdAt"], reverse=True)
    task_definition = service["taskDefinition"]
    return {
        "service": service["serviceName"],
        "status": service["status"],
        "desired": service["desiredCount"],
        "running": service["runningCount"],
        "pending": service["pendingCount"],
        "task_definition": task_definition.rsplit("/", 1)[-1],
        "revision": _revision(task_definition),
        "deployments": "; ".join(_deployment_summary(d) for d in deployments),
        "rollout_state": _primary(service).get("rolloutState", ""),
        "last_event": events[0]["message"] if events else "",
        "last_event_at": pd.Timestamp(events[0]["createdAt"]) if events else pd.NaT,
    }


def _deployment_summary(deployment: dict[str, Any]) -> str:
    parts = [
        deployment.get("status", ""),
        f"rev {_revision(deployment['taskDefinition'])}",
        deployment.get("rolloutState", ""),
        f"{deployment.get('runningCount', 0)}/{deployment.get('desiredCount', 0)}",
    ]
    return " ".join(part for part in parts if part)


def host_status(session, settings: Settings) -> pd.DataFrame | Message:
    """The consolidated host's Auto Scaling group (dev, staging, local), or a line saying the environment has none
    (prod runs its services on ECS Fargate) — asked of AWS only where there is a host."""
    return asg_status(session, settings) if settings.consolidated else no_host_message(settings)
