"""The policy rules: each rule passes a small compliant program and catches a violating one, both planned under the
mock runtime; the whole estate passes in every environment."""

from __future__ import annotations

import functools
import json

import pulumi
import pytest

from tradai_nb import config
from tradai_nb.engine.plan import Plan, plan, plan_program
from tradai_nb.review import policy
from tradai_nb.settings import load_settings

TRAIL_ARN = "arn:aws:secretsmanager:eu-central-1:000000000000:secret:tradai-db-abc123"


def check(program, *, environment: str = "dev", stack: str = "persistent") -> policy.PolicyReport:
    """Plan `program` as one stack under the mock runtime and check it."""
    settings = load_settings(environment)
    stack_plan = plan_program(settings, stack, program, {})
    return policy.check_plan(Plan(environment, [stack_plan]), settings)


def found(report: policy.PolicyReport, rule: str) -> list[policy.Violation]:
    return [v for v in report.violations if v.rule == rule]


def tags(environment: str = "dev", **extra: str) -> dict[str, str]:
    return config.get_tags(service="test", environment=environment, **extra)


def opts(environment: str = "dev", **kwargs) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(retain_on_delete=environment not in config.PROTECTED_ENVIRONMENTS,
                                  protect=environment in config.PROTECTED_ENVIRONMENTS, **kwargs)


# --- one program per case -------------------------------------------------------------------------------------------

def database(**overrides):
    def program():
        from pulumi_aws import rds

        rds.Instance("db", engine="postgres", instance_class="db.t4g.micro", allocated_storage=20,
                     **{"publicly_accessible": False, "storage_encrypted": True, **overrides}, tags=tags(), opts=opts())
    return program


def ingress(group: str, port: int, cidr: str = "0.0.0.0/0"):
    def program():
        from pulumi_aws import ec2, vpc

        sg = ec2.SecurityGroup(group, description="test", vpc_id="vpc-1", tags=tags())
        vpc.SecurityGroupIngressRule(f"{group}-in", security_group_id=sg.id, ip_protocol="tcp", from_port=port,
                                     to_port=port, cidr_ipv4=cidr, tags=tags())
    return program


def bucket(*, encryption=True, public_access_block: bool | None = True, lifecycle=True, bucket_tags=None,
           environment="dev", protected=None):
    def program():
        from pulumi_aws import s3

        options = opts(environment) if protected is None else pulumi.ResourceOptions(protect=protected)
        b = s3.Bucket("data", bucket="tradai-data-test", tags=tags(environment) if bucket_tags is None else bucket_tags,
                      opts=options)
        if encryption:
            s3.BucketServerSideEncryptionConfiguration("data-sse", bucket=b.id, rules=[
                {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}])
        if public_access_block is not None:
            s3.BucketPublicAccessBlock("data-pab", bucket=b.id, block_public_acls=True, ignore_public_acls=True,
                                       block_public_policy=True, restrict_public_buckets=public_access_block)
        if lifecycle:
            s3.BucketLifecycleConfiguration("data-lifecycle", bucket=b.id, rules=[
                {"id": "abort", "status": "Enabled", "filter": {},
                 "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}])
    return program


def table(**overrides):
    def program():
        from pulumi_aws import dynamodb

        dynamodb.Table("t", hash_key="id", attributes=[{"name": "id", "type": "S"}],
                       **{"billing_mode": "PAY_PER_REQUEST", "server_side_encryption": {"enabled": True},
                          **overrides}, tags=tags(), opts=opts())
    return program


def trail(validation: bool):
    def program():
        from pulumi_aws import cloudtrail

        cloudtrail.Trail("trail", s3_bucket_name="tradai-logs-dev", enable_log_file_validation=validation,
                         tags=tags())
    return program


def network(flow_log: bool):
    def program():
        from pulumi_aws import ec2

        vpc = ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags=tags())
        if flow_log:
            ec2.FlowLog("flow-log", vpc_id=vpc.id, traffic_type="ALL", log_destination="arn:aws:logs:x",
                        iam_role_arn="arn:aws:iam::000000000000:role/x", tags=tags())
    return program


def api(*, acl: bool, associated: bool):
    def program():
        from pulumi_aws import apigatewayv2, wafv2

        apigatewayv2.Api("api", protocol_type="HTTP", tags=tags())
        if acl:
            web_acl = wafv2.WebAcl("waf", scope="REGIONAL", default_action={"allow": {}}, visibility_config={
                "cloudwatch_metrics_enabled": True, "metric_name": "waf", "sampled_requests_enabled": True},
                tags=tags())
            if associated:
                wafv2.WebAclAssociation("waf-alb", web_acl_arn=web_acl.arn,
                                        resource_arn="arn:aws:elasticloadbalancing:eu-central-1:0:loadbalancer/x")
    return program


def task_definition(environment: dict[str, str], secrets: dict[str, str] | None = None):
    def program():
        from pulumi_aws import ecs

        container = {"name": "app", "image": "app:1", "essential": True,
                     "environment": [{"name": k, "value": v} for k, v in environment.items()]}
        if secrets:
            container["secrets"] = [{"name": k, "valueFrom": v} for k, v in secrets.items()]
        ecs.TaskDefinition("task", family="app", container_definitions=json.dumps([container]), tags=tags())
    return program


def function(variables: dict[str, str]):
    def program():
        from pulumi_aws import lambda_

        lambda_.Function("fn", role="arn:aws:iam::000000000000:role/fn", package_type="Image", image_uri="x:1",
                         environment={"variables": variables}, tags=tags())
    return program


def provider(**settings):
    def program():
        import pulumi_aws as aws

        aws.Provider("explicit", region="eu-central-1", **settings)
    return program


def role_policy(actions, resources, attach: str | None = None):
    def program():
        from pulumi_aws import iam

        role = iam.Role("role", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": []}), tags=tags())
        iam.RolePolicy("role-policy", role=role.id, policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "Test", "Effect": "Allow", "Action": actions, "Resource": resources}]}))
        if attach:
            iam.RolePolicyAttachment("role-attachment", role=role.name, policy_arn=attach)
    return program


