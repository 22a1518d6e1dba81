"""The NAT instance (the cost choice over a NAT gateway): an auto scaling group of one behind a fixed network interface.

How the private subnets reach an instance that an ASG may replace at any time: a fixed elastic network interface
(ENI) is created here, in the first public subnet, with source/destination checking disabled and an Elastic IP.
The private route table's default route points at that ENI, never at an instance, so routes stay owned by this
program and never drift. At boot, each instance the group launches attaches the ENI as its second interface
(the role allows exactly that, on that ENI and on instances carrying the NAT's Name tag), turns on forwarding and
masquerades out of it; the instance's own first interface, with a public IP, serves only the bootstrap
(package install and the attach call). A launch template cannot name a fixed ENI for an ASG, and an instance that
rewrote route tables itself would fight this program on every update, hence the attach at boot.

Consequences: the ENI lives in one AZ, so the group spans only that subnet, and outbound traffic from the
private tier stops for the few minutes a replacement takes (the accepted trade-off of the cost choice). The
Elastic IP gives the platform one stable egress address (exchanges allow-list API keys by IP). A new AMI only
reaches a running NAT when the group replaces the instance (the ASG refresh runbook), never by surprise on `up`.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from typing import Any

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.foundation.vpc import Network
from tradai_nb.stacks.policy import PolicyBuilder, assume_role_policy

NAT_SERVICE = "nat"
SSM_CORE_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
# Amazon Linux 2023 (with the AWS CLI and SSM agent), for the instance type's architecture.
AMI_NAME_PATTERN = "al2023-ami-2023.*-kernel-*-{architecture}"
_GRAVITON = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*\.")

# Runs at every boot (systemd unit), so a rebooted NAT comes back by itself; values are set in the header above it.
NAT_SETUP_SCRIPT = r"""
set -euo pipefail
imds() {
  local token
  token=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" http://169.254.169.254/latest/api/token)
  curl -sf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}
nat_mac() {
  for mac in $(imds network/interfaces/macs/); do
    if [ "$(imds "network/interfaces/macs/${mac}interface-id" || true)" = "$ENI_ID" ]; then echo "${mac%/}"; fi
  done
}
mac=$(nat_mac)
if [ -z "$mac" ]; then
  # A replaced instance may hold the interface for a little while it terminates.
  for attempt in $(seq 1 30); do
    aws ec2 attach-network-interface --region "$REGION" --instance-id "$(imds instance-id)" \
      --device-index 1 --network-interface-id "$ENI_ID" && break
    sleep 10
  done
fi
nat_if=""
for attempt in $(seq 1 60); do
  mac=$(nat_mac)
  nat_if=$(ip -o link | awk -v mac="$mac" 'mac != "" && index($0, mac) { sub(":$", "", $2); print $2 }')
  # Usable once the OS has brought it up with its address (amazon-ec2-net-utils does so on hot-plug).
  if [ -n "$nat_if" ] && [ -n "$(ip -o -4 addr show dev "$nat_if")" ]; then break; fi
  nat_if=""
  sleep 5
done
if [ -z "$nat_if" ]; then
  echo "NAT interface $ENI_ID never appeared; powering off so the auto scaling group replaces this instance" >&2
  systemctl poweroff
  exit 1
fi
sysctl -q -w net.ipv4.ip_forward=1
sysctl -q -w "net.ipv4.conf.${nat_if}.send_redirects=0"
# Forwarded packets enter and leave by the same interface; strict reverse-path filtering would drop them.
sysctl -q -w "net.ipv4.conf.${nat_if}.rp_filter=2"
iptables -t nat -C POSTROUTING -o "$nat_if" -j MASQUERADE 2>/dev/null \
  || iptables -t nat -A POSTROUTING -o "$nat_if" -j MASQUERADE
ip route replace default via "$GATEWAY" dev "$nat_if" metric 1
"""

NAT_UNIT = """[Unit]
Description=TradAI NAT: attach the fixed interface, forward and masquerade through it
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/tradai-nat

