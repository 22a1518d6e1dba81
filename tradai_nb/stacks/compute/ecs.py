"""The ECS cluster with container insights and the FARGATE and FARGATE_SPOT capacity providers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tradai_nb import config
from tradai_nb.settings import Settings

if TYPE_CHECKING:
    import pulumi_aws as aws

CAPACITY_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


@dataclass(frozen=True)
class Cluster:
    """The cluster, and its capacity-provider association (services and tasks must wait for it)."""

    cluster: aws.ecs.Cluster
    capacity_providers: aws.ecs.ClusterCapacityProviders


def default_capacity_provider(settings: Settings) -> str:
    """What tasks without their own strategy (backtest runs) use: Spot where the environment allows it."""
    return "FARGATE_SPOT" if settings.fargate_spot else "FARGATE"


def cluster(settings: Settings) -> Cluster:
    """Cluster config.get_cluster_name(env) with both Fargate capacity providers associated."""
    import pulumi_aws as aws

    env = settings.environment
    ecs_cluster = aws.ecs.Cluster(
        "cluster",
        name=config.get_cluster_name(env),
        settings=[{"name": "containerInsights", "value": "enabled"}],
        tags=config.get_tags(service="ecs", environment=env),
    )
    capacity = aws.ecs.ClusterCapacityProviders(
        "cluster",
        cluster_name=ecs_cluster.name,
        capacity_providers=list(CAPACITY_PROVIDERS),
        default_capacity_provider_strategies=[
            {"capacity_provider": default_capacity_provider(settings), "weight": 1, "base": 0},
        ],
    )
    return Cluster(ecs_cluster, capacity)