# (rule, program, environment, violations expected)
CASES = {
    "rds private and encrypted": ("rds-private-encrypted", database(), "dev", 0),
    "rds public": ("rds-private-encrypted", database(publicly_accessible=True), "dev", 1),
    "rds unencrypted": ("rds-private-encrypted", database(storage_encrypted=False), "dev", 1),
    "https to the alb group": ("no-open-ingress", ingress("alb-sg", 443), "dev", 0),
    "https to another group": ("no-open-ingress", ingress("ecs-sg", 443), "dev", 1),
    "ssh to the alb group": ("no-open-ingress", ingress("alb-sg", 22), "dev", 1),
    "ipv6 anywhere": ("no-open-ingress", ingress("ecs-sg", 8000, "::/0"), "dev", 1),
    "bucket encrypted": ("s3-encryption", bucket(), "dev", 0),
    "bucket unencrypted": ("s3-encryption", bucket(encryption=False), "dev", 1),
    "bucket blocked": ("s3-public-access-block", bucket(), "dev", 0),
    "bucket block partial": ("s3-public-access-block", bucket(public_access_block=False), "dev", 1),
    "bucket without block": ("s3-public-access-block", bucket(public_access_block=None), "dev", 1),
    "bucket with lifecycle": ("s3-lifecycle", bucket(), "dev", 0),
    "bucket without lifecycle": ("s3-lifecycle", bucket(lifecycle=False), "dev", 1),
    "table encrypted": ("dynamodb-encryption", table(), "dev", 0),
    "table unencrypted": ("dynamodb-encryption", table(server_side_encryption={"enabled": False}), "dev", 1),
    "table on demand": ("dynamodb-on-demand", table(), "dev", 0),
    "table provisioned": ("dynamodb-on-demand", table(billing_mode="PROVISIONED", read_capacity=5,
                                                      write_capacity=5), "dev", 1),
    "trail validated": ("cloudtrail-log-validation", trail(True), "dev", 0),
    "trail unvalidated": ("cloudtrail-log-validation", trail(False), "dev", 1),
    "vpc with flow log": ("vpc-flow-logs", network(True), "dev", 0),
    "vpc without flow log": ("vpc-flow-logs", network(False), "dev", 1),
    "api behind an attached waf": ("waf-attached", api(acl=True, associated=True), "dev", 0),
    "api without waf": ("waf-attached", api(acl=False, associated=False), "dev", 1),
    "waf attached to nothing": ("waf-attached", api(acl=True, associated=False), "dev", 1),
    "task secret from secrets manager": ("no-plaintext-secrets", task_definition(
        {"PORT": "8000"}, {"DB_PASSWORD": TRAIL_ARN}), "dev", 0),
    "task password in environment": ("no-plaintext-secrets", task_definition({"DB_PASSWORD": "hunter2-x"}), "dev", 1),
    "lambda secret arn": ("no-plaintext-secrets", function({"DB_SECRET_ARN": TRAIL_ARN}), "dev", 0),
    "lambda token in environment": ("no-plaintext-secrets", function({"API_TOKEN": "tok-123456"}), "dev", 1),
    "lambda credential url": ("no-plaintext-secrets", function({"DB_URL": "postgres://u:pw@db:5432/x"}), "dev", 1),
    # An access key id by its shape whatever the variable's name (built here, so no key-shaped literal is tracked).
    "lambda access key id by its shape": ("no-plaintext-secrets", function({"UPSTREAM": "AKIA" + "Z" * 16}), "dev", 1),
    "provider with a profile": ("no-plaintext-secret-config", provider(profile="tradai"), "dev", 0),
    "provider with keys": ("no-plaintext-secret-config", provider(access_key="AKIDPROVIDEREXAMPLE0",
                                                                  secret_key="not-a-real-one-x"), "dev", 2),
    "tagged": ("required-tags", bucket(), "dev", 0),
    "untagged": ("required-tags", bucket(bucket_tags={}), "dev", 1),
    "tagged for another environment": ("required-tags", bucket(bucket_tags=tags("prod")), "dev", 1),
    "narrow iam": ("iam-no-wildcard-admin", role_policy(["s3:GetObject"], ["arn:aws:s3:::b/*"]), "dev", 0),
    "star on star": ("iam-no-wildcard-admin", role_policy("*", "*"), "dev", 1),
    "administrator access": ("iam-no-wildcard-admin", role_policy(["s3:GetObject"], ["arn:aws:s3:::b/*"],
                                                                  policy.ADMINISTRATOR_POLICY_ARN), "dev", 1),
    "protected in prod": ("data-protected", bucket(environment="prod"), "prod", 0),
    "unprotected in prod": ("data-protected", bucket(environment="prod", protected=False), "prod", 1),
    "retained in dev": ("data-protected", bucket(), "dev", 0),
    "neither in dev": ("data-protected", bucket(protected=False), "dev", 1),
}


