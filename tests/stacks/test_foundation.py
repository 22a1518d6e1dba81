"""The foundation stack's plan: inventory, environment differences, security promises, tags, protection, exports."""

from __future__ import annotations

import base64
import ipaddress
import json
import subprocess

import pytest

from tests.stacks.conftest import is_taggable, resources_of
from tradai_nb import config
from tradai_nb.engine.plan import plan
from tradai_nb.settings import load_settings
from tradai_nb.stacks.foundation.nat_instance import ami_architecture, vpc_router
from tradai_nb.stacks.foundation.vpc import subnet_cidrs

ENVIRONMENTS = list(config.ENVIRONMENTS)
WORLD = {"0.0.0.0/0", "::/0"}
CONTRACT_KEYS = {
    "vpc_id", "vpc_cidr", "public_subnet_ids", "private_subnet_ids", "data_subnet_ids",
    "alb_sg_id", "ecs_sg_id", "rds_sg_id", "vpc_endpoint_sg_id", "nat_sg_id",
    "rds_endpoint", "rds_address", "rds_port", "rds_db_name", "rds_secret_arn",
    "backtest_queue_url", "backtest_queue_arn", "backtest_dlq_url", "backtest_dlq_arn",
    "alerts_topic_arn", "registration_topic_arn",
}
DATA_TYPES = {
    "aws:rds/instance:Instance",
    "aws:secretsmanager/secretRotation:SecretRotation",
    "aws:sqs/queue:Queue",
}
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
NACL = "aws:ec2/networkAcl:NetworkAcl"
NACL_ASSOCIATION = "aws:ec2/networkAclAssociation:NetworkAclAssociation"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
RDS_INSTANCE = "aws:rds/instance:Instance"
QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"


def _foundation(plan_of, environment: str):
    return resources_of(plan_of(environment), "foundation")


def _rows(frame, type_token: str) -> list:
    return list(frame[frame["type"] == type_token].itertuples(index=False))


def _one(frame, type_token: str, name: str | None = None):
    rows = [r for r in _rows(frame, type_token) if name is None or r.name == name]
    assert len(rows) == 1, f"expected one {type_token} {name or ''}, found {len(rows)}"
    return rows[0]


def _subnet_ids_by_tier(frame) -> dict[str, list[str]]:
    tiers: dict[str, list[str]] = {}
    for subnet in _rows(frame, SUBNET):
        tiers.setdefault(subnet.inputs["tags"]["Tier"], []).append(subnet.id)
    return tiers


def _group_names_by_id(frame) -> dict[str, str]:
    return {row.id: row.name.removesuffix("-sg").replace("-", "_") for row in _rows(frame, SECURITY_GROUP)}


def _route_table_id(frame, tier: str) -> str:
    return _one(frame, ROUTE_TABLE, f"{tier}-route-table").id


def _statements(document: str) -> list[dict]:
    return json.loads(document)["Statement"]


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_inventory__matches_the_estate_table(plan_of, environment):
    frame = _foundation(plan_of, environment)
    counts = frame["type"].value_counts().to_dict()
    expected = {
        VPC: 1, SUBNET: 6, ROUTE_TABLE: 3, SECURITY_GROUP: 5, NACL: 3, NACL_ASSOCIATION: 6, ENDPOINT: 7,
        "aws:ec2/flowLog:FlowLog": 1, "aws:autoscaling/group:Group": 1, "aws:ec2/launchTemplate:LaunchTemplate": 1,
        RDS_INSTANCE: 1, "aws:secretsmanager/secretRotation:SecretRotation": 1, QUEUE: 2, TOPIC: 2,
    }
    assert {t: counts.get(t, 0) for t in expected} == expected
    endpoint_kinds = sorted(r.inputs["vpcEndpointType"] for r in _rows(frame, ENDPOINT))
    assert endpoint_kinds == ["Gateway"] * 2 + ["Interface"] * 5


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_subnets__two_per_tier_over_exactly_the_two_configured_azs(plan_of, environment):
    settings = load_settings(environment)
    frame = _foundation(plan_of, environment)
    subnets = _rows(frame, SUBNET)
    assert {s.inputs["availabilityZone"] for s in subnets} == set(settings.availability_zones)
    by_tier: dict[str, list[str]] = {}
    for subnet in subnets:
        by_tier.setdefault(subnet.inputs["tags"]["Tier"], []).append(subnet.inputs["availabilityZone"])
    assert {tier: sorted(zones) for tier, zones in by_tier.items()} == {
        tier: sorted(settings.availability_zones) for tier in ("public", "private", "data")
    }
    vpc = _one(frame, VPC)
    assert vpc.inputs["cidrBlock"] == settings.vpc_cidr
    assert vpc.inputs["enableDnsSupport"] and vpc.inputs["enableDnsHostnames"]
    assert not any(s.inputs["mapPublicIpOnLaunch"] for s in subnets)


