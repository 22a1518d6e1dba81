"""Every output of the rehearsal state points at something the sandbox holds: each ARN in the outputs of a realized
resource and in every stack's exports is described in the sandbox by its service's API, and each exported name, id, URL
and DNS name is one the sandbox holds for the resource that produced it. The only exceptions are the values produced by
a kind no realizer serves (listed by `tradai-nb sandbox status`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from tradai_nb.sandbox.realizers import REALIZERS

ARN = re.compile(r"arn:aws:(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):(?P<account>\d*):(?P<resource>.+)")


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _exists(call: Callable[[], Any], *absent: str) -> bool:
    try:
        return bool(call())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in absent or "NotFound" in exc.response.get("Error", {}).get(
            "Code", ""
        ):
            return False
        raise


def _arn_resolves(session, arn: str) -> bool:
    """Whether the sandbox describes arn, by its service's API (an ARN no resolver knows fails the test)."""
    match = ARN.fullmatch(arn)
    assert match, f"not an ARN: {arn}"
    service, resource = match["service"], match["resource"]
    # The resource's kind and the rest, split at its first ':' or '/' (a bucket's or queue's is its name alone).
    kind, _, rest = re.sub(r"[:/]", "\0", resource, count=1).partition("\0")
    client = session.client
    resolvers: dict[tuple[str, str], Callable[[], bool]] = {
        ("s3", kind): lambda: _exists(lambda: client("s3").head_bucket(Bucket=resource), "404", "NoSuchBucket"),
        ("dynamodb", "table"): lambda: _exists(lambda: client("dynamodb").describe_table(TableName=rest)),
        ("ecr", "repository"): lambda: _exists(
            lambda: client("ecr").describe_repositories(repositoryNames=[rest])["repositories"]
        ),
        ("sqs", kind): lambda: _exists(lambda: client("sqs").get_queue_url(QueueName=resource), "QueueDoesNotExist"),
        ("sns", kind): lambda: _exists(
            lambda: (
                client("sns").get_topic_attributes(TopicArn=arn)
                if resource.count(":") == 0
                else client("sns").get_subscription_attributes(SubscriptionArn=arn)
            )
        ),
        ("logs", "log-group"): lambda: any(
            g["logGroupName"] == rest.removesuffix(":*")
            for g in client("logs").describe_log_groups(logGroupNamePrefix=rest.removesuffix(":*"))["logGroups"]
        ),
        ("lambda", "function"): lambda: _exists(lambda: client("lambda").get_function(FunctionName=arn)),
        ("states", "stateMachine"): lambda: _exists(
            lambda: client("stepfunctions").describe_state_machine(stateMachineArn=arn)
        ),
        ("iam", "role"): lambda: _exists(lambda: client("iam").get_role(RoleName=rest.rsplit("/", 1)[-1])),
        ("iam", "instance-profile"): lambda: _exists(
            lambda: client("iam").get_instance_profile(InstanceProfileName=rest.rsplit("/", 1)[-1])
        ),
        ("ecs", "cluster"): lambda: any(
            c["status"] == "ACTIVE" for c in client("ecs").describe_clusters(clusters=[arn])["clusters"]
        ),
        ("ecs", "task-definition"): lambda: _exists(
            lambda: client("ecs").describe_task_definition(taskDefinition=arn), "ClientException"
        ),
        ("elasticloadbalancing", "loadbalancer"): lambda: _exists(
            lambda: client("elbv2").describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
        ),
        ("elasticloadbalancing", "targetgroup"): lambda: _exists(
            lambda: client("elbv2").describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]
        ),
        ("elasticloadbalancing", "listener"): lambda: _exists(
            lambda: client("elbv2").describe_listeners(ListenerArns=[arn])["Listeners"]
        ),
        ("elasticloadbalancing", "listener-rule"): lambda: _exists(
            lambda: client("elbv2").describe_rules(RuleArns=[arn])["Rules"]
        ),
        ("kms", "key"): lambda: _exists(lambda: client("kms").describe_key(KeyId=arn)),
        ("kms", "alias"): lambda: _exists(lambda: client("kms").describe_key(KeyId=resource)),
        ("rds", "db"): lambda: _exists(
            lambda: client("rds").describe_db_instances(DBInstanceIdentifier=rest)["DBInstances"]
        ),
        ("rds", "subgrp"): lambda: _exists(
            lambda: client("rds").describe_db_subnet_groups(DBSubnetGroupName=rest)["DBSubnetGroups"]
        ),
        ("secretsmanager", "secret"): lambda: _exists(lambda: client("secretsmanager").describe_secret(SecretId=arn)),
        ("cloudwatch", "alarm"): lambda: bool(client("cloudwatch").describe_alarms(AlarmNames=[rest])["MetricAlarms"]),
        ("cloudwatch", "dashboard"): lambda: _exists(lambda: client("cloudwatch").get_dashboard(DashboardName=rest)),
        ("events", "rule"): lambda: _exists(lambda: client("events").describe_rule(Name=rest.rsplit("/", 1)[-1])),
        ("autoscaling", "autoScalingGroup"): lambda: bool(
            client("autoscaling").describe_auto_scaling_groups(
                AutoScalingGroupNames=[resource.rsplit("autoScalingGroupName/", 1)[-1]]
            )["AutoScalingGroups"]
        ),
        ("ec2", kind): lambda: _ec2_resolves(session, kind, rest),
        ("apigateway", ""): lambda: _api_path_resolves(session, resource),
        ("execute-api", kind): lambda: _exists(lambda: client("apigatewayv2").get_api(ApiId=kind)),
        ("cloudtrail", "trail"): lambda: bool(client("cloudtrail").describe_trails(trailNameList=[arn])["trailList"]),
        ("cognito-idp", "userpool"): lambda: _exists(
            lambda: client("cognito-idp").describe_user_pool(UserPoolId=rest), "ResourceNotFoundException"
        ),
        ("lambda", "event-source-mapping"): lambda: _exists(
            lambda: client("lambda").get_event_source_mapping(UUID=rest), "ResourceNotFoundException"
        ),
        ("servicediscovery", "namespace"): lambda: _exists(
            lambda: client("servicediscovery").get_namespace(Id=rest), "NamespaceNotFound"
        ),
        ("servicediscovery", "service"): lambda: _exists(
            lambda: client("servicediscovery").get_service(Id=rest), "ServiceNotFound"
        ),
        ("wafv2", "regional"): lambda: (
            any(acl["ARN"] == arn for acl in client("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"])
            or any(ip["ARN"] == arn for ip in client("wafv2").list_ip_sets(Scope="REGIONAL")["IPSets"])
        ),
        # A function's invoke ARN (API Gateway's path to it) resolves when the function it names does.
        ("apigateway", "lambda"): lambda: _arn_resolves(
            session, "arn:aws:lambda" + rest.split("/functions/arn:aws:lambda", 1)[1].removesuffix("/invocations")
        ),
    }
    resolver = resolvers.get((service, kind))
    assert resolver is not None, f"no resolver for the ARN {arn} ({service} {kind}): add one to this test"
    return resolver()


