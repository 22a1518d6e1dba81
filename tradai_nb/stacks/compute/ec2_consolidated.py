"""The consolidated EC2 host (dev, staging, local): one Graviton instance runs the four services with docker compose."""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import yaml

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.compute.alb import LoadBalancer
from tradai_nb.stacks.compute.ecs_services import DATABASE_SECRET_KEYS, MLFLOW_SERVICE, container_environment
from tradai_nb.stacks.compute.iam import AccountArns, ComputeRoles
from tradai_nb.stacks.compute.upstream import UpstreamOutputs
from tradai_nb.stacks.policy import PolicyBuilder

if TYPE_CHECKING:
    import pulumi_aws as aws

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
COMPOSE_VERSION = "v2.29.7"
COMPOSE_PLUGIN = "/usr/local/lib/docker/cli-plugins/docker-compose"
MLFLOW_ENV_FILE = "mlflow.env"
ROOT_VOLUME_GB = 30
HOST_HEALTH_GRACE_S = 300
DNS_TTL_S = 10
# Cloud Map instance id of the host in every service: a replacement host overwrites its predecessor's address.
DISCOVERY_INSTANCE_ID = "consolidated-host"


@dataclass(frozen=True)
class ConsolidatedHost:
    launch_template: aws.ec2.LaunchTemplate
    group: aws.autoscaling.Group
    namespace: aws.servicediscovery.PrivateDnsNamespace
    discovery: dict[str, aws.servicediscovery.Service]
    log_group: aws.cloudwatch.LogGroup


def namespace_name(environment: str) -> str:
    """Private DNS namespace of the services: <service>.tradai-services-<env>.internal resolves to the host."""
    return f"{config.get_resource_name('services', environment)}.internal"


def consolidated_host(
    settings: Settings, upstream: UpstreamOutputs, roles: ComputeRoles, arns: AccountArns, load_balancer: LoadBalancer
) -> ConsolidatedHost:
    """Launch template, an ASG of one in the private subnets behind every target group, Cloud Map, the log group."""
    env = settings.environment
    name = config.get_consolidated_name(env)
    host_tags = config.get_tags(service="consolidated", environment=env, Name=name)
    log_group = _host_log_group(settings)
    namespace, discovery = _service_discovery(settings, upstream)
    registration = _discovery_registration(settings, roles, arns, namespace, discovery)
    user_data = _user_data(settings, upstream, discovery)
    launch_template = _launch_template(settings, upstream, roles, name, host_tags, registration, user_data)
    group = _host_group(upstream, name, host_tags, launch_template, load_balancer, log_group)
    return ConsolidatedHost(launch_template, group, namespace, discovery, log_group)


def _host_log_group(settings: Settings) -> aws.cloudwatch.LogGroup:
    """The log group the services on the host log to."""
    import pulumi_aws as aws

    return aws.cloudwatch.LogGroup(
        "consolidated",
        name=config.CONSOLIDATED_LOG_GROUP,
        retention_in_days=settings.log_retention_days,
        tags=config.get_tags(service="consolidated", environment=settings.environment),
    )


def _service_discovery(
    settings: Settings,
    upstream: UpstreamOutputs,
) -> tuple[aws.servicediscovery.PrivateDnsNamespace, dict[str, aws.servicediscovery.Service]]:
    """The private DNS namespace and one Cloud Map service per service."""
    import pulumi_aws as aws

    env = settings.environment
    namespace = aws.servicediscovery.PrivateDnsNamespace(
        "services",
        name=namespace_name(env),
        vpc=upstream.vpc_id,
        description=f"TradAI services on the consolidated host ({env})",
        tags=config.get_tags(service="consolidated", environment=env),
    )
    discovery = {
        service: aws.servicediscovery.Service(
            f"{service}-discovery",
            name=service,
            dns_config={
                "namespace_id": namespace.id,
                "dns_records": [{"ttl": DNS_TTL_S, "type": "A"}],
                "routing_policy": "MULTIVALUE",
            },
            tags=config.get_tags(service=service, environment=env),
        )
        for service in config.SERVICES
    }
    return namespace, discovery


