"""Edge stack under the offline plan: API, WAF, alarms and dashboard, wired to the upstream stacks' exports."""

from __future__ import annotations

import json
import re

import pytest

from tests.stacks.conftest import is_taggable, resources_of
from tradai_nb import config
from tradai_nb.engine.plan import plan, plan_stack
from tradai_nb.errors import PlanError
from tradai_nb.settings import load_settings
from tradai_nb.stacks import stacks

EDGE_EXPORTS = {"api_id", "api_endpoint", "waf_web_acl_arn", "dashboard_name", "alarm_names", "composite_alarm_name"}
STANDARD_TAGS = {"Project", "Environment", "Service", "ManagedBy"}

API = "aws:apigatewayv2/api:Api"
VPC_LINK = "aws:apigatewayv2/vpcLink:VpcLink"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
ROUTE = "aws:apigatewayv2/route:Route"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
STAGE = "aws:apigatewayv2/stage:Stage"
DOMAIN = "aws:apigatewayv2/domainName:DomainName"
MAPPING = "aws:apigatewayv2/apiMapping:ApiMapping"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
IP_SET = "aws:wafv2/ipSet:IpSet"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"


def _inputs(plan_result, type_token: str) -> list[dict]:
    return list(resources_of(plan_result, "edge", type_token)["inputs"])


def _one(plan_result, type_token: str) -> dict:
    rows = _inputs(plan_result, type_token)
    assert len(rows) == 1, f"expected one {type_token}, found {len(rows)}"
    return rows[0]


def _alarms_by_name(plan_result) -> dict[str, dict]:
    return {alarm["name"]: alarm for alarm in _inputs(plan_result, METRIC_ALARM)}


def _edge_only(environment: str, overrides: dict | None = None):
    return plan(load_settings(environment, overrides), ["edge"])


@pytest.mark.parametrize("environment", config.ENVIRONMENTS, ids=config.ENVIRONMENTS)
def test_inventory__api_waf_alarms_and_dashboard(plan_of, environment):
    result = plan_of(environment)
    counts = resources_of(result, "edge").groupby("type").size().to_dict()
    with_min_strategies = load_settings(environment).alarm_min_strategies > 0
    assert counts[API] == 1
    assert counts[VPC_LINK] == 1
    assert counts[INTEGRATION] == len(config.SERVICES) == 4
    assert counts[ROUTE] == 2 * len(config.SERVICES)
    assert counts[AUTHORIZER] == 1
    assert counts[STAGE] == 1
    assert counts[WEB_ACL] == 1
    assert counts[WEB_ACL_ASSOCIATION] == 1
    assert counts[METRIC_ALARM] == 4 + len(config.SERVICES) + with_min_strategies
    assert counts[COMPOSITE_ALARM] == 1
    assert counts[DASHBOARD] == 1


def test_routes__one_proxy_and_one_health_route_per_service(plan_of):
    routes = {route["routeKey"]: route for route in _inputs(plan_of("dev"), ROUTE)}
    assert set(routes) == {
        "ANY /api/{proxy+}", "ANY /data/{proxy+}", "ANY /strategy/{proxy+}", "ANY /mlflow/{proxy+}",
        "GET /api/health", "GET /data/health", "GET /strategy/health", "GET /mlflow/health",
    }
    targets = {route["target"] for route in routes.values()}
    assert len(targets) == len(config.SERVICES)
    assert all(target.startswith("integrations/") for target in targets)
    for service, health_path in config.HEALTH_CHECK_PATHS.items():
        prefix = health_path.rsplit("/", 1)[0]
        assert routes[f"GET {health_path}"]["target"] == routes[f"ANY {prefix}/{{proxy+}}"]["target"], service


def test_routes__jwt_authorizer_on_every_route_but_health_checks(plan_of):
    for route in _inputs(plan_of("prod"), ROUTE):
        if route["routeKey"].endswith("/health"):
            assert route["authorizationType"] == "NONE", route["routeKey"]
            assert "authorizerId" not in route, route["routeKey"]
        else:
            assert route["authorizationType"] == "JWT", route["routeKey"]
            assert route["authorizerId"], route["routeKey"]


