"""The edge stack's HTTP API (its VPC link, JWT authorizer, integrations, routes and stage) and its web ACL (the IP
set its rules name, and its association with the load balancer), as the edge stack plans them.

The VPC link takes the planned subnets and security groups as the plan gives them (the sandbox does not check that
they exist); the authorizer's issuer and audience are the planned ones. The sandbox serves no GetAuthorizers: the API
carries, for each authorizer made on it, a tag `authorizer:<name>` holding its id, so a second seed finds it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tradai_nb.sandbox.realizers.base import (
    Realizer,
    Sandbox,
    arguments,
    first,
    found_or_created,
    listed_or_created,
    tag_map,
    tags,
)

# The prefix of the API's tags that hold its authorizers' ids, by name (see the module's doc).
AUTHORIZER_TAG_PREFIX = "authorizer:"
# The planned inputs whose API member is not theirs in another case.
_AUTHORIZER_RENAMED = {"identitySources": "IdentitySource", "audiences": "Audience"}
_INTEGRATION_RENAMED = {"timeoutMilliseconds": "TimeoutInMillis"}
_STAGE_RENAMED = {"name": "StageName"}


def _apigateway_arn(sandbox: Sandbox, path: str) -> str:
    """The ARN API Gateway gives a resource (an API, a stage, a route...) of path, such as apis/<id>/stages/<name>."""
    return f"arn:aws:apigateway:{sandbox.session.region_name}::/{path}"


def _execution_arn(sandbox: Sandbox, path: str) -> str:
    """The execute-api ARN of path: an API's id, or <id>/<stage> (what invoke permissions name)."""
    account = sandbox.client("sts").get_caller_identity()["Account"]
    return f"arn:aws:execute-api:{sandbox.session.region_name}:{account}:{path}"


def _named(
    client: Any, listing: Callable[[], list[dict[str, Any]]], method: str, inputs: Mapping[str, Any], tagged: Any
) -> tuple[str, dict[str, Any]]:
    """listed_or_created of what client's method (create_api, create_ip_set...) makes of the planned inputs, with the
    tags given in the API's shape, found by its planned name among what listing answers (WAF's answers, as its create
    calls', are summaries)."""

    def create() -> dict[str, Any]:
        made = getattr(client, method)(**arguments(client, method, inputs), Tags=tagged)
        return made.get("Summary", made)

    return listed_or_created(listing, "Name", inputs["name"], create)


