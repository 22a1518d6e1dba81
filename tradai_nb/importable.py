"""The AWS resource types a stack can import: their type tokens, import ids, pulumi_aws classes and home modules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tradai_nb import config
from tradai_nb.errors import ParameterError

# A Pulumi logical name: it ends the URN (`...::<name>`), so no spaces, colons or slashes.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,99}$")
_URN = re.compile(r"^urn:pulumi:(?P<stack>[^:]+)::(?P<project>[^:]+)::(?P<type>[^:]+(?::[^:]+)*)::(?P<name>[^:]+)$")
_ECS_SERVICE_ARN = re.compile(
    r"^arn:aws:ecs:[a-z0-9-]+:\d{12}:service/(?P<cluster>[A-Za-z0-9_-]{1,255})/"
    r"(?P<service>[A-Za-z0-9_-]{1,255})$"
)


@dataclass(frozen=True)
class ImportType:
    """One importable type: its token, its pulumi_aws class, what its import id is, and where the estate declares
    such resources (stack, module)."""

    token: str
    python_class: str
    id_meaning: str
    id_pattern: str
    stack: str
    module: str

    def matches(self, resource_id: str) -> bool:
        return re.fullmatch(self.id_pattern, resource_id) is not None


IMPORT_TYPES: dict[str, ImportType] = {
    t.token: t
    for t in (
        ImportType(
            "aws:s3/bucket:Bucket",
            "aws.s3.Bucket",
            "the bucket name",
            r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
            "persistent",
            "s3.py",
        ),
        ImportType(
            "aws:s3/bucketV2:BucketV2",
            "aws.s3.BucketV2",
            "the bucket name",
            r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
            "persistent",
            "s3.py",
        ),
        ImportType(
            "aws:ecs/service:Service",
            "aws.ecs.Service",
            "the service ARN or <cluster>/<service>",
            r"[A-Za-z0-9_-]{1,255}/[A-Za-z0-9_-]{1,255}",
            "compute",
            "ecs_services.py",
        ),
        ImportType(
            "aws:dynamodb/table:Table",
            "aws.dynamodb.Table",
            "the table name",
            r"[A-Za-z0-9_.-]{3,255}",
            "persistent",
            "dynamodb.py",
        ),
        ImportType(
            "aws:ecr/repository:Repository",
            "aws.ecr.Repository",
            "the repository name (tradai/<image>)",
            r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*",
            "persistent",
            "ecr.py",
        ),
        ImportType(
            "aws:sqs/queue:Queue",
            "aws.sqs.Queue",
            "the queue URL (`aws sqs get-queue-url --queue-name NAME` prints it)",
            r"https?://[^\s/]+/\d{12}/[A-Za-z0-9_-]{1,80}(?:\.fifo)?",
            "foundation",
            "sqs.py",
        ),
        ImportType(
            "aws:cloudwatch/logGroup:LogGroup",
            "aws.cloudwatch.LogGroup",
            "the log group name",
            r"[A-Za-z0-9_./#-]{1,512}",
            "compute",
            "ecs_services.py",
        ),
        ImportType(
            "aws:iam/role:Role", "aws.iam.Role", "the role name", r"[A-Za-z0-9+=,.@_-]{1,64}", "compute", "iam.py"
        ),
        ImportType(
            "aws:lambda/function:Function",
            "aws.lambda_.Function",
            "the function name",
            r"[A-Za-z0-9_-]{1,64}",
            "compute",
            "lambda_funcs.py",
        ),
    )
}
# The short tokens of the deployment guide's `pulumi import` lines, and the bare module:Type forms, by full token.
TYPE_ALIASES = {
    "aws:s3:Bucket": "aws:s3/bucket:Bucket",
    "aws:s3:BucketV2": "aws:s3/bucketV2:BucketV2",
    "aws:ecs:Service": "aws:ecs/service:Service",
    "aws:dynamodb:Table": "aws:dynamodb/table:Table",
    "aws:ecr:Repository": "aws:ecr/repository:Repository",
    "aws:sqs:Queue": "aws:sqs/queue:Queue",
    "aws:cloudwatch:LogGroup": "aws:cloudwatch/logGroup:LogGroup",
    "aws:iam:Role": "aws:iam/role:Role",
    "aws:lambda:Function": "aws:lambda/function:Function",
}


@dataclass(frozen=True)
class ImportRequest:
    """A validated request to import one existing resource into one stack of one environment."""

    environment: str
    stack: str
    type: ImportType
    name: str
    id: str
    parent: str = ""

    @property
    def urn(self) -> str:
        """The URN the resource gets in the stack (a child's URN names its parent's type too)."""
        project = config.get_stack_project(self.stack)
        qualified = self.type.token
        if self.parent:
            parent = _URN.match(self.parent)
            if parent is None:
                raise ParameterError(f"parent {self.parent!r} is not a URN", name="parent")
            qualified = f"{parent['type']}${qualified}"
        return f"urn:pulumi:{self.environment}::{project}::{qualified}::{self.name}"

    def module_path(self) -> str:
        """The stack module to declare the resource in: the module that declares such resources when the stack has
        it, else a new module of the stack's package."""
        from tradai_nb.settings import PROJECT_ROOT

        home = f"tradai_nb/stacks/{self.stack}/{self.type.module}"
        return home if (PROJECT_ROOT / home).is_file() else f"tradai_nb/stacks/{self.stack}/imported.py"


