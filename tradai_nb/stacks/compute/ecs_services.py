"""The Fargate services: per service a log group, a task definition and an ECS service behind its target group."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.compute.alb import LoadBalancer
from tradai_nb.stacks.compute.ecs import Cluster
from tradai_nb.stacks.compute.iam import ComputeRoles
from tradai_nb.stacks.compute.upstream import UpstreamOutputs

if TYPE_CHECKING:
    import pulumi_aws as aws

MLFLOW_SERVICE = "mlflow"
# MLflow's database credentials: container variable -> key of the RDS secret's JSON (read at task start, never stored).
DATABASE_SECRET_KEYS = {"MLFLOW_DB_USERNAME": "username", "MLFLOW_DB_PASSWORD": "password"}
# The images are built for arm64, like the Graviton consolidated host that runs them in dev and staging.
CPU_ARCHITECTURE = "ARM64"
HEALTH_CHECK_GRACE_S = 60


@dataclass(frozen=True)
class FargateTask:
    """A service's task definition and the log group its containers write to."""

    log_group: aws.cloudwatch.LogGroup
    task_definition: aws.ecs.TaskDefinition


@dataclass(frozen=True)
class FargateServices:
    tasks: dict[str, FargateTask]
    services: dict[str, aws.ecs.Service]


def container_environment(service: str, settings: Settings, upstream: UpstreamOutputs) -> pulumi.Output:
    """The plain (non-secret) environment of a service's container, as a mapping; shared with the consolidated host."""
    environment = {
        "TRADAI_ENVIRONMENT": settings.environment,
        "TRADAI_SERVICE": service,
        "AWS_REGION": settings.aws_region,
        "PORT": str(config.SERVICES[service]["port"]),
        "BACKTEST_QUEUE_URL": upstream.backtest_queue_url,
        "ALERTS_TOPIC_ARN": upstream.alerts_topic_arn,
    }
    if service == MLFLOW_SERVICE:
        environment.update(
            {
                "MLFLOW_DB_HOST": upstream.rds_address,
                # Stack outputs carry numbers as floats.
                "MLFLOW_DB_PORT": upstream.rds_port.apply(lambda port: str(int(port))),
                "MLFLOW_DB_NAME": upstream.rds_db_name,
                "MLFLOW_ARTIFACTS_BUCKET": upstream.entry("bucket_names", "mlflow"),
            }
        )
    return pulumi.Output.all(**environment)


def service_capacity_provider(service: str, settings: Settings) -> str:
    """FARGATE_SPOT where the environment allows it, except for the live-trading service in prod (never Spot)."""
    live_trading_in_prod = service == config.LIVE_TRADING_SERVICE and settings.environment == "prod"
    return "FARGATE_SPOT" if settings.fargate_spot and not live_trading_in_prod else "FARGATE"


def task_definition(service: str, settings: Settings, upstream: UpstreamOutputs, roles: ComputeRoles) -> FargateTask:
    """Log group config.get_service_log_group and task family config.get_service_name for one service."""
    import pulumi_aws as aws

    env = settings.environment
    spec = config.SERVICES[service]
    log_group = aws.cloudwatch.LogGroup(
        service,
        name=config.get_service_log_group(service, env),
        retention_in_days=settings.log_retention_days,
        tags=config.get_tags(service=service, environment=env),
    )
    containers = pulumi.Output.all(
        image=upstream.image(service),
        environment=container_environment(service, settings, upstream),
        secret_arn=upstream.rds_secret_arn,
        log_group=log_group.name,
    ).apply(lambda values: json.dumps([_container(service, settings, **values)], sort_keys=True))
    definition = aws.ecs.TaskDefinition(
        service,
        family=config.get_service_name(service, env),
        cpu=str(spec["cpu"]),
        memory=str(spec["memory"]),
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": CPU_ARCHITECTURE},
        execution_role_arn=roles.execution.role.arn,
        task_role_arn=roles.task.role.arn,
        container_definitions=containers,
        tags=config.get_tags(service=service, environment=env),
        opts=pulumi.ResourceOptions(depends_on=[roles.execution.policy]),
    )
    return FargateTask(log_group, definition)


def _container(
    service: str, settings: Settings, *, image: str, environment: dict, secret_arn: str, log_group: str
) -> dict:
    container = {
        "name": service,
        "image": image,
        "essential": True,
        "portMappings": [{"containerPort": int(config.SERVICES[service]["port"]), "protocol": "tcp"}],
        "environment": [{"name": name, "value": value} for name, value in sorted(environment.items())],
        # ECS Exec needs an init process to reap the session's child processes.
        "linuxParameters": {"initProcessEnabled": True},
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": settings.aws_region,
                "awslogs-stream-prefix": service,
            },
        },
    }
    if service == MLFLOW_SERVICE:
        container["secrets"] = [
            {"name": name, "valueFrom": f"{secret_arn}:{key}::"} for name, key in DATABASE_SECRET_KEYS.items()
        ]
    return container


def fargate_services(
    settings: Settings, upstream: UpstreamOutputs, roles: ComputeRoles, cluster: Cluster, load_balancer: LoadBalancer
) -> FargateServices:
    """The four services in the private subnets, each attached to its target group, rolled back on failed deploys."""
    import pulumi_aws as aws

    env = settings.environment
    tasks = {service: task_definition(service, settings, upstream, roles) for service in config.SERVICES}
    services = {
        service: aws.ecs.Service(
            service,
            name=config.get_service_name(service, env),
            cluster=cluster.cluster.arn,
            task_definition=tasks[service].task_definition.arn,
            desired_count=2 if settings.multi_az else 1,
            capacity_provider_strategies=[
                {"capacity_provider": service_capacity_provider(service, settings), "weight": 1},
            ],
            network_configuration={
                "subnets": upstream.private_subnet_ids,
                "security_groups": [upstream.ecs_sg_id],
                "assign_public_ip": False,
            },
            load_balancers=[
                {
                    "target_group_arn": load_balancer.target_groups[service].arn,
                    "container_name": service,
                    "container_port": int(config.SERVICES[service]["port"]),
                }
            ],
            health_check_grace_period_seconds=HEALTH_CHECK_GRACE_S,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            enable_execute_command=True,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            tags=config.get_tags(service=service, environment=env),
            # A target group must sit behind a listener rule, and the capacity providers must be on the cluster,
            # before a service can use them.
            opts=pulumi.ResourceOptions(
                depends_on=[cluster.capacity_providers, load_balancer.rules[service], roles.task.policy],
            ),
        )
        for service in config.SERVICES
    }
    return FargateServices(tasks, services)
