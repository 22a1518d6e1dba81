"""The compute stack's plan: inventory per environment, routing, capacity, Lambda triggers, IAM scope, tags."""

from __future__ import annotations

import base64
import functools
import json
import re
import shlex

import pytest
import yaml

from tests.stacks.conftest import is_taggable, resources_of
from tradai_nb import config
from tradai_nb.engine.plan import plan, plan_stack
from tradai_nb.errors import PlanError
from tradai_nb.settings import load_settings
from tradai_nb.stacks.registry import stacks

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
NAMESPACE = "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace"
DISCOVERY_SERVICE = "aws:servicediscovery/service:Service"
FUNCTION = "aws:lambda/function:Function"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
PERMISSION = "aws:lambda/permission:Permission"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"

COMPUTE_EXPORTS = {
    "alb_arn", "alb_arn_suffix", "alb_dns_name", "alb_listener_arn", "target_group_arns", "target_group_arn_suffixes",
    "ecs_cluster_name", "ecs_cluster_arn", "service_names", "consolidated_asg_name", "lambda_function_names",
    "lambda_function_arns", "state_machine_arn", "ecs_task_role_arn", "ecs_execution_role_arn", "instance_profile_name",
}
# Actions allowed on Resource "*", each because the service offers no resource-level permission for it.
ALLOWED_ON_ANY_RESOURCE = {
    "ecr:GetAuthorizationToken": "registry login token (auth)",
    "ssmmessages:CreateControlChannel": "ECS Exec session channel",
    "ssmmessages:CreateDataChannel": "ECS Exec session channel",
    "ssmmessages:OpenControlChannel": "ECS Exec session channel",
    "ssmmessages:OpenDataChannel": "ECS Exec session channel",
    "ecs:ListTasks": "read-only listing, conditioned on the stack's cluster",
    "ce:GetCostAndUsage": "read-only cost report",
    "logs:CreateLogDelivery": "Step Functions log delivery (vended logs)",
    "logs:DeleteLogDelivery": "Step Functions log delivery (vended logs)",
    "logs:DescribeLogGroups": "read-only, Step Functions log delivery",
    "logs:DescribeResourcePolicies": "read-only, Step Functions log delivery",
    "logs:GetLogDelivery": "read-only, Step Functions log delivery",
    "logs:ListLogDeliveries": "read-only, Step Functions log delivery",
    "logs:PutResourcePolicy": "Step Functions log delivery (vended logs)",
    "logs:UpdateLogDelivery": "Step Functions log delivery (vended logs)",
}
ROUTES = {"/api/*": "backend", "/data/*": "data-collection", "/strategy/*": "strategy-service", "/mlflow/*": "mlflow"}
CONSOLIDATED_ENVIRONMENTS = ["local", "dev", "staging"]


@functools.lru_cache(maxsize=None)
def _plan_with(environment: str, overrides: tuple[tuple[str, object], ...]):
    return plan(load_settings(environment, dict(overrides)), ["compute"])


def _compute(plan_result, type_token=None):
    return resources_of(plan_result, "compute", type_token)


def _one(plan_result, type_token, name):
    rows = _compute(plan_result, type_token)
    rows = rows[rows["name"] == name]
    assert len(rows) == 1, f"expected one {type_token} named {name}, found {len(rows)}"
    return rows.iloc[0]


def _policies(plan_result):
    return {row.name: json.loads(row.inputs["policy"]) for row in _compute(plan_result, ROLE_POLICY).itertuples()}


def _statement(policy, sid):
    return next(s for s in policy["Statement"] if s.get("Sid") == sid)


def _service_by_target_group_arn(plan_result):
    return {row.outputs["arn"]: row.name for row in _compute(plan_result, TARGET_GROUP).itertuples()}


