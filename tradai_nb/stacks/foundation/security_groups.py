"""The five security groups (alb, ecs, rds, vpc_endpoint, nat), their rules: minimal ingress, one rule per resource."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.foundation.vpc import NETWORK_SERVICE, Network, az_suffix

ANYWHERE = "0.0.0.0/0"
POSTGRES_PORT = 5432
# The only ports open to the world, and only on the load balancer.
ALB_PUBLIC_PORTS = (80, 443)
GROUPS = ("alb", "ecs", "rds", "vpc_endpoint", "nat")
DESCRIPTIONS = {
    "alb": "Application load balancer: HTTP and HTTPS from the internet",
    "ecs": "ECS services and the consolidated host: service ports from the load balancer",
    "rds": "MLflow PostgreSQL: 5432 from the services",
    "vpc_endpoint": "Interface VPC endpoints: HTTPS from inside the VPC",
    "nat": "NAT instance: all traffic from the private subnets",
}
# Resource and physical names use dashes: tradai-vpc-endpoint-sg-dev.
SLUGS = {key: f"{key.replace('_', '-')}-sg" for key in GROUPS}


@dataclass(frozen=True)
class SecurityGroups:
    """The five groups by role; compute and edge attach them through the stack's *_sg_id exports."""

    alb: Any
    ecs: Any
    rds: Any
    vpc_endpoint: Any
    nat: Any


def service_ports() -> list[int]:
    """The container ports of the services behind the load balancer, ascending."""
    return sorted({int(spec["port"]) for spec in config.SERVICES.values()})


def create_security_groups(settings: Settings, network: Network) -> SecurityGroups:
    """Create the groups, then each ingress and egress rule as its own resource (so each is visible in a plan)."""
    from pulumi_aws import ec2
    from pulumi_aws import vpc as vpc_rules

    env = settings.environment

    def tags(name: str) -> dict[str, str]:
        return config.get_tags(service=NETWORK_SERVICE, environment=env, Name=config.get_resource_name(name, env))

    # The VPC's default group allows all traffic between its members; with no rules declared, it is emptied,
    # so anything launched without an explicit group is isolated rather than open.
    ec2.DefaultSecurityGroup("default-security-group", vpc_id=network.vpc.id, tags=tags("default-sg"))

    groups = {
        key: ec2.SecurityGroup(
            SLUGS[key],
            name=config.get_resource_name(SLUGS[key], env),
            description=DESCRIPTIONS[key],
            vpc_id=network.vpc.id,
            tags=tags(SLUGS[key]),
        )
        for key in GROUPS
    }

    def ingress(name: str, group: str, description: str, port: int | None = None, **peer: str) -> None:
        _rule(vpc_rules.SecurityGroupIngressRule, "in", groups, tags, name, group, description, port, **peer)

    def egress(name: str, group: str, description: str, port: int | None = None, **peer: str) -> None:
        _rule(vpc_rules.SecurityGroupEgressRule, "out", groups, tags, name, group, description, port, **peer)

    for port in ALB_PUBLIC_PORTS:
        ingress(f"{port}-internet", "alb", f"port {port} from the internet", port, cidr=ANYWHERE)
    for port in service_ports():
        egress(f"{port}-ecs", "alb", f"service port {port} to the services", port, peer_group="ecs")
        ingress(f"{port}-alb", "ecs", f"service port {port} from the load balancer", port, peer_group="alb")
    egress("all", "ecs", "image pulls, AWS APIs and exchanges through the endpoints and the NAT", cidr=ANYWHERE)
    ingress("postgres-ecs", "rds", "PostgreSQL from the services", POSTGRES_PORT, peer_group="ecs")
    ingress("https-vpc", "vpc_endpoint", "HTTPS from inside the VPC", 443, cidr=network.cidr)
    for zone, cidr in zip(settings.availability_zones, network.subnet_cidrs["private"], strict=True):
        ingress(f"private-{az_suffix(zone)}", "nat", f"all traffic from private subnet {cidr}", cidr=cidr)
    egress("all", "nat", "forwarded traffic to the internet", cidr=ANYWHERE)
    return SecurityGroups(**groups)


def _rule(
    kind: Any,
    direction: str,
    groups: dict[str, Any],
    tags: Any,
    name: str,
    group: str,
    description: str,
    port: int | None,
    *,
    cidr: str | None = None,
    peer_group: str | None = None,
) -> None:
    """One ingress or egress rule of `group`, from or to a CIDR or another of the groups."""
    resource_name = f"{SLUGS[group]}-{direction}-{name}"
    kind(
        resource_name,
        security_group_id=groups[group].id,
        description=description,
        **_ports(port),
        cidr_ipv4=cidr,
        referenced_security_group_id=groups[peer_group].id if peer_group else None,
        tags=tags(resource_name),
    )


def _ports(port: int | None) -> dict[str, Any]:
    """Rule arguments for one TCP port, or for all traffic when no port is given."""
    if port is None:
        return {"ip_protocol": "-1"}
    return {"ip_protocol": "tcp", "from_port": port, "to_port": port}
