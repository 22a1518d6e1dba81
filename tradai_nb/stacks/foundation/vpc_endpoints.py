"""VPC endpoints: S3 and DynamoDB gateways on the private and data route tables; ECR, STS, SSM, SQS interfaces."""

from __future__ import annotations

from typing import Any

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.foundation.vpc import NETWORK_SERVICE, Network
from tradai_nb.stacks.policy import PolicyBuilder

GATEWAY_SERVICES = ("s3", "dynamodb")
INTERFACE_SERVICES = ("ecr.api", "ecr.dkr", "sts", "ssm", "sqs")
ROUTED_TIERS = ("private", "data")
_ESTATE_OBJECT_ACTIONS = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]
_ESTATE_BUCKET_ACTIONS = [
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
    "s3:GetBucketLocation",
]


def service_name(region: str, service: str) -> str:
    """The endpoint service name of an AWS service in a region: com.amazonaws.<region>.<service>."""
    return f"com.amazonaws.{region}.{service}"


def system_package_buckets(region: str) -> list[str]:
    """Buckets AWS serves OS packages and agents from; instances behind the endpoint still need them."""
    return [
        f"arn:aws:s3:::al2023-repos-{region}-*/*",  # Amazon Linux 2023 dnf repositories
        f"arn:aws:s3:::amazonlinux-2-repos-{region}/*",
        f"arn:aws:s3:::amazon-ssm-{region}/*",  # SSM agent packages
        f"arn:aws:s3:::amazon-ssm-packages-{region}/*",
        f"arn:aws:s3:::aws-ssm-{region}/*",
    ]


def s3_endpoint_policy(settings: Settings) -> pulumi.Output[str]:
    """Through the S3 endpoint: the estate's buckets, ECR image layers and the system package buckets; nothing else,
    so the VPC cannot be used to copy data to someone else's bucket."""
    env, region = settings.environment, settings.aws_region
    buckets = [config.get_bucket_name(key, env) for key in (*config.S3_BUCKETS, config.STATE_BUCKET_KEY)]
    return (
        PolicyBuilder()
        .allow(_ESTATE_BUCKET_ACTIONS, [f"arn:aws:s3:::{b}" for b in buckets], sid="AllowEstateBuckets", principal="*")
        .allow(
            _ESTATE_OBJECT_ACTIONS, [f"arn:aws:s3:::{b}/*" for b in buckets], sid="AllowEstateObjects", principal="*"
        )
        .allow(
            ["s3:GetObject"],
            [f"arn:aws:s3:::prod-{region}-starport-layer-bucket/*"],
            sid="AllowEcrImageLayers",
            principal="*",
        )
        .allow(["s3:GetObject"], system_package_buckets(region), sid="AllowSystemPackageBuckets", principal="*")
        .to_json()
    )


def create_vpc_endpoints(settings: Settings, network: Network, endpoint_security_group: Any) -> None:
    """Gateway endpoints route S3/DynamoDB traffic past the NAT; interface endpoints keep image pulls and AWS API
    calls of the private tier inside the VPC."""
    from pulumi_aws import ec2

    env, region = settings.environment, settings.aws_region

    def tags(service: str) -> dict[str, str]:
        slug = service.replace(".", "-")
        return config.get_tags(
            service=NETWORK_SERVICE, environment=env, Name=config.get_resource_name(f"{slug}-endpoint", env)
        )

    route_table_ids = [network.route_tables[tier].id for tier in ROUTED_TIERS]
    policies = {"s3": s3_endpoint_policy(settings)}
    for service in GATEWAY_SERVICES:
        ec2.VpcEndpoint(
            f"{service}-gateway-endpoint",
            vpc_id=network.vpc.id,
            service_name=service_name(region, service),
            vpc_endpoint_type="Gateway",
            route_table_ids=route_table_ids,
            policy=policies.get(service),
            tags=tags(service),
        )
    for service in INTERFACE_SERVICES:
        ec2.VpcEndpoint(
            f"{service.replace('.', '-')}-interface-endpoint",
            vpc_id=network.vpc.id,
            service_name=service_name(region, service),
            vpc_endpoint_type="Interface",
            subnet_ids=[subnet.id for subnet in network.subnets["private"]],
            security_group_ids=[endpoint_security_group.id],
            private_dns_enabled=True,
            tags=tags(service),
        )
