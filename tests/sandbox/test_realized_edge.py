"""The edge realized from the local plan: the planned HTTP API, its VPC link, authorizer, integrations, routes and
stage, and the WAF's IP set, web ACL and its association exist in the sandbox with their planned names and key
inputs, and the rehearsal checkpoints' ids, ARNs and the edge stack's exports name what the sandbox holds."""

from __future__ import annotations

import re

import pytest

from tradai_nb.sandbox.realizers import edge
from tradai_nb.sandbox.realizers.base import sandbox_of

PLAN_ID = re.compile(r"[0-9a-f]{17}")
API = "aws:apigatewayv2/api:Api"


def _one(rehearsal, resource_type: str) -> dict:
    [resource] = rehearsal.of("edge", resource_type)
    return resource


@pytest.mark.parametrize("resource_type", sorted(edge.REALIZERS))
def test_realized__the_edge_checkpoint_carries_the_sandbox_s_ids_of_the_kind(rehearsal, resource_type):
    resources = rehearsal.of("edge", resource_type)

    # The plan's mock ids are 17 hex digits; the sandbox's are API Gateway's ids, WAF's ids, names.
    assert [r["urn"] for r in resources if PLAN_ID.search(r["id"])] == []


def _realized_again(sandbox, resource: dict) -> dict:
    """What the resource's realizer returns given its checkpoint inputs: it finds what the seed made."""
    _, realizer = edge.REALIZERS[resource["type"]]
    action, outputs = realizer(sandbox_of(sandbox.session, sandbox.settings), resource["inputs"])
    assert action == "exists", resource["urn"]
    return outputs


@pytest.mark.parametrize("resource_type", sorted(edge.REALIZERS))
def test_realized__a_second_realization_finds_each_resource_the_checkpoint_names(sandbox, rehearsal, resource_type):
    for resource in rehearsal.of("edge", resource_type):
        outputs = _realized_again(sandbox, resource)

        # The outputs the plan has are the checkpoint's; the others (an invoke URL, a capacity) are the sandbox's.
        assert outputs["id"] == resource["id"], resource["urn"]
        assert {k: v for k, v in outputs.items() if k in resource["outputs"]} == {
            k: resource["outputs"][k] for k in outputs if k in resource["outputs"]
        }


def test_realized__the_api_is_the_planned_http_api_and_the_exports_name_it(sandbox, rehearsal):
    apis = sandbox.session.client("apigatewayv2")
    api = _one(rehearsal, API)
    inputs, outputs = api["inputs"], api["outputs"]
    [held] = [a for a in apis.get_apis()["Items"] if a["Name"] == inputs["name"]]
    exports = rehearsal.exports("edge")

    assert api["id"] == held["ApiId"] == exports["api_id"]
    assert outputs["apiEndpoint"] == held["ApiEndpoint"] == exports["api_endpoint"]
    assert apis.get_api(ApiId=exports["api_id"])["ApiEndpoint"] == exports["api_endpoint"]
    assert (held["ProtocolType"], held["Description"]) == (inputs["protocolType"], inputs["description"])
    cors = held["CorsConfiguration"]
    assert (cors["AllowOrigins"], cors["AllowMethods"], cors["AllowHeaders"], cors["MaxAge"]) == (
        inputs["corsConfiguration"]["allowOrigins"],
        inputs["corsConfiguration"]["allowMethods"],
        inputs["corsConfiguration"]["allowHeaders"],
        inputs["corsConfiguration"]["maxAge"],
    )
    assert held["Tags"]["Service"] == inputs["tags"]["Service"] and held["Tags"]["Purpose"] == "rehearsal"
    assert outputs["arn"] == f"arn:aws:apigateway:{sandbox.settings.aws_region}::/apis/{held['ApiId']}"
    assert outputs["executionArn"].endswith(f":{held['ApiId']}") and outputs["executionArn"].startswith(
        "arn:aws:execute-api:"
    )


def test_realized__the_vpc_link_has_the_planned_subnets_and_groups_and_carries_the_integrations(sandbox, rehearsal):
    apis = sandbox.session.client("apigatewayv2")
    link = _one(rehearsal, "aws:apigatewayv2/vpcLink:VpcLink")
    held = apis.get_vpc_link(VpcLinkId=link["id"])
    integrations = rehearsal.of("edge", "aws:apigatewayv2/integration:Integration")

    assert held["Name"] == link["inputs"]["name"]
    assert held["SubnetIds"] == link["inputs"]["subnetIds"] and len(held["SubnetIds"]) == 2
    assert held["SecurityGroupIds"] == link["inputs"]["securityGroupIds"]
    assert link["outputs"]["arn"].endswith(f"::/vpclinks/{held['VpcLinkId']}")
    assert {i["inputs"]["connectionId"] for i in integrations} == {held["VpcLinkId"]}