def test_authorizer__trusts_the_cognito_pool_for_the_m2m_client(plan_of):
    result = plan_of("dev")
    persistent = result.exports["persistent"]
    authorizer = _one(result, AUTHORIZER)
    assert authorizer["authorizerType"] == "JWT"
    assert authorizer["identitySources"] == ["$request.header.Authorization"]
    assert authorizer["jwtConfiguration"] == {
        "issuer": f"https://{persistent['cognito_user_pool_endpoint']}",
        "audiences": [persistent["cognito_m2m_client_id"]],
    }


def test_integrations__proxy_to_the_alb_listener_through_the_vpc_link(plan_of):
    result = plan_of("dev")
    listener_arn = result.exports["compute"]["alb_listener_arn"]
    integrations = _inputs(result, INTEGRATION)
    assert {i["integrationUri"] for i in integrations} == {listener_arn}
    assert {i["connectionType"] for i in integrations} == {"VPC_LINK"}
    assert {i["integrationType"] for i in integrations} == {"HTTP_PROXY"}
    assert len({i["connectionId"] for i in integrations}) == 1
    # The WAF keys API clients on this header, so API Gateway must overwrite whatever a caller sent.
    assert all(i["requestParameters"] == {"overwrite:header.X-TradAI-Client-IP": "$context.identity.sourceIp"}
               for i in integrations)


def test_integrations__verify_the_api_domain_only_when_the_listener_is_https(plan_of):
    assert {i["tlsConfig"]["serverNameToVerify"] for i in _inputs(plan_of("prod"), INTEGRATION)} == {"api.tradai.io"}
    assert all("tlsConfig" not in i for i in _inputs(plan_of("dev"), INTEGRATION))


def test_vpc_link__in_the_private_subnets_with_the_alb_security_group(plan_of):
    result = plan_of("staging")
    foundation = result.exports["foundation"]
    vpc_link = _one(result, VPC_LINK)
    assert vpc_link["subnetIds"] == foundation["private_subnet_ids"]
    assert vpc_link["securityGroupIds"] == [foundation["alb_sg_id"]]


def test_api__http_protocol_with_cors_origins_from_settings(plan_of):
    api = _one(plan_of("dev"), API)
    assert api["protocolType"] == "HTTP"
    assert api["corsConfiguration"]["allowOrigins"] == load_settings("dev").cors_allowed_origins


def test_api__no_cors_configuration_without_allowed_origins():
    api = _one(_edge_only("dev", {"cors_allowed_origins": []}), API)
    assert "corsConfiguration" not in api


@pytest.mark.parametrize("environment,retention_days", [("dev", 7), ("prod", 90)], ids=["dev", "prod"])
def test_stage__default_stage_auto_deploys_and_logs_with_retention_from_settings(plan_of, environment, retention_days):
    result = plan_of(environment)
    stage = _one(result, STAGE)
    log_group = _one(result, LOG_GROUP)
    assert stage["name"] == "$default"
    assert stage["autoDeploy"] is True
    assert stage["accessLogSettings"]["destinationArn"].endswith(f":log-group:{log_group['name']}")
    assert json.loads(stage["accessLogSettings"]["format"])["requestId"] == "$context.requestId"
    assert log_group["retentionInDays"] == retention_days == load_settings(environment).log_retention_days


@pytest.mark.parametrize("environment", config.ENVIRONMENTS, ids=config.ENVIRONMENTS)
def test_custom_domain__only_where_a_domain_and_certificate_are_set(plan_of, environment):
    result = plan_of(environment)
    settings = load_settings(environment)
    domains = _inputs(result, DOMAIN)
    mappings = _inputs(result, MAPPING)
    if environment == "prod":
        assert [d["domainName"] for d in domains] == [settings.api_domain]
        assert domains[0]["domainNameConfiguration"]["certificateArn"] == settings.certificate_arn
        assert len(mappings) == 1
    else:
        assert domains == [] and mappings == []


def test_custom_domain__not_created_without_a_certificate():
    result = _edge_only("dev", {"api_domain": "api.dev.tradai.io"})
    assert _inputs(result, DOMAIN) == []


