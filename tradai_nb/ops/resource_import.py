"""Importing an existing AWS resource into a stack: a dry run that finds it in AWS and shows its declaration, then
the import through the Automation API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

from tradai_nb.aws import aws_errors
from tradai_nb.errors import OperationError, ParameterError, TradaiError
from tradai_nb.importable import Code, ImportRequest, declaration_code, import_request
from tradai_nb.ops._common import Message, Progress
from tradai_nb.records import gate
from tradai_nb.settings import Settings
from tradai_nb.state import backend

PLAN_COLUMNS = ["stack", "type", "name", "id", "found", "details", "in_state"]
# The answers of AWS APIs that mean "no such resource".
_MISSING_CODES = frozenset(
    {
        "404",
        "NoSuchBucket",
        "NotFound",
        "ResourceNotFoundException",
        "RepositoryNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NoSuchEntity",
        "ClusterNotFoundException",
        "ServiceNotFoundException",
    }
)

Found = tuple[str, dict[str, Any]]  # what was found (one line), and the declaration's arguments


@dataclass(frozen=True)
class ImportPlan:
    """What a dry run found: the resource in AWS, whether the stack's state has it already, and the declaration
    to add to the stack module."""

    request: ImportRequest
    details: str
    arguments: dict[str, Any] = field(default_factory=dict)
    in_state: str = ""

    @property
    def code(self) -> str:
        return declaration_code(self.request, self.arguments)

    def table(self) -> pd.DataFrame:
        r = self.request
        return pd.DataFrame(
            [(r.stack, r.type.token, r.name, r.id, True, self.details, self.in_state or "no")], columns=PLAN_COLUMNS
        )

    def instructions(self) -> Message:
        """Where the declaration goes, the code, and the command that imports it."""
        r = self.request
        confirm = f" --confirm {r.environment}" if gate.needs_confirm(r.environment) else ""
        parent = f" --parent {r.parent}" if r.parent else ""
        command = (
            f"tradai-nb stack import-resource --stack {r.stack} --env {r.environment} --type {r.type.token} "
            f"--name {r.name} --id {r.id}{parent} --no-dry-run{confirm}"
        )
        lines = [
            f"add to {r.module_path()} (in the function that declares the stack's {r.type.python_class} "
            "resources, with `import pulumi` and `import pulumi_aws as aws`):",
            "",
            self.code,
            "",
        ]
        if self.in_state:
            lines.append(
                f"the stack's state already holds it as {self.in_state}: it is managed already, and an "
                "import of it would fail (nothing to do)"
            )
        else:
            lines += [
                f"then import it (needs the Pulumi CLI): {command}",
                "after the import, a preview shows no change for it once the declaration matches; then drop "
                "import_ from the options",
            ]
        return Message("\n".join(lines))


def check_parameters(
    settings: Settings,
    *,
    stack: str,
    resource_type: str,
    name: str,
    resource_id: str,
    parent: str = "",
    dry_run: bool = True,
    confirm: str = "",
) -> ImportRequest:
    """Validate the import runbook's parameters and, for a real import, its guard rail; nothing is touched."""
    if not isinstance(dry_run, bool):
        raise ParameterError(
            f"parameter 'dry_run' (--dry-run): expected True or False, got {dry_run!r}", name="dry_run"
        )
    request = import_request(settings.environment, stack, resource_type, name, resource_id, parent)
    if not dry_run:
        gate.precheck(settings, "stack.import-resource", target=stack, confirm=confirm)
    return request


def plan_import(session, settings: Settings, request: ImportRequest) -> ImportPlan:
    """The dry run: find the resource in AWS (read-only calls), read how it is configured, and look it up in the
    stack's state. A resource that does not exist is an OperationError naming what was checked."""
    finder = FINDERS[request.type.token]
    where = f"{request.type.token} {request.id!r} in {settings.environment} ({settings.aws_region})"
    with aws_errors(f"looking up {where}"):
        found = finder(session, request.id)
    if found is None:
        raise OperationError(
            f"{where} does not exist (checked with {finder.__doc__}); check the id "
            f"({request.type.id_meaning}), the environment and the region"
        )
    details, arguments = found
    return ImportPlan(request, details, arguments, _in_state(session, settings, request))


