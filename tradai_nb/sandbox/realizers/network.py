"""The foundation stack's network, as planned: the VPC, its subnets, internet gateway, route tables, routes and their
subnet associations, network ACLs (with their inline entries) and their subnet associations, the security groups and
their ingress and egress rules, the VPC's default security group, the NAT interface and its elastic IP, the VPC
endpoints and the flow log. Each is found by its Name tag (or its planned identifying inputs where it has none: a
route by its table and destination, an association by its subnet, a rule by its group, protocol, ports and peer), so
a second seed finds what the first made.

Every planned network kind is realized: moto creates all of them."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from typing import Any

from tradai_nb.sandbox.realizers.base import Realizer, Sandbox, ec2_arn, first, found_or_created, tags

Outputs = dict[str, Any]


def _name(inputs: Mapping[str, Any]) -> str:
    return str((inputs.get("tags") or {})["Name"])


def _tag_specifications(resource_type: str, inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": tags(inputs)}]


def _named(describe: Callable[..., Mapping[str, Any]], key: str, inputs: Mapping[str, Any], **filters: str) -> Any:
    """The one resource describe lists under key with the planned Name tag (and the filters given), else None."""
    wanted = [{"Name": "tag:Name", "Values": [_name(inputs)]}]
    wanted += [{"Name": name.replace("_", "-"), "Values": [value]} for name, value in filters.items()]
    return first(describe(Filters=wanted)[key], lambda _: True)


# Provider output -> the key EC2 describes it under, of the kinds that output more than their id, ARN, owner, VPC.
_VPC_OUTPUTS = {"cidrBlock": "CidrBlock"}
_SUBNET_OUTPUTS = {
    "cidrBlock": "CidrBlock",
    "availabilityZone": "AvailabilityZone",
    "availabilityZoneId": "AvailabilityZoneId",
}
_INTERFACE_OUTPUTS = {"privateIp": "PrivateIpAddress", "macAddress": "MacAddress", "subnetId": "SubnetId"}


def _outputs(
    sandbox: Sandbox, kind: str, resource_id: str, described: Mapping[str, Any], picked: Mapping[str, str] | None = None
) -> Outputs:
    """What the provider outputs of every EC2 resource: its id, ARN (of kind/id) and owner, its VPC where EC2 says
    it is in one, and the outputs picked (provider name -> EC2's) from what EC2 describes."""
    outputs = {"id": resource_id, "arn": ec2_arn(sandbox, f"{kind}/{resource_id}"), "ownerId": described["OwnerId"]}
    if kind != "vpc" and described.get("VpcId"):
        outputs["vpcId"] = described["VpcId"]
    return {**outputs, **{output: described[key] for output, key in (picked or {}).items()}}


def _vpc(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    ec2 = sandbox.client("ec2")

    def create() -> Any:
        vpc = ec2.create_vpc(CidrBlock=inputs["cidrBlock"], TagSpecifications=_tag_specifications("vpc", inputs))
        for attribute in ("enableDnsSupport", "enableDnsHostnames"):
            if attribute in inputs:
                name = attribute[:1].upper() + attribute[1:]
                ec2.modify_vpc_attribute(VpcId=vpc["Vpc"]["VpcId"], **{name: {"Value": bool(inputs[attribute])}})
        return vpc["Vpc"]

    action, vpc = found_or_created(lambda: _named(ec2.describe_vpcs, "Vpcs", inputs, cidr=inputs["cidrBlock"]), create)
    vpc_id = vpc["VpcId"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    [group] = ec2.describe_security_groups(Filters=[*in_vpc, {"Name": "group-name", "Values": ["default"]}])[
        "SecurityGroups"
    ]
    [table] = ec2.describe_route_tables(Filters=[*in_vpc, {"Name": "association.main", "Values": ["true"]}])[
        "RouteTables"
    ]
    [acl] = ec2.describe_network_acls(Filters=[*in_vpc, {"Name": "default", "Values": ["true"]}])["NetworkAcls"]
    defaults = {"defaultSecurityGroupId": group["GroupId"], "defaultNetworkAclId": acl["NetworkAclId"]}
    tables = {"mainRouteTableId": table["RouteTableId"], "defaultRouteTableId": table["RouteTableId"]}
    return action, {**_outputs(sandbox, "vpc", vpc_id, vpc, _VPC_OUTPUTS), **defaults, **tables}


def _subnet(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    ec2 = sandbox.client("ec2")

    def create() -> Any:
        subnet = ec2.create_subnet(
            VpcId=inputs["vpcId"],
            CidrBlock=inputs["cidrBlock"],
            AvailabilityZone=inputs["availabilityZone"],
            TagSpecifications=_tag_specifications("subnet", inputs),
        )["Subnet"]
        if inputs.get("mapPublicIpOnLaunch"):
            ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True})
        return subnet

    action, subnet = found_or_created(
        lambda: _named(ec2.describe_subnets, "Subnets", inputs, vpc_id=inputs["vpcId"], cidr_block=inputs["cidrBlock"]),
        create,
    )
    return action, _outputs(sandbox, "subnet", subnet["SubnetId"], subnet, _SUBNET_OUTPUTS)


def _internet_gateway(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    ec2 = sandbox.client("ec2")

    def create() -> Any:
        gateway = ec2.create_internet_gateway(TagSpecifications=_tag_specifications("internet-gateway", inputs))
        gateway_id = gateway["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=inputs["vpcId"])
        return gateway["InternetGateway"]

    action, gateway = found_or_created(
        lambda: _named(ec2.describe_internet_gateways, "InternetGateways", inputs), create
    )
    return action, {
        **_outputs(sandbox, "internet-gateway", gateway["InternetGatewayId"], gateway),
        "vpcId": inputs["vpcId"],
    }


def _route_table(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    ec2 = sandbox.client("ec2")
    action, table = found_or_created(
        lambda: _named(ec2.describe_route_tables, "RouteTables", inputs, vpc_id=inputs["vpcId"]),
        lambda: ec2.create_route_table(
            VpcId=inputs["vpcId"], TagSpecifications=_tag_specifications("route-table", inputs)
        )["RouteTable"],
    )
    return action, _outputs(sandbox, "route-table", table["RouteTableId"], table)


# Planned route target input -> create_route argument.
_ROUTE_TARGETS = {
    "gatewayId": "GatewayId",
    "networkInterfaceId": "NetworkInterfaceId",
    "natGatewayId": "NatGatewayId",
    "vpcPeeringConnectionId": "VpcPeeringConnectionId",
    "transitGatewayId": "TransitGatewayId",
}


def _route(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    """A route has no id of its own in EC2: the provider's is r-<table id><hash of the destination>."""
    ec2 = sandbox.client("ec2")
    table_id, destination = inputs["routeTableId"], inputs["destinationCidrBlock"]

    def find() -> Any:
        [table] = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"]
        return first(table["Routes"], lambda route: route.get("DestinationCidrBlock") == destination)

    def create() -> Any:
        targets = {api: inputs[key] for key, api in _ROUTE_TARGETS.items() if inputs.get(key)}
        ec2.create_route(RouteTableId=table_id, DestinationCidrBlock=destination, **targets)
        return find()

    action, _ = found_or_created(find, create)
    return action, {"id": f"r-{table_id}{zlib.crc32(destination.encode())}"}


def _route_table_association(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    ec2 = sandbox.client("ec2")
    table_id, subnet_id = inputs["routeTableId"], inputs["subnetId"]

    def find() -> Any:
        [table] = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"]
        return first(table["Associations"], lambda association: association.get("SubnetId") == subnet_id)

    action, association = found_or_created(
        find, lambda: ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    )
    return action, {"id": association.get("RouteTableAssociationId") or association["AssociationId"]}


def _acl_entry(entry: Mapping[str, Any], egress: bool) -> dict[str, Any]:
    """A planned inline network ACL rule as create_network_acl_entry takes it (ports only for TCP and UDP)."""
    arguments: dict[str, Any] = {
        "RuleNumber": int(entry["ruleNo"]),
        "Protocol": str(entry["protocol"]),
        "RuleAction": entry["action"],
        "Egress": egress,
        "CidrBlock": entry["cidrBlock"],
    }
    if str(entry["protocol"]) not in ("-1", "all"):
        arguments["PortRange"] = {"From": int(entry["fromPort"]), "To": int(entry["toPort"])}
    return arguments


def _network_acl(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    ec2 = sandbox.client("ec2")

    def create() -> Any:
        acl = ec2.create_network_acl(
            VpcId=inputs["vpcId"], TagSpecifications=_tag_specifications("network-acl", inputs)
        )["NetworkAcl"]
        for direction, egress in (("ingress", False), ("egress", True)):
            for entry in inputs.get(direction) or []:
                ec2.create_network_acl_entry(NetworkAclId=acl["NetworkAclId"], **_acl_entry(entry, egress))
        return acl

    action, acl = found_or_created(
        lambda: _named(ec2.describe_network_acls, "NetworkAcls", inputs, vpc_id=inputs["vpcId"]), create
    )
    return action, _outputs(sandbox, "network-acl", acl["NetworkAclId"], acl)


def _network_acl_association(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    """A subnet is always in one ACL (the VPC's default from its creation): the planned one replaces it."""
    ec2 = sandbox.client("ec2")
    acl_id, subnet_id = inputs["networkAclId"], inputs["subnetId"]
    acls = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])["NetworkAcls"]
    [current] = [a for acl in acls for a in acl["Associations"] if a["SubnetId"] == subnet_id]
    action, association_id = found_or_created(
        lambda: current["NetworkAclAssociationId"] if current["NetworkAclId"] == acl_id else None,
        lambda: ec2.replace_network_acl_association(
            AssociationId=current["NetworkAclAssociationId"], NetworkAclId=acl_id
        )["NewAssociationId"],
    )
    return action, {"id": association_id}


def _revoke_all(sandbox: Sandbox, group_id: str) -> None:
    """Remove every rule of the group: the provider manages a group's rules itself (it removes the allow-all egress
    rule AWS adds to a new group; a default group without planned rules keeps none), the planned rules are added
    as their own resources."""
    ec2 = sandbox.client("ec2")
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    for egress, revoke in ((True, ec2.revoke_security_group_egress), (False, ec2.revoke_security_group_ingress)):
        ids = [r["SecurityGroupRuleId"] for r in rules["SecurityGroupRules"] if r["IsEgress"] is egress]
        if ids:
            revoke(GroupId=group_id, SecurityGroupRuleIds=ids)


def _security_group(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    ec2 = sandbox.client("ec2")
    name, vpc_id = inputs["name"], inputs["vpcId"]

    def find() -> Any:
        filters = [{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc_id]}]
        return first(ec2.describe_security_groups(Filters=filters)["SecurityGroups"], lambda _: True)

    def create() -> Any:
        ec2.create_security_group(
            GroupName=name,
            Description=inputs.get("description") or "Managed by Pulumi",
            VpcId=vpc_id,
            TagSpecifications=_tag_specifications("security-group", inputs),
        )
        _revoke_all(sandbox, find()["GroupId"])
        return find()

    action, group = found_or_created(find, create)
    return action, {**_outputs(sandbox, "security-group", group["GroupId"], group), "name": name}


def _default_security_group(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    """The VPC's default group, adopted as the provider does: tagged, and its rules replaced by the planned (none)."""
    ec2 = sandbox.client("ec2")
    filters = [{"Name": "group-name", "Values": ["default"]}, {"Name": "vpc-id", "Values": [inputs["vpcId"]]}]
    [group] = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]

    def adopt() -> Any:
        ec2.create_tags(Resources=[group["GroupId"]], Tags=tags(inputs))
        _revoke_all(sandbox, group["GroupId"])
        return group

    named = {t["Key"]: t["Value"] for t in group.get("Tags") or []}.get("Name") == _name(inputs)
    action, group = found_or_created(lambda: group if named else None, adopt)
    return action, _outputs(sandbox, "security-group", group["GroupId"], group)


def _permission(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A planned security group rule as one IP permission of authorize_security_group_ingress/egress."""
    protocol = str(inputs["ipProtocol"])
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if protocol != "-1":
        permission.update(FromPort=int(inputs["fromPort"]), ToPort=int(inputs["toPort"]))
    peer = {"Description": inputs["description"]} if inputs.get("description") else {}
    if inputs.get("referencedSecurityGroupId"):
        permission["UserIdGroupPairs"] = [{"GroupId": inputs["referencedSecurityGroupId"], **peer}]
    else:
        permission["IpRanges"] = [{"CidrIp": inputs["cidrIpv4"], **peer}]
    return permission


def _is_planned_rule(rule: Mapping[str, Any], inputs: Mapping[str, Any], egress: bool) -> bool:
    permission = _permission(inputs)
    return (
        rule["IsEgress"] is egress
        and rule["IpProtocol"] == permission["IpProtocol"]
        and (rule["FromPort"], rule["ToPort"]) == (permission.get("FromPort", -1), permission.get("ToPort", -1))
        and rule.get("CidrIpv4") == inputs.get("cidrIpv4")
        and (rule.get("ReferencedGroupInfo") or {}).get("GroupId") == inputs.get("referencedSecurityGroupId")
    )


def _security_group_rule(egress: bool) -> Realizer:
    """The realizer of a planned ingress (egress False) or egress rule, found by its group, protocol, ports and
    peer (a CIDR or a referenced group)."""

    def realize(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
        ec2 = sandbox.client("ec2")
        group_id = inputs["securityGroupId"]
        authorize = ec2.authorize_security_group_egress if egress else ec2.authorize_security_group_ingress
        action, rule = found_or_created(
            lambda: first(
                ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])[
                    "SecurityGroupRules"
                ],
                lambda rule: _is_planned_rule(rule, inputs, egress),
            ),
            lambda: authorize(
                GroupId=group_id,
                IpPermissions=[_permission(inputs)],
                TagSpecifications=_tag_specifications("security-group-rule", inputs),
            )["SecurityGroupRules"][0],
        )
        rule_id = rule["SecurityGroupRuleId"]
        return action, {
            "id": rule_id,
            "securityGroupRuleId": rule_id,
            "arn": ec2_arn(sandbox, f"security-group-rule/{rule_id}"),
        }

    return realize


def _network_interface(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    ec2 = sandbox.client("ec2")

    def create() -> Any:
        interface = ec2.create_network_interface(
            SubnetId=inputs["subnetId"],
            Groups=list(inputs.get("securityGroups") or []),
            Description=inputs.get("description", ""),
            TagSpecifications=_tag_specifications("network-interface", inputs),
        )["NetworkInterface"]
        if "sourceDestCheck" in inputs:
            ec2.modify_network_interface_attribute(
                NetworkInterfaceId=interface["NetworkInterfaceId"],
                SourceDestCheck={"Value": bool(inputs["sourceDestCheck"])},
            )
        return interface

    action, interface = found_or_created(
        lambda: _named(ec2.describe_network_interfaces, "NetworkInterfaces", inputs, subnet_id=inputs["subnetId"]),
        create,
    )
    private_ips = [ip["PrivateIpAddress"] for ip in interface["PrivateIpAddresses"]]
    outputs = _outputs(sandbox, "network-interface", interface["NetworkInterfaceId"], interface, _INTERFACE_OUTPUTS)
    return action, {**outputs, "privateIps": private_ips, "privateIpList": private_ips}


def _eip(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    ec2 = sandbox.client("ec2")

    def find() -> Any:
        return _named(ec2.describe_addresses, "Addresses", inputs)

    def create() -> Any:
        allocated = ec2.allocate_address(
            Domain=inputs.get("domain", "vpc"), TagSpecifications=_tag_specifications("elastic-ip", inputs)
        )
        if inputs.get("networkInterface"):
            ec2.associate_address(AllocationId=allocated["AllocationId"], NetworkInterfaceId=inputs["networkInterface"])
        return find()

    action, address = found_or_created(find, create)
    allocation_id = address["AllocationId"]
    outputs = {
        "id": allocation_id,
        "allocationId": allocation_id,
        "arn": ec2_arn(sandbox, f"elastic-ip/{allocation_id}"),
        "publicIp": address["PublicIp"],
        "domain": address["Domain"],
    }
    if address.get("AssociationId"):
        outputs.update(associationId=address["AssociationId"], privateIp=address["PrivateIpAddress"])
    return action, outputs


# Planned VPC endpoint input -> create_vpc_endpoint argument.
_ENDPOINT_ARGUMENTS = {
    "vpcEndpointType": "VpcEndpointType",
    "routeTableIds": "RouteTableIds",
    "subnetIds": "SubnetIds",
    "securityGroupIds": "SecurityGroupIds",
    "privateDnsEnabled": "PrivateDnsEnabled",
    "policy": "PolicyDocument",
}


def _vpc_endpoint(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    ec2 = sandbox.client("ec2")
    action, endpoint = found_or_created(
        lambda: _named(ec2.describe_vpc_endpoints, "VpcEndpoints", inputs, vpc_id=inputs["vpcId"]),
        lambda: ec2.create_vpc_endpoint(
            VpcId=inputs["vpcId"],
            ServiceName=inputs["serviceName"],
            TagSpecifications=_tag_specifications("vpc-endpoint", inputs),
            **{api: inputs[key] for key, api in _ENDPOINT_ARGUMENTS.items() if key in inputs},
        )["VpcEndpoint"],
    )
    entries = [{"dnsName": e["DnsName"], "hostedZoneId": e["HostedZoneId"]} for e in endpoint.get("DnsEntries") or []]
    outputs = _outputs(sandbox, "vpc-endpoint", endpoint["VpcEndpointId"], endpoint, {"state": "State"})
    return action, {
        **outputs,
        "networkInterfaceIds": list(endpoint.get("NetworkInterfaceIds") or []),
        "dnsEntries": entries,
    }


def _flow_log(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, Outputs]:
    ec2 = sandbox.client("ec2")

    def find() -> Any:
        return _named(ec2.describe_flow_logs, "FlowLogs", inputs, resource_id=inputs["vpcId"])

    def create() -> Any:
        ec2.create_flow_logs(
            ResourceType="VPC",
            ResourceIds=[inputs["vpcId"]],
            TrafficType=inputs["trafficType"],
            LogDestinationType=inputs.get("logDestinationType", "cloud-watch-logs"),
            LogDestination=inputs["logDestination"],
            DeliverLogsPermissionArn=inputs["iamRoleArn"],
            MaxAggregationInterval=int(inputs.get("maxAggregationInterval", 600)),
            TagSpecifications=_tag_specifications("vpc-flow-log", inputs),
        )
        return find()

    action, flow_log = found_or_created(find, create)
    flow_log_id = flow_log["FlowLogId"]
    return action, {"id": flow_log_id, "arn": ec2_arn(sandbox, f"vpc-flow-log/{flow_log_id}")}


REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:ec2/vpc:Vpc": ("vpc", _vpc),
    "aws:ec2/subnet:Subnet": ("subnet", _subnet),
    "aws:ec2/internetGateway:InternetGateway": ("internet gateway", _internet_gateway),
    "aws:ec2/routeTable:RouteTable": ("route table", _route_table),
    "aws:ec2/route:Route": ("route", _route),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("route table association", _route_table_association),
    "aws:ec2/networkAcl:NetworkAcl": ("network acl", _network_acl),
    "aws:ec2/networkAclAssociation:NetworkAclAssociation": ("network acl association", _network_acl_association),
    "aws:ec2/securityGroup:SecurityGroup": ("security group", _security_group),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("default security group", _default_security_group),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "security group ingress rule",
        _security_group_rule(False),
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "security group egress rule",
        _security_group_rule(True),
    ),
    "aws:ec2/networkInterface:NetworkInterface": ("network interface", _network_interface),
    "aws:ec2/eip:Eip": ("elastic ip", _eip),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("vpc endpoint", _vpc_endpoint),
    "aws:ec2/flowLog:FlowLog": ("flow log", _flow_log),
}