def test_waf__regional_acl_blocks_by_rate_per_5_minutes(plan_of):
    web_acl = _one(plan_of("prod"), WEB_ACL)
    assert web_acl["scope"] == "REGIONAL"
    assert web_acl["visibilityConfig"]["cloudwatchMetricsEnabled"] is True
    rate_rules = [rule for rule in web_acl["rules"] if "rateBasedStatement" in rule["statement"]]
    assert rate_rules
    for rule in rate_rules:
        statement = rule["statement"]["rateBasedStatement"]
        assert rule["action"] == {"block": {}}
        assert statement["limit"] > 0
        assert statement["evaluationWindowSec"] == 300
        assert rule["visibilityConfig"]["metricName"]
    assert {rule["statement"]["rateBasedStatement"]["aggregateKeyType"] for rule in rate_rules} >= {"IP"}
    managed = [rule["statement"]["managedRuleGroupStatement"] for rule in web_acl["rules"]
               if "managedRuleGroupStatement" in rule["statement"]]
    assert [(m["vendorName"], m["name"]) for m in managed] == [("AWS", "AWSManagedRulesCommonRuleSet")]


def test_waf__api_clients_are_rate_limited_on_the_header_api_gateway_sets(plan_of):
    result = plan_of("dev")
    web_acl = _one(result, WEB_ACL)
    ip_set = _one(result, IP_SET)
    assert ip_set["addresses"] == [result.exports["foundation"]["vpc_cidr"]]
    rules = {rule["name"]: rule["statement"]["rateBasedStatement"] for rule in web_acl["rules"]
             if "rateBasedStatement" in rule["statement"]}
    api_header = next(iter(_inputs(result, INTEGRATION)[0]["requestParameters"])).split("header.", 1)[1]
    per_client = rules["rate-limit-per-api-client"]
    assert [key["header"]["name"] for key in per_client["customKeys"]] == [api_header.lower()]
    from_vpc = per_client["scopeDownStatement"]["ipSetReferenceStatement"]["arn"]
    # Requests from outside the VPC are counted by their own address; the header is only trusted from inside.
    assert rules["rate-limit-per-ip"]["scopeDownStatement"] == {
        "notStatement": {"statement": {"ipSetReferenceStatement": {"arn": from_vpc}}}
    }


def test_waf__associated_with_the_alb_from_compute(plan_of):
    result = plan_of("prod")
    association = _one(result, WEB_ACL_ASSOCIATION)
    assert association["resourceArn"] == result.exports["compute"]["alb_arn"]
    assert association["webAclArn"] == result.exports["edge"]["waf_web_acl_arn"]


@pytest.mark.parametrize("environment", config.ENVIRONMENTS, ids=config.ENVIRONMENTS)
def test_alarms__every_alarm_notifies_the_alerts_topic(plan_of, environment):
    result = plan_of(environment)
    topic = result.exports["foundation"]["alerts_topic_arn"]
    alarms = _inputs(result, METRIC_ALARM) + _inputs(result, COMPOSITE_ALARM)
    assert alarms
    for alarm in alarms:
        name = alarm.get("name") or alarm["alarmName"]
        assert topic in alarm["alarmActions"], name
        assert topic in alarm["okActions"], name


def test_alarms__latency_threshold_in_seconds_from_settings(plan_of):
    default = _alarms_by_name(plan_of("dev"))["tradai-alb-latency-p99-dev"]
    assert default["threshold"] == 5.0
    tuned = _alarms_by_name(_edge_only("dev", {"alarm_latency_threshold_ms": 750}))["tradai-alb-latency-p99-dev"]
    assert tuned["threshold"] == 0.75
    assert tuned["extendedStatistic"] == "p99"
    assert tuned["metricName"] == "TargetResponseTime"
    assert tuned["comparisonOperator"] == "GreaterThanThreshold"


