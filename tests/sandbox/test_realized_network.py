"""The foundation network realized from the local plan: the VPC, every planned subnet, gateway, route table, route,
network ACL, security group and rule, the NAT interface and address, the endpoints and the flow log exist in the
sandbox with their planned CIDRs, zones, names and rules; the foundation exports name them; and the load balancer,
the database and the groups' instances sit in the planned subnets and security groups."""

from __future__ import annotations

import json
import re

import pytest

from tradai_nb.sandbox import planned
from tradai_nb.sandbox.realizers import network

PLAN_ID = re.compile(r"[0-9a-f]{17}")
# The provider outputs no ARN of these (the plan's mocks give every resource one): their ids are what is checked.
WITHOUT_ARN = {
    "aws:ec2/route:Route",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/networkAclAssociation:NetworkAclAssociation",
}
TIERS = ("public", "private", "data")


def _tags(resource) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or resource.get("TagSet") or []}


def _by_name(resources) -> dict[str, dict]:
    return {r["inputs"]["tags"]["Name"]: r for r in resources}


def _planned(sandbox, resource_type: str):
    [foundation] = [s for s in planned.local_plan(sandbox.settings).stacks if s.name == "foundation"]
    return foundation.resources[foundation.resources.type == resource_type]


@pytest.mark.parametrize("resource_type", sorted(network.REALIZERS))
def test_realized__the_foundation_checkpoint_carries_the_sandbox_s_ids_of_the_kind(sandbox, rehearsal, resource_type):
    resources = rehearsal.of("foundation", resource_type)
    checkpoint = json.dumps(rehearsal.checkpoint("foundation"))
    rows = list(_planned(sandbox, resource_type).itertuples())
    mock_values = [row.id for row in rows] + [row.outputs["arn"] for row in rows if resource_type not in WITHOUT_ARN]

    assert len(resources) == len(rows)
    # The plan's mock ids are 17 hex digits (bare, or after a prefix); none is left anywhere in the checkpoint.
    assert [r["urn"] for r in resources if PLAN_ID.fullmatch(r["id"])] == []
    assert [v for v in mock_values if v in checkpoint] == []


def test_realized__the_vpc_has_its_planned_cidr_and_dns_and_is_the_exported_one(sandbox, rehearsal):
    ec2 = sandbox.session.client("ec2")
    [vpc] = rehearsal.of("foundation", "aws:ec2/vpc:Vpc")
    exports = rehearsal.exports("foundation")
    [found] = ec2.describe_vpcs(VpcIds=[exports["vpc_id"]])["Vpcs"]

    assert found["VpcId"] == vpc["id"] and found["CidrBlock"] == vpc["inputs"]["cidrBlock"] == exports["vpc_cidr"]
    assert _tags(found)["Name"] == vpc["inputs"]["tags"]["Name"] and found["IsDefault"] is False
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        name = attribute[:1].upper() + attribute[1:]
        value = ec2.describe_vpc_attribute(VpcId=vpc["id"], Attribute=attribute)[name]["Value"]
        assert value is vpc["inputs"][attribute]


def test_realized__every_planned_subnet_has_its_cidr_zone_and_name_and_the_tiers_are_exported(sandbox, rehearsal):
    ec2 = sandbox.session.client("ec2")
    subnets = rehearsal.of("foundation", "aws:ec2/subnet:Subnet")
    exports = rehearsal.exports("foundation")
    found = {s["SubnetId"]: s for s in ec2.describe_subnets(SubnetIds=[s["id"] for s in subnets])["Subnets"]}

    assert len(subnets) == 6
    for subnet in subnets:
        inputs, held = subnet["inputs"], found[subnet["id"]]
        assert (held["CidrBlock"], held["AvailabilityZone"], held["VpcId"]) == (
            inputs["cidrBlock"],
            inputs["availabilityZone"],
            exports["vpc_id"],
        )
        assert _tags(held)["Name"] == inputs["tags"]["Name"] and held["MapPublicIpOnLaunch"] is False
    names = {s["id"]: s["inputs"]["tags"]["Name"] for s in subnets}
    for tier in TIERS:
        exported = exports[f"{tier}_subnet_ids"]
        described = ec2.describe_subnets(SubnetIds=exported)["Subnets"]
        assert [names[s] for s in exported] == [f"tradai-{tier}-{zone[-1]}-local" for zone in "ab"]
        # The local environment's zones are the planned subnets' (one subnet of each tier per zone).
        assert [s["AvailabilityZone"] for s in described] == list(sandbox.settings.availability_zones)


