"""What every realizer shares: the sandbox it creates in, and the small helpers of the API shapes.

A realizer takes the sandbox and a planned resource's inputs (already carrying the sandbox's values of the resources
planned before it) and returns its action (created or exists) and its outputs as the provider names them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from botocore.exceptions import ClientError

from tradai_nb.errors import SandboxError
from tradai_nb.settings import Settings


@dataclass(frozen=True)
class Sandbox:
    """The sandbox a realizer creates in: its session, the local settings, and the network planned resources are put
    in (the default VPC, its subnets in the settings' zones and its default security group: the planned network of
    the foundation stack is not created in the sandbox)."""

    session: boto3.Session
    settings: Settings
    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_id: str


Realizer = Callable[[Sandbox, Mapping[str, Any]], tuple[str, dict[str, Any]]]

T = TypeVar("T")


def sandbox_of(session: boto3.Session, settings: Settings) -> Sandbox:
    """The sandbox of session: the default VPC, its default subnets in the settings' zones, its default group."""
    ec2 = session.client("ec2")
    subnets = ec2.describe_subnets(
        Filters=[
            {"Name": "default-for-az", "Values": ["true"]},
            {"Name": "availability-zone", "Values": list(settings.availability_zones)},
        ]
    )["Subnets"]
    if not subnets:
        raise SandboxError("the sandbox has no default subnets in the settings' availability zones; restart it")
    vpc_id = subnets[0]["VpcId"]
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["default"]}, {"Name": "vpc-id", "Values": [vpc_id]}]
    )["SecurityGroups"]
    subnet_ids = tuple(s["SubnetId"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"]))
    return Sandbox(session, settings, vpc_id, subnet_ids, groups[0]["GroupId"])


def tags(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": str(v)} for k, v in {**(inputs.get("tags") or {}), "Purpose": "rehearsal"}.items()]


def tag_map(inputs: Mapping[str, Any]) -> dict[str, str]:
    """The planned tags (and the rehearsal's) as the APIs that take a mapping want them."""
    return {t["Key"]: t["Value"] for t in tags(inputs)}


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
