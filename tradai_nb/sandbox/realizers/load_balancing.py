"""The load balancer, its target groups, listener and listener rules, as the compute stack plans them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from tradai_nb.errors import SandboxError
from tradai_nb.sandbox.realizers.base import Realizer, Sandbox, missing, tags


def _load_balancer(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    elbv2 = sandbox.client("elbv2")
    name = inputs["name"]
    try:
        [found] = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
        action = "exists"
    except ClientError as exc:
        if not missing(exc, "LoadBalancerNotFound"):
            raise
        [found] = elbv2.create_load_balancer(
            Name=name,
            Subnets=list(inputs["subnets"]),
            SecurityGroups=list(inputs.get("securityGroups") or []),
            Scheme="internal" if inputs.get("internal") else "internet-facing",
            Type=inputs.get("loadBalancerType", "application"),
            Tags=tags(inputs),
        )["LoadBalancers"]
        action = "created"
    arn = found["LoadBalancerArn"]
    return action, {
        "id": arn,
        "arn": arn,
        "arnSuffix": arn.split(":loadbalancer/", 1)[1],
        "dnsName": found["DNSName"],
        "zoneId": found["CanonicalHostedZoneId"],
    }


def _health_check(check: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "HealthCheckEnabled": bool(check.get("enabled", True)),
        "HealthCheckPath": check["path"],
        "HealthCheckProtocol": check.get("protocol", "HTTP"),
        "HealthCheckIntervalSeconds": int(check["interval"]),
        "HealthCheckTimeoutSeconds": int(check["timeout"]),
        "HealthyThresholdCount": int(check["healthyThreshold"]),
        "UnhealthyThresholdCount": int(check["unhealthyThreshold"]),
        "Matcher": {"HttpCode": check["matcher"]},
    }


def _target_group(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    elbv2 = sandbox.client("elbv2")
    name = inputs["name"]
    try:
        [found] = elbv2.describe_target_groups(Names=[name])["TargetGroups"]
        action = "exists"
    except ClientError as exc:
        if not missing(exc, "TargetGroupNotFound"):
            raise
        [found] = elbv2.create_target_group(
            Name=name,
            Protocol=inputs["protocol"],
            Port=int(inputs["port"]),
            VpcId=inputs["vpcId"],
            TargetType=inputs.get("targetType", "instance"),
            Tags=tags(inputs),
            **_health_check(inputs.get("healthCheck") or {}),
        )["TargetGroups"]
        if "deregistrationDelay" in inputs:
            elbv2.modify_target_group_attributes(
                TargetGroupArn=found["TargetGroupArn"],
                Attributes=[
                    {"Key": "deregistration_delay.timeout_seconds", "Value": str(int(inputs["deregistrationDelay"]))}
                ],
            )
        action = "created"
    arn = found["TargetGroupArn"]
    return action, {"id": arn, "arn": arn, "arnSuffix": arn.rsplit(":", 1)[1]}


def _action(action: Mapping[str, Any]) -> dict[str, Any]:
    """A listener or rule action in the API's shape (the kinds the plan uses: forward and fixed-response)."""
    if action["type"] == "forward":
        return {"Type": "forward", "TargetGroupArn": action["targetGroupArn"]}
    if action["type"] == "fixed-response":
        fixed = action["fixedResponse"]
        return {
            "Type": "fixed-response",
            "FixedResponseConfig": {
                "StatusCode": fixed["statusCode"],
                "ContentType": fixed["contentType"],
                "MessageBody": fixed.get("messageBody", ""),
            },
        }
    raise SandboxError(f"a planned load-balancer action of type {action['type']!r} cannot be created in the sandbox")


def _listener(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    elbv2 = sandbox.client("elbv2")
    port = int(inputs["port"])
    listeners = elbv2.describe_listeners(LoadBalancerArn=inputs["loadBalancerArn"])["Listeners"]
    found = next((listener for listener in listeners if listener["Port"] == port), None)
    action = "exists"
    if found is None:
        [found] = elbv2.create_listener(
            LoadBalancerArn=inputs["loadBalancerArn"],
            Protocol=inputs["protocol"],
            Port=port,
            DefaultActions=[_action(a) for a in inputs["defaultActions"]],
            Tags=tags(inputs),
        )["Listeners"]
        action = "created"
    return action, {"id": found["ListenerArn"], "arn": found["ListenerArn"]}


def _condition(condition: Mapping[str, Any]) -> dict[str, Any]:
    if set(condition) != {"pathPattern"}:
        raise SandboxError(f"a planned listener-rule condition {sorted(condition)} cannot be created in the sandbox")
    return {"Field": "path-pattern", "PathPatternConfig": {"Values": list(condition["pathPattern"]["values"])}}


def _listener_rule(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    elbv2 = sandbox.client("elbv2")
    priority = str(int(inputs["priority"]))
    rules = elbv2.describe_rules(ListenerArn=inputs["listenerArn"])["Rules"]
    found = next((rule for rule in rules if rule["Priority"] == priority), None)
    action = "exists"
    if found is None:
        [found] = elbv2.create_rule(
            ListenerArn=inputs["listenerArn"],
            Priority=int(priority),
            Conditions=[_condition(c) for c in inputs["conditions"]],
            Actions=[_action(a) for a in inputs["actions"]],
            Tags=tags(inputs),
        )["Rules"]
        action = "created"
    return action, {"id": found["RuleArn"], "arn": found["RuleArn"]}


REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:lb/loadBalancer:LoadBalancer": ("load balancer", _load_balancer),
    "aws:lb/targetGroup:TargetGroup": ("target group", _target_group),
    "aws:lb/listener:Listener": ("listener", _listener),
    "aws:lb/listenerRule:ListenerRule": ("listener rule", _listener_rule),
}