def test_realized__the_route_tables_route_through_the_gateway_and_the_nat_interface(sandbox, rehearsal):
    ec2 = sandbox.session.client("ec2")
    vpc_id = rehearsal.exports("foundation")["vpc_id"]
    [gateway] = rehearsal.of("foundation", "aws:ec2/internetGateway:InternetGateway")
    [interface] = rehearsal.of("foundation", "aws:ec2/networkInterface:NetworkInterface")
    tables = {t["id"]: t for t in rehearsal.of("foundation", "aws:ec2/routeTable:RouteTable")}
    [attached] = ec2.describe_internet_gateways(InternetGatewayIds=[gateway["id"]])["InternetGateways"]

    assert attached["Attachments"] == [{"State": "available", "VpcId": vpc_id}]
    assert _tags(attached)["Name"] == gateway["inputs"]["tags"]["Name"]
    held = {t["RouteTableId"]: t for t in ec2.describe_route_tables(RouteTableIds=list(tables))["RouteTables"]}
    assert {_tags(held[i])["Name"] for i in tables} == {t["inputs"]["tags"]["Name"] for t in tables.values()}
    routes = rehearsal.of("foundation", "aws:ec2/route:Route")
    assert len(routes) == 2
    for route in routes:
        inputs = route["inputs"]
        [found] = [
            r
            for r in held[inputs["routeTableId"]]["Routes"]
            if r.get("DestinationCidrBlock") == inputs["destinationCidrBlock"]
        ]
        target = found.get("GatewayId") or found.get("NetworkInterfaceId")
        assert target == inputs.get("gatewayId", inputs.get("networkInterfaceId"))
        assert target in (gateway["id"], interface["id"])
    associations = rehearsal.of("foundation", "aws:ec2/routeTableAssociation:RouteTableAssociation")
    assert len(associations) == 6
    for association in associations:
        inputs = association["inputs"]
        by_subnet = {a["SubnetId"]: a for a in held[inputs["routeTableId"]]["Associations"] if "SubnetId" in a}
        assert by_subnet[inputs["subnetId"]]["RouteTableAssociationId"] == association["id"]


def _acl_entry(entry, egress: bool) -> tuple:
    ports = (None, None) if entry["protocol"] == "-1" else (int(entry["fromPort"]), int(entry["toPort"]))
    return (egress, int(entry["ruleNo"]), entry["protocol"], entry["action"], entry["cidrBlock"], *ports)


def test_realized__every_planned_network_acl_has_its_entries_and_its_subnets(sandbox, rehearsal):
    ec2 = sandbox.session.client("ec2")
    acls = rehearsal.of("foundation", "aws:ec2/networkAcl:NetworkAcl")
    held = {
        a["NetworkAclId"]: a for a in ec2.describe_network_acls(NetworkAclIds=[a["id"] for a in acls])["NetworkAcls"]
    }

    assert len(acls) == 3
    for acl in acls:
        inputs, found = acl["inputs"], held[acl["id"]]
        planned_entries = {_acl_entry(e, False) for e in inputs["ingress"]} | {
            _acl_entry(e, True) for e in inputs["egress"]
        }
        entries = {
            (
                e["Egress"],
                e["RuleNumber"],
                e["Protocol"],
                e["RuleAction"],
                e["CidrBlock"],
                e.get("PortRange", {}).get("From"),
                e.get("PortRange", {}).get("To"),
            )
            for e in found["Entries"]
        }
        assert entries == planned_entries
        assert _tags(found)["Name"] == inputs["tags"]["Name"] and found["VpcId"] == inputs["vpcId"]
    associations = rehearsal.of("foundation", "aws:ec2/networkAclAssociation:NetworkAclAssociation")
    assert len(associations) == 6
    for association in associations:
        subnet = association["inputs"]["subnetId"]
        [acl] = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])[
            "NetworkAcls"
        ]
        [held_association] = [a for a in acl["Associations"] if a["SubnetId"] == subnet]
        assert acl["NetworkAclId"] == association["inputs"]["networkAclId"]
        assert held_association["NetworkAclAssociationId"] == association["id"]


def _rule(rule) -> tuple:
    ports = (rule.get("FromPort", -1), rule.get("ToPort", -1))
    return rule["IpProtocol"], *ports, rule.get("CidrIpv4"), (rule.get("ReferencedGroupInfo") or {}).get("GroupId")