@pytest.mark.parametrize("environment", CONSOLIDATED_ENVIRONMENTS, ids=CONSOLIDATED_ENVIRONMENTS)
def test_consolidated_environments__run_one_host_and_no_fargate_services(plan_of, environment):
    result = plan_of(environment)
    frame = _compute(result)
    counts = frame["type"].value_counts()
    assert counts.get(ECS_SERVICE, 0) == 0
    host_types = (LAUNCH_TEMPLATE, ASG, NAMESPACE, DISCOVERY_SERVICE)
    assert [counts.get(t) for t in host_types] == [1, 1, 1, 4]
    assert set(_compute(result, DISCOVERY_SERVICE)["inputs"].map(lambda i: i["name"])) == set(config.SERVICES)
    group = _compute(result, ASG).iloc[0].inputs
    assert group["name"] == config.get_consolidated_name(environment)
    assert (group["minSize"], group["maxSize"], group["desiredCapacity"]) == (1, 1, 1)
    assert sorted(group["targetGroupArns"]) == sorted(result.exports["compute"]["target_group_arns"].values())
    # The backtest workflow's task definition is the only one: nothing serves from Fargate here.
    families = [row.inputs["family"] for row in _compute(result, TASK_DEFINITION).itertuples()]
    assert families == [config.get_service_name("strategy-service", environment)]
    exports = result.exports["compute"]
    assert exports["service_names"] == {}
    assert exports["consolidated_asg_name"] == config.get_consolidated_name(environment)


def test_prod__runs_four_fargate_services_and_no_consolidated_host(plan_of):
    result = plan_of("prod")
    counts = _compute(result)["type"].value_counts()
    assert (counts.get(ECS_SERVICE), counts.get(TASK_DEFINITION)) == (4, 4)
    assert all(counts.get(t, 0) == 0 for t in (ASG, LAUNCH_TEMPLATE, NAMESPACE, DISCOVERY_SERVICE))
    expected = {s: config.get_service_name(s, "prod") for s in config.SERVICES}
    assert {row.inputs["name"] for row in _compute(result, ECS_SERVICE).itertuples()} == set(expected.values())
    assert {row.inputs["family"] for row in _compute(result, TASK_DEFINITION).itertuples()} == set(expected.values())
    assert result.exports["compute"]["service_names"] == expected
    assert result.exports["compute"]["consolidated_asg_name"] == ""


@pytest.mark.parametrize(("environment", "target_type"), [("dev", "instance"), ("prod", "ip")], ids=["dev", "prod"])
def test_alb__routes_the_guide_paths_to_a_target_group_per_service(plan_of, environment, target_type):
    result = plan_of(environment)
    foundation = result.exports["foundation"]
    alb = _compute(result, "aws:lb/loadBalancer:LoadBalancer")
    assert len(alb) == 1
    alb_inputs = alb.iloc[0].inputs
    assert alb_inputs["internal"] is False
    assert alb_inputs["subnets"] == foundation["public_subnet_ids"]
    assert alb_inputs["securityGroups"] == [foundation["alb_sg_id"]]
    groups = {row.name: row.inputs for row in _compute(result, TARGET_GROUP).itertuples()}
    assert set(groups) == set(config.SERVICES)
    for service, group in groups.items():
        assert len(group["name"]) <= 32  # the AWS limit for target group names
        assert group["port"] == config.SERVICES[service]["port"]
        assert group["healthCheck"]["path"] == config.HEALTH_CHECK_PATHS[service]
        assert group["targetType"] == target_type
        assert group["vpcId"] == foundation["vpc_id"]
    service_of = _service_by_target_group_arn(result)
    routes = {}
    for rule in _compute(result, LISTENER_RULE).itertuples():
        assert rule.inputs["listenerArn"] == result.exports["compute"]["alb_listener_arn"]
        (pattern,) = rule.inputs["conditions"][0]["pathPattern"]["values"]
        routes[pattern] = service_of[rule.inputs["actions"][0]["targetGroupArn"]]
    assert routes == ROUTES


