"""The part of the rehearsal estate made from the `local` plan: every planned resource of a kind in REALIZERS is
created in the sandbox with its planned name and inputs, and the values the sandbox returned (ARNs, DNS names, ids)
replace the plan's mock values in the rehearsal state, so its outputs name what the sandbox holds.

A realizer takes the sandbox and a planned resource's inputs (already carrying the sandbox's values of the resources
planned before it) and returns its action (created or exists) and its outputs as the provider names them. A kind is
added by writing its realizer and listing it in REALIZERS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from tradai_nb.errors import SandboxError
from tradai_nb.settings import Settings

if TYPE_CHECKING:
    from tradai_nb.engine.plan import Plan


@dataclass(frozen=True)
class Sandbox:
    """The sandbox a realizer creates in: its session, the local settings, and the network planned resources are put
    in (the default VPC, its subnets in the settings' zones and its default security group: the planned network of
    the foundation stack is not created in the sandbox)."""

    session: boto3.Session
    settings: Settings
    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_id: str


Realizer = Callable[[Sandbox, Mapping[str, Any]], tuple[str, dict[str, Any]]]

_plan_cache: dict[str, Any] = {}


def local_plan(settings: Settings) -> Plan:
    """The offline plan of settings' environment, once per settings and process (a test session or a kernel seeds
    several times with the same programs)."""
    from tradai_nb.engine.plan import plan

    key = settings.model_dump_json()
    if key not in _plan_cache:
        _plan_cache[key] = plan(settings)
    return _plan_cache[key]


def _sandbox(session: boto3.Session, settings: Settings) -> Sandbox:
    ec2 = session.client("ec2")
    subnets = ec2.describe_subnets(
        Filters=[
            {"Name": "default-for-az", "Values": ["true"]},
            {"Name": "availability-zone", "Values": list(settings.availability_zones)},
        ]
    )["Subnets"]
    if not subnets:
        raise SandboxError("the sandbox has no default subnets in the settings' availability zones; restart it")
    vpc_id = subnets[0]["VpcId"]
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["default"]}, {"Name": "vpc-id", "Values": [vpc_id]}]
    )["SecurityGroups"]
    subnet_ids = tuple(s["SubnetId"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"]))
    return Sandbox(session, settings, vpc_id, subnet_ids, groups[0]["GroupId"])


def _tags(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": str(v)} for k, v in {**(inputs.get("tags") or {}), "Purpose": "rehearsal"}.items()]


def _missing(exc: ClientError, *codes: str) -> bool:
    return exc.response.get("Error", {}).get("Code", "") in codes


def _load_balancer(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    elbv2 = sandbox.session.client("elbv2")
    name = inputs["name"]
    try:
        [found] = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
        action = "exists"
    except ClientError as exc:
        if not _missing(exc, "LoadBalancerNotFound"):
            raise
        [found] = elbv2.create_load_balancer(
            Name=name,
            Subnets=list(sandbox.subnet_ids),
            SecurityGroups=[sandbox.security_group_id],
            Scheme="internal" if inputs.get("internal") else "internet-facing",
            Type=inputs.get("loadBalancerType", "application"),
            Tags=_tags(inputs),
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
    elbv2 = sandbox.session.client("elbv2")
    name = inputs["name"]
    try:
        [found] = elbv2.describe_target_groups(Names=[name])["TargetGroups"]
        action = "exists"
    except ClientError as exc:
        if not _missing(exc, "TargetGroupNotFound"):
            raise
        [found] = elbv2.create_target_group(
            Name=name,
            Protocol=inputs["protocol"],
            Port=int(inputs["port"]),
            VpcId=sandbox.vpc_id,
            TargetType=inputs.get("targetType", "instance"),
            Tags=_tags(inputs),
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
    elbv2 = sandbox.session.client("elbv2")
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
            Tags=_tags(inputs),
        )["Listeners"]
        action = "created"
    return action, {"id": found["ListenerArn"], "arn": found["ListenerArn"]}


def _condition(condition: Mapping[str, Any]) -> dict[str, Any]:
    if set(condition) != {"pathPattern"}:
        raise SandboxError(f"a planned listener-rule condition {sorted(condition)} cannot be created in the sandbox")
    return {"Field": "path-pattern", "PathPatternConfig": {"Values": list(condition["pathPattern"]["values"])}}


def _listener_rule(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    elbv2 = sandbox.session.client("elbv2")
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
            Tags=_tags(inputs),
        )["Rules"]
        action = "created"
    return action, {"id": found["RuleArn"], "arn": found["RuleArn"]}


# Planned resource type -> (seed kind, realizer), in no particular order: resources are realized in plan order, so a
# resource's inputs already carry the sandbox's values of what it depends on.
REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:lb/loadBalancer:LoadBalancer": ("load balancer", _load_balancer),
    "aws:lb/targetGroup:TargetGroup": ("target group", _target_group),
    "aws:lb/listener:Listener": ("listener", _listener),
    "aws:lb/listenerRule:ListenerRule": ("listener rule", _listener_rule),
}


def in_sandbox(value: Any, sandbox_values: Mapping[str, str]) -> Any:
    """value (a plan's inputs, outputs or exports) with every planned value the sandbox replaced by the sandbox's,
    also inside longer strings (a dashboard body, an alarm's dimension)."""
    if not sandbox_values:
        return value
    pattern = re.compile("|".join(re.escape(k) for k in sorted(sandbox_values, key=len, reverse=True)))

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return pattern.sub(lambda m: sandbox_values[m.group(0)], item)
        if isinstance(item, Mapping):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v) for v in item]
        return item

    return walk(value)


def realize(session: boto3.Session, settings: Settings) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """Create in the sandbox every planned resource of a kind in REALIZERS (idempotent). Returns the seed rows (kind,
    name, action) and the sandbox's values by the planned values they replace."""
    sandbox = _sandbox(session, settings)
    rows: list[tuple[str, str, str]] = []
    sandbox_values: dict[str, str] = {}
    for stack_plan in local_plan(settings).stacks:
        for row in stack_plan.resources.itertuples(index=False):
            if row.type not in REALIZERS:
                continue
            kind, realizer = REALIZERS[row.type]
            action, outputs = realizer(sandbox, in_sandbox(row.inputs, sandbox_values))
            planned = {**row.outputs, "id": row.id}
            for key, value in outputs.items():
                if isinstance(planned.get(key), str) and planned[key] != value:
                    sandbox_values[planned[key]] = value
            rows.append((kind, row.inputs.get("name") or outputs["arn"], action))
    return rows, sandbox_values


def seed_planned(session: boto3.Session, settings: Settings) -> Iterable[tuple[str, str, str]]:
    """Seeder of the sandbox: the planned resources REALIZERS can create, with their planned names and inputs."""
    rows, _ = realize(session, settings)
    yield from rows


def sandbox_values(session: boto3.Session, settings: Settings) -> dict[str, str]:
    """The sandbox's values by the planned values they replace (creating what is missing, as seed_planned does)."""
    return realize(session, settings)[1]
