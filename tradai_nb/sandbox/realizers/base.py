"""What every realizer shares: the sandbox it creates in, and the small helpers of the API shapes.

A realizer takes the sandbox and a planned resource's inputs (already carrying the sandbox's values of the resources
planned before it) and returns its action (created or exists) and its outputs as the provider names them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
from botocore.exceptions import ClientError

from tradai_nb.errors import SandboxError
from tradai_nb.settings import Settings


@dataclass(frozen=True)
class Sandbox:
    """The sandbox a realizer creates in: its session, the local settings and the sandbox's account. The network
    planned resources are put in is the planned one (realizers/network.py), its sandbox ids in their inputs."""

    session: boto3.Session
    settings: Settings
    account_id: str
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def client(self, service: str) -> Any:
        """The session's client of service, made once per sandbox: making a client costs more than most calls."""
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]


Realizer = Callable[[Sandbox, Mapping[str, Any]], tuple[str, dict[str, Any]]]

T = TypeVar("T")


def sandbox_of(session: boto3.Session, settings: Settings) -> Sandbox:
    """The sandbox of session, with its account."""
    return Sandbox(session, settings, session.client("sts").get_caller_identity()["Account"])


def ec2_arn(sandbox: Sandbox, resource: str) -> str:
    """The ARN of an EC2 resource (type/id) in the sandbox's region and account: EC2 returns few of them."""
    return f"arn:aws:ec2:{sandbox.settings.aws_region}:{sandbox.account_id}:{resource}"


def tags(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": str(v)} for k, v in {**(inputs.get("tags") or {}), "Purpose": "rehearsal"}.items()]


def missing(exc: ClientError, *codes: str) -> bool:
    return exc.response.get("Error", {}).get("Code", "") in codes


def found_or_created(find: Callable[[], T | None], create: Callable[[], T], *absent: str) -> tuple[str, T]:
    """("exists", what find returns) or, where find returns None or raises a ClientError of one of the codes absent,
    ("created", what create returns): the one shape of every realizer, so a second seed finds what the first made."""
    try:
        found = find()
    except ClientError as exc:
        if not missing(exc, *absent):
            raise
        found = None
    if found is not None:
        return "exists", found
    return "created", create()


def first(items: Iterable[T], wanted: Callable[[T], bool]) -> T | None:
    """The first of items that is wanted, else None."""
    return next((item for item in items if wanted(item)), None)


def tag_map(inputs: Mapping[str, Any]) -> dict[str, str]:
    """The planned tags and the rehearsal's as one mapping (the shape of the APIs that take tags as a map)."""
    return {t["Key"]: t["Value"] for t in tags(inputs)}


def shaped(value: Any, shape: Any, renamed: Mapping[str, str]) -> Any:
    """value (planned inputs: camelCase keys, whole numbers as floats) in the shape of a botocore API shape: each key
    becomes the member of the same name in any case (or the one renamed gives it), integers are made whole. A key the
    shape has no member for raises: nothing planned is dropped in silence."""
    if shape.type_name == "structure":
        members = {name.lower(): name for name in shape.members}
        result = {}
        for key, item in value.items():
            member = renamed.get(key) or members.get(key.lower())
            if member is None:
                raise SandboxError(f"the planned input {key!r} has no counterpart in {shape.name}")
            result[member] = shaped(item, shape.members[member], renamed)
        return result
    if shape.type_name == "list":
        return [shaped(item, shape.member, renamed) for item in value]
    if shape.type_name == "map":
        return {key: shaped(item, shape.value, renamed) for key, item in value.items()}
    if shape.type_name in ("integer", "long"):
        return int(value)
    return value


def arguments(
    client: Any, method: str, inputs: Mapping[str, Any], renamed: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The planned inputs (but their tags) as the arguments of client's method (create_api, create_web_acl...), where
    renamed names the planned keys whose member is not theirs in another case."""
    operation = client.meta.method_to_api_mapping[method]
    shape = client.meta.service_model.operation_model(operation).input_shape
    return shaped({k: v for k, v in inputs.items() if k != "tags"}, shape, renamed or {})


def listed_or_created(
    listing: Callable[[], Iterable[Mapping[str, Any]]], key: str, value: Any, create: Callable[[], Any]
) -> tuple[str, Any]:
    """("exists", the item listing() gives whose key is value) or ("created", what create returns): found_or_created
    where what is planned is found by its name (or route key) among what a list call answers."""
    return found_or_created(lambda: first(listing(), lambda item: item.get(key) == value), create)


def api_shape(value: Any) -> Any:
    """A planned input in the API's shape: mapping keys from the provider's camelCase to the API's PascalCase (its
    Oauth spelled OAuth), whole numbers as ints, also inside lists and mappings (a password policy, token units)."""
    if isinstance(value, Mapping):
        return {_pascal(k): api_shape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [api_shape(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Keys the API spells otherwise than PascalCase of the provider's.
_API_KEYS = {"ttl": "TTL"}


def _pascal(key: str) -> str:
    return _API_KEYS.get(key) or (key[:1].upper() + key[1:]).replace("Oauth", "OAuth")


def arn_name(arn: str) -> str:
    """The name an ARN ends with (a function's, a queue's, a rule's): after its last colon and slash."""
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