def test_listeners__https_with_http_redirect_when_a_certificate_is_set(plan_of):
    result = plan_of("prod")
    https = _one(result, LISTENER, "alb-https")
    assert (https.inputs["port"], https.inputs["protocol"]) == (443, "HTTPS")
    assert https.inputs["certificateArn"] == load_settings("prod").certificate_arn
    http = _one(result, LISTENER, "alb-http")
    assert http.inputs["defaultActions"] == [
        {"redirect": {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}, "type": "redirect"},
    ]
    assert result.exports["compute"]["alb_listener_arn"] == https.outputs["arn"]


def test_listeners__http_only_without_a_certificate(plan_of):
    result = plan_of("dev")
    listeners = _compute(result, LISTENER)
    assert len(listeners) == 1
    http = listeners.iloc[0]
    assert (http.inputs["port"], http.inputs["protocol"]) == (80, "HTTP")
    assert http.inputs["defaultActions"][0]["type"] == "fixed-response"
    assert result.exports["compute"]["alb_listener_arn"] == http.outputs["arn"]


@pytest.mark.parametrize(("environment", "default"), [("dev", "FARGATE_SPOT"), ("prod", "FARGATE")],
                         ids=["dev", "prod"])
def test_cluster__offers_fargate_and_spot_with_the_environment_default(plan_of, environment, default):
    result = plan_of(environment)
    cluster = _compute(result, "aws:ecs/cluster:Cluster").iloc[0].inputs
    assert cluster["name"] == config.get_cluster_name(environment)
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    providers = _compute(result, "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders").iloc[0].inputs
    assert set(providers["capacityProviders"]) == {"FARGATE", "FARGATE_SPOT"}
    assert [s["capacityProvider"] for s in providers["defaultCapacityProviderStrategies"]] == [default]


def _capacity_by_service(plan_result):
    return {
        row.name: [s["capacityProvider"] for s in row.inputs["capacityProviderStrategies"]]
        for row in _compute(plan_result, ECS_SERVICE).itertuples()
    }


def test_fargate_services_in_dev__run_on_spot():
    result = _plan_with("dev", (("consolidated", False),))
    assert _capacity_by_service(result) == {s: ["FARGATE_SPOT"] for s in config.SERVICES}
    assert {row.inputs["desiredCount"] for row in _compute(result, ECS_SERVICE).itertuples()} == {1}


def test_prod_live_trading_service__never_runs_on_spot(plan_of):
    assert _capacity_by_service(plan_of("prod")) == {s: ["FARGATE"] for s in config.SERVICES}
    with_spot = _capacity_by_service(_plan_with("prod", (("fargate_spot", True),)))
    assert with_spot.pop(config.LIVE_TRADING_SERVICE) == ["FARGATE"]
    assert with_spot == {s: ["FARGATE_SPOT"] for s in config.SERVICES if s != config.LIVE_TRADING_SERVICE}


def test_fargate_services__are_private_behind_their_target_group_and_roll_back(plan_of):
    result = plan_of("prod")
    foundation, persistent = result.exports["foundation"], result.exports["persistent"]
    service_of = _service_by_target_group_arn(result)
    for row in _compute(result, ECS_SERVICE).itertuples():
        service = row.name
        inputs = row.inputs
        assert inputs["desiredCount"] == 2  # multi_az in prod
        assert inputs["networkConfiguration"] == {
            "assignPublicIp": False, "securityGroups": [foundation["ecs_sg_id"]],
            "subnets": foundation["private_subnet_ids"],
        }
        (attachment,) = inputs["loadBalancers"]
        assert service_of[attachment["targetGroupArn"]] == service
        assert (attachment["containerName"], attachment["containerPort"]) == (service, config.SERVICES[service]["port"])
        assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert inputs["enableExecuteCommand"] is True
    for row in _compute(result, TASK_DEFINITION).itertuples():
        service = row.name
        assert (row.inputs["cpu"], row.inputs["memory"]) == (
            str(config.SERVICES[service]["cpu"]), str(config.SERVICES[service]["memory"]))
        (container,) = json.loads(row.inputs["containerDefinitions"])
        assert container["image"] == f"{persistent['ecr_repository_urls'][service]}:latest"
        assert container["logConfiguration"]["logDriver"] == "awslogs"
        log_options = container["logConfiguration"]["options"]
        assert log_options["awslogs-group"] == config.get_service_log_group(service, "prod")
        assert row.inputs["taskRoleArn"] == result.exports["compute"]["ecs_task_role_arn"]
        assert row.inputs["executionRoleArn"] == result.exports["compute"]["ecs_execution_role_arn"]


