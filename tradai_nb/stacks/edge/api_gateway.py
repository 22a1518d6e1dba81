"""The public HTTP API: Cognito JWT authorizer, routes per service, and a VPC link into the ALB."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings

if TYPE_CHECKING:
    import pulumi_aws as aws

# API Gateway overwrites this header with the caller's address on every request it relays, so the WAF on the
# ALB can rate-limit per API client (relayed requests reach the ALB from the VPC link's private addresses).
CLIENT_IP_HEADER = "X-TradAI-Client-IP"
# HTTP APIs cap integration timeouts at 30 s.
INTEGRATION_TIMEOUT_MS = 30_000
CORS_ALLOWED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_ALLOWED_HEADERS = ["authorization", "content-type", "x-request-id"]
CORS_MAX_AGE_S = 600
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "sourceIp": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "path": "$context.path",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
    },
    sort_keys=True,
)


def proxy_route_key(service: str) -> str:
    """The catch-all route of a service: its ALB path pattern (/api/*) as an HTTP API greedy route."""
    path = str(config.SERVICES[service]["path"])
    return f"ANY {path.removesuffix('/*')}/{{proxy+}}"


def health_route_key(service: str) -> str:
    """The unauthenticated health-check route of a service."""
    return f"GET {config.HEALTH_CHECK_PATHS[service]}"


def create_http_api(
    settings: Settings,
    *,
    private_subnet_ids: pulumi.Input[list[str]],
    alb_sg_id: pulumi.Input[str],
    alb_listener_arn: pulumi.Input[str],
    user_pool_endpoint: pulumi.Input[str],
    m2m_client_id: pulumi.Input[str],
) -> aws.apigatewayv2.Api:
    """Declare the HTTP API with its VPC link, integrations, routes, authorizer, stage and optional domain."""
    env = settings.environment
    tags = config.get_tags(service="api-gateway", environment=env)
    api_name = config.get_resource_name("api", env)

    api = _api(settings, api_name, tags)
    vpc_link = _vpc_link(env, private_subnet_ids, alb_sg_id, tags)
    authorizer = _cognito_authorizer(env, api, user_pool_endpoint, m2m_client_id)
    # With a certificate the ALB listener is HTTPS and presents the API domain's certificate: verify that name.
    tls_config: aws.apigatewayv2.IntegrationTlsConfigArgsDict | None = (
        {"server_name_to_verify": settings.api_domain} if settings.certificate_arn and settings.api_domain else None
    )
    for service in config.SERVICES:
        _service_routes(service, api, vpc_link, authorizer, alb_listener_arn, tls_config)
    stage = _stage(settings, api, api_name, tags)
    if settings.api_domain and settings.certificate_arn:
        _custom_domain(settings.api_domain, settings.certificate_arn, api, stage, tags)
    return api


def _api(settings: Settings, api_name: str, tags: dict[str, str]) -> aws.apigatewayv2.Api:
    """The HTTP API, with CORS when origins are allowed."""
    import pulumi_aws as aws

    return aws.apigatewayv2.Api(
        "api",
        name=api_name,
        protocol_type="HTTP",
        description=f"TradAI public API ({settings.environment})",
        cors_configuration={
            "allow_origins": settings.cors_allowed_origins,
            "allow_methods": CORS_ALLOWED_METHODS,
            "allow_headers": CORS_ALLOWED_HEADERS,
            "max_age": CORS_MAX_AGE_S,
        }
        if settings.cors_allowed_origins
        else None,
        tags=tags,
    )


def _vpc_link(
    env: str, private_subnet_ids: pulumi.Input[list[str]], alb_sg_id: pulumi.Input[str], tags: dict[str, str]
) -> aws.apigatewayv2.VpcLink:
    """The VPC link into the private subnets, through the ALB's security group."""
    import pulumi_aws as aws

    return aws.apigatewayv2.VpcLink(
        "api-vpc-link",
        name=config.get_resource_name("api-vpc-link", env),
        subnet_ids=private_subnet_ids,
        security_group_ids=[alb_sg_id],
        tags=tags,
    )


def _cognito_authorizer(
    env: str, api: aws.apigatewayv2.Api, user_pool_endpoint: pulumi.Input[str], m2m_client_id: pulumi.Input[str]
) -> aws.apigatewayv2.Authorizer:
    """The JWT authorizer that checks Cognito access tokens."""
    import pulumi_aws as aws

    return aws.apigatewayv2.Authorizer(
        "api-cognito-authorizer",
        name=config.get_resource_name("api-cognito", env),
        api_id=api.id,
        authorizer_type="JWT",
        identity_sources=["$request.header.Authorization"],
        jwt_configuration={
            "issuer": pulumi.Output.from_input(user_pool_endpoint).apply(lambda endpoint: f"https://{endpoint}"),
            # Cognito access tokens carry the app client in client_id, which API Gateway checks against audiences.
            "audiences": [m2m_client_id],
        },
    )


def _service_routes(
    service: str,
    api: aws.apigatewayv2.Api,
    vpc_link: aws.apigatewayv2.VpcLink,
    authorizer: aws.apigatewayv2.Authorizer,
    alb_listener_arn: pulumi.Input[str],
    tls_config: aws.apigatewayv2.IntegrationTlsConfigArgsDict | None,
) -> None:
    """A service's integration with the ALB listener, its authorized proxy route and its open health route."""
    import pulumi_aws as aws

    integration = aws.apigatewayv2.Integration(
        f"api-integration-{service}",
        api_id=api.id,
        description=f"{service}: {config.SERVICES[service]['path']} on the ALB listener",
        integration_type="HTTP_PROXY",
        integration_method="ANY",
        integration_uri=alb_listener_arn,
        connection_type="VPC_LINK",
        connection_id=vpc_link.id,
        payload_format_version="1.0",
        timeout_milliseconds=INTEGRATION_TIMEOUT_MS,
        request_parameters={f"overwrite:header.{CLIENT_IP_HEADER}": "$context.identity.sourceIp"},
        tls_config=tls_config,
    )
    target = pulumi.Output.concat("integrations/", integration.id)
    aws.apigatewayv2.Route(
        f"api-route-{service}",
        api_id=api.id,
        route_key=proxy_route_key(service),
        target=target,
        authorization_type="JWT",
        authorizer_id=authorizer.id,
    )
    # Uptime probes call the health checks without a token.
    aws.apigatewayv2.Route(
        f"api-health-route-{service}",
        api_id=api.id,
        route_key=health_route_key(service),
        target=target,
        authorization_type="NONE",
    )


def _stage(
    settings: Settings, api: aws.apigatewayv2.Api, api_name: str, tags: dict[str, str]
) -> aws.apigatewayv2.Stage:
    """The auto-deployed default stage and the log group of its access logs."""
    import pulumi_aws as aws

    access_logs = aws.cloudwatch.LogGroup(
        "api-access-logs",
        name=f"/aws/apigateway/{api_name}",
        retention_in_days=settings.log_retention_days,
        tags=tags,
    )
    return aws.apigatewayv2.Stage(
        "api-stage",
        api_id=api.id,
        name="$default",
        auto_deploy=True,
        access_log_settings={"destination_arn": access_logs.arn, "format": ACCESS_LOG_FORMAT},
        tags=tags,
    )


def _custom_domain(
    api_domain: str,
    certificate_arn: str,
    api: aws.apigatewayv2.Api,
    stage: aws.apigatewayv2.Stage,
    tags: dict[str, str],
) -> None:
    """The API's custom domain (regional, TLS 1.2) and its mapping to the stage."""
    import pulumi_aws as aws

    domain = aws.apigatewayv2.DomainName(
        "api-domain",
        domain_name=api_domain,
        domain_name_configuration={
            "certificate_arn": certificate_arn,
            "endpoint_type": "REGIONAL",
            "security_policy": "TLS_1_2",
        },
        tags=tags,
    )
    aws.apigatewayv2.ApiMapping(
        "api-domain-mapping",
        api_id=api.id,
        domain_name=domain.id,
        stage=stage.id,
    )
