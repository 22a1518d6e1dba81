"""The regional WAF WebACL (rate limits and AWS common rules) and its association with the ALB.

Why the ALB and not the API: AWS WAF can protect REST APIs, Application Load Balancers, AppSync, Cognito user pools,
App Runner and Verified Access, but not API Gateway HTTP APIs. Every request to the HTTP API is relayed through the
VPC link to the ALB, and the ALB is also reachable directly from the internet, so the WebACL on the ALB covers both
paths. Requests relayed by the VPC link arrive from its private addresses inside the VPC, so one rate rule counts
per source IP only for requests from outside the VPC, and a second one counts relayed requests per API client, keyed
by the client-IP header API Gateway overwrites on every request (api_gateway.CLIENT_IP_HEADER). A caller cannot
forge that key: the header is only trusted on requests coming from inside the VPC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.edge.api_gateway import CLIENT_IP_HEADER

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Required, TypedDict

    import pulumi_aws as aws

    class _RateAggregation(TypedDict, total=False):
        """What a rate rule counts requests by, and which requests it counts."""

        aggregate_key_type: Required[str]
        custom_keys: Sequence[aws.wafv2.WebAclRuleStatementRateBasedStatementCustomKeyArgsDict]
        scope_down_statement: aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementArgsDict


RATE_LIMIT_PER_5_MIN = 2000
RATE_WINDOW_S = 300
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
# The common rule set blocks bodies over 8 KB; strategy configs and MLflow payloads are larger, so only count them.
COMMON_RULES_COUNTED = ("SizeRestrictions_BODY",)


def create_web_acl(settings: Settings, *, alb_arn: pulumi.Input[str], vpc_cidr: pulumi.Input[str]) -> aws.wafv2.WebAcl:
    """Declare the WebACL with its rules and attach it to the ALB."""
    import pulumi_aws as aws

    env = settings.environment
    tags = config.get_tags(service="waf", environment=env)
    acl_name = config.get_resource_name("waf", env)

    vpc_addresses = aws.wafv2.IpSet(
        "waf-vpc-addresses",
        name=config.get_resource_name("waf-vpc", env),
        description="the VPC, where requests relayed by the API Gateway VPC link come from",
        scope="REGIONAL",
        ip_address_version="IPV4",
        addresses=pulumi.Output.from_input(vpc_cidr).apply(lambda cidr: [cidr]),
        tags=tags,
    )
    web_acl = aws.wafv2.WebAcl(
        "waf-web-acl",
        name=acl_name,
        description="rate limits and AWS common rules for the TradAI ALB",
        scope="REGIONAL",
        default_action={"allow": {}},
        rules=[
            _rate_rule(
                acl_name,
                "rate-limit-per-ip",
                0,
                {
                    "aggregate_key_type": "IP",
                    "scope_down_statement": {
                        "not_statement": {"statement": {"ip_set_reference_statement": {"arn": vpc_addresses.arn}}}
                    },
                },
            ),
            _rate_rule(
                acl_name,
                "rate-limit-per-api-client",
                1,
                {
                    "aggregate_key_type": "CUSTOM_KEYS",
                    "custom_keys": [
                        {
                            "header": {
                                "name": CLIENT_IP_HEADER.lower(),
                                "text_transformations": [{"priority": 0, "type": "NONE"}],
                            }
                        }
                    ],
                    "scope_down_statement": {"ip_set_reference_statement": {"arn": vpc_addresses.arn}},
                },
            ),
            {
                "name": "aws-common-rules",
                "priority": 2,
                "override_action": {"none": {}},
                "statement": {
                    "managed_rule_group_statement": {
                        "vendor_name": "AWS",
                        "name": COMMON_RULE_SET,
                        "rule_action_overrides": [
                            {"name": rule, "action_to_use": {"count": {}}} for rule in COMMON_RULES_COUNTED
                        ],
                    }
                },
                "visibility_config": _visibility(f"{acl_name}-common-rules"),
            },
        ],
        visibility_config=_visibility(acl_name),
        tags=tags,
    )
    aws.wafv2.WebAclAssociation(
        "waf-alb-association",
        resource_arn=alb_arn,
        web_acl_arn=web_acl.arn,
    )
    return web_acl


def _rate_rule(acl_name: str, name: str, priority: int, aggregation: _RateAggregation) -> aws.wafv2.WebAclRuleArgsDict:
    return {
        "name": name,
        "priority": priority,
        "action": {"block": {}},
        "statement": {
            "rate_based_statement": {
                "limit": RATE_LIMIT_PER_5_MIN,
                "evaluation_window_sec": RATE_WINDOW_S,
                **aggregation,
            }
        },
        "visibility_config": _visibility(f"{acl_name}-{name}"),
    }


def _visibility(metric_name: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric_name, "sampled_requests_enabled": True}