def test_mlflow_task__gets_database_credentials_from_the_secret_not_the_definition(plan_of):
    result = plan_of("prod")
    secret_arn = result.exports["foundation"]["rds_secret_arn"]
    (container,) = json.loads(_one(result, TASK_DEFINITION, "mlflow").inputs["containerDefinitions"])
    assert {s["valueFrom"] for s in container["secrets"]} == {f"{secret_arn}:username::", f"{secret_arn}:password::"}
    assert not any("PASSWORD" in variable["name"] for variable in container["environment"])


def test_lambda_functions__are_ten_images_with_their_triggers(plan_of):
    result = plan_of("dev")
    persistent, foundation = result.exports["persistent"], result.exports["foundation"]
    functions = {row.name: row for row in _compute(result, FUNCTION).itertuples()}
    assert set(functions) == set(config.LAMBDA_FUNCTIONS)
    for name, row in functions.items():
        assert row.inputs["packageType"] == "Image"
        assert row.inputs["imageUri"] == f"{persistent['ecr_repository_urls'][name]}:latest"
        assert row.inputs["name"] == config.get_function_name(name, "dev")
    arn_of = {name: row.outputs["arn"] for name, row in functions.items()}

    rules = {row.name: row for row in _compute(result, EVENT_RULE).itertuples()}
    schedule_prefixes = ("rate(", "cron(", "setting:")
    scheduled = {f for f, spec in config.LAMBDA_FUNCTIONS.items() if str(spec["trigger"]).startswith(schedule_prefixes)}
    assert {name.removesuffix("-schedule") for name in rules} == scheduled
    targets = {row.inputs["rule"]: row.inputs["arn"] for row in _compute(result, EVENT_TARGET).itertuples()}
    permissions = {row.name: row.inputs for row in _compute(result, PERMISSION).itertuples()}
    for function in scheduled:
        rule = rules[f"{function}-schedule"]
        assert targets[rule.inputs["name"]] == arn_of[function]
        assert permissions[f"{function}-schedule"]["principal"] == "events.amazonaws.com"
        assert permissions[f"{function}-schedule"]["sourceArn"] == rule.outputs["arn"]
    assert rules["health-check-schedule"].inputs["scheduleExpression"] == "rate(5 minutes)"

    (mapping,) = _compute(result, "aws:lambda/eventSourceMapping:EventSourceMapping").itertuples()
    assert (mapping.inputs["eventSourceArn"], mapping.inputs["functionName"]) == (
        foundation["backtest_queue_arn"], arn_of["backtest-consumer"])
    (subscription,) = _compute(result, "aws:sns/topicSubscription:TopicSubscription").itertuples()
    assert (subscription.inputs["topic"], subscription.inputs["protocol"], subscription.inputs["endpoint"]) == (
        foundation["alerts_topic_arn"], "lambda", arn_of["notification-dispatcher"])
    assert permissions["notification-dispatcher-topic"]["principal"] == "sns.amazonaws.com"
    assert permissions["notification-dispatcher-topic"]["sourceArn"] == foundation["alerts_topic_arn"]

    workflow = _compute(result, STATE_MACHINE).iloc[0].inputs["definition"]
    for function in ("backtest-results-processor", "model-promoter"):
        assert arn_of[function] in workflow