def import_resource(
    session,
    settings: Settings,
    *,
    stack: str,
    resource_type: str,
    name: str,
    resource_id: str,
    parent: str = "",
    dry_run: bool = True,
    confirm: str = "",
    on_output: Progress = print,
):
    """Dry run (default): the ImportPlan. Otherwise the import itself, through the Automation API's
    Stack.import_resources (needs the Pulumi CLI); its change gate comes first."""
    if not dry_run:
        from tradai_nb.engine import automation

        return automation.import_resource(
            settings,
            stack,
            resource_type=resource_type,
            name=name,
            resource_id=resource_id,
            parent=parent,
            confirm=confirm,
            on_output=on_output,
        )
    request = check_parameters(
        settings, stack=stack, resource_type=resource_type, name=name, resource_id=resource_id, parent=parent
    )
    return plan_import(session, settings, request)


def _in_state(session, settings: Settings, request: ImportRequest) -> str:
    """The URN under which the stack's state holds this resource (same type and id, or the same URN), or ''."""
    try:
        store = backend.state_store_for(settings, session)
        ref = backend.stack_ref(request.stack, settings.environment)
        if store.existing_checkpoint_key(ref) is None:
            return ""
        resources = store.read_deployment(ref)["deployment"].get("resources") or []
    except TradaiError as exc:
        return f"unknown (the state could not be read: {exc})"
    for resource in resources:
        same_id = resource.get("type") == request.type.token and str(resource.get("id", "")) == request.id
        if same_id or resource.get("urn") == request.urn:
            return str(resource.get("urn"))
    return ""


def _missing(call: Callable[[], Any]) -> Any:
    """call(), or None when AWS answers that the resource does not exist."""
    try:
        return call()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _MISSING_CODES:
            return None
        raise


def _bucket(session, bucket: str) -> Found | None:
    """s3 head_bucket"""
    s3 = session.client("s3")
    if _missing(lambda: s3.head_bucket(Bucket=bucket)) is None:
        return None
    region = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
    return f"bucket in {region}", {"bucket": bucket}


def _ecs_service(session, resource_id: str) -> Found | None:
    """ecs describe_services"""
    cluster, service = resource_id.split("/")
    described = _missing(lambda: session.client("ecs").describe_services(cluster=cluster, services=[service]))
    services = [s for s in (described or {}).get("services", []) if s.get("status") != "INACTIVE"]
    if not services:
        return None
    s = services[0]
    arguments = {
        "name": s["serviceName"],
        "cluster": s["clusterArn"],
        "task_definition": s["taskDefinition"],
        "desired_count": s.get("desiredCount", 0),
    }
    if s.get("launchType"):
        arguments["launch_type"] = s["launchType"]
    return (
        f"{s.get('status')}, {s.get('runningCount', 0)}/{s.get('desiredCount', 0)} running, "
        f"{s['taskDefinition'].rsplit('/', 1)[-1]}"
    ), arguments


