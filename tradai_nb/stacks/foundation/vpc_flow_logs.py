"""VPC flow logs: all traffic of the VPC to a CloudWatch log group, written by a role that can write only there."""

from __future__ import annotations

from typing import Any

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.foundation.vpc import NETWORK_SERVICE, Network
from tradai_nb.stacks.policy import PolicyBuilder, assume_role_policy

FLOW_LOGS_COMPONENT = "vpc-flow-logs"
# Ten minutes is the coarsest (cheapest) aggregation AWS offers; enough for after-the-fact investigation.
AGGREGATION_INTERVAL_S = 600


def create_flow_logs(settings: Settings, network: Network) -> Any:
    """Create the log group (retention from settings), the delivery role and the flow log."""
    from pulumi_aws import cloudwatch, ec2, iam

    env = settings.environment
    name = config.get_resource_name(FLOW_LOGS_COMPONENT, env)
    tags = config.get_tags(service=NETWORK_SERVICE, environment=env, Name=name)

    log_group = cloudwatch.LogGroup(
        "flow-log-group",
        name=config.get_log_group_name(FLOW_LOGS_COMPONENT, env),
        retention_in_days=settings.log_retention_days,
        tags=tags,
    )
    role = iam.Role(
        "flow-log-role", name=name, assume_role_policy=assume_role_policy("vpc-flow-logs.amazonaws.com"), tags=tags
    )
    write_policy = PolicyBuilder().allow(
        ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:DescribeLogGroups"],
        [log_group.arn, pulumi.Output.concat(log_group.arn, ":*")],
        sid="WriteFlowLogsToTheirGroup",
    )
    iam.RolePolicy("flow-log-write", role=role.id, policy=write_policy.to_json())
    return ec2.FlowLog(
        "vpc-flow-log",
        vpc_id=network.vpc.id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=log_group.arn,
        iam_role_arn=role.arn,
        max_aggregation_interval=AGGREGATION_INTERVAL_S,
        tags=tags,
    )