# EC2 ARN kind -> (describe operation, its id filter argument, the response's list).
_EC2 = {
    "vpc": ("describe_vpcs", "VpcIds", "Vpcs"),
    "subnet": ("describe_subnets", "SubnetIds", "Subnets"),
    "security-group": ("describe_security_groups", "GroupIds", "SecurityGroups"),
    "security-group-rule": ("describe_security_group_rules", "SecurityGroupRuleIds", "SecurityGroupRules"),
    "internet-gateway": ("describe_internet_gateways", "InternetGatewayIds", "InternetGateways"),
    "route-table": ("describe_route_tables", "RouteTableIds", "RouteTables"),
    "network-acl": ("describe_network_acls", "NetworkAclIds", "NetworkAcls"),
    "network-interface": ("describe_network_interfaces", "NetworkInterfaceIds", "NetworkInterfaces"),
    "elastic-ip": ("describe_addresses", "AllocationIds", "Addresses"),
    "vpc-endpoint": ("describe_vpc_endpoints", "VpcEndpointIds", "VpcEndpoints"),
    "vpc-flow-log": ("describe_flow_logs", "FlowLogIds", "FlowLogs"),
    "launch-template": ("describe_launch_templates", "LaunchTemplateIds", "LaunchTemplates"),
}


def _ec2_resolves(session, kind: str, resource_id: str) -> bool:
    assert kind in _EC2, f"no resolver for the EC2 kind {kind} ({resource_id}): add one to this test"
    operation, ids, listed = _EC2[kind]
    return _exists(lambda: getattr(session.client("ec2"), operation)(**{ids: [resource_id]})[listed])