@pytest.mark.parametrize(("rule", "program", "environment", "expected"), list(CASES.values()), ids=list(CASES))
def test_rule__passes_the_compliant_program_and_catches_the_violating_one(rule, program, environment, expected):
    report = check(program, environment=environment)
    violations = found(report, rule)

    assert len(violations) == expected, [v.message for v in violations]
    for violation in violations:
        assert violation.level == policy.RULES_BY_NAME[rule].level
        assert violation.urn.startswith(f"urn:pulumi:{environment}::tradai-persistent::")
        assert violation.message and violation.type


def test_every_rule__has_a_passing_and_a_violating_case():
    outcomes = {(rule, expected > 0) for rule, _, _, expected in CASES.values()}
    assert {(r.name, v) for r in policy.RULES for v in (True, False)} <= outcomes


def test_rules__each_has_a_level_and_exactly_one_check():
    for rule in policy.RULES:
        assert rule.level in policy.LEVELS
        assert (rule.resource_check is None) != (rule.stack_check is None), rule.name


def test_plaintext_secret__is_named_never_shown():
    report = check(task_definition({"DB_PASSWORD": "hunter2-very-secret"}))
    assert "hunter2-very-secret" not in report.table().to_string()
    assert "DB_PASSWORD" in found(report, "no-plaintext-secrets")[0].message


def test_stack_config__a_plaintext_secret_is_refused_and_a_secret_one_passes():
    entries = [policy.ConfigEntry("compute", "tradai-compute:db_password", "pw-123456", False),
               policy.ConfigEntry("compute", "tradai-compute:api_token", "tok-123456", True),
               policy.ConfigEntry("compute", "aws:skipCredentialsValidation", "true", False)]
    [violation] = policy.check_stack_config("dev", entries)
    assert (violation.rule, violation.name) == ("no-plaintext-secret-config", "tradai-compute:db_password")
    assert "pw-123456" not in violation.message


def test_local_stack_config__sandbox_keys_are_stored_as_secrets_so_they_pass():
    report = check(bucket(environment="local"), environment="local")
    assert not found(report, "no-plaintext-secret-config")


def test_report__mandatory_violation_refuses_naming_resource_rule_and_fix():
    report = check(database(storage_encrypted=False))
    assert not report.passed
    with pytest.raises(policy.PolicyViolationError) as refused:
        report.raise_if_refused("up")
    message = str(refused.value)
    assert refused.value.exit_code == 5
    assert "[rds-private-encrypted]" in message and "'db'" in message and "storage_encrypted=True" in message
    assert refused.value.violations[0]["urn"].endswith("::db")


def test_report__advisory_violations_alone_pass():
    report = check(table(billing_mode="PROVISIONED", read_capacity=5, write_capacity=5))
    assert report.advisory and not report.mandatory and report.passed
    report.raise_if_refused("up")


@functools.lru_cache(maxsize=None)
def _estate(environment: str) -> policy.PolicyReport:
    settings = load_settings(environment)
    return policy.check_plan(plan(settings), settings)


@pytest.mark.parametrize("environment", config.ENVIRONMENTS)
def test_whole_estate__breaks_no_mandatory_rule(environment):
    report = _estate(environment)
    assert report.stacks == ("persistent", "foundation", "compute", "edge")
    assert report.mandatory == [], report.table().to_string()


@pytest.mark.parametrize("environment", config.ENVIRONMENTS)
def test_whole_estate__data_resources_are_protected_or_retained(environment):
    frame = plan(load_settings(environment), ["persistent"]).resources
    data = frame[frame["type"].isin(policy.DATA_TYPES)]
    assert not data.empty
    assert (data["protect"] | data["retain_on_delete"]).all()


def test_data_protected__a_foundation_database_in_dev_may_go_with_a_destroy_but_not_in_prod():
    def database_without_options(environment: str):
        def program():
            from pulumi_aws import rds

            rds.Instance("db", engine="postgres", instance_class="db.t4g.micro", allocated_storage=20,
                         publicly_accessible=False, storage_encrypted=True, tags=tags(environment))
        return program

    assert found(check(database_without_options("dev"), stack="foundation"), "data-protected") == []
    assert len(found(check(database_without_options("prod"), environment="prod", stack="foundation"),
                     "data-protected")) == 1
