"""What the sandbox holds: the planned estate (seed_planned, first in SEEDERS: the resources of the `local` plan and the
rehearsal Pulumi state naming them), the rehearsal data on top of it (rehearsal_data), and everything there counted
per kind, with the planned kinds the sandbox does not hold."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from tradai_nb import config
from tradai_nb.sandbox import planned, rehearsal_data, rehearsal_state
from tradai_nb.sandbox.realizers import edge as edge_realizers
from tradai_nb.settings import Settings
from tradai_nb.state import backend

# A seeder takes the sandbox session and local settings and yields (kind, name, action) per resource,
# action being created, exists or refreshed.
Seeder = Callable[[boto3.Session, Settings], Iterable[tuple[str, str, str]]]


def seed_planned(session: boto3.Session, settings: Settings) -> Iterable[tuple[str, str, str]]:
    """Seeder of the sandbox: the planned resources REALIZERS can create (planned.realize), then the rehearsal Pulumi
    state carrying the values the sandbox gave them, from one pass over the plan."""
    realized = planned.realize(session, settings)
    yield from realized.rows
    yield from rehearsal_state.seed_state(session, settings, realized)


# Built-in seeders in dependency order: the planned resources and the rehearsal state that names them first, then the
# rehearsal data written into them (images, ECS services and their revisions, log events, the stale lock).
SEEDERS: tuple[Seeder, ...] = (seed_planned, *rehearsal_data.SEEDERS)


def estate_counts(session: boto3.Session) -> pd.DataFrame:
    """Everything the sandbox holds, counted per kind (all resources, not only the seeded names)."""
    ecs = session.client("ecs")
    logs = session.client("logs")
    ecr = session.client("ecr")
    clusters = _listed(ecs, "list_clusters", "clusterArns")
    groups = [g["logGroupName"] for g in _listed(logs, "describe_log_groups", "logGroups")]
    repositories = [r["repositoryName"] for r in _listed(ecr, "describe_repositories", "repositories")]
    reservations = _listed(
        session.client("ec2"),
        "describe_instances",
        "Reservations",
        Filters=[{"Name": "instance-state-name", "Values": ["running"]}],
    )
    counts = {
        "ecs cluster": len(clusters),
        "ecs capacity providers": sum(
            bool(c.get("capacityProviders")) for c in ecs.describe_clusters(clusters=clusters)["clusters"]
        )
        if clusters
        else 0,
        "ecs service": sum(len(_listed(ecs, "list_services", "serviceArns", cluster=c)) for c in clusters),
        "ecs task definition": len(_listed(ecs, "list_task_definitions", "taskDefinitionArns")),
        "launch template": len(_listed(session.client("ec2"), "describe_launch_templates", "LaunchTemplates")),
        "auto scaling group": len(
            _listed(session.client("autoscaling"), "describe_auto_scaling_groups", "AutoScalingGroups")
        ),
        "ec2 instance": sum(len(r["Instances"]) for r in reservations),
        "log group": len(groups),
        "log stream": sum(len(_listed(logs, "describe_log_streams", "logStreams", logGroupName=g)) for g in groups),
        "log event": sum(len(_listed(logs, "filter_log_events", "events", logGroupName=g)) for g in groups),
        "ecr image": sum(len(_listed(ecr, "list_images", "imageIds", repositoryName=r)) for r in repositories),
        "lambda function": len(_listed(session.client("lambda"), "list_functions", "Functions")),
        **_iam_counts(session),
        "state machine": len(_listed(session.client("stepfunctions"), "list_state_machines", "stateMachines")),
        **_storage_counts(session, repositories),
        **_messaging_counts(session),
        **_monitoring_counts(session),
        **_network_counts(session),
        **_load_balancing_counts(session),
        **_edge_counts(session),
        **_identity_counts(session),
        **_wiring_counts(session),
        **_pulumi_state_counts(session),
    }
    return pd.DataFrame(sorted(counts.items()), columns=["kind", "count"])


def _has(call: Callable[..., Any], *absent: str, **kwargs: Any) -> bool:
    """Whether a get call finds a setting (it raises one of absent, or answers without it, where there is none)."""
    try:
        found = call(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code", "") in absent:
            return False
        raise
    return any(k != "ResponseMetadata" and v for k, v in found.items())


def _storage_counts(session: boto3.Session, repositories: list[str]) -> dict[str, int]:
    s3 = session.client("s3")
    ecr = session.client("ecr")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]

    def buckets_with(getter: str, *absent: str) -> int:
        return sum(_has(getattr(s3, getter), *absent, Bucket=b) for b in buckets)

    return {
        "s3 bucket": len(buckets),
        "s3 bucket versioning": buckets_with("get_bucket_versioning"),
        "s3 bucket encryption": buckets_with("get_bucket_encryption", "ServerSideEncryptionConfigurationNotFoundError"),
        "s3 public access block": buckets_with("get_public_access_block", "NoSuchPublicAccessBlockConfiguration"),
        "s3 bucket lifecycle": buckets_with("get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration"),
        "dynamodb table": len(_listed(session.client("dynamodb"), "list_tables", "TableNames")),
        "ecr repository": len(repositories),
        "ecr lifecycle policy": sum(
            _has(ecr.get_lifecycle_policy, "LifecyclePolicyNotFoundException", repositoryName=r) for r in repositories
        ),
    }


def _messaging_counts(session: boto3.Session) -> dict[str, int]:
    """The customer keys and their aliases (not the AWS managed ones, such as the sandbox makes for the database's
    secret), topics, subscriptions, queues, databases."""
    kms = session.client("kms")
    aliases = _listed(kms, "list_aliases", "Aliases")
    managed = {a.get("TargetKeyId") for a in aliases if a["AliasName"].startswith("alias/aws/")}
    keys = [k["KeyId"] for k in _listed(kms, "list_keys", "Keys") if k["KeyId"] not in managed]
    rds = session.client("rds")
    return {
        "kms key": sum(kms.describe_key(KeyId=k)["KeyMetadata"].get("KeyManager") == "CUSTOMER" for k in keys),
        "kms alias": sum(not a["AliasName"].startswith("alias/aws/") for a in aliases),
        "sns topic": len(_listed(session.client("sns"), "list_topics", "Topics")),
        "sns subscription": len(_listed(session.client("sns"), "list_subscriptions", "Subscriptions")),
        "sqs queue": len(_listed(session.client("sqs"), "list_queues", "QueueUrls")),
        "rds subnet group": len(_listed(rds, "describe_db_subnet_groups", "DBSubnetGroups")),
        "rds instance": len(_listed(rds, "describe_db_instances", "DBInstances")),
    }


def _monitoring_counts(session: boto3.Session) -> dict[str, int]:
    cloudwatch = session.client("cloudwatch")
    events = session.client("events")
    rules = [r["Name"] for r in _listed(events, "list_rules", "Rules")]
    return {
        "cloudwatch alarm": len(_listed(cloudwatch, "describe_alarms", "MetricAlarms")),
        "dashboard": len(_listed(cloudwatch, "list_dashboards", "DashboardEntries")),
        "event rule": len(rules),
        "event target": sum(len(_listed(events, "list_targets_by_rule", "Targets", Rule=r)) for r in rules),
    }


def _iam_counts(session: boto3.Session) -> dict[str, int]:
    iam = session.client("iam")
    roles = [r["RoleName"] for r in _listed(iam, "list_roles", "Roles")]
    return {
        "iam role": len(roles),
        "iam role policy": sum(len(_listed(iam, "list_role_policies", "PolicyNames", RoleName=r)) for r in roles),
        "iam instance profile": len(_listed(iam, "list_instance_profiles", "InstanceProfiles")),
        "iam role policy attachment": sum(
            len(_listed(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=r)) for r in roles
        ),
    }


def _identity_counts(session: boto3.Session) -> dict[str, int]:
    """The user pools with their resource servers, clients and domains, the trails, the secrets that rotate, and the
    service discovery namespaces and services."""
    cognito = session.client("cognito-idp")
    pools = [p["Id"] for p in _listed(cognito, "list_user_pools", "UserPools", MaxResults=60)]
    secrets = _listed(session.client("secretsmanager"), "list_secrets", "SecretList")
    discovery = session.client("servicediscovery")
    return {
        "cognito user pool": len(pools),
        "cognito resource server": sum(
            len(_listed(cognito, "list_resource_servers", "ResourceServers", UserPoolId=p, MaxResults=50))
            for p in pools
        ),
        "cognito user pool client": sum(
            len(_listed(cognito, "list_user_pool_clients", "UserPoolClients", UserPoolId=p, MaxResults=60))
            for p in pools
        ),
        "cognito user pool domain": sum(
            bool(cognito.describe_user_pool(UserPoolId=p)["UserPool"].get("Domain")) for p in pools
        ),
        "cloudtrail trail": len(_listed(session.client("cloudtrail"), "list_trails", "Trails")),
        "secret rotation": sum(bool(s.get("RotationEnabled")) for s in secrets),
        "service discovery namespace": len(_listed(discovery, "list_namespaces", "Namespaces")),
        "service discovery service": len(_listed(discovery, "list_services", "Services")),
    }


def _wiring_counts(session: boto3.Session) -> dict[str, int]:
    """The statements of the functions' resource policies, and the event source mappings."""
    lambda_ = session.client("lambda")
    functions = [f["FunctionName"] for f in _listed(lambda_, "list_functions", "Functions")]

    def statements(function: str) -> int:
        try:
            return len(json.loads(lambda_.get_policy(FunctionName=function)["Policy"]).get("Statement", []))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            return 0

    return {
        "lambda permission": sum(statements(f) for f in functions),
        "lambda event source mapping": len(_listed(lambda_, "list_event_source_mappings", "EventSourceMappings")),
    }


