"""Network ACLs, one per subnet tier and associated with every subnet: a stateless second fence behind the groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.foundation.vpc import NETWORK_SERVICE, TIERS, Network, az_suffix

if TYPE_CHECKING:
    from pulumi_aws import ec2

ANYWHERE = "0.0.0.0/0"
# NACLs are stateless: replies to connections opened from inside come back to these ports.
EPHEMERAL_PORTS = (1024, 65535)


def _rule(
    rule_no: int, cidr: str, protocol: str = "-1", ports: tuple[int, int] = (0, 0)
) -> ec2.NetworkAclIngressArgsDict:
    return {
        "rule_no": rule_no,
        "action": "allow",
        "protocol": protocol,
        "cidr_block": cidr,
        "from_port": ports[0],
        "to_port": ports[1],
    }


def tier_rules(vpc_cidr: str) -> dict[str, dict[str, list[ec2.NetworkAclIngressArgsDict]]]:
    """Allow rules per tier and direction; anything not allowed hits the implicit deny. Ingress and egress rules
    have the same shape in pulumi-aws (NetworkAclIngressArgsDict and NetworkAclEgressArgsDict)."""
    return {
        # The load balancer's listeners, the NAT's forwarded traffic from inside, and replies from the internet.
        "public": {
            "ingress": [
                _rule(100, ANYWHERE, "tcp", (80, 80)),
                _rule(110, ANYWHERE, "tcp", (443, 443)),
                _rule(120, vpc_cidr),
                _rule(130, ANYWHERE, "tcp", EPHEMERAL_PORTS),
            ],
            "egress": [_rule(100, ANYWHERE)],
        },
        # Services: anything from inside the VPC, replies to what they opened through the NAT and the endpoints.
        "private": {
            "ingress": [_rule(100, vpc_cidr), _rule(110, ANYWHERE, "tcp", EPHEMERAL_PORTS)],
            "egress": [_rule(100, ANYWHERE)],
        },
        # The database tier talks to the VPC only, in both directions.
        "data": {
            "ingress": [_rule(100, vpc_cidr)],
            "egress": [_rule(100, vpc_cidr)],
        },
    }


def create_network_acls(settings: Settings, network: Network) -> None:
    """One NACL per tier with its rules inline, and an association for each of the tier's subnets."""
    from pulumi_aws import ec2

    env = settings.environment
    rules = tier_rules(network.cidr)
    for tier in TIERS:
        acl = ec2.NetworkAcl(
            f"{tier}-nacl",
            vpc_id=network.vpc.id,
            ingress=rules[tier]["ingress"],
            egress=rules[tier]["egress"],
            tags=config.get_tags(
                service=NETWORK_SERVICE, environment=env, Name=config.get_resource_name(f"{tier}-nacl", env), Tier=tier
            ),
        )
        for zone, subnet in zip(settings.availability_zones, network.subnets[tier], strict=True):
            ec2.NetworkAclAssociation(f"{tier}-nacl-{az_suffix(zone)}", network_acl_id=acl.id, subnet_id=subnet.id)