def test_alarms__latency_5xx_and_unhealthy_hosts_watch_compute_alb(plan_of):
    result = plan_of("prod")
    compute = result.exports["compute"]
    alarms = _alarms_by_name(result)
    assert alarms["tradai-alb-latency-p99-prod"]["dimensions"] == {"LoadBalancer": compute["alb_arn_suffix"]}
    queries = alarms["tradai-alb-5xx-prod"]["metricQueries"]
    assert {q["metric"]["metricName"] for q in queries if "metric" in q} == {
        "HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"}
    assert all(q["metric"]["dimensions"] == {"LoadBalancer": compute["alb_arn_suffix"]} for q in queries if "metric" in q)
    for service, suffix in compute["target_group_arn_suffixes"].items():
        alarm = alarms[f"tradai-{service}-unhealthy-hosts-prod"]
        assert alarm["metricName"] == "UnHealthyHostCount"
        assert alarm["dimensions"] == {"LoadBalancer": compute["alb_arn_suffix"], "TargetGroup": suffix}


@pytest.mark.parametrize("environment,present", [("prod", True), ("dev", False)], ids=["prod", "dev"])
def test_alarms__min_strategies_only_when_the_setting_is_positive(plan_of, environment, present):
    alarms = _alarms_by_name(plan_of(environment))
    assert (f"tradai-min-strategies-{environment}" in alarms) is present
    if present:
        alarm = alarms[f"tradai-min-strategies-{environment}"]
        assert alarm["threshold"] == load_settings(environment).alarm_min_strategies == 1
        assert (alarm["namespace"], alarm["metricName"]) == ("TradAI", "ActiveStrategies")
        assert alarm["comparisonOperator"] == "LessThanThreshold"


def test_alarms__min_strategies_threshold_from_settings():
    alarm = _alarms_by_name(_edge_only("dev", {"alarm_min_strategies": 3}))["tradai-min-strategies-dev"]
    assert alarm["threshold"] == 3
    assert alarm["dimensions"] == {"Environment": "dev"}


def test_alarms__heartbeat_alarm_fires_when_heartbeats_stop(plan_of):
    alarm = _alarms_by_name(plan_of("dev"))["tradai-heartbeat-dev"]
    assert (alarm["namespace"], alarm["metricName"]) == ("TradAI", "Heartbeat")
    assert alarm["treatMissingData"] == "breaching"
    assert alarm["comparisonOperator"] == "LessThanThreshold"