def _discovery_registration(
    settings: Settings,
    roles: ComputeRoles,
    arns: AccountArns,
    namespace: aws.servicediscovery.PrivateDnsNamespace,
    discovery: dict[str, aws.servicediscovery.Service],
) -> aws.iam.RolePolicy:
    """The instance role's policy to register the host in Cloud Map and write its service records."""
    import pulumi_aws as aws

    return aws.iam.RolePolicy(
        "consolidated-instance-discovery",
        name=config.get_resource_name("consolidated-discovery", settings.environment),
        role=roles.instance.role.id,
        policy=PolicyBuilder()
        .allow(["servicediscovery:RegisterInstance"], [d.arn for d in discovery.values()], sid="RegisterHost")
        .allow(
            ["route53:ChangeResourceRecordSets", "route53:GetHostedZone"],
            [pulumi.Output.concat("arn:", arns.partition, ":route53:::hostedzone/", namespace.hosted_zone)],
            sid="ServiceRecords",
        )
        .to_json(),
    )


def _user_data(
    settings: Settings, upstream: UpstreamOutputs, discovery: dict[str, aws.servicediscovery.Service]
) -> pulumi.Output[str]:
    """The host's boot script, base64-encoded, once images, environments, secret and Cloud Map ids are known."""
    return pulumi.Output.all(
        images=pulumi.Output.all(**{s: upstream.image(s) for s in config.SERVICES}),
        environments=pulumi.Output.all(**{s: container_environment(s, settings, upstream) for s in config.SERVICES}),
        secret_arn=upstream.rds_secret_arn,
        discovery_ids=pulumi.Output.all(**{s: d.id for s, d in discovery.items()}),
    ).apply(lambda values: base64.b64encode(user_data_script(settings, **values).encode()).decode())


def _launch_template(
    settings: Settings,
    upstream: UpstreamOutputs,
    roles: ComputeRoles,
    name: str,
    host_tags: dict[str, str],
    registration: aws.iam.RolePolicy,
    user_data: pulumi.Output[str],
) -> aws.ec2.LaunchTemplate:
    """The host's launch template: the latest arm64 Amazon Linux, the instance profile, IMDSv2, encrypted root."""
    import pulumi_aws as aws

    ami = aws.ssm.get_parameter_output(name=AMI_PARAMETER)
    return aws.ec2.LaunchTemplate(
        "consolidated",
        name=name,
        image_id=pulumi.Output.unsecret(ami.value),
        instance_type=settings.consolidated_instance_type,
        iam_instance_profile={"name": roles.instance_profile.name},
        vpc_security_group_ids=[upstream.ecs_sg_id],
        user_data=user_data,
        # IMDSv2 only; two hops so containers on the docker bridge reach the instance role's credentials.
        metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 2},
        block_device_mappings=[
            {
                "device_name": "/dev/xvda",
                "ebs": {
                    "volume_size": ROOT_VOLUME_GB,
                    "volume_type": "gp3",
                    "encrypted": "true",
                    "delete_on_termination": "true",
                },
            }
        ],
        tag_specifications=[{"resource_type": "volume", "tags": host_tags}],
        update_default_version=True,
        tags=host_tags,
        opts=pulumi.ResourceOptions(depends_on=[roles.instance.policy, registration]),
    )


def _host_group(
    upstream: UpstreamOutputs,
    name: str,
    host_tags: dict[str, str],
    launch_template: aws.ec2.LaunchTemplate,
    load_balancer: LoadBalancer,
    log_group: aws.cloudwatch.LogGroup,
) -> aws.autoscaling.Group:
    """The ASG of one host in the private subnets, registered with every target group."""
    import pulumi_aws as aws

    return aws.autoscaling.Group(
        "consolidated",
        name=name,
        min_size=1,
        max_size=1,
        desired_capacity=1,
        vpc_zone_identifiers=upstream.private_subnet_ids,
        # $Latest: an instance refresh (the asg-refresh runbook) picks up a changed launch template.
        launch_template={"id": launch_template.id, "version": "$Latest"},
        target_group_arns=[tg.arn for tg in load_balancer.target_groups.values()],
        # EC2 health only: one unhealthy service must not make the ASG replace the host running the other three.
        health_check_type="EC2",
        health_check_grace_period=HOST_HEALTH_GRACE_S,
        # The Name tag reaches the instance: the runbooks find the host by it.
        tags=[{"key": k, "value": v, "propagate_at_launch": True} for k, v in sorted(host_tags.items())],
        opts=pulumi.ResourceOptions(depends_on=[log_group, *load_balancer.rules.values()]),
    )


