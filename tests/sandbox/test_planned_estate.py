"""The estate made from the local plan: what the rehearsal state's outputs name exists in the sandbox, in one account."""

from __future__ import annotations

import re

from tradai_nb import config
from tradai_nb.sandbox import rehearsal_state
from tradai_nb.sandbox.realizers import load_balancing
from tradai_nb.state import backend

ELBV2_ARN = re.compile(r"^arn:aws:(elasticloadbalancing|lb):")
# partition, service, region, account: the service and account of an ARN.
ARN = re.compile(r"arn:aws[\w-]*:([\w-]+):[\w-]*:([^:/\s\"]*):")
# What stands in an account's place in ARNs that name none besides an empty field (S3 buckets, Route 53 zones, Step
# Functions' service integrations): AWS managed policies, API Gateway's Lambda integration path.
NO_ACCOUNT = {("iam", "aws"), ("apigateway", "lambda")}


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _checkpoint_resources(sandbox, stack: str) -> list[dict]:
    return rehearsal_state.checkpoint_resources(sandbox.session, sandbox.settings, stack)


def _resolves(elbv2, arn: str) -> bool:
    kind = arn.split(":", 5)[5].split("/", 1)[0]
    if kind == "loadbalancer":
        return len(elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]) == 1
    if kind == "targetgroup":
        return len(elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]) == 1
    if kind == "listener":
        return len(elbv2.describe_listeners(ListenerArns=[arn])["Listeners"]) == 1
    if kind == "listener-rule":
        return len(elbv2.describe_rules(RuleArns=[arn])["Rules"]) == 1
    return False


def test_rehearsal_state__every_load_balancing_output_of_compute_and_edge_exists_in_the_sandbox(sandbox):
    elbv2 = sandbox.session.client("elbv2")
    dns_names = {b["DNSName"] for b in elbv2.describe_load_balancers()["LoadBalancers"]}
    arns = []
    for stack in ("compute", "edge"):
        outputs = _checkpoint_resources(sandbox, stack)[0]["outputs"]
        arns += [value for value in _strings(outputs) if ELBV2_ARN.match(value)]
        if "alb_dns_name" in outputs:
            assert outputs["alb_dns_name"] in dns_names
    compute = _checkpoint_resources(sandbox, "compute")[0]["outputs"]

    assert {compute["alb_arn"], compute["alb_listener_arn"], *compute["target_group_arns"].values()} <= set(arns)
    assert [arn for arn in arns if not _resolves(elbv2, arn)] == []
    assert compute["alb_arn"].endswith(":loadbalancer/" + compute["alb_arn_suffix"])


def test_rehearsal_state__every_planned_load_balancing_resource_carries_what_the_sandbox_returned(sandbox):
    elbv2 = sandbox.session.client("elbv2")
    resources = [r for r in _checkpoint_resources(sandbox, "compute") if r["type"] in load_balancing.REALIZERS]

    assert {r["type"] for r in resources} == set(load_balancing.REALIZERS)
    for resource in resources:
        assert resource["id"] == resource["outputs"]["arn"], resource["urn"]
        assert _resolves(elbv2, resource["outputs"]["arn"]), resource["urn"]
    [balancer] = [r for r in resources if r["type"] == "aws:lb/loadBalancer:LoadBalancer"]
    [described] = elbv2.describe_load_balancers(Names=[balancer["inputs"]["name"]])["LoadBalancers"]
    assert balancer["outputs"]["dnsName"] == described["DNSName"]
    [listener] = [r for r in resources if r["type"] == "aws:lb/listener:Listener"]
    assert listener["inputs"]["loadBalancerArn"] == described["LoadBalancerArn"]


def test_rehearsal_state__edge_alarms_watch_the_sandbox_load_balancer(sandbox):
    compute = _checkpoint_resources(sandbox, "compute")[0]["outputs"]
    alarms = [r for r in _checkpoint_resources(sandbox, "edge") if r["type"] == "aws:cloudwatch/metricAlarm:MetricAlarm"]
    dimensions = [a["inputs"]["dimensions"] for a in alarms if "LoadBalancer" in (a["inputs"].get("dimensions") or {})]

    assert dimensions
    assert {d["LoadBalancer"] for d in dimensions} == {compute["alb_arn_suffix"]}


def test_rehearsal_state__every_arn_carries_the_sandbox_account(sandbox):
    account = sandbox.session.client("sts").get_caller_identity()["Account"]
    store = backend.state_store_for(sandbox.settings, sandbox.session)
    accounts = [
        found
        for ref in store.stacks()
        for resource in store.read_checkpoint(ref)["checkpoint"]["latest"]["resources"]
        for value in _strings({k: v for k, v in resource.items() if k in ("id", "inputs", "outputs")})
        for found in ARN.findall(value)
    ]

    assert account == config.PLAN_ACCOUNT_ID
    assert len(accounts) > 100
    assert {found for service, found in accounts if found and (service, found) not in NO_ACCOUNT} == {account}