def test_subnet_cidrs__carved_from_a_16_in_tier_order():
    assert subnet_cidrs("10.0.0.0/16") == {
        "public": ["10.0.0.0/19", "10.0.32.0/19"],
        "private": ["10.0.64.0/19", "10.0.96.0/19"],
        "data": ["10.0.128.0/19", "10.0.160.0/19"],
    }


@pytest.mark.parametrize("vpc_cidr", ["10.0.0.0/16", "172.16.0.0/18", "10.20.16.0/20"], ids=["16", "18", "20"])
def test_subnet_cidrs__fit_inside_the_vpc_without_overlap(vpc_cidr):
    network = ipaddress.ip_network(vpc_cidr)
    subnets = [ipaddress.ip_network(c) for cidrs in subnet_cidrs(vpc_cidr).values() for c in cidrs]
    assert len(subnets) == 6
    assert all(s.subnet_of(network) for s in subnets)
    assert not any(a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1:])
    assert subnet_cidrs(vpc_cidr) == subnet_cidrs(vpc_cidr)


def test_subnet_cidrs__follow_a_different_vpc_cidr_from_settings():
    settings = load_settings("dev", {"vpc_cidr": "10.42.0.0/20"})
    frame = resources_of(plan(settings, ["foundation"]), "foundation")
    planned = {s.inputs["cidrBlock"] for s in _rows(frame, SUBNET)}
    assert planned == {c for cidrs in subnet_cidrs("10.42.0.0/20").values() for c in cidrs}
    assert _one(frame, VPC).inputs["cidrBlock"] == "10.42.0.0/20"