def test_lambda_schedules__follow_the_settings():
    result = _plan_with("dev", (("drift_monitor_schedule", "rate(6 hours)"),
                                ("retraining_scheduler_schedule", "cron(0 3 ? * SUN *)")))
    assert _one(result, EVENT_RULE, "drift-monitor-schedule").inputs["scheduleExpression"] == "rate(6 hours)"
    retraining = _one(result, EVENT_RULE, "retraining-scheduler-schedule")
    assert retraining.inputs["scheduleExpression"] == "cron(0 3 ? * SUN *)"


@pytest.mark.parametrize("trigger", ["webhook:billing", "setting:environment", "sqs:orders"],
                         ids=["unknown-kind", "setting-that-is-no-schedule", "unknown-queue"])
def test_unknown_lambda_trigger__fails_the_plan_naming_the_function(monkeypatch, trigger):
    monkeypatch.setitem(config.LAMBDA_FUNCTIONS, "cost-reporter", {"trigger": trigger, "memory": 256, "timeout": 60})
    with pytest.raises(PlanError, match=r"cost-reporter"):
        plan(load_settings("dev"), ["compute"])


def test_missing_upstream_entry__fails_the_plan_naming_export_and_key(plan_of):
    exports = plan_of("dev").exports
    persistent = {**exports["persistent"], "table_arns": {
        k: v for k, v in exports["persistent"]["table_arns"].items() if k != "api_keys"}}
    with pytest.raises(PlanError, match=r"table_arns.*api_keys"):
        plan_stack(load_settings("dev"), stacks.get("compute"),
                   {"persistent": persistent, "foundation": exports["foundation"]})


def _follow(states, start):
    order, name = [], start
    while name:
        order.append(name)
        name = states[name].get("Next")
    return order