def _network_counts(session: boto3.Session) -> dict[str, int]:
    """The network outside moto's default VPC: the VPCs made and what is in them, not what a VPC comes with (its main
    route table and local route, its default network ACL; its default security group is counted: the plan adopts
    it), nor the routes gateway endpoints add and the interfaces of instances and endpoints."""
    ec2 = session.client("ec2")
    vpcs = {v["VpcId"] for v in _listed(ec2, "describe_vpcs", "Vpcs") if not v["IsDefault"]}

    def inside(operation: str, key: str) -> list[dict[str, Any]]:
        return [item for item in _listed(ec2, operation, key) if item.get("VpcId") in vpcs]

    tables = [
        t for t in inside("describe_route_tables", "RouteTables") if not any(a.get("Main") for a in t["Associations"])
    ]
    acls = [a for a in inside("describe_network_acls", "NetworkAcls") if not a["IsDefault"]]
    groups = inside("describe_security_groups", "SecurityGroups")
    group_ids = {g["GroupId"] for g in groups}
    rules = [
        r for r in _listed(ec2, "describe_security_group_rules", "SecurityGroupRules") if r["GroupId"] in group_ids
    ]
    endpoints = inside("describe_vpc_endpoints", "VpcEndpoints")
    of_endpoints = {i for e in endpoints for i in e.get("NetworkInterfaceIds") or []}
    interfaces = inside("describe_network_interfaces", "NetworkInterfaces")
    gateways = _listed(ec2, "describe_internet_gateways", "InternetGateways")
    return {
        "vpc": len(vpcs),
        "subnet": len(inside("describe_subnets", "Subnets")),
        "internet gateway": sum(any(a["VpcId"] in vpcs for a in g["Attachments"]) for g in gateways),
        "route table": len(tables),
        "route": sum(
            r.get("Origin") == "CreateRoute" and "DestinationCidrBlock" in r for t in tables for r in t["Routes"]
        ),
        "route table association": sum(len(t["Associations"]) for t in tables),
        "network acl": len(acls),
        "network acl association": sum(len(a["Associations"]) for a in acls),
        "security group": sum(g["GroupName"] != "default" for g in groups),
        "default security group": sum(g["GroupName"] == "default" for g in groups),
        "security group ingress rule": sum(not r["IsEgress"] for r in rules),
        "security group egress rule": sum(r["IsEgress"] for r in rules),
        "network interface": sum(
            "Attachment" not in i and i["NetworkInterfaceId"] not in of_endpoints for i in interfaces
        ),
        "elastic ip": len(_listed(ec2, "describe_addresses", "Addresses")),
        "vpc endpoint": len(endpoints),
        "flow log": len(_listed(ec2, "describe_flow_logs", "FlowLogs")),
    }


