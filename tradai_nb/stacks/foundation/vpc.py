"""The VPC: six subnets (two AZs x public, private, data tiers), the internet gateway and one route table per tier."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from tradai_nb import config
from tradai_nb.settings import Settings

TIERS = ("public", "private", "data")
# The VPC is cut into 2**3 = 8 equal blocks; the six subnets take the first six in tier-major order and the last
# two stay free for a future tier (a /16 gives /19 subnets of 8,192 addresses).
_SUBNET_PREFIX_BITS = 3
NETWORK_SERVICE = "network"


@dataclass(frozen=True)
class Network:
    """What the other foundation modules build on: the VPC, its subnets and route tables by tier."""

    vpc: Any
    cidr: str
    internet_gateway: Any
    subnets: dict[str, list[Any]]  # tier -> one subnet per AZ, in settings.availability_zones order
    subnet_cidrs: dict[str, list[str]]
    route_tables: dict[str, Any]  # tier -> route table


def subnet_cidrs(vpc_cidr: str) -> dict[str, list[str]]:
    """The subnet CIDRs per tier, carved deterministically from the VPC CIDR (two per tier, one per AZ)."""
    network = ipaddress.ip_network(vpc_cidr, strict=True)
    blocks = list(network.subnets(prefixlen_diff=_SUBNET_PREFIX_BITS))
    return {tier: [str(blocks[2 * t]), str(blocks[2 * t + 1])] for t, tier in enumerate(TIERS)}


def az_suffix(availability_zone: str) -> str:
    """The zone letter of an AZ name (eu-central-1a -> a), used in resource and Name tags."""
    return availability_zone[-1]


def create_network(settings: Settings) -> Network:
    """Create the VPC, internet gateway, subnets, route tables and their associations."""
    from pulumi_aws import ec2

    env = settings.environment

    def tags(name: str) -> dict[str, str]:
        return config.get_tags(service=NETWORK_SERVICE, environment=env, Name=config.get_resource_name(name, env))

    vpc = ec2.Vpc(
        "vpc",
        cidr_block=settings.vpc_cidr,
        enable_dns_support=True,
        enable_dns_hostnames=True,  # interface endpoints with private DNS need both
        tags=tags("vpc"),
    )
    internet_gateway = ec2.InternetGateway("internet-gateway", vpc_id=vpc.id, tags=tags("igw"))

    cidrs = subnet_cidrs(settings.vpc_cidr)
    subnets: dict[str, list[Any]] = {}
    route_tables: dict[str, Any] = {}
    for tier in TIERS:
        route_tables[tier] = ec2.RouteTable(f"{tier}-route-table", vpc_id=vpc.id, tags=tags(f"{tier}-rt"))
        subnets[tier] = []
        for zone, cidr in zip(settings.availability_zones, cidrs[tier], strict=True):
            letter = az_suffix(zone)
            subnet = ec2.Subnet(
                f"{tier}-subnet-{letter}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                # Nothing gets a public IP by accident; the NAT instance asks for one in its launch template.
                map_public_ip_on_launch=False,
                tags={**tags(f"{tier}-{letter}"), "Tier": tier},
            )
            ec2.RouteTableAssociation(
                f"{tier}-subnet-{letter}-routes", subnet_id=subnet.id, route_table_id=route_tables[tier].id
            )
            subnets[tier].append(subnet)

    ec2.Route(
        "public-default-route",
        route_table_id=route_tables["public"].id,
        destination_cidr_block="0.0.0.0/0",
        gateway_id=internet_gateway.id,
    )
    # The private tier's default route goes to the NAT instance (nat_instance.py); the data tier has none.
    return Network(vpc, settings.vpc_cidr, internet_gateway, subnets, cidrs, route_tables)