def test_state_machine__runs_the_backtest_task_then_both_functions_and_alerts_on_failure(plan_of):
    result = plan_of("prod")
    exports = result.exports["compute"]
    machine = _compute(result, STATE_MACHINE).iloc[0]
    document = json.loads(machine.inputs["definition"])
    states = document["States"]
    assert document["StartAt"] == "ValidateRequest"
    assert states["ValidateRequest"]["Choices"][0]["Next"] == "RunBacktest"
    assert _follow(states, "RunBacktest") == ["RunBacktest", "ProcessResults", "PromoteModel"]
    run = states["RunBacktest"]
    assert run["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert run["Parameters"]["Cluster"] == exports["ecs_cluster_arn"]
    assert run["Parameters"]["TaskDefinition"] == _one(result, TASK_DEFINITION, "strategy-service").outputs["arn"]
    function_arns = exports["lambda_function_arns"]
    assert states["ProcessResults"]["Parameters"]["FunctionName"] == function_arns["backtest-results-processor"]
    assert states["PromoteModel"]["Parameters"]["FunctionName"] == function_arns["model-promoter"]
    for step in ("RunBacktest", "ProcessResults", "PromoteModel"):
        assert [c["Next"] for c in states[step]["Catch"]] == ["NotifyFailure"]
    assert states["NotifyFailure"]["Resource"] == "arn:aws:states:::sns:publish"
    assert states["NotifyFailure"]["Parameters"]["TopicArn"] == result.exports["foundation"]["alerts_topic_arn"]
    log_group = _one(result, LOG_GROUP, "backtest-workflow")
    assert machine.inputs["loggingConfiguration"]["logDestination"] == f"{log_group.outputs['arn']}:*"
    assert machine.outputs["arn"] == exports["state_machine_arn"]


def test_state_machine_role__reaches_only_the_workflow_resources(plan_of):
    result = plan_of("prod")
    exports = result.exports["compute"]
    policy = _policies(result)["backtest-workflow"]
    function_arns = exports["lambda_function_arns"]
    assert _statement(policy, "InvokeWorkflowFunctions")["Resource"] == [
        function_arns["backtest-results-processor"], function_arns["model-promoter"]]
    assert _statement(policy, "PassTaskRoles")["Resource"] == [
        exports["ecs_task_role_arn"], exports["ecs_execution_role_arn"]]
    run = _statement(policy, "RunBacktestTask")
    family = config.get_service_name("strategy-service", "prod")
    assert run["Resource"] == [f"arn:aws:ecs:eu-central-1:000000000000:task-definition/{family}:*"]
    assert run["Condition"] == {"ArnEquals": {"ecs:cluster": exports["ecs_cluster_arn"]}}


@pytest.mark.parametrize("environment", config.ENVIRONMENTS, ids=list(config.ENVIRONMENTS))
def test_iam__no_wildcard_grants_beyond_the_listed_narrow_actions(plan_of, environment):
    policies = _policies(plan_of(environment))
    assert len(policies) == (6 if environment != "prod" else 5)
    for name, policy in policies.items():
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert "*" not in actions, f"{name}: {statement}"
            assert not any(a.endswith(":*") for a in actions), f"{name}: {statement}"
            if "*" in resources:
                unlisted = [a for a in actions if a not in ALLOWED_ON_ANY_RESOURCE]
                assert not unlisted, f"{name}: {unlisted} granted on Resource '*'"


def test_iam__roles_reach_the_named_upstream_resources_only(plan_of):
    result = plan_of("dev")
    persistent, foundation = result.exports["persistent"], result.exports["foundation"]
    policies = _policies(result)
    tables = set(persistent["table_arns"].values())
    for role in ("ecs-task", "consolidated-instance", "lambda"):
        policy = policies[role]
        assert set(_statement(policy, "Tables")["Resource"]) == tables | {f"{arn}/index/*" for arn in tables}
        objects = set(_statement(policy, "BucketObjects")["Resource"])
        assert objects == {f"{persistent['bucket_arns'][b]}/*" for b in ("configs", "results", "arcticdb", "mlflow")}
        assert f"{persistent['bucket_arns']['logs']}/*" not in objects
        assert _statement(policy, "SubmitBacktests")["Resource"] == [foundation["backtest_queue_arn"]]
        assert _statement(policy, "PublishAlerts")["Resource"] == [foundation["alerts_topic_arn"]]
    service_repositories = [persistent["ecr_repository_arns"][s] for s in config.SERVICES]
    for role in ("ecs-execution", "consolidated-instance"):
        assert _statement(policies[role], "PullImages")["Resource"] == service_repositories
    attachment = _compute(result, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").iloc[0].inputs
    assert attachment["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    assert attachment["role"] == config.get_resource_name("consolidated-instance", "dev")


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_log_groups__keep_the_environment_retention(plan_of, environment):
    result = plan_of(environment)
    retention_days = load_settings(environment).log_retention_days
    groups = {row.inputs["name"]: row.inputs["retentionInDays"] for row in _compute(result, LOG_GROUP).itertuples()}
    assert set(groups.values()) == {retention_days}
    expected = {f"/aws/lambda/{config.get_function_name(f, environment)}" for f in config.LAMBDA_FUNCTIONS}
    if environment == "prod":
        expected |= {config.get_service_log_group(s, environment) for s in config.SERVICES}
    else:
        expected |= {config.CONSOLIDATED_LOG_GROUP, config.get_service_log_group("strategy-service", environment)}
    assert expected <= set(groups)


def _heredoc(script, marker):
    return re.search(rf"<<'{marker}'\n(.*?)\n{marker}\n", script, re.S).group(1)


def test_consolidated_host__starts_compose_from_opt_tradai_with_secrets_read_at_start(plan_of):
    result = plan_of("dev")
    persistent, foundation = result.exports["persistent"], result.exports["foundation"]
    template = _compute(result, LAUNCH_TEMPLATE).iloc[0].inputs
    assert template["instanceType"] == load_settings("dev").consolidated_instance_type
    assert template["iamInstanceProfile"] == {"name": result.exports["compute"]["instance_profile_name"]}
    assert template["imageId"].startswith("ami-")
    assert template["metadataOptions"]["httpTokens"] == "required"
    script = base64.b64decode(template["userData"]).decode()
    assert "docker-compose-linux-aarch64" in script
    compose = yaml.safe_load(_heredoc(script, "COMPOSE"))
    assert f"cat > {config.CONSOLIDATED_COMPOSE_DIR}/docker-compose.yml" in script
    assert {name: (s["image"], s["container_name"], s["ports"]) for name, s in compose["services"].items()} == {
        name: (f"{persistent['ecr_repository_urls'][name]}:latest", spec["container"],
               [f"{spec['port']}:{spec['port']}"])
        for name, spec in config.SERVICES.items()
    }
    log_groups = {s["logging"]["options"]["awslogs-group"] for s in compose["services"].values()}
    assert log_groups == {config.CONSOLIDATED_LOG_GROUP}
    mlflow = compose["services"]["mlflow"]
    assert mlflow["env_file"] == ["mlflow.env"]
    assert not any("PASSWORD" in variable or "USERNAME" in variable for variable in mlflow["environment"])
    start = _heredoc(script, "START")
    (fetch,) = [line for line in start.splitlines() if "get-secret-value" in line]
    assert f"--secret-id {shlex.quote(foundation['rds_secret_arn'])}" in fetch and fetch.endswith("> mlflow.env")


def test_consolidated_host__is_found_by_its_propagated_name_tag(plan_of):
    result = plan_of("staging")
    tags = _compute(result, ASG).iloc[0].inputs["tags"]
    assert {"key": "Name", "value": "tradai-consolidated-staging", "propagateAtLaunch": True} in tags


@pytest.mark.parametrize("environment", config.ENVIRONMENTS, ids=list(config.ENVIRONMENTS))
def test_taggable_resources__carry_the_standard_tags(plan_of, environment):
    frame = _compute(plan_of(environment))
    taggable = [row for row in frame.itertuples() if is_taggable(row.type)]
    assert len(taggable) > 50
    for row in taggable:
        tags = row.inputs.get("tags")
        if row.type == ASG:
            tags = {tag["key"]: tag["value"] for tag in tags}
        assert tags is not None, f"{row.type} {row.name} has no tags"
        assert {k: tags.get(k) for k in ("Project", "Environment", "ManagedBy")} == {
            "Project": "tradai", "Environment": environment, "ManagedBy": "pulumi"}, f"{row.type} {row.name}"
        assert tags.get("Service"), f"{row.type} {row.name} has no Service tag"


@pytest.mark.parametrize("environment", config.ENVIRONMENTS, ids=list(config.ENVIRONMENTS))
def test_compute__holds_no_protected_resource_so_it_destroys_freely(plan_of, environment):
    assert not _compute(plan_of(environment))["protect"].any()


def test_plan__is_deterministic():
    first, second = (plan(load_settings("dev"), ["compute"]) for _ in range(2))
    assert first.to_json() == second.to_json()
    dependencies = [p.stack("compute").resources["dependencies"].tolist() for p in (first, second)]
    assert dependencies[0] == dependencies[1]


@pytest.mark.parametrize("environment", config.ENVIRONMENTS, ids=list(config.ENVIRONMENTS))
def test_exports__match_the_contract_exactly(plan_of, environment):
    exports = plan_of(environment).exports["compute"]
    assert set(exports) == COMPUTE_EXPORTS
    assert set(exports["target_group_arns"]) == set(exports["target_group_arn_suffixes"]) == set(config.SERVICES)
    assert set(exports["lambda_function_names"]) == set(exports["lambda_function_arns"]) == set(config.LAMBDA_FUNCTIONS)
    assert exports["ecs_cluster_name"] == config.get_cluster_name(environment)