def _load_balancing_counts(session: boto3.Session) -> dict[str, int]:
    elbv2 = session.client("elbv2")
    balancers = [b["LoadBalancerArn"] for b in _listed(elbv2, "describe_load_balancers", "LoadBalancers")]
    listeners = [
        item["ListenerArn"]
        for b in balancers
        for item in _listed(elbv2, "describe_listeners", "Listeners", LoadBalancerArn=b)
    ]
    rules = [r for item in listeners for r in elbv2.describe_rules(ListenerArn=item)["Rules"] if not r["IsDefault"]]
    return {
        "load balancer": len(balancers),
        "target group": len(_listed(elbv2, "describe_target_groups", "TargetGroups")),
        "listener": len(listeners),
        "listener rule": len(rules),
    }


def _edge_counts(session: boto3.Session) -> dict[str, int]:
    """The HTTP APIs and what hangs off them, the WAF's IP sets and web ACLs, and the load balancers a web ACL guards.
    The sandbox lists no authorizers (it serves no GetAuthorizers): those counted are the ones the APIs' tags name
    (realizers/edge.py)."""
    apis = session.client("apigatewayv2")
    waf = session.client("wafv2")
    held = apis.get_apis()["Items"]
    api_ids = [a["ApiId"] for a in held]
    balancers = _listed(session.client("elbv2"), "describe_load_balancers", "LoadBalancers")
    return {
        "http api": len(api_ids),
        "api vpc link": len(apis.get_vpc_links()["Items"]),
        "api authorizer": sum(
            k.startswith(edge_realizers.AUTHORIZER_TAG_PREFIX) for a in held for k in a.get("Tags") or {}
        ),
        "api integration": sum(len(apis.get_integrations(ApiId=a)["Items"]) for a in api_ids),
        "api route": sum(len(apis.get_routes(ApiId=a)["Items"]) for a in api_ids),
        "api stage": sum(len(apis.get_stages(ApiId=a)["Items"]) for a in api_ids),
        "waf ip set": len(waf.list_ip_sets(Scope="REGIONAL")["IPSets"]),
        "waf web acl": len(waf.list_web_acls(Scope="REGIONAL")["WebACLs"]),
        "waf association": sum(
            bool(waf.get_web_acl_for_resource(ResourceArn=b["LoadBalancerArn"]).get("WebACL")) for b in balancers
        ),
    }


