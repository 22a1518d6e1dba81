"""The rehearsal data a plan does not produce, added on top of the planned estate (estate.seed_planned made the
resources it goes into): the images in the planned repositories, the ECS services of consolidated `local` with their
task-definition history, recent log events, and a stale lock on the compute stack. Everything else in the sandbox
comes from the `local` plan."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from tradai_nb import config
from tradai_nb.errors import SandboxError
from tradai_nb.settings import Settings
from tradai_nb.stacks.foundation.security_groups import SLUGS
from tradai_nb.stacks.foundation.vpc import az_suffix
from tradai_nb.state import backend

# Every seeded resource carries this tag besides the standard ones: the estate is for rehearsal only.
REHEARSAL_TAGS = {"Purpose": "rehearsal"}
TASK_DEFINITION_REVISIONS = 3
LOG_EVENTS_PER_STREAM = 120
LOG_EVENTS_SPAN_MIN = 25
# Streams whose newest event is older than this get a fresh batch, so "the last 30 minutes" is never empty.
LOG_REFRESH_AFTER_MIN = 15
# The stale lock: held on compute by a deploy that died hours ago, for the state-locks runbook to find and release.
SEEDED_LOCK_STACK = "compute"
SEEDED_LOCK_AGE = timedelta(hours=3)
SEEDED_LOCK_HOLDER: dict[str, Any] = {"pid": 48213, "username": "ci-deployer", "hostname": "build-agent-7"}


def _tags(settings: Settings, service: str = "platform") -> dict[str, str]:
    return config.get_tags(service, settings.environment, **REHEARSAL_TAGS)


def _tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]


LATEST_TAG = "latest"


def _image_tags(repository: str) -> list[str]:
    """Tags pushed to a repository: one per task-definition revision for services, one otherwise."""
    count = TASK_DEFINITION_REVISIONS if repository in config.SERVICES else 1
    return [f"v1.{n}.0" for n in range(count)]


def _image_manifest(repository: str, tag: str) -> str:
    """A minimal Docker image manifest, distinct per repository and tag (so each tag is its own image)."""

    def digest(kind: str) -> str:
        return "sha256:" + hashlib.sha256(f"{repository}:{tag}:{kind}".encode()).hexdigest()

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1470,
                "digest": digest("config"),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 3_623_807,
                    "digest": digest("layer"),
                }
            ],
        }
    )


def seed_ecr(session: boto3.Session, settings: Settings) -> Iterable[tuple[str, str, str]]:
    """Rehearsal data in the 24 planned ECR repositories: an image in each, one per task-definition revision for
    services, and `latest` naming the newest (a plan makes repositories, not the images pushed into them)."""
    ecr = session.client("ecr")
    for repository in config.ECR_REPOSITORIES:
        name = config.get_ecr_repo_name(repository)
        tags_present = {
            image.get("imageTag")
            for page in ecr.get_paginator("list_images").paginate(repositoryName=name)
            for image in page["imageIds"]
        }
        versions = _image_tags(repository)
        # `latest` also names the newest version, as after the guide's push: what the compute stack deploys.
        for tag, version in [*zip(versions, versions, strict=True), (LATEST_TAG, versions[-1])]:
            if tag in tags_present:
                yield "ecr image", f"{name}:{tag}", "exists"
            else:
                ecr.put_image(repositoryName=name, imageManifest=_image_manifest(repository, version), imageTag=tag)
                yield "ecr image", f"{name}:{tag}", "created"


def _repository_uris(session: boto3.Session) -> dict[str, str]:
    names = [config.get_ecr_repo_name(r) for r in config.ECR_REPOSITORIES]
    repos = session.client("ecr").describe_repositories(repositoryNames=names)["repositories"]
    return {repo["repositoryName"]: repo["repositoryUri"] for repo in repos}


def _planned_network(session: boto3.Session, settings: Settings) -> tuple[str, str]:
    """The planned private subnet in the first availability zone and the planned ECS security group, where the
    compute stack puts its services (seed_planned made them)."""
    env = settings.environment
    ec2 = session.client("ec2")
    subnet_name = config.get_resource_name(f"private-{az_suffix(settings.availability_zones[0])}", env)
    subnets = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": [subnet_name]}])["Subnets"]
    group_name = config.get_resource_name(SLUGS["ecs"], env)
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [group_name]}])["SecurityGroups"]
    if not subnets or not groups:
        missing = subnet_name if not subnets else group_name
        raise SandboxError(f"the planned {missing} is not in the sandbox; seed the planned estate first")
    return subnets[0]["SubnetId"], groups[0]["GroupId"]


# The roles the rehearsal task definitions run as: the compute stack's planned ECS execution and task roles.
ECS_EXECUTION_ROLE = "ecs-execution"
ECS_TASK_ROLE = "ecs-task"


def _role_arn(session: boto3.Session, settings: Settings, role: str) -> str:
    name = config.get_resource_name(role, settings.environment)
    return session.client("iam").get_role(RoleName=name)["Role"]["Arn"]


def seed_ecs(session: boto3.Session, settings: Settings) -> Iterable[tuple[str, str, str]]:
    """Rehearsal data on top of the plan: the four services, each with several task-definition revisions and running
    the latest, on the planned cluster and with the planned execution and task roles (seed_planned made them).

    `local` is consolidated: its plan has no ECS services and a single task definition, but the ECS runbook (a
    deploy, a rollback to an earlier revision, the services' status) rehearses against services with a revision
    history, which only this data provides."""
    env = settings.environment
    ecs = session.client("ecs")
    cluster = config.get_cluster_name(env)
    if not any(c["status"] == "ACTIVE" for c in ecs.describe_clusters(clusters=[cluster])["clusters"]):
        raise SandboxError(f"the planned cluster {cluster} is not in the sandbox; seed the planned estate first")
    uris = _repository_uris(session)
    execution_role = _role_arn(session, settings, ECS_EXECUTION_ROLE)
    task_role = _role_arn(session, settings, ECS_TASK_ROLE)
    subnet, security_group = _planned_network(session, settings)
    for service, spec in config.SERVICES.items():
        family = config.get_service_name(service, env)
        latest_revision = _latest_revision(ecs, family)
        image_repo = uris[config.get_ecr_repo_name(service)]
        for revision, tag in enumerate(_image_tags(service), start=1):
            name = f"{family}:{revision}"
            if revision <= latest_revision:
                yield "ecs task definition", name, "exists"
                continue
            ecs.register_task_definition(
                family=family,
                taskRoleArn=task_role,
                executionRoleArn=execution_role,
                networkMode="awsvpc",
                requiresCompatibilities=["FARGATE"],
                cpu=str(spec["cpu"]),
                memory=str(spec["memory"]),
                containerDefinitions=[
                    {
                        "name": spec["container"],
                        "image": f"{image_repo}:{tag}",
                        "essential": True,
                        "portMappings": [{"containerPort": spec["port"], "protocol": "tcp"}],
                        "environment": [{"name": "TRADAI_ENVIRONMENT", "value": env}],
                        "logConfiguration": {
                            "logDriver": "awslogs",
                            "options": {
                                "awslogs-group": config.CONSOLIDATED_LOG_GROUP,
                                "awslogs-region": settings.aws_region,
                                "awslogs-stream-prefix": service,
                            },
                        },
                    }
                ],
                tags=_tag_list(_tags(settings, service), "key", "value"),
            )
            yield "ecs task definition", name, "created"
        described = ecs.describe_services(cluster=cluster, services=[family])["services"]
        if any(s["status"] == "ACTIVE" for s in described):
            yield "ecs service", family, "exists"
            continue
        ecs.create_service(
            cluster=cluster,
            serviceName=family,
            taskDefinition=f"{family}:{_latest_revision(ecs, family)}",
            desiredCount=1,
            capacityProviderStrategy=[
                {"capacityProvider": "FARGATE_SPOT" if settings.fargate_spot else "FARGATE", "weight": 1}
            ],
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": [subnet],
                    "securityGroups": [security_group],
                    "assignPublicIp": "DISABLED",
                }
            },
            propagateTags="SERVICE",
            tags=_tag_list(_tags(settings, service), "key", "value"),
        )
        yield "ecs service", family, "created"


def _latest_revision(ecs, family: str) -> int:
    """Highest revision ever registered in a family (deregistered ones included: numbers are never reused)."""
    revisions = [
        int(arn.rsplit(":", 1)[1])
        for status in ("ACTIVE", "INACTIVE")
        for page in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status=status)
        for arn in page["taskDefinitionArns"]
        if arn.rsplit("/", 1)[1].rsplit(":", 1)[0] == family
    ]
    return max(revisions, default=0)


_LOG_LINES = (
    "INFO  GET {path}health 200 {ms}ms",
    "INFO  request completed path={path} status=200 duration_ms={ms}",
    "DEBUG cache hit key=strategy-config ttl_s=300",
    "WARN  slow upstream call duration_ms={slow_ms} threshold_ms=1000",
    "INFO  GET {path}status 200 {ms}ms",
    "ERROR upstream timeout after {slow_ms}ms; retrying (attempt 2 of 3)",
)


def _log_events(service: str, now_ms: int) -> list[dict[str, object]]:
    path = str(config.SERVICES[service]["path"]).rstrip("*")
    span_ms = LOG_EVENTS_SPAN_MIN * 60_000
    step_ms = span_ms // LOG_EVENTS_PER_STREAM
    events = []
    for n in range(LOG_EVENTS_PER_STREAM):
        template = _LOG_LINES[n % len(_LOG_LINES)]
        message = template.format(path=path, ms=3 + n % 40, slow_ms=1200 + 17 * n)
        events.append({"timestamp": now_ms - span_ms + n * step_ms, "message": f"{service} {message}"})
    return events


def seed_logs(session: boto3.Session, settings: Settings) -> Iterable[tuple[str, str, str]]:
    """Recent events in the consolidated host's log group (planned: the compute stack's), one stream per container."""
    logs = session.client("logs")
    group = config.CONSOLIDATED_LOG_GROUP
    streams = {s["logStreamName"]: s for s in logs.describe_log_streams(logGroupName=group)["logStreams"]}
    now_ms = int(time.time() * 1000)
    for service, spec in config.SERVICES.items():
        stream = str(spec["container"])
        if stream not in streams:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            action = "created"
        elif streams[stream].get("lastEventTimestamp", 0) >= now_ms - LOG_REFRESH_AFTER_MIN * 60_000:
            yield "log stream", f"{group}:{stream}", "exists"
            continue
        else:
            action = "refreshed"
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=_log_events(service, now_ms))
        yield "log stream", f"{group}:{stream}", action


def seed_lock(session: boto3.Session, settings: Settings) -> Iterable[tuple[str, str, str]]:
    """The stale lock on the compute stack's rehearsal state (one, with a stable id; kept while it is there)."""
    store = backend.state_store_for(settings, session)
    ref = backend.stack_ref(SEEDED_LOCK_STACK, settings.environment)
    existing = store.locks(ref)
    if existing:
        yield "pulumi lock", existing[0].key, "exists"
        return
    lock_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ref.fully_qualified}/rehearsal-lock"))
    key = store.write_lock(
        ref,
        lock_id,
        timestamp=datetime.now(UTC).replace(microsecond=0) - SEEDED_LOCK_AGE,
        pid=SEEDED_LOCK_HOLDER["pid"],
        username=SEEDED_LOCK_HOLDER["username"],
        hostname=SEEDED_LOCK_HOLDER["hostname"],
    )
    yield "pulumi lock", key, "created"


# The rehearsal data's seeders, after the planned estate they write into.
SEEDERS = (seed_ecr, seed_ecs, seed_logs, seed_lock)
