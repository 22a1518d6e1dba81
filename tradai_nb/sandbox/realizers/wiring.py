"""The compute stack's wiring of its Lambda functions: the permissions that let EventBridge schedules and the alerts
topic invoke them, and the backtest consumer's mapping from the backtest queue, as planned."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tradai_nb.sandbox.realizers.base import Realizer, Sandbox, api_shape, arn_name, first, found_or_created, tag_map


def _statement_id(inputs: Mapping[str, Any]) -> str:
    """The planned statement id or, where the plan gives none (the provider then makes one up), one made of the
    principal's service and the name the source ARN ends with (its rule's, its topic's): the same on every seed."""
    if inputs.get("statementId"):
        return str(inputs["statementId"])
    service = inputs["principal"].split(".", 1)[0]
    source = arn_name(inputs["sourceArn"]) if inputs.get("sourceArn") else "any"
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{service}-{source}")[:100]


def _permission(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    lambda_ = sandbox.client("lambda")
    function, statement_id = inputs["function"], _statement_id(inputs)
    qualifier = {"Qualifier": inputs["qualifier"]} if inputs.get("qualifier") else {}

    def find() -> dict[str, Any] | None:
        policy = json.loads(lambda_.get_policy(FunctionName=function, **qualifier)["Policy"])
        return first(policy.get("Statement", []), lambda s: s.get("Sid") == statement_id)

    def create() -> dict[str, Any]:
        arguments = {
            api: inputs[key]
            for key, api in (("sourceArn", "SourceArn"), ("sourceAccount", "SourceAccount"))
            if inputs.get(key)
        }
        added: dict[str, Any] = lambda_.add_permission(
            FunctionName=function,
            StatementId=statement_id,
            Action=inputs["action"],
            Principal=inputs["principal"],
            **qualifier,
            **arguments,
        )
        return added

    # moto answers GetPolicy of a function without statements with ResourceNotFoundException.
    action, _ = found_or_created(find, create, "ResourceNotFoundException")
    # The provider's id of a permission is its statement id.
    return action, {"id": statement_id, "statementId": statement_id}


# Planned mapping inputs create_event_source_mapping takes as they are (in the API's shape).
_MAPPING_INPUTS = (
    "batchSize",
    "enabled",
    "functionResponseTypes",
    "maximumBatchingWindowInSeconds",
    "scalingConfig",
    "filterCriteria",
)


def _event_source_mapping(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The mapping of the planned source (the backtest queue) to its function. Enabled as planned: moto then invokes
    the function (in Docker, where there is one) for each message sent to the queue, as Lambda would poll it."""
    lambda_ = sandbox.client("lambda")
    function, source = inputs["functionName"], inputs["eventSourceArn"]

    def find() -> dict[str, Any] | None:
        pages = lambda_.get_paginator("list_event_source_mappings").paginate(EventSourceArn=source)
        mappings = (m for page in pages for m in page["EventSourceMappings"])
        return first(mappings, lambda m: arn_name(m["FunctionArn"]) == arn_name(function))

    def create() -> dict[str, Any]:
        arguments = api_shape({k: inputs[k] for k in _MAPPING_INPUTS if k in inputs})
        created: dict[str, Any] = lambda_.create_event_source_mapping(
            FunctionName=function, EventSourceArn=source, Tags=tag_map(inputs), **arguments
        )
        return created

    action, found = found_or_created(find, create)
    return action, {
        "id": found["UUID"],
        "uuid": found["UUID"],
        "arn": found["EventSourceMappingArn"],
        "functionArn": found["FunctionArn"],
        "eventSourceArn": source,
    }


REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:lambda/permission:Permission": ("lambda permission", _permission),
    "aws:lambda/eventSourceMapping:EventSourceMapping": ("lambda event source mapping", _event_source_mapping),
}