def compose_file(settings: Settings, images: dict[str, str], environments: dict[str, dict[str, str]]) -> str:
    """/opt/tradai/docker-compose.yml: the four services, on their ALB ports, logging to the consolidated log group."""
    services = {}
    for service, spec in config.SERVICES.items():
        container = str(spec["container"])
        entry = {
            "image": images[service],
            "container_name": container,
            "restart": "unless-stopped",
            "ports": [f"{spec['port']}:{spec['port']}"],
            "environment": dict(sorted(environments[service].items())),
            "logging": {
                "driver": "awslogs",
                "options": {
                    "awslogs-region": settings.aws_region,
                    "awslogs-group": config.CONSOLIDATED_LOG_GROUP,
                    "awslogs-stream": container,
                },
            },
        }
        if service == MLFLOW_SERVICE:
            entry["env_file"] = [MLFLOW_ENV_FILE]
        services[service] = entry
    return yaml.safe_dump({"name": config.PROJECT_NAME, "services": services}, sort_keys=True)


def start_script(settings: Settings, images: dict[str, str], secret_arn: str) -> str:
    """/opt/tradai/start.sh: MLflow's database credentials from Secrets Manager, ECR login, docker compose up."""
    region = shlex.quote(settings.aws_region)
    credentials = ", ".join(f'"{variable}=\\(.{key})"' for variable, key in DATABASE_SECRET_KEYS.items())
    registries = sorted({image.split("/", 1)[0] for image in images.values()})
    lines = [
        "#!/bin/bash",
        "# Credentials are fetched at start, into a file only root can read; they never appear in user data.",
        "set -euo pipefail",
        f"cd {config.CONSOLIDATED_COMPOSE_DIR}",
        "umask 077",
        f"aws secretsmanager get-secret-value --region {region} --secret-id {shlex.quote(secret_arn)} "
        f"--query SecretString --output text | jq -r '{credentials}' > {MLFLOW_ENV_FILE}",
        *(
            f"aws ecr get-login-password --region {region} | docker login --username AWS --password-stdin "
            f"{shlex.quote(registry)}"
            for registry in registries
        ),
        "docker compose pull",
        "docker compose up -d",
    ]
    return "\n".join(lines) + "\n"


def user_data_script(
    settings: Settings,
    *,
    images: dict[str, str],
    environments: dict[str, dict[str, str]],
    secret_arn: str,
    discovery_ids: dict[str, str],
) -> str:
    """The host's boot script: docker and compose, the files in /opt/tradai, start, then Cloud Map registration."""
    region = shlex.quote(settings.aws_region)
    directory = config.CONSOLIDATED_COMPOSE_DIR
    ssm_agent = (
        f"https://s3.{settings.aws_region}.amazonaws.com/amazon-ssm-{settings.aws_region}"
        "/latest/linux_arm64/amazon-ssm-agent.rpm"
    )
    compose_url = f"https://github.com/docker/compose/releases/download/{COMPOSE_VERSION}/docker-compose-linux-aarch64"
    lines = [
        "#!/bin/bash",
        f"# Consolidated TradAI host ({settings.environment}): docker compose runs the services from {directory}.",
        "set -euo pipefail",
        "dnf install -y docker jq",
        "# The SSM agent from AWS's regional bucket, so Session Manager works even on an image without one.",
        f"dnf install -y {ssm_agent}",
        "systemctl enable --now docker amazon-ssm-agent",
        f"mkdir -p {COMPOSE_PLUGIN.rsplit('/', 1)[0]}",
        f"curl -fsSL -o {COMPOSE_PLUGIN} {compose_url}",
        f"chmod 755 {COMPOSE_PLUGIN}",
        "# The runbooks call docker-compose; the plugin answers to both spellings.",
        f"ln -sf {COMPOSE_PLUGIN} /usr/local/bin/docker-compose",
        f"mkdir -p {directory}",
        f"cat > {directory}/docker-compose.yml <<'COMPOSE'",
        compose_file(settings, images, environments).rstrip("\n"),
        "COMPOSE",
        f"cat > {directory}/start.sh <<'START'",
        start_script(settings, images, secret_arn).rstrip("\n"),
        "START",
        f"chmod 700 {directory}/start.sh",
        f"{directory}/start.sh",
        "token=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token "
        "-H 'X-aws-ec2-metadata-token-ttl-seconds: 300')",
        'address=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/local-ipv4)',
        *(
            f"aws servicediscovery register-instance --region {region} --service-id {shlex.quote(discovery_ids[s])} "
            f'--instance-id {DISCOVERY_INSTANCE_ID} --attributes "AWS_INSTANCE_IPV4=$address"'
            for s in config.SERVICES
        ),
    ]
    return "\n".join(lines) + "\n"