def _pulumi_state_counts(session: boto3.Session) -> dict[str, int]:
    """Checkpoints and locks in the local state bucket (none before it is seeded)."""
    bucket = config.get_bucket_name(config.STATE_BUCKET_KEY, "local")
    if bucket not in {b["Name"] for b in session.client("s3").list_buckets()["Buckets"]}:
        return {"pulumi checkpoint": 0, "pulumi lock": 0}
    store = backend.StateStore(backend.S3ObjectStore(session, bucket))
    return {"pulumi checkpoint": len(store.stacks()), "pulumi lock": len(store.locks())}


def unrealized(session: boto3.Session) -> pd.DataFrame:
    """The planned resource types the sandbox does not hold (no realizer in planned.REALIZERS creates them), per stack
    with their count, read from the rehearsal checkpoints: their ids and outputs there are the plan's mock values."""
    bucket = config.get_bucket_name(config.STATE_BUCKET_KEY, "local")
    rows: list[tuple[str, str, int]] = []
    if bucket in {b["Name"] for b in session.client("s3").list_buckets()["Buckets"]}:
        store = backend.StateStore(backend.S3ObjectStore(session, bucket))
        for ref in store.stacks():
            resources = store.read_deployment(ref)["deployment"].get("resources", [])
            kinds = Counter(
                r["type"]
                for r in resources
                if r.get("custom") and r["type"] not in planned.REALIZERS and not r["type"].startswith("pulumi:")
            )
            rows += [(ref.project, kind, count) for kind, count in sorted(kinds.items())]
    return pd.DataFrame(rows, columns=["project", "type", "count"])


def _listed(client, operation: str, key: str, **kwargs) -> list:
    """All items of a list/describe call, across pages."""
    pages = (
        client.get_paginator(operation).paginate(**kwargs)
        if client.can_paginate(operation)
        else [getattr(client, operation)(**kwargs)]
    )
    return [item for page in pages for item in page.get(key, [])]