def _api_path_resolves(session, path: str) -> bool:
    """An API Gateway resource ARN's path (/apis/ID, /apis/ID/routes/ID, /vpclinks/ID...) names what the sandbox
    holds."""
    apis = session.client("apigatewayv2")
    parts = path.strip("/").split("/")
    if parts[0] == "vpclinks":
        return _exists(lambda: apis.get_vpc_link(VpcLinkId=parts[1]))
    assert parts[0] == "apis", f"no resolver for the API Gateway path {path}: add one to this test"
    if len(parts) == 2:
        return _exists(lambda: apis.get_api(ApiId=parts[1]))
    getters = {
        "routes": lambda: apis.get_route(ApiId=parts[1], RouteId=parts[3]),
        "integrations": lambda: apis.get_integration(ApiId=parts[1], IntegrationId=parts[3]),
        "stages": lambda: apis.get_stage(ApiId=parts[1], StageName=parts[3]),
        "authorizers": lambda: apis.get_authorizer(ApiId=parts[1], AuthorizerId=parts[3]),
    }
    assert parts[2] in getters, f"no resolver for the API Gateway path {path}: add one to this test"
    return _exists(getters[parts[2]])


def _realized(rehearsal) -> list[dict]:
    return [r for stack in rehearsal.STACKS for r in rehearsal.checkpoint(stack)[1:] if r["type"] in REALIZERS]


def _unrealized_values(rehearsal) -> set[str]:
    """The ids and output values of every planned resource of a kind no realizer serves."""
    return {
        value
        for stack in rehearsal.STACKS
        for r in rehearsal.checkpoint(stack)[1:]
        if r.get("custom", True) and r["type"] not in REALIZERS and r["type"].startswith("aws:")
        for _, value in [("id", r.get("id")), *_leaves(r.get("outputs") or {})]
        if isinstance(value, str)
    }


def test_outputs__every_arn_a_realized_resource_carries_resolves_in_the_sandbox(sandbox, rehearsal):
    unrealized = _unrealized_values(rehearsal)
    checked, unresolved = 0, []
    for resource in _realized(rehearsal):
        for path, value in _leaves(resource["outputs"]):
            if not isinstance(value, str) or not ARN.fullmatch(value) or value in unrealized:
                continue
            checked += 1
            # A WAF association's id is the web ACL's ARN and the load balancer's, joined by a comma.
            if not all(_arn_resolves(sandbox.session, part) for part in value.split(",")):
                unresolved.append((resource["urn"].rsplit("::", 1)[1], path, value))

    assert checked > 150
    assert unresolved == [], "\n".join(map(str, unresolved))