def test_realized__the_authorizer_is_the_planned_jwt_one_on_the_api(sandbox, rehearsal):
    apis = sandbox.session.client("apigatewayv2")
    authorizer = _one(rehearsal, "aws:apigatewayv2/authorizer:Authorizer")
    inputs = authorizer["inputs"]
    held = apis.get_authorizer(ApiId=rehearsal.exports("edge")["api_id"], AuthorizerId=authorizer["id"])

    assert inputs["apiId"] == _one(rehearsal, API)["id"]
    assert (held["Name"], held["AuthorizerType"], held["IdentitySource"]) == (
        inputs["name"],
        "JWT",
        inputs["identitySources"],
    )
    assert held["JwtConfiguration"] == {
        "Audience": inputs["jwtConfiguration"]["audiences"],
        "Issuer": inputs["jwtConfiguration"]["issuer"],
    }


def test_realized__each_integration_proxies_to_the_sandbox_s_listener_through_the_vpc_link(sandbox, rehearsal):
    apis = sandbox.session.client("apigatewayv2")
    elbv2 = sandbox.session.client("elbv2")
    integrations = rehearsal.of("edge", "aws:apigatewayv2/integration:Integration")
    api_id = rehearsal.exports("edge")["api_id"]
    listener_arn = rehearsal.exports("compute")["alb_listener_arn"]

    assert len(integrations) == 4
    assert len(elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"]) == 1
    for integration in integrations:
        inputs = integration["inputs"]
        held = apis.get_integration(ApiId=api_id, IntegrationId=integration["id"])
        assert inputs["integrationUri"] == held["IntegrationUri"] == listener_arn
        assert (held["IntegrationType"], held["IntegrationMethod"], held["ConnectionType"]) == (
            inputs["integrationType"],
            inputs["integrationMethod"],
            inputs["connectionType"],
        )
        assert held["ConnectionId"] == inputs["connectionId"] and held["Description"] == inputs["description"]
        assert (held["PayloadFormatVersion"], held["TimeoutInMillis"]) == (
            inputs["payloadFormatVersion"],
            inputs["timeoutMilliseconds"],
        )
        assert held["RequestParameters"] == inputs["requestParameters"]


def test_realized__each_route_targets_its_integration_and_the_proxies_need_the_authorizer(sandbox, rehearsal):
    apis = sandbox.session.client("apigatewayv2")
    routes = rehearsal.of("edge", "aws:apigatewayv2/route:Route")
    api_id = rehearsal.exports("edge")["api_id"]
    held = {r["RouteKey"]: r for r in apis.get_routes(ApiId=api_id)["Items"]}
    integration_ids = {i["IntegrationId"] for i in apis.get_integrations(ApiId=api_id)["Items"]}
    authorizer = _one(rehearsal, "aws:apigatewayv2/authorizer:Authorizer")

    assert len(routes) == 8 and set(held) == {r["inputs"]["routeKey"] for r in routes}
    for route in routes:
        inputs = route["inputs"]
        found = held[inputs["routeKey"]]
        assert route["id"] == found["RouteId"]
        assert found["Target"] == inputs["target"] and found["Target"].removeprefix("integrations/") in integration_ids
        assert found["AuthorizationType"] == inputs["authorizationType"]
        if inputs["authorizationType"] == "JWT":
            assert found["AuthorizerId"] == inputs["authorizerId"] == authorizer["id"]
        else:
            assert found.get("AuthorizerId") is None and inputs["routeKey"].endswith("/health")


def test_realized__the_stage_auto_deploys_and_logs_to_the_planned_group(sandbox, rehearsal):
    apis = sandbox.session.client("apigatewayv2")
    logs = sandbox.session.client("logs")
    stage = _one(rehearsal, "aws:apigatewayv2/stage:Stage")
    inputs, outputs = stage["inputs"], stage["outputs"]
    exports = rehearsal.exports("edge")
    held = apis.get_stage(ApiId=exports["api_id"], StageName=inputs["name"])

    assert stage["id"] == held["StageName"] == "$default" and held["AutoDeploy"] is True
    assert held["AccessLogSettings"] == {
        "DestinationArn": inputs["accessLogSettings"]["destinationArn"],
        "Format": inputs["accessLogSettings"]["format"],
    }
    [group] = logs.describe_log_groups(logGroupNamePrefix="/aws/apigateway/")["logGroups"]
    assert inputs["accessLogSettings"]["destinationArn"] == group["arn"].removesuffix(":*")
    assert outputs["arn"].endswith(f"::/apis/{exports['api_id']}/stages/$default")
    # The plan has no invoke URL or execution ARN of the stage: the realizer's are the sandbox's.
    realized = _realized_again(sandbox, stage)
    assert realized["invokeUrl"] == exports["api_endpoint"] + "/"
    assert realized["executionArn"] == _one(rehearsal, API)["outputs"]["executionArn"] + "/$default"


def test_realized__the_ip_set_holds_the_planned_addresses(sandbox, rehearsal):
    waf = sandbox.session.client("wafv2")
    ip_set = _one(rehearsal, "aws:wafv2/ipSet:IpSet")
    inputs = ip_set["inputs"]
    held = waf.get_ip_set(Name=inputs["name"], Scope=inputs["scope"], Id=ip_set["id"])["IPSet"]

    assert held["ARN"] == ip_set["outputs"]["arn"]
    assert (held["Addresses"], held["IPAddressVersion"], held["Description"]) == (
        inputs["addresses"],
        inputs["ipAddressVersion"],
        inputs["description"],
    )


def test_realized__the_web_acl_has_the_planned_rules_naming_the_ip_set_and_is_the_one_exported(sandbox, rehearsal):
    waf = sandbox.session.client("wafv2")
    acl = _one(rehearsal, "aws:wafv2/webAcl:WebAcl")
    ip_set = _one(rehearsal, "aws:wafv2/ipSet:IpSet")
    inputs = acl["inputs"]
    held = waf.get_web_acl(Name=inputs["name"], Scope=inputs["scope"], Id=acl["id"])["WebACL"]

    assert held["ARN"] == acl["outputs"]["arn"] == rehearsal.exports("edge")["waf_web_acl_arn"]
    assert _realized_again(sandbox, acl)["capacity"] == held["Capacity"]
    assert held["DefaultAction"] == {"Allow": {}} and inputs["defaultAction"] == {"allow": {}}
    assert held["VisibilityConfig"]["MetricName"] == inputs["visibilityConfig"]["metricName"]
    assert [(r["Name"], r["Priority"]) for r in held["Rules"]] == [(r["name"], r["priority"]) for r in inputs["rules"]]
    per_ip, per_client, common = held["Rules"]
    assert per_ip["Statement"]["RateBasedStatement"]["Limit"] == inputs["rules"][0]["statement"]["rateBasedStatement"][
        "limit"
    ]
    scope_down = per_ip["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    assert scope_down["NotStatement"]["Statement"]["IPSetReferenceStatement"]["ARN"] == ip_set["outputs"]["arn"]
    custom = per_client["Statement"]["RateBasedStatement"]
    assert custom["AggregateKeyType"] == "CUSTOM_KEYS" and custom["CustomKeys"][0]["Header"]["Name"] == (
        "x-tradai-client-ip"
    )
    assert custom["ScopeDownStatement"]["IPSetReferenceStatement"]["ARN"] == ip_set["outputs"]["arn"]
    assert common["OverrideAction"] == {"None": {}}
    assert common["Statement"]["ManagedRuleGroupStatement"]["Name"] == "AWSManagedRulesCommonRuleSet"
    assert all(r["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True for r in held["Rules"])


def test_realized__the_web_acl_guards_the_sandbox_s_load_balancer(sandbox, rehearsal):
    waf = sandbox.session.client("wafv2")
    association = _one(rehearsal, "aws:wafv2/webAclAssociation:WebAclAssociation")
    alb_arn = rehearsal.exports("compute")["alb_arn"]
    acl_arn = rehearsal.exports("edge")["waf_web_acl_arn"]

    assert association["inputs"] == {"resourceArn": alb_arn, "webAclArn": acl_arn}
    assert waf.get_web_acl_for_resource(ResourceArn=alb_arn)["WebACL"]["ARN"] == acl_arn
    assert association["id"] == f"{acl_arn},{alb_arn}"