@pytest.mark.parametrize(
    ("environment", "instance_class", "multi_az", "retention_days"),
    [("local", "db.t4g.micro", False, 7), ("dev", "db.t4g.micro", False, 7),
     ("staging", "db.t4g.small", False, 30), ("prod", "db.r6g.large", True, 90)],
    ids=["local", "dev", "staging", "prod"],
)
def test_environments__differ_in_database_size_redundancy_and_log_retention(plan_of, environment, instance_class,
                                                                            multi_az, retention_days):
    frame = _foundation(plan_of, environment)
    database = _one(frame, RDS_INSTANCE)
    assert database.inputs["instanceClass"] == instance_class
    assert database.inputs["multiAz"] is multi_az
    log_group = _one(frame, "aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["retentionInDays"] == retention_days


def test_environments__database_and_logs_follow_overridden_settings():
    settings = load_settings("dev", {"rds_instance_class": "db.t4g.large", "multi_az": True, "log_retention_days": 14,
                                     "rds_allocated_storage_gb": 50, "nat_instance_type": "t3.nano"})
    frame = resources_of(plan(settings, ["foundation"]), "foundation")
    database = _one(frame, RDS_INSTANCE)
    assert (database.inputs["instanceClass"], database.inputs["multiAz"], database.inputs["allocatedStorage"]) == (
        "db.t4g.large", True, 50)
    assert _one(frame, "aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == 14
    assert _one(frame, "aws:ec2/launchTemplate:LaunchTemplate").inputs["instanceType"] == "t3.nano"


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_security_groups__only_the_alb_is_open_to_the_world_and_only_on_80_and_443(plan_of, environment):
    frame = _foundation(plan_of, environment)
    names = _group_names_by_id(frame)
    world_open = {
        (names[r.inputs["securityGroupId"]], r.inputs.get("fromPort"), r.inputs.get("toPort"))
        for r in _rows(frame, INGRESS_RULE)
        if r.inputs.get("cidrIpv4") in WORLD or r.inputs.get("cidrIpv6") in WORLD
    }
    assert world_open == {("alb", 80, 80), ("alb", 443, 443)}
    groups = _rows(frame, SECURITY_GROUP) + _rows(frame, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    inline = [r.name for r in groups if r.inputs.get("ingress") or r.inputs.get("egress")]
    assert inline == [], "rules live in their own resources, so every one of them is checked here"


def test_security_groups__each_admits_only_its_one_source(plan_of):
    frame = _foundation(plan_of, "dev")
    names = _group_names_by_id(frame)
    private_cidrs = subnet_cidrs(config.VPC_CIDR)["private"]

    def source(rule) -> str:
        referenced = rule.inputs.get("referencedSecurityGroupId")
        return f"sg:{names[referenced]}" if referenced else rule.inputs["cidrIpv4"]

    admitted = {
        (names[r.inputs["securityGroupId"]], source(r), r.inputs["ipProtocol"], r.inputs.get("fromPort"))
        for r in _rows(frame, INGRESS_RULE)
    }
    service_ports = {int(spec["port"]) for spec in config.SERVICES.values()}
    assert admitted == {
        ("alb", "0.0.0.0/0", "tcp", 80), ("alb", "0.0.0.0/0", "tcp", 443),
        *{("ecs", "sg:alb", "tcp", port) for port in service_ports},
        ("rds", "sg:ecs", "tcp", 5432),
        ("vpc_endpoint", config.VPC_CIDR, "tcp", 443),
        *{("nat", cidr, "-1", None) for cidr in private_cidrs},
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_rds__private_encrypted_in_the_data_subnets_with_no_password_in_code(plan_of, environment):
    frame = _foundation(plan_of, environment)
    database = _one(frame, RDS_INSTANCE)
    assert database.inputs["publiclyAccessible"] is False
    assert database.inputs["storageEncrypted"] is True
    assert database.inputs["manageMasterUserPassword"] is True
    assert not {"password", "passwordWo"} & set(database.inputs)
    assert database.inputs["identifier"] == config.get_resource_name("mlflow-db", environment)
    assert database.inputs["vpcSecurityGroupIds"] == [_one(frame, SECURITY_GROUP, "rds-sg").id]
    subnet_group = _one(frame, "aws:rds/subnetGroup:SubnetGroup")
    assert database.inputs["dbSubnetGroupName"] == subnet_group.inputs["name"]
    assert subnet_group.inputs["subnetIds"] == _subnet_ids_by_tier(frame)["data"]


@pytest.mark.parametrize(
    ("environment", "protected"),
    [("local", False), ("dev", False), ("staging", True), ("prod", True)],
    ids=["local", "dev", "staging", "prod"],
)
def test_rds__deletion_protection_and_final_snapshot_outside_dev_and_local(plan_of, environment, protected):
    database = _one(_foundation(plan_of, environment), RDS_INSTANCE)
    assert database.inputs["deletionProtection"] is protected
    assert database.inputs["skipFinalSnapshot"] is (not protected)
    assert ("finalSnapshotIdentifier" in database.inputs) is protected
    assert database.inputs["backupRetentionPeriod"] >= 7


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_secret_rotation__rotates_the_rds_managed_secret_every_30_days(plan_of, environment):
    frame = _foundation(plan_of, environment)
    rotation = _one(frame, "aws:secretsmanager/secretRotation:SecretRotation")
    managed_secret_arn = _one(frame, RDS_INSTANCE).outputs["masterUserSecrets"][0]["secretArn"]
    assert rotation.inputs["secretId"] == managed_secret_arn
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 30}
    assert "rotationLambdaArn" not in rotation.inputs  # managed rotation: RDS rotates, no Lambda
    assert plan_of(environment).exports["foundation"]["rds_secret_arn"] == managed_secret_arn


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_routes__public_to_the_internet_gateway_private_to_the_nat_data_nowhere(plan_of, environment):
    frame = _foundation(plan_of, environment)
    routes = {r.inputs["routeTableId"]: r.inputs for r in _rows(frame, ROUTE)}
    public, private, data = (_route_table_id(frame, tier) for tier in ("public", "private", "data"))
    assert set(routes) == {public, private}
    assert routes[public]["gatewayId"] == _one(frame, "aws:ec2/internetGateway:InternetGateway").id
    assert routes[private]["networkInterfaceId"] == _one(frame, "aws:ec2/networkInterface:NetworkInterface").id
    assert not _one(frame, ROUTE_TABLE, "data-route-table").inputs.get("routes")
    associations = {r.inputs["subnetId"]: r.inputs["routeTableId"]
                    for r in _rows(frame, "aws:ec2/routeTableAssociation:RouteTableAssociation")}
    tiers = _subnet_ids_by_tier(frame)
    assert {subnet: associations[subnet] for subnet in tiers["data"]} == {subnet: data for subnet in tiers["data"]}
    assert len(associations) == 6


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_nacls__every_subnet_is_associated_with_its_tiers_acl(plan_of, environment):
    frame = _foundation(plan_of, environment)
    acl_tier = {r.id: r.inputs["tags"]["Tier"] for r in _rows(frame, NACL)}
    associated = {r.inputs["subnetId"]: acl_tier[r.inputs["networkAclId"]] for r in _rows(frame, NACL_ASSOCIATION)}
    expected = {subnet: tier for tier, subnets in _subnet_ids_by_tier(frame).items() for subnet in subnets}
    assert associated == expected


def test_nacls__data_tier_talks_only_to_the_vpc_and_public_admits_only_listeners_and_replies(plan_of):
    frame = _foundation(plan_of, "dev")
    acls = {r.inputs["tags"]["Tier"]: r.inputs for r in _rows(frame, NACL)}
    data_rules = acls["data"]["ingress"] + acls["data"]["egress"]
    assert data_rules and {rule["cidrBlock"] for rule in data_rules} == {config.VPC_CIDR}
    public_world_ingress = {(rule["protocol"], rule["fromPort"], rule["toPort"])
                            for rule in acls["public"]["ingress"] if rule["cidrBlock"] in WORLD}
    assert public_world_ingress == {("tcp", 80, 80), ("tcp", 443, 443), ("tcp", 1024, 65535)}
    assert all(rule["action"] == "allow" for acl in acls.values() for rule in acl["ingress"] + acl["egress"])


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_nat__one_instance_group_with_a_t4g_nano_behind_a_fixed_forwarding_interface(plan_of, environment):
    settings = load_settings(environment)
    frame = _foundation(plan_of, environment)
    group = _one(frame, "aws:autoscaling/group:Group")
    template = _one(frame, "aws:ec2/launchTemplate:LaunchTemplate")
    interface = _one(frame, "aws:ec2/networkInterface:NetworkInterface")
    public_a = _subnet_ids_by_tier(frame)["public"][0]
    assert (group.inputs["minSize"], group.inputs["maxSize"], group.inputs["desiredCapacity"]) == (1, 1, 1)
    assert group.inputs["launchTemplate"]["id"] == template.id
    assert group.inputs["vpcZoneIdentifiers"] == [public_a] == [interface.inputs["subnetId"]]
    assert template.inputs["instanceType"] == settings.nat_instance_type == "t4g.nano"
    assert template.inputs["imageId"].startswith("ami-")
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    assert interface.inputs["sourceDestCheck"] is False
    assert interface.inputs["securityGroups"] == [_one(frame, SECURITY_GROUP, "nat-sg").id]
    script = base64.b64decode(template.inputs["userData"]).decode()
    assert f"ENI_ID={interface.id}\n" in script and "GATEWAY=10.0.0.1\n" in script
    assert subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True).returncode == 0
    attach_policy = _one(frame, "aws:iam/rolePolicy:RolePolicy", "nat-attach-interface").inputs["policy"]
    [statement] = _statements(attach_policy)
    assert statement["Action"] == ["ec2:AttachNetworkInterface"]
    assert statement["Resource"][0].endswith(f":network-interface/{interface.id}")


@pytest.mark.parametrize(
    ("instance_type", "architecture"),
    [("t4g.nano", "arm64"), ("c6gn.large", "arm64"), ("m7gd.large", "arm64"), ("t3.nano", "x86_64"),
     ("g5.xlarge", "x86_64")],
    ids=["t4g", "c6gn", "m7gd", "t3", "g5"],
)
def test_nat_ami__architecture_follows_the_instance_type(instance_type, architecture):
    assert ami_architecture(instance_type) == architecture


def test_nat_gateway_address__is_the_subnets_vpc_router():
    assert vpc_router("10.0.0.0/19") == "10.0.0.1"
    assert vpc_router("10.20.16.0/23") == "10.20.16.1"


def test_vpc_endpoints__gateways_on_private_and_data_interfaces_in_private_subnets(plan_of):
    frame = _foundation(plan_of, "dev")
    region = config.AWS_REGION
    endpoints = {r.inputs["serviceName"].removeprefix(f"com.amazonaws.{region}."): r.inputs for r in _rows(frame, ENDPOINT)}
    assert set(endpoints) == {"s3", "dynamodb", "ecr.api", "ecr.dkr", "sts", "ssm", "sqs"}
    routed = [_route_table_id(frame, "private"), _route_table_id(frame, "data")]
    endpoint_sg = _one(frame, SECURITY_GROUP, "vpc-endpoint-sg").id
    for service, inputs in endpoints.items():
        if service in ("s3", "dynamodb"):
            assert (inputs["vpcEndpointType"], inputs["routeTableIds"]) == ("Gateway", routed), service
        else:
            assert inputs["vpcEndpointType"] == "Interface", service
            assert inputs["subnetIds"] == _subnet_ids_by_tier(frame)["private"], service
            assert inputs["securityGroupIds"] == [endpoint_sg], service
            assert inputs["privateDnsEnabled"] is True, service


def test_s3_endpoint__admits_the_estates_buckets_and_the_system_package_buckets_only(plan_of):
    frame = _foundation(plan_of, "dev")
    s3 = next(r for r in _rows(frame, ENDPOINT) if r.inputs["serviceName"].endswith(".s3"))
    statements = {s["Sid"]: s for s in _statements(s3.inputs["policy"])}
    assert "AllowSystemPackageBuckets" in statements
    buckets = {config.get_bucket_name(k, "dev") for k in (*config.S3_BUCKETS, config.STATE_BUCKET_KEY)}
    assert set(statements["AllowEstateBuckets"]["Resource"]) == {f"arn:aws:s3:::{b}" for b in buckets}
    resources = [r for s in statements.values() for r in s["Resource"]]
    assert "*" not in resources and not any(r.startswith("arn:aws:s3:::*") for r in resources)


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_flow_logs__all_vpc_traffic_to_a_log_group_the_role_alone_can_write(plan_of, environment):
    settings = load_settings(environment)
    frame = _foundation(plan_of, environment)
    flow_log = _one(frame, "aws:ec2/flowLog:FlowLog")
    log_group = _one(frame, "aws:cloudwatch/logGroup:LogGroup")
    role = _one(frame, "aws:iam/role:Role", "flow-log-role")
    assert log_group.inputs["name"] == config.get_log_group_name("vpc-flow-logs", environment)
    assert log_group.inputs["retentionInDays"] == settings.log_retention_days
    assert flow_log.inputs["vpcId"] == _one(frame, VPC).id
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestination"] == log_group.outputs["arn"]
    assert flow_log.inputs["iamRoleArn"] == role.outputs["arn"]
    assert "vpc-flow-logs.amazonaws.com" in role.inputs["assumeRolePolicy"]
    [statement] = _statements(_one(frame, "aws:iam/rolePolicy:RolePolicy", "flow-log-write").inputs["policy"])
    assert all(resource.startswith(log_group.outputs["arn"]) for resource in statement["Resource"])


def test_policies__no_wildcard_action_and_no_wildcard_action_on_every_resource(plan_of):
    frame = _foundation(plan_of, "prod")
    documents = [r.inputs["policy"] for r in frame.itertuples(index=False) if isinstance(r.inputs.get("policy"), str)]
    assert len(documents) >= 4  # the two role policies, the key policy, the S3 endpoint policy
    for statement in (s for document in documents for s in _statements(document)):
        actions, resources = statement["Action"], statement["Resource"]
        assert "*" not in actions, statement
        assert not ("*" in resources and any(a.endswith(":*") for a in actions)), statement


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_queues__encrypted_and_redriving_to_the_dlq(plan_of, environment):
    frame = _foundation(plan_of, environment)
    queues = {r.inputs["name"]: r for r in _rows(frame, QUEUE)}
    queue = queues[config.get_resource_name(config.BACKTEST_QUEUE, environment)]
    dlq = queues[config.get_resource_name(f"{config.BACKTEST_QUEUE}-dlq", environment)]
    assert all(q.inputs["sqsManagedSseEnabled"] is True for q in queues.values())
    redrive = json.loads(queue.inputs["redrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dlq.outputs["arn"], "maxReceiveCount": 3}
    assert "redrivePolicy" not in dlq.inputs
    consumer_timeout_s = int(config.LAMBDA_FUNCTIONS["backtest-consumer"]["timeout"])
    assert queue.inputs["visibilityTimeoutSeconds"] >= consumer_timeout_s
    exports = plan_of(environment).exports["foundation"]
    assert (exports["backtest_queue_arn"], exports["backtest_dlq_arn"]) == (queue.outputs["arn"], dlq.outputs["arn"])


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_sns__one_alert_email_subscription_per_configured_address(plan_of, environment):
    settings = load_settings(environment)
    frame = _foundation(plan_of, environment)
    alerts_arn = plan_of(environment).exports["foundation"]["alerts_topic_arn"]
    subscriptions = [r.inputs for r in _rows(frame, SUBSCRIPTION)]
    assert sorted(s["endpoint"] for s in subscriptions) == sorted(settings.alert_emails)
    assert {(s["topic"], s["protocol"]) for s in subscriptions} == {(alerts_arn, "email")}


@pytest.mark.parametrize(
    "alert_emails",
    [[], ["a@tradai.io", "b@tradai.io", "c@tradai.io"]],
    ids=["none", "three"],
)
def test_sns__subscriptions_follow_overridden_alert_emails(alert_emails):
    settings = load_settings("dev", {"alert_emails": alert_emails})
    frame = resources_of(plan(settings, ["foundation"]), "foundation")
    assert sorted(r.inputs["endpoint"] for r in _rows(frame, SUBSCRIPTION)) == sorted(alert_emails)


def test_sns__topics_encrypted_with_a_key_cloudwatch_alarms_may_use(plan_of):
    frame = _foundation(plan_of, "prod")
    key = _one(frame, "aws:kms/key:Key")
    topics = _rows(frame, TOPIC)
    assert {t.inputs["name"] for t in topics} == {config.get_resource_name(t, "prod") for t in config.SNS_TOPICS}
    assert {t.inputs["kmsMasterKeyId"] for t in topics} == {key.outputs["arn"]}
    assert key.inputs["enableKeyRotation"] is True
    service_principals = [s["Principal"]["Service"] for s in _statements(key.inputs["policy"])
                          if "Service" in s.get("Principal", {})]
    assert any("cloudwatch.amazonaws.com" in principals for principals in service_principals)


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_tags__every_taggable_resource_carries_the_standard_tags(plan_of, environment):
    frame = _foundation(plan_of, environment)
    untagged = []
    for row in frame.itertuples(index=False):
        if not is_taggable(row.type):
            continue
        tags = row.inputs.get("tags") or {}
        if isinstance(tags, list):  # auto scaling groups: [{key, value, propagateAtLaunch}]
            tags = {tag["key"]: tag["value"] for tag in tags}
        expected = {"Project": "tradai", "Environment": environment, "ManagedBy": "pulumi"}
        if {k: tags.get(k) for k in expected} != expected or not tags.get("Service") or not tags.get("Name"):
            untagged.append((row.type, row.name))
    assert untagged == []


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_protection__data_resources_protected_only_outside_dev_and_local(plan_of, environment):
    frame = _foundation(plan_of, environment)
    protected = environment in config.PROTECTED_ENVIRONMENTS
    data = frame[frame["type"].isin(DATA_TYPES)]
    assert len(data) == 4
    assert set(data["protect"]) == {protected}
    assert not frame[~frame["type"].isin(DATA_TYPES)]["protect"].any()


def test_determinism__two_plans_of_the_same_environment_are_identical():
    settings = load_settings("staging")
    first = plan(settings, ["foundation"]).to_json()
    second = plan(settings, ["foundation"]).to_json()
    assert first == second


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_exports__exactly_the_contract_keys_pointing_at_the_planned_resources(plan_of, environment):
    frame = _foundation(plan_of, environment)
    exports = plan_of(environment).exports["foundation"]
    assert set(exports) == CONTRACT_KEYS
    tiers = _subnet_ids_by_tier(frame)
    assert {tier: exports[f"{tier}_subnet_ids"] for tier in tiers} == tiers
    assert all(len(ids) == 2 for ids in tiers.values())
    groups = {name: group_id for group_id, name in _group_names_by_id(frame).items()}
    assert {key: exports[f"{key}_sg_id"] for key in groups} == groups
    assert (exports["vpc_id"], exports["vpc_cidr"]) == (_one(frame, VPC).id, config.VPC_CIDR)
    database = _one(frame, RDS_INSTANCE)
    assert (exports["rds_address"], exports["rds_port"], exports["rds_db_name"]) == (
        database.outputs["address"], 5432, "mlflow")
    assert exports["rds_endpoint"] == database.outputs["endpoint"]