def _held_names(session) -> dict[str, Callable[[], set[str]]]:
    """By resource type: the names, ids, URLs and DNS names the sandbox holds of that kind."""
    client = session.client

    def listed(service: str, operation: str, key: str, *fields: str, **arguments: Any) -> set[str]:
        pages = client(service).get_paginator(operation).paginate(**arguments)
        return {str(item[field]) for page in pages for item in page[key] for field in fields if field in item}

    def load_balancers() -> set[str]:
        held = listed("elbv2", "describe_load_balancers", "LoadBalancers", "DNSName", "LoadBalancerArn")
        return held | {arn.split(":loadbalancer/", 1)[1] for arn in held if ":loadbalancer/" in arn}

    def target_groups() -> set[str]:
        return {
            a.rsplit(":", 1)[1] for a in listed("elbv2", "describe_target_groups", "TargetGroups", "TargetGroupArn")
        }

    def databases() -> set[str]:
        held: set[str] = set()
        for db in client("rds").describe_db_instances()["DBInstances"]:
            endpoint = db.get("Endpoint") or {}
            held |= {db["DBInstanceIdentifier"], db.get("DBName", ""), endpoint.get("Address", "")}
            held.add(f"{endpoint.get('Address')}:{endpoint.get('Port')}")
        return held

    def user_pools() -> set[str]:
        region = session.region_name
        ids = {p["Id"] for p in client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]}
        return ids | {f"cognito-idp.{region}.amazonaws.com/{i}" for i in ids}

    def pool_clients() -> set[str]:
        idp = client("cognito-idp")
        pools = [p["Id"] for p in idp.list_user_pools(MaxResults=60)["UserPools"]]
        return {
            c["ClientId"]
            for p in pools
            for c in idp.list_user_pool_clients(UserPoolId=p, MaxResults=60)["UserPoolClients"]
        }

    def vpcs() -> set[str]:
        return {field for v in client("ec2").describe_vpcs()["Vpcs"] for field in (v["VpcId"], v["CidrBlock"])}

    return {
        "aws:cognito/userPool:UserPool": user_pools,
        "aws:cognito/userPoolClient:UserPoolClient": pool_clients,
        "aws:apigatewayv2/api:Api": lambda: {
            field for a in client("apigatewayv2").get_apis()["Items"] for field in (a["ApiId"], a["ApiEndpoint"])
        },
        "aws:ec2/vpc:Vpc": vpcs,
        "aws:ec2/subnet:Subnet": lambda: {s["SubnetId"] for s in client("ec2").describe_subnets()["Subnets"]},
        "aws:ec2/securityGroup:SecurityGroup": lambda: {
            g["GroupId"] for g in client("ec2").describe_security_groups()["SecurityGroups"]
        },
        "aws:s3/bucket:Bucket": lambda: {b["Name"] for b in client("s3").list_buckets()["Buckets"]},
        "aws:dynamodb/table:Table": lambda: set(client("dynamodb").list_tables()["TableNames"]),
        "aws:ecr/repository:Repository": lambda: listed(
            "ecr", "describe_repositories", "repositories", "repositoryName", "repositoryUri"
        ),
        "aws:sqs/queue:Queue": lambda: set(client("sqs").list_queues().get("QueueUrls", [])),
        "aws:rds/instance:Instance": databases,
        "aws:lb/loadBalancer:LoadBalancer": load_balancers,
        "aws:lb/targetGroup:TargetGroup": target_groups,
        "aws:autoscaling/group:Group": lambda: listed(
            "autoscaling", "describe_auto_scaling_groups", "AutoScalingGroups", "AutoScalingGroupName"
        ),
        "aws:ecs/cluster:Cluster": lambda: {
            c["clusterName"]
            for c in client("ecs").describe_clusters(clusters=client("ecs").list_clusters()["clusterArns"])["clusters"]
        },
        "aws:iam/instanceProfile:InstanceProfile": lambda: listed(
            "iam", "list_instance_profiles", "InstanceProfiles", "InstanceProfileName"
        ),
        "aws:lambda/function:Function": lambda: listed("lambda", "list_functions", "Functions", "FunctionName"),
        "aws:cloudwatch/metricAlarm:MetricAlarm": lambda: listed(
            "cloudwatch", "describe_alarms", "MetricAlarms", "AlarmName"
        ),
        "aws:cloudwatch/dashboard:Dashboard": lambda: listed(
            "cloudwatch", "list_dashboards", "DashboardEntries", "DashboardName"
        ),
    }


def _producers(rehearsal) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """By output value: the types of the planned resources whose id or ARN it is, and of those that hold it among
    their outputs (a subnet group holds its subnets' ids; a cluster's capacity providers have its name as their id)."""
    own: dict[str, list[str]] = {}
    held: dict[str, list[str]] = {}
    for stack in rehearsal.STACKS:
        for r in rehearsal.checkpoint(stack)[1:]:
            for value in {r.get("id"), (r.get("outputs") or {}).get("arn")} - {None}:
                own.setdefault(value, []).append(r["type"])
            for _, value in _leaves(r.get("outputs") or {}):
                if isinstance(value, str):
                    held.setdefault(value, []).append(r["type"])
    return own, held


def test_outputs__every_exported_arn_name_url_and_dns_name_is_held_by_the_sandbox(sandbox, rehearsal):
    own, holders = _producers(rehearsal)
    held = _held_names(sandbox.session)
    checked, unresolved = 0, []
    for stack in rehearsal.STACKS:
        for path, value in _leaves(rehearsal.exports(stack)):
            if not isinstance(value, str):
                continue
            # The value is that of the resource it names (else of those holding it); made by a kind no realizer
            # serves, `sandbox status` lists it.
            types = own.get(value) or holders.get(value, [])
            if types and not any(t in REALIZERS for t in types):
                continue
            checked += 1
            if ARN.fullmatch(value):
                resolved = _arn_resolves(sandbox.session, value)
            else:
                lookups = [held[t] for t in {*types, *holders.get(value, [])} if t in held]
                assert lookups, f"{stack} export {path} = {value!r} (made by {types}): no lookup of its kind here"
                resolved = any(value in lookup() for lookup in lookups)
            if not resolved:
                unresolved.append((stack, path, value))

    assert checked > 100
    assert unresolved == [], "\n".join(map(str, unresolved))