def _table(session, table: str) -> Found | None:
    """dynamodb describe_table"""
    described = _missing(lambda: session.client("dynamodb").describe_table(TableName=table))
    if described is None:
        return None
    t = described["Table"]
    keys = {k["KeyType"]: k["AttributeName"] for k in t.get("KeySchema", [])}
    billing = (t.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    attributes = ", ".join(
        f"aws.dynamodb.TableAttributeArgs(name={a['AttributeName']!r}, type={a['AttributeType']!r})"
        for a in t.get("AttributeDefinitions", [])
    )
    arguments: dict[str, Any] = {"name": table, "billing_mode": billing, "hash_key": keys.get("HASH")}
    if "RANGE" in keys:
        arguments["range_key"] = keys["RANGE"]
    arguments["attributes"] = Code(f"[{attributes}]")
    return f"{t.get('TableStatus')}, {billing}, key {' + '.join(keys.values())}", arguments


def _repository(session, repository: str) -> Found | None:
    """ecr describe_repositories"""
    described = _missing(lambda: session.client("ecr").describe_repositories(repositoryNames=[repository]))
    if not described or not described.get("repositories"):
        return None
    r = described["repositories"][0]
    return r["repositoryUri"], {"name": repository, "image_tag_mutability": r.get("imageTagMutability", "MUTABLE")}


def _queue(session, url: str) -> Found | None:
    """sqs get_queue_attributes"""
    answered = _missing(
        lambda: session.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn", "VisibilityTimeout", "MessageRetentionPeriod"]
        )
    )
    if answered is None:
        return None
    attributes = answered.get("Attributes", {})
    queue = url.rsplit("/", 1)[-1]
    arguments: dict[str, Any] = {"name": queue}
    if queue.endswith(".fifo"):
        arguments["fifo_queue"] = True
    arguments["visibility_timeout_seconds"] = int(attributes.get("VisibilityTimeout", 30))
    arguments["message_retention_seconds"] = int(attributes.get("MessageRetentionPeriod", 345600))
    return attributes.get("QueueArn", queue), arguments


def _log_group(session, group: str) -> Found | None:
    """logs describe_log_groups"""
    groups = session.client("logs").describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
    match = next((g for g in groups if g["logGroupName"] == group), None)
    if match is None:
        return None
    arguments: dict[str, Any] = {"name": group}
    if match.get("retentionInDays"):
        arguments["retention_in_days"] = match["retentionInDays"]
    return f"retention {match.get('retentionInDays', 'never expires')} days", arguments


def _role(session, role: str) -> Found | None:
    """iam get_role"""
    answered = _missing(lambda: session.client("iam").get_role(RoleName=role))
    if answered is None:
        return None
    r = answered["Role"]
    return r["Arn"], {"name": role, "assume_role_policy": Code(f"json.dumps({r['AssumeRolePolicyDocument']!r})")}


def _function(session, function: str) -> Found | None:
    """lambda get_function"""
    answered = _missing(lambda: session.client("lambda").get_function(FunctionName=function))
    if answered is None:
        return None
    c = answered["Configuration"]
    arguments: dict[str, Any] = {"name": function, "role": c["Role"]}
    if c.get("PackageType") == "Image":
        arguments.update(package_type="Image", image_uri=(answered.get("Code") or {}).get("ImageUri"))
    else:
        arguments.update(runtime=c.get("Runtime"), handler=c.get("Handler"))
    return f"{c.get('PackageType', 'Zip')}, {c.get('MemorySize')} MB, timeout {c.get('Timeout')}", arguments


FINDERS: dict[str, Callable[[Any, str], Found | None]] = {
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketV2:BucketV2": _bucket,
    "aws:ecs/service:Service": _ecs_service,
    "aws:dynamodb/table:Table": _table,
    "aws:ecr/repository:Repository": _repository,
    "aws:sqs/queue:Queue": _queue,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:iam/role:Role": _role,
    "aws:lambda/function:Function": _function,
}


def run_action(
    session,
    settings: Settings,
    plan: ImportPlan,
    *,
    dry_run: bool = True,
    confirm: str = "",
    on_output: Progress = print,
):
    """The import runbook's last step: with dry_run, a line saying nothing was imported; otherwise the import of
    what the plan found (its change gate first) and its summary."""
    if dry_run:
        return Message("dry run: nothing was imported; run with dry_run=False to import it")
    return import_checked(session, settings, plan.request, confirm=confirm, on_output=on_output).summary


def import_checked(
    session, settings: Settings, request: ImportRequest, *, confirm: str = "", on_output: Progress = print
):
    """The import itself of a checked request (import_resource with dry_run=False): its change gate first, then
    Stack.import_resources through the Automation API; the AutomationResult."""
    return import_resource(
        session,
        settings,
        stack=request.stack,
        resource_type=request.type.token,
        name=request.name,
        resource_id=request.id,
        parent=request.parent,
        dry_run=False,
        confirm=confirm,
        on_output=on_output,
    )