def _planned_rule(inputs) -> tuple:
    ports = (-1, -1) if inputs["ipProtocol"] == "-1" else (int(inputs["fromPort"]), int(inputs["toPort"]))
    return inputs["ipProtocol"], *ports, inputs.get("cidrIpv4"), inputs.get("referencedSecurityGroupId")


def test_realized__every_planned_security_group_has_exactly_its_planned_rules(sandbox, rehearsal):
    ec2 = sandbox.session.client("ec2")
    groups = rehearsal.of("foundation", "aws:ec2/securityGroup:SecurityGroup")
    exports = rehearsal.exports("foundation")
    planned_rules = {
        (egress, r["inputs"]["securityGroupId"], _planned_rule(r["inputs"]), r["id"])
        for egress, kind in ((False, "Ingress"), (True, "Egress"))
        for r in rehearsal.of("foundation", f"aws:vpc/securityGroup{kind}Rule:SecurityGroup{kind}Rule")
    }
    ids = [g["id"] for g in groups]
    held = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": ids}])["SecurityGroupRules"]

    assert len(groups) == 5 and len(planned_rules) == 16
    assert {(r["IsEgress"], r["GroupId"], _rule(r), r["SecurityGroupRuleId"]) for r in held} == planned_rules
    found = {g["GroupId"]: g for g in ec2.describe_security_groups(GroupIds=ids)["SecurityGroups"]}
    for group in groups:
        inputs = group["inputs"]
        assert (found[group["id"]]["GroupName"], found[group["id"]]["Description"]) == (
            inputs["name"],
            inputs["description"],
        )
        assert found[group["id"]]["VpcId"] == exports["vpc_id"] and group["outputs"]["arn"].endswith(group["id"])
        tier = inputs["name"].removeprefix("tradai-").removesuffix("-sg-local").replace("-", "_")
        assert exports[f"{tier}_sg_id"] == group["id"]