def test_alarms__backtest_dlq_alarm_on_visible_messages(plan_of):
    result = plan_of("dev")
    alarm = _alarms_by_name(result)["tradai-backtest-dlq-messages-dev"]
    dlq_name = result.exports["foundation"]["backtest_dlq_arn"].rsplit(":", 1)[1]
    assert alarm["dimensions"] == {"QueueName": dlq_name}
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_composite_alarm__rule_covers_every_critical_alarm(plan_of, environment):
    result = plan_of(environment)
    composite = _one(result, COMPOSITE_ALARM)
    referenced = re.findall(r'ALARM\("([^"]+)"\)', composite["alarmRule"])
    metric_alarms = set(_alarms_by_name(result))
    assert set(referenced) == metric_alarms - {f"tradai-backtest-dlq-messages-{environment}"}
    assert composite["alarmRule"] == " OR ".join(f'ALARM("{name}")' for name in referenced)


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev-consolidated", "prod-ecs"])
def test_dashboard__widgets_point_at_the_upstream_resources(plan_of, environment):
    result = plan_of(environment)
    compute, foundation = result.exports["compute"], result.exports["foundation"]
    dashboard = _one(result, DASHBOARD)
    assert dashboard["dashboardName"] == f"tradai-trading-platform-{environment}"
    widgets = json.loads(dashboard["dashboardBody"])["widgets"]
    metrics = [m for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"]]
    dimensions = {(m[0], m[1]): m[2:-1] if isinstance(m[-1], dict) else m[2:] for m in metrics}
    assert dimensions[("AWS/ApplicationELB", "TargetResponseTime")] == ["LoadBalancer", compute["alb_arn_suffix"]]
    assert ("AWS/ApplicationELB", "RequestCount") in dimensions
    assert ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count") in dimensions
    lambda_names = {m[3] for m in metrics if m[:2] == ["AWS/Lambda", "Errors"]}
    assert lambda_names == set(compute["lambda_function_names"].values())
    queue_names = {m[3] for m in metrics if m[0] == "AWS/SQS"}
    assert queue_names == {foundation[k].rsplit(":", 1)[1] for k in ("backtest_queue_arn", "backtest_dlq_arn")}
    custom_metrics = {(m[0], m[1]) for m in metrics if m[0] == "TradAI"}
    assert custom_metrics == {("TradAI", "ActiveStrategies"), ("TradAI", "Heartbeat")}
    cpu = [m for m in metrics if m[1] == "CPUUtilization"]
    if compute["service_names"]:
        assert {m[5] for m in cpu} == set(compute["service_names"].values())
        assert {m[3] for m in cpu} == {compute["ecs_cluster_name"]}
    else:
        asg_name = compute["consolidated_asg_name"]
        assert [m[:4] for m in cpu] == [["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", asg_name]]
    alarm_widgets = [w for w in widgets if w["type"] == "alarm"]
    assert len(alarm_widgets[0]["properties"]["alarms"]) == len(_inputs(result, METRIC_ALARM)) + 1


def test_dashboard__widgets_do_not_overlap(plan_of):
    widgets = json.loads(_one(plan_of("prod"), DASHBOARD)["dashboardBody"])["widgets"]
    cells = [(w["x"] + dx, w["y"] + dy) for w in widgets for dx in range(w["width"]) for dy in range(w["height"])]
    assert len(cells) == len(set(cells))
    assert all(w["x"] + w["width"] <= 24 for w in widgets)


@pytest.mark.parametrize("environment", config.ENVIRONMENTS, ids=config.ENVIRONMENTS)
def test_tags__every_taggable_resource_has_the_standard_tags(plan_of, environment):
    rows = resources_of(plan_of(environment), "edge")
    taggable = [row for row in rows.itertuples() if is_taggable(row.type)]
    assert len(taggable) >= 10
    for row in taggable:
        tags = row.inputs.get("tags") or {}
        assert STANDARD_TAGS <= set(tags), row.name
        assert tags["Environment"] == environment, row.name
        assert tags["Project"] == "tradai" and tags["ManagedBy"] == "pulumi", row.name


def test_plan__is_deterministic():
    first, second = _edge_only("dev"), _edge_only("dev")
    assert first.to_json() == second.to_json()
    columns = ["urn", "id", "outputs", "dependencies"]
    assert first.resources[columns].to_dict("records") == second.resources[columns].to_dict("records")


@pytest.mark.parametrize("environment", config.ENVIRONMENTS, ids=config.ENVIRONMENTS)
def test_exports__match_the_contract_and_the_planned_resources(plan_of, environment):
    result = plan_of(environment)
    exports = result.exports["edge"]
    assert set(exports) == EDGE_EXPORTS
    assert sorted(exports["alarm_names"]) == sorted(alarm["name"] for alarm in _inputs(result, METRIC_ALARM))
    assert len(set(exports["alarm_names"])) == len(exports["alarm_names"])
    assert exports["composite_alarm_name"] == _one(result, COMPOSITE_ALARM)["alarmName"]
    assert exports["dashboard_name"] == _one(result, DASHBOARD)["dashboardName"]
    assert exports["api_endpoint"].startswith("https://")


def test_upstream__missing_export_fails_naming_the_stack_and_key(plan_of):
    settings = load_settings("dev")
    upstream = {name: dict(result) for name, result in plan_of("dev").exports.items() if name != "edge"}
    del upstream["compute"]["alb_arn"]
    with pytest.raises(PlanError) as error:
        plan_stack(settings, stacks.get("edge"), upstream)
    assert (error.value.upstream, error.value.key) == ("compute", "alb_arn")


def test_upstream__missing_target_group_fails_naming_the_service(plan_of):
    settings = load_settings("dev")
    upstream = {name: dict(result) for name, result in plan_of("dev").exports.items() if name != "edge"}
    suffixes = upstream["compute"]["target_group_arn_suffixes"]
    upstream["compute"]["target_group_arn_suffixes"] = {s: v for s, v in suffixes.items() if s != "mlflow"}
    with pytest.raises(PlanError, match=r"target_group_arn_suffixes\['mlflow'\]") as error:
        plan_stack(settings, stacks.get("edge"), upstream)
    assert error.value.upstream == "compute"