def _api(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    apis = sandbox.client("apigatewayv2")
    name = inputs["name"]
    action, found = _named(apis, lambda: apis.get_apis()["Items"], "create_api", inputs, tag_map(inputs))
    api_id = found["ApiId"]
    return action, {
        "id": api_id,
        "name": name,
        "arn": _apigateway_arn(sandbox, f"apis/{api_id}"),
        "apiEndpoint": found["ApiEndpoint"],
        "executionArn": _execution_arn(sandbox, api_id),
    }


def _vpc_link(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    apis = sandbox.client("apigatewayv2")
    name = inputs["name"]
    action, found = _named(apis, lambda: apis.get_vpc_links()["Items"], "create_vpc_link", inputs, tag_map(inputs))
    link_id = found["VpcLinkId"]
    return action, {"id": link_id, "name": name, "arn": _apigateway_arn(sandbox, f"vpclinks/{link_id}")}


def _authorizer(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Found by the id the API's tag `authorizer:<name>` holds (see the module's doc)."""
    apis = sandbox.client("apigatewayv2")
    api_id, name = inputs["apiId"], inputs["name"]
    api_arn = _apigateway_arn(sandbox, f"apis/{api_id}")
    tag = f"{AUTHORIZER_TAG_PREFIX}{name}"

    def find() -> dict[str, Any] | None:
        held = apis.get_tags(ResourceArn=api_arn).get("Tags", {}).get(tag)
        return None if held is None else apis.get_authorizer(ApiId=api_id, AuthorizerId=held)

    def create() -> dict[str, Any]:
        created = apis.create_authorizer(**arguments(apis, "create_authorizer", inputs, _AUTHORIZER_RENAMED))
        apis.tag_resource(ResourceArn=api_arn, Tags={tag: created["AuthorizerId"]})
        return created

    action, found = found_or_created(find, create, "NotFoundException")
    authorizer_id = found["AuthorizerId"]
    return action, {
        "id": authorizer_id,
        "name": name,
        "arn": _apigateway_arn(sandbox, f"apis/{api_id}/authorizers/{authorizer_id}"),
    }


# What tells the planned integrations of an API apart (an integration has no name).
_INTEGRATION_KEYS = ("IntegrationType", "IntegrationUri", "IntegrationMethod", "ConnectionId", "Description")


def _integration(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The API's integration of the planned type, URI, method, connection and description."""
    apis = sandbox.client("apigatewayv2")
    api_id = inputs["apiId"]
    wanted = arguments(apis, "create_integration", inputs, _INTEGRATION_RENAMED)
    action, found = found_or_created(
        lambda: first(
            apis.get_integrations(ApiId=api_id)["Items"],
            lambda i: all(i.get(key) == wanted.get(key) for key in _INTEGRATION_KEYS),
        ),
        lambda: apis.create_integration(**wanted),
    )
    integration_id = found["IntegrationId"]
    return action, {
        "id": integration_id,
        "arn": _apigateway_arn(sandbox, f"apis/{api_id}/integrations/{integration_id}"),
    }


def _route(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The API's route of the planned route key (an API holds one route per key)."""
    apis = sandbox.client("apigatewayv2")
    api_id = inputs["apiId"]
    action, found = listed_or_created(
        lambda: apis.get_routes(ApiId=api_id)["Items"],
        "RouteKey",
        inputs["routeKey"],
        lambda: apis.create_route(**arguments(apis, "create_route", inputs)),
    )
    route_id = found["RouteId"]
    return action, {"id": route_id, "arn": _apigateway_arn(sandbox, f"apis/{api_id}/routes/{route_id}")}


def _stage(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Its invoke URL is the API's endpoint, with the stage's name after it but for the $default stage."""
    apis = sandbox.client("apigatewayv2")
    api_id, name = inputs["apiId"], inputs["name"]
    action, _ = found_or_created(
        lambda: apis.get_stage(ApiId=api_id, StageName=name),
        lambda: apis.create_stage(**arguments(apis, "create_stage", inputs, _STAGE_RENAMED), Tags=tag_map(inputs)),
        "NotFoundException",
    )
    endpoint = apis.get_api(ApiId=api_id)["ApiEndpoint"]
    return action, {
        "id": name,
        "name": name,
        "arn": _apigateway_arn(sandbox, f"apis/{api_id}/stages/{name}"),
        "invokeUrl": f"{endpoint}/" if name == "$default" else f"{endpoint}/{name}",
        "executionArn": _execution_arn(sandbox, f"{api_id}/{name}"),
    }


def _ip_set(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    waf = sandbox.client("wafv2")
    name, scope = inputs["name"], inputs["scope"]
    action, found = _named(waf, lambda: waf.list_ip_sets(Scope=scope)["IPSets"], "create_ip_set", inputs, tags(inputs))
    return action, {"id": found["Id"], "name": name, "arn": found["ARN"]}


def _web_acl(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """With the planned default action, rules (their IP set references already the sandbox's ARNs) and visibility."""
    waf = sandbox.client("wafv2")
    name, scope = inputs["name"], inputs["scope"]
    action, summary = _named(
        waf, lambda: waf.list_web_acls(Scope=scope)["WebACLs"], "create_web_acl", inputs, tags(inputs)
    )
    found = waf.get_web_acl(Name=name, Scope=scope, Id=summary["Id"])["WebACL"]
    return action, {"id": found["Id"], "name": name, "arn": found["ARN"], "capacity": found["Capacity"]}


def _web_acl_association(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The web ACL of the planned resource (the load balancer); its id is the provider's: `<acl ARN>,<resource ARN>`."""
    waf = sandbox.client("wafv2")
    acl_arn, resource_arn = inputs["webAclArn"], inputs["resourceArn"]

    def find() -> dict[str, Any] | None:
        held = waf.get_web_acl_for_resource(ResourceArn=resource_arn).get("WebACL") or {}
        return held if held.get("ARN") == acl_arn else None

    action, _ = found_or_created(find, lambda: waf.associate_web_acl(**arguments(waf, "associate_web_acl", inputs)))
    return action, {"id": f"{acl_arn},{resource_arn}"}


REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:apigatewayv2/api:Api": ("http api", _api),
    "aws:apigatewayv2/vpcLink:VpcLink": ("api vpc link", _vpc_link),
    "aws:apigatewayv2/authorizer:Authorizer": ("api authorizer", _authorizer),
    "aws:apigatewayv2/integration:Integration": ("api integration", _integration),
    "aws:apigatewayv2/route:Route": ("api route", _route),
    "aws:apigatewayv2/stage:Stage": ("api stage", _stage),
    "aws:wafv2/ipSet:IpSet": ("waf ip set", _ip_set),
    "aws:wafv2/webAcl:WebAcl": ("waf web acl", _web_acl),
    "aws:wafv2/webAclAssociation:WebAclAssociation": ("waf association", _web_acl_association),
}