def supported_types() -> str:
    """The importable type tokens, for messages."""
    return ", ".join(IMPORT_TYPES)


def import_request(
    environment: str, stack: str, resource_type: object, name: object, resource_id: object, parent: object = ""
) -> ImportRequest:
    """Check an import's parameters (no AWS, no Pulumi): a supported type, a logical name a URN can end with, an
    import id of that type's form (an ECS service ARN becomes <cluster>/<service>), and a parent URN of this stack
    and environment."""
    from tradai_nb.stacks.registry import stacks

    if stack not in stacks.names():
        raise ParameterError(
            f"parameter 'stack' (--stack): unknown stack {stack!r}; choose one of {', '.join(stacks.names())}",
            name="stack",
        )
    type_text, name_text, id_text, parent_text = (
        _text(label, value)
        for label, value in (
            ("resource_type", resource_type),
            ("name", name),
            ("resource_id", resource_id),
            ("parent", parent),
        )
    )
    token = TYPE_ALIASES.get(type_text, type_text)
    if token not in IMPORT_TYPES:
        raise ParameterError(
            f"parameter 'resource_type' (--type): {type_text!r} is not a type tradai-nb imports; "
            f"supported types: {supported_types()} (the guide's short forms such as aws:s3:Bucket "
            "are accepted too). Other types: declare them in the stack program with "
            "pulumi.ResourceOptions(import_=<id>) and run `tradai-nb stack up`",
            name="resource_type",
        )
    kind = IMPORT_TYPES[token]
    if not _NAME.match(name_text):
        raise ParameterError(
            f"parameter 'name' (--name): {name_text!r} cannot name a resource; a Pulumi logical name "
            "starts with a letter and holds only letters, digits, '.', '_' and '-' (no spaces), at "
            "most 100 characters, e.g. configs-bucket",
            name="name",
        )
    normal_id = _normal_id(kind, id_text.strip())
    if not kind.matches(normal_id):
        raise ParameterError(
            f"parameter 'resource_id' (--id): {normal_id!r} is not an import id of {token}; expected {kind.id_meaning}",
            name="resource_id",
        )
    if parent_text:
        _check_parent(parent_text, environment, stack)
    return ImportRequest(environment, stack, kind, name_text, normal_id, parent_text)


def _text(label: str, value: object) -> str:
    if not isinstance(value, str):
        raise ParameterError(f"parameter {label!r}: expected text, got {value!r}", name=label)
    return value


def _normal_id(kind: ImportType, resource_id: str) -> str:
    # pulumi-aws imports an ECS service by <cluster>/<service>; the guide names it by its ARN.
    if kind.token == "aws:ecs/service:Service" and (arn := _ECS_SERVICE_ARN.match(resource_id)):
        return f"{arn['cluster']}/{arn['service']}"
    return resource_id


def _check_parent(parent: str, environment: str, stack: str) -> None:
    urn = _URN.match(parent)
    if urn is None:
        raise ParameterError(
            f"parameter 'parent' (--parent): {parent!r} is not a URN; expected "
            "urn:pulumi:<env>::<project>::<type>::<name> (`tradai-nb stack resources` lists them)",
            name="parent",
        )
    project = config.get_stack_project(stack)
    if (urn["stack"], urn["project"]) != (environment, project):
        raise ParameterError(
            f"parameter 'parent' (--parent): {parent} is a resource of {urn['project']} in "
            f"{urn['stack']}, not of {project} in {environment}; a parent must be in the same stack",
            name="parent",
        )


def declaration_code(request: ImportRequest, arguments: Mapping[str, Any]) -> str:
    """The Python a stack module needs so the imported resource stays managed: the pulumi_aws class with the
    arguments it was found with, and ResourceOptions(import_=<id>) — after the import, keep the declaration and
    drop import_ (the state already has it)."""
    lines = [f"{request.type.python_class}(", f"    {request.name!r},"]
    lines += [f"    {key}={_literal(value)}," for key, value in arguments.items()]
    if request.parent:
        lines.append(f"    # parent: the resource declared with the URN {request.parent}")
        lines.append(f"    opts=pulumi.ResourceOptions(import_={request.id!r}, protect=True, parent=parent),")
    else:
        lines.append(f"    opts=pulumi.ResourceOptions(import_={request.id!r}, protect=True),")
    lines.append(")")
    return "\n".join(lines)


class Code(str):
    """Python source held as a literal expression (json.dumps(...)) rather than a value."""


def _literal(value: Any) -> str:
    return str(value) if isinstance(value, Code) else repr(value)
