"""IAM for compute: the ECS execution and task roles, the consolidated host's instance role and profile."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.compute.upstream import UpstreamOutputs
from tradai_nb.stacks.policy import PolicyBuilder, assume_role_policy

if TYPE_CHECKING:
    import pulumi_aws as aws

# The buckets services and functions work with; the logs bucket (audit records, CloudTrail) stays out of reach.
SERVICE_BUCKETS = ("configs", "results", "arcticdb", "mlflow")
TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
)
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
# ECS Exec opens SSM session channels from inside the task; these actions have no resource-level permissions.
EXEC_CHANNEL_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)
SSM_CORE_POLICY = "AmazonSSMManagedInstanceCore"


@dataclass(frozen=True)
class AccountArns:
    """Builds ARNs of resources known by name (log groups, task families) in the stack's account and region."""

    partition: pulumi.Output
    region: str
    account_id: pulumi.Output

    @classmethod
    def lookup(cls, settings: Settings) -> AccountArns:
        import pulumi_aws as aws

        account_id = aws.get_caller_identity_output().account_id
        return cls(aws.get_partition_output().partition, settings.aws_region, account_id)

    def arn(self, service: str, resource: str) -> pulumi.Output:
        return pulumi.Output.concat(
            "arn:",
            self.partition,
            ":",
            service,
            ":",
            self.region,
            ":",
            self.account_id,
            ":",
            resource,
        )

    def log_streams(self, log_group: str) -> pulumi.Output:
        """The ARN pattern covering every stream of a log group (what CreateLogStream/PutLogEvents act on)."""
        return self.arn("logs", f"log-group:{log_group}:*")

    def aws_managed_policy(self, name: str) -> pulumi.Output:
        return pulumi.Output.concat("arn:", self.partition, ":iam::aws:policy/", name)


@dataclass(frozen=True)
class ServiceRole:
    """A role with its one inline policy (dependents wait for the policy, not just the role)."""

    role: aws.iam.Role
    policy: aws.iam.RolePolicy


@dataclass(frozen=True)
class ComputeRoles:
    """The roles ECS tasks and the consolidated host run with."""

    execution: ServiceRole
    task: ServiceRole
    instance: ServiceRole
    instance_profile: aws.iam.InstanceProfile


def service_role(key: str, principal: str, policy: PolicyBuilder, settings: Settings, service: str) -> ServiceRole:
    """Role `tradai-<key>-<env>` assumable by one AWS service principal, with `policy` inline."""
    import pulumi_aws as aws

    name = config.get_resource_name(key, settings.environment)
    role = aws.iam.Role(
        key,
        name=name,
        assume_role_policy=assume_role_policy(principal),
        tags=config.get_tags(service=service, environment=settings.environment),
    )
    inline = aws.iam.RolePolicy(key, name=name, role=role.id, policy=policy.to_json())
    return ServiceRole(role, inline)


def add_data_access(policy: PolicyBuilder, upstream: UpstreamOutputs) -> PolicyBuilder:
    """The data the platform's code works with: the named tables, bucket objects, backtest queue, alerts topic."""
    tables = [upstream.entry("table_arns", key) for key in config.DYNAMODB_TABLES]
    buckets = [upstream.entry("bucket_arns", key) for key in SERVICE_BUCKETS]
    return (
        policy.allow(TABLE_ACTIONS, [*tables, *(pulumi.Output.concat(t, "/index/*") for t in tables)], sid="Tables")
        .allow(["s3:GetBucketLocation", "s3:ListBucket"], buckets, sid="ListBuckets")
        .allow(
            ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            [pulumi.Output.concat(b, "/*") for b in buckets],
            sid="BucketObjects",
        )
        .allow(
            ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
            [upstream.backtest_queue_arn],
            sid="SubmitBacktests",
        )
        .allow(["sns:Publish"], [upstream.alerts_topic_arn], sid="PublishAlerts")
    )


def add_image_pull(policy: PolicyBuilder, upstream: UpstreamOutputs, repositories: Sequence[str]) -> PolicyBuilder:
    """Pull from the named ECR repositories; the registry token is account-wide by design (narrow action)."""
    return policy.allow(["ecr:GetAuthorizationToken"], ["*"], sid="RegistryToken").allow(
        ECR_PULL_ACTIONS, [upstream.entry("ecr_repository_arns", r) for r in repositories], sid="PullImages"
    )


def compute_roles(settings: Settings, upstream: UpstreamOutputs, arns: AccountArns) -> ComputeRoles:
    """The ECS execution and task roles and the consolidated instance role with its profile."""
    import pulumi_aws as aws

    env = settings.environment
    services = list(config.SERVICES)

    execution_policy = (
        add_image_pull(PolicyBuilder(), upstream, services)
        .allow(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [arns.log_streams(config.get_service_log_group(s, env)) for s in services],
            sid="ServiceLogs",
        )
        .allow(["secretsmanager:GetSecretValue"], [upstream.rds_secret_arn], sid="MlflowDatabaseSecret")
    )
    execution = service_role("ecs-execution", "ecs-tasks.amazonaws.com", execution_policy, settings, "ecs")

    task_policy = add_data_access(PolicyBuilder(), upstream).allow(EXEC_CHANNEL_ACTIONS, ["*"], sid="EcsExec")
    task = service_role("ecs-task", "ecs-tasks.amazonaws.com", task_policy, settings, "ecs")

    instance_policy = (
        add_data_access(add_image_pull(PolicyBuilder(), upstream, services), upstream)
        .allow(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [arns.log_streams(config.CONSOLIDATED_LOG_GROUP)],
            sid="ContainerLogs",
        )
        .allow(["secretsmanager:GetSecretValue"], [upstream.rds_secret_arn], sid="MlflowDatabaseSecret")
    )
    instance = service_role("consolidated-instance", "ec2.amazonaws.com", instance_policy, settings, "consolidated")
    # Session Manager access (the runbooks' way in; no SSH keys) through AWS's maintained policy.
    aws.iam.RolePolicyAttachment(
        "consolidated-instance-ssm-core",
        role=instance.role.name,
        policy_arn=arns.aws_managed_policy(SSM_CORE_POLICY),
    )
    profile = aws.iam.InstanceProfile(
        "consolidated-instance",
        name=config.get_resource_name("consolidated-instance", env),
        role=instance.role.name,
        tags=config.get_tags(service="consolidated", environment=env),
    )
    return ComputeRoles(execution, task, instance, profile)