def test_realized__the_default_security_group_is_adopted_and_holds_no_rules(sandbox, rehearsal):
    ec2 = sandbox.session.client("ec2")
    [default] = rehearsal.of("foundation", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    [group] = ec2.describe_security_groups(GroupIds=[default["id"]])["SecurityGroups"]

    assert (group["GroupName"], group["VpcId"]) == ("default", rehearsal.exports("foundation")["vpc_id"])
    assert _tags(group)["Name"] == default["inputs"]["tags"]["Name"]
    assert (group["IpPermissions"], group["IpPermissionsEgress"]) == ([], [])


def test_realized__the_nat_interface_has_its_subnet_group_and_address(sandbox, rehearsal):
    ec2 = sandbox.session.client("ec2")
    [interface] = rehearsal.of("foundation", "aws:ec2/networkInterface:NetworkInterface")
    [address] = rehearsal.of("foundation", "aws:ec2/eip:Eip")
    [found] = ec2.describe_network_interfaces(NetworkInterfaceIds=[interface["id"]])["NetworkInterfaces"]
    [allocated] = ec2.describe_addresses(AllocationIds=[address["id"]])["Addresses"]
    inputs = interface["inputs"]

    assert found["SubnetId"] == inputs["subnetId"] == rehearsal.exports("foundation")["public_subnet_ids"][0]
    assert [g["GroupId"] for g in found["Groups"]] == inputs["securityGroups"]
    assert found["SourceDestCheck"] is False and _tags(found)["Name"] == inputs["tags"]["Name"]
    assert allocated["NetworkInterfaceId"] == address["inputs"]["networkInterface"] == interface["id"]
    assert allocated["Domain"] == "vpc" and _tags(allocated)["Name"] == address["inputs"]["tags"]["Name"]


def test_realized__every_planned_endpoint_serves_its_route_tables_or_subnets(sandbox, rehearsal):
    ec2 = sandbox.session.client("ec2")
    endpoints = rehearsal.of("foundation", "aws:ec2/vpcEndpoint:VpcEndpoint")
    held = {
        e["VpcEndpointId"]: e
        for e in ec2.describe_vpc_endpoints(VpcEndpointIds=[e["id"] for e in endpoints])["VpcEndpoints"]
    }

    assert len(endpoints) == 7
    for endpoint in endpoints:
        inputs, found = endpoint["inputs"], held[endpoint["id"]]
        assert (found["ServiceName"], found["VpcEndpointType"], found["VpcId"]) == (
            inputs["serviceName"],
            inputs["vpcEndpointType"],
            inputs["vpcId"],
        )
        assert sorted(found["RouteTableIds"]) == sorted(inputs.get("routeTableIds", []))
        assert sorted(found["SubnetIds"]) == sorted(inputs.get("subnetIds", []))
        assert [g["GroupId"] for g in found["Groups"]] == inputs.get("securityGroupIds", [])
        assert _tags(found)["Name"] == inputs["tags"]["Name"]


def test_realized__the_flow_log_records_the_vpc_to_its_planned_destination(sandbox, rehearsal):
    ec2 = sandbox.session.client("ec2")
    [flow_log] = rehearsal.of("foundation", "aws:ec2/flowLog:FlowLog")
    [found] = ec2.describe_flow_logs(FlowLogIds=[flow_log["id"]])["FlowLogs"]
    inputs = flow_log["inputs"]

    assert (found["ResourceId"], found["TrafficType"], found["LogDestination"]) == (
        rehearsal.exports("foundation")["vpc_id"],
        inputs["trafficType"],
        inputs["logDestination"],
    )
    assert found["DeliverLogsPermissionArn"] == inputs["iamRoleArn"] and _tags(found)["Name"] == inputs["tags"]["Name"]


def test_realized__the_load_balancer_and_target_groups_are_in_the_planned_network(sandbox, rehearsal):
    elbv2 = sandbox.session.client("elbv2")
    foundation = rehearsal.exports("foundation")
    [balancer] = rehearsal.of("compute", "aws:lb/loadBalancer:LoadBalancer")
    [found] = elbv2.describe_load_balancers(LoadBalancerArns=[balancer["id"]])["LoadBalancers"]

    assert sorted(z["SubnetId"] for z in found["AvailabilityZones"]) == sorted(foundation["public_subnet_ids"])
    assert found["SecurityGroups"] == [foundation["alb_sg_id"]] and found["VpcId"] == foundation["vpc_id"]
    groups = rehearsal.of("compute", "aws:lb/targetGroup:TargetGroup")
    held = elbv2.describe_target_groups(TargetGroupArns=[g["id"] for g in groups])["TargetGroups"]
    assert {g["VpcId"] for g in held} == {foundation["vpc_id"]}


def test_realized__the_database_is_in_the_data_subnets_and_its_security_group(sandbox, rehearsal):
    rds = sandbox.session.client("rds")
    foundation = rehearsal.exports("foundation")
    [instance] = rehearsal.resources("aws:rds/instance:Instance")
    [db] = rds.describe_db_instances(DBInstanceIdentifier=instance["inputs"]["identifier"])["DBInstances"]

    assert sorted(s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]) == sorted(
        foundation["data_subnet_ids"]
    )
    assert db["DBSubnetGroup"]["VpcId"] == foundation["vpc_id"]
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [foundation["rds_sg_id"]]


@pytest.mark.parametrize(("stack", "tier", "group"), [("foundation", "public", "nat"), ("compute", "private", "ecs")])
def test_realized__every_group_s_instance_is_in_its_planned_subnets_and_security_group(
    sandbox, rehearsal, stack, tier, group
):
    ec2 = sandbox.session.client("ec2")
    foundation = rehearsal.exports("foundation")
    [scaling] = rehearsal.of(stack, "aws:autoscaling/group:Group")
    found = sandbox.session.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[scaling["id"]])
    [instance_id] = [i["InstanceId"] for i in found["AutoScalingGroups"][0]["Instances"]]
    [instance] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"]

    subnets = scaling["inputs"]["vpcZoneIdentifiers"]
    assert subnets and set(subnets) <= set(foundation[f"{tier}_subnet_ids"]) and instance["SubnetId"] in subnets
    assert instance["VpcId"] == foundation["vpc_id"]
    [template] = rehearsal.of(stack, "aws:ec2/launchTemplate:LaunchTemplate")
    [version] = ec2.describe_launch_template_versions(LaunchTemplateId=template["id"])["LaunchTemplateVersions"]
    interfaces = version["LaunchTemplateData"].get("NetworkInterfaces")
    if interfaces:
        # The NAT template puts its groups on the interface it launches with; moto gives a launched instance's
        # interface the VPC's default group instead, so the planned group is checked on the template.
        assert [i["Groups"] for i in interfaces] == [[foundation[f"{group}_sg_id"]]]
    else:
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == [foundation[f"{group}_sg_id"]]