[Install]
WantedBy=multi-user.target
"""


def ami_architecture(instance_type: str) -> str:
    """arm64 for Graviton instance types (t4g, m7g, c6gn ...), x86_64 otherwise."""
    return "arm64" if _GRAVITON.match(instance_type) else "x86_64"


def vpc_router(subnet_cidr: str) -> str:
    """The VPC router of a subnet: its network address plus one."""
    return str(ipaddress.ip_network(subnet_cidr)[1])


def user_data(eni_id: str, region: str, gateway: str) -> str:
    """Cloud-init user data (base64): install the setup script and a unit that runs it at every boot."""
    header = f"ENI_ID={eni_id}\nREGION={region}\nGATEWAY={gateway}\n"
    script = (
        "#!/bin/bash\n"
        "set -euo pipefail\n"
        "dnf install -y iptables-nft\n"
        "cat > /usr/local/sbin/tradai-nat <<'NAT_SETUP'\n"
        f"#!/bin/bash\n{header}{NAT_SETUP_SCRIPT.lstrip()}"
        "NAT_SETUP\n"
        "chmod 0755 /usr/local/sbin/tradai-nat\n"
        "cat > /etc/systemd/system/tradai-nat.service <<'NAT_UNIT'\n"
        f"{NAT_UNIT}"
        "NAT_UNIT\n"
        "systemctl daemon-reload\n"
        "systemctl enable --now tradai-nat.service\n"
    )
    return base64.b64encode(script.encode()).decode()


def create_nat_instance(settings: Settings, network: Network, nat_security_group: Any) -> Any:
    """Create the fixed ENI, its Elastic IP, the private default route, the role, launch template and ASG."""
    env = settings.environment
    name = config.get_resource_name("nat", env)
    tags = config.get_tags(service=NAT_SERVICE, environment=env, Name=name)
    public_subnet = network.subnets["public"][0]

    interface = _fixed_interface(network, public_subnet, nat_security_group, tags)
    profile = _instance_profile(settings, name, tags, interface)
    template = _launch_template(settings, network, name, tags, nat_security_group, profile, interface)
    return _nat_group(name, tags, public_subnet, template)


def _fixed_interface(network: Network, public_subnet: Any, nat_security_group: Any, tags: dict[str, str]) -> Any:
    """The fixed NAT interface, its Elastic IP and the private tier's default route through it."""
    from pulumi_aws import ec2

    interface = ec2.NetworkInterface(
        "nat-interface",
        subnet_id=public_subnet.id,
        security_groups=[nat_security_group.id],
        source_dest_check=False,  # it forwards traffic that is neither from nor to itself
        description="Fixed NAT interface: the private tier's default route; attached by the NAT instance at boot",
        tags=tags,
    )
    ec2.Eip(
        "nat-address",
        domain="vpc",
        network_interface=interface.id,
        tags=tags,
        opts=pulumi.ResourceOptions(depends_on=[network.internet_gateway]),
    )
    ec2.Route(
        "private-default-route",
        route_table_id=network.route_tables["private"].id,
        destination_cidr_block="0.0.0.0/0",
        network_interface_id=interface.id,
    )
    return interface


def _instance_profile(settings: Settings, name: str, tags: dict[str, str], interface: Any) -> Any:
    """The NAT's role (attach the fixed interface, Session Manager) and its instance profile."""
    import pulumi_aws as aws
    from pulumi_aws import iam

    account_id = aws.get_caller_identity_output().account_id
    region = settings.aws_region
    role = iam.Role("nat-role", name=name, assume_role_policy=assume_role_policy("ec2.amazonaws.com"), tags=tags)
    attach_policy = PolicyBuilder().allow(
        ["ec2:AttachNetworkInterface"],
        [
            pulumi.Output.concat("arn:aws:ec2:", region, ":", account_id, ":network-interface/", interface.id),
            pulumi.Output.concat("arn:aws:ec2:", region, ":", account_id, ":instance/*"),
        ],
        sid="AttachTheFixedNatInterface",
        # Both the interface and the group's instances carry the NAT's Name tag; nothing else matches.
        condition={"StringEquals": {"aws:ResourceTag/Name": name}},
    )
    iam.RolePolicy("nat-attach-interface", role=role.id, policy=attach_policy.to_json())
    # Session Manager access for on-call, instead of SSH keys.
    iam.RolePolicyAttachment("nat-ssm", role=role.name, policy_arn=SSM_CORE_POLICY_ARN)
    return iam.InstanceProfile("nat-profile", name=name, role=role.name, tags=tags)


def _launch_template(
    settings: Settings,
    network: Network,
    name: str,
    tags: dict[str, str],
    nat_security_group: Any,
    profile: Any,
    interface: Any,
) -> Any:
    """The NAT's launch template: Amazon Linux for its architecture, IMDSv2, encrypted root, the boot script."""
    from pulumi_aws import ec2

    region = settings.aws_region
    architecture = ami_architecture(settings.nat_instance_type)
    ami = ec2.get_ami_output(
        most_recent=True,
        owners=["amazon"],
        filters=[
            {"name": "name", "values": [AMI_NAME_PATTERN.format(architecture=architecture)]},
            {"name": "architecture", "values": [architecture]},
        ],
    )
    gateway = vpc_router(network.subnet_cidrs["public"][0])
    return ec2.LaunchTemplate(
        "nat-launch-template",
        name=name,
        description="NAT instance",
        image_id=ami.id,
        instance_type=settings.nat_instance_type,
        iam_instance_profile={"arn": profile.arn},
        network_interfaces=[
            {
                "device_index": 0,
                "associate_public_ip_address": "true",
                "security_groups": [nat_security_group.id],
                "delete_on_termination": "true",
            }
        ],
        metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
        block_device_mappings=[
            {
                "device_name": "/dev/xvda",
                "ebs": {"encrypted": "true", "volume_type": "gp3", "delete_on_termination": "true"},
            }
        ],
        user_data=interface.id.apply(lambda eni_id: user_data(eni_id, region, gateway)),
        update_default_version=True,
        tag_specifications=[
            {"resource_type": "instance", "tags": tags},
            {"resource_type": "volume", "tags": tags},
        ],
        tags=tags,
    )


def _nat_group(name: str, tags: dict[str, str], public_subnet: Any, template: Any) -> Any:
    """The auto scaling group of one NAT instance, in the fixed interface's subnet."""
    from pulumi_aws import autoscaling

    return autoscaling.Group(
        "nat-group",
        name=name,
        min_size=1,
        max_size=1,
        desired_capacity=1,
        vpc_zone_identifiers=[public_subnet.id],  # the fixed interface's AZ
        launch_template={"id": template.id, "version": "$Latest"},
        health_check_type="EC2",
        health_check_grace_period=120,
        tags=[{"key": key, "value": value, "propagate_at_launch": True} for key, value in tags.items()],
    )
