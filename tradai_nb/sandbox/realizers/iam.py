"""The IAM roles, their inline policies and instance profiles of the foundation and compute
stacks, as planned."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from tradai_nb.sandbox.realizers.base import Realizer, Sandbox, found_or_created, tags


def _role(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    iam = sandbox.client("iam")
    name = inputs["name"]
    action, found = found_or_created(
        lambda: iam.get_role(RoleName=name)["Role"],
        lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=inputs["assumeRolePolicy"], Tags=tags(inputs))[
            "Role"
        ],
        "NoSuchEntity",
    )
    # The provider's id of a role is its name.
    return action, {"id": name, "arn": found["Arn"], "name": name, "uniqueId": found["RoleId"]}


def _policy_name(inputs: Mapping[str, Any]) -> str:
    """The planned name, or (an auto-named policy, whose planned name is a mock value) the Sid of its first
    statement, else a digest of the document: the same on every seed."""
    if inputs.get("name"):
        return str(inputs["name"])
    statements = json.loads(inputs["policy"]).get("Statement") or [{}]
    sid = statements[0].get("Sid")
    return str(sid) if sid else "policy-" + hashlib.sha256(inputs["policy"].encode()).hexdigest()[:7]


def _role_policy(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    iam = sandbox.client("iam")
    role, name = inputs["role"], _policy_name(inputs)
    action = "exists" if name in iam.list_role_policies(RoleName=role)["PolicyNames"] else "created"
    if action == "created":
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=inputs["policy"])
    return action, {"id": f"{role}:{name}", "name": name, "role": role}


def _instance_profile(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    iam = sandbox.client("iam")
    name = inputs["name"]
    action, found = found_or_created(
        lambda: iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"],
        lambda: iam.create_instance_profile(InstanceProfileName=name, Tags=tags(inputs))["InstanceProfile"],
        "NoSuchEntity",
    )
    if inputs.get("role") and inputs["role"] not in {r["RoleName"] for r in found.get("Roles", [])}:
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=inputs["role"])
    return action, {"id": name, "arn": found["Arn"], "name": name, "uniqueId": found["InstanceProfileId"]}


# Not realized: the role policy attachments, of AWS-managed policies, which moto does not hold (unless started with
# MOTO_IAM_LOAD_MANAGED_POLICIES).
REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:iam/role:Role": ("iam role", _role),
    "aws:iam/rolePolicy:RolePolicy": ("iam role policy", _role_policy),
    "aws:iam/instanceProfile:InstanceProfile": ("iam instance profile", _instance_profile),
}
