"""The internet-facing Application Load Balancer: listeners, a target group per service, the guide's path routing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.compute.upstream import UpstreamOutputs

if TYPE_CHECKING:
    import pulumi_aws as aws

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Listener rule priority of the first service; the next ones follow in config.SERVICES order.
FIRST_RULE_PRIORITY = 10
HEALTH_CHECK: aws.lb.TargetGroupHealthCheckArgsDict = {
    "interval": 30,
    "timeout": 5,
    "healthy_threshold": 2,
    "unhealthy_threshold": 3,
    "matcher": "200",
}
DEREGISTRATION_DELAY_S = 30


@dataclass(frozen=True)
class LoadBalancer:
    """The ALB, the listener the routes hang on (HTTPS when there is a certificate), and the per-service pieces."""

    alb: aws.lb.LoadBalancer
    listener: aws.lb.Listener
    target_groups: dict[str, aws.lb.TargetGroup]
    rules: dict[str, aws.lb.ListenerRule]


def load_balancer(settings: Settings, upstream: UpstreamOutputs) -> LoadBalancer:
    """ALB in the public subnets; HTTPS with an HTTP redirect when settings.certificate_arn is set, else HTTP."""
    import pulumi_aws as aws

    env = settings.environment
    alb = aws.lb.LoadBalancer(
        "alb",
        name=config.get_resource_name("alb", env),
        internal=False,
        load_balancer_type="application",
        security_groups=[upstream.alb_sg_id],
        subnets=upstream.public_subnet_ids,
        drop_invalid_header_fields=True,
        tags=config.get_tags(service="alb", environment=env),
    )
    target_groups = {service: _target_group(service, settings, upstream) for service in config.SERVICES}
    no_route: list[aws.lb.ListenerDefaultActionArgsDict] = [
        {
            "type": "fixed-response",
            "fixed_response": {
                "content_type": "application/json",
                "message_body": json.dumps({"message": "no route for this path"}),
                "status_code": "404",
            },
        }
    ]
    listener_tags = config.get_tags(service="alb", environment=env)
    if settings.certificate_arn:
        listener = aws.lb.Listener(
            "alb-https",
            load_balancer_arn=alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=settings.certificate_arn,
            default_actions=no_route,
            tags=listener_tags,
        )
        aws.lb.Listener(
            "alb-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"},
                }
            ],
            tags=listener_tags,
        )
    else:
        listener = aws.lb.Listener(
            "alb-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=no_route,
            tags=listener_tags,
        )
    rules = {
        service: aws.lb.ListenerRule(
            f"{service}-route",
            listener_arn=listener.arn,
            priority=FIRST_RULE_PRIORITY * (index + 1),
            conditions=[{"path_pattern": {"values": [str(config.SERVICES[service]["path"])]}}],
            actions=[{"type": "forward", "target_group_arn": target_groups[service].arn}],
            tags=config.get_tags(service=service, environment=env),
        )
        for index, service in enumerate(config.SERVICES)
    }
    return LoadBalancer(alb, listener, target_groups, rules)


def _target_group(service: str, settings: Settings, upstream: UpstreamOutputs) -> aws.lb.TargetGroup:
    import pulumi_aws as aws

    env = settings.environment
    return aws.lb.TargetGroup(
        service,
        name=config.get_resource_name(service, env),
        port=int(config.SERVICES[service]["port"]),
        protocol="HTTP",
        vpc_id=upstream.vpc_id,
        # Fargate tasks register by IP (awsvpc); the consolidated host registers itself, once per service port.
        target_type="instance" if settings.consolidated else "ip",
        deregistration_delay=DEREGISTRATION_DELAY_S,
        health_check={"enabled": True, "protocol": "HTTP", "path": config.HEALTH_CHECK_PATHS[service], **HEALTH_CHECK},
        tags=config.get_tags(service=service, environment=env),
    )
