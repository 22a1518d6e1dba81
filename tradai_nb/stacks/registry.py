"""The stack registry: each stack's program factory, upstream stacks and destroy policy, in dependency order."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum

from tradai_nb.errors import ConfigError
from tradai_nb.settings import Settings

Program = Callable[[], None]


class DestroyPolicy(Enum):
    """Who may destroy a stack."""

    NEVER = "never"  # persistent: data-bearing, never destroyed
    EXPLICIT_ALLOW = "explicit-allow"  # foundation: only with an explicit allow parameter
    FREELY = "freely"  # compute, edge: freely in dev/local (staging/prod still need confirm)


@dataclass(frozen=True)
class StackSpec:
    """One stack: its name, the module holding its program factory, its upstreams and destroy policy."""

    name: str
    module: str
    upstream: tuple[str, ...]
    destroy_policy: DestroyPolicy
    description: str

    def program(self, settings: Settings) -> Program:
        """The stack's Pulumi program for these settings (imports the stack package on first use)."""
        factory = importlib.import_module(self.module).make_program
        return factory(settings)


class StackRegistry:
    """Stacks by name, walked in registration (dependency) order."""

    def __init__(self) -> None:
        self._stacks: dict[str, StackSpec] = {}

    def register(self, spec: StackSpec) -> None:
        missing = [u for u in spec.upstream if u not in self._stacks]
        if missing:
            raise ConfigError(f"stack {spec.name!r} registered before its upstream stacks {missing}")
        self._stacks[spec.name] = spec

    def get(self, name: str) -> StackSpec:
        try:
            return self._stacks[name]
        except KeyError:
            raise ConfigError(f"unknown stack {name!r}; known stacks: {', '.join(self._stacks)}") from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._stacks)

    def __iter__(self) -> Iterator[StackSpec]:
        return iter(self._stacks.values())

    def with_upstreams(self, name: str) -> list[StackSpec]:
        """The stack and everything it reads from, in dependency order."""
        wanted: set[str] = set()

        def visit(stack: str) -> None:
            if stack not in wanted:
                wanted.add(stack)
                for upstream in self.get(stack).upstream:
                    visit(upstream)

        visit(name)
        return [spec for spec in self if spec.name in wanted]


stacks = StackRegistry()
stacks.register(
    StackSpec(
        "persistent",
        "tradai_nb.stacks.persistent",
        (),
        DestroyPolicy.NEVER,
        "S3 buckets, DynamoDB tables, ECR repositories, Cognito, CodeArtifact, CloudTrail, Pulumi state bucket",
    )
)
stacks.register(
    StackSpec(
        "foundation",
        "tradai_nb.stacks.foundation",
        (),
        DestroyPolicy.EXPLICIT_ALLOW,
        "VPC, subnets, NAT instance, security groups, NACLs, VPC endpoints, flow logs, RDS, SQS, SNS",
    )
)
stacks.register(
    StackSpec(
        "compute",
        "tradai_nb.stacks.compute",
        ("persistent", "foundation"),
        DestroyPolicy.FREELY,
        "IAM roles, ALB, ECS cluster and services or the consolidated EC2 host, Lambda functions, Step Functions",
    )
)
stacks.register(
    StackSpec(
        "edge",
        "tradai_nb.stacks.edge",
        ("persistent", "foundation", "compute"),
        DestroyPolicy.FREELY,
        "API Gateway HTTP API, WAF WebACL, CloudWatch alarms and dashboard",
    )
)
