"""The IAM roles, their inline policies and instance profiles of the foundation and compute
stacks, as planned."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from tradai_nb.sandbox.realizers.base import Realizer, Sandbox, first, found_or_created, tags


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


def _role_policy_attachment(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """An AWS-managed policy attached to its role: the sandbox holds the managed policies, as its server is started
    with MOTO_IAM_LOAD_MANAGED_POLICIES."""
    iam = sandbox.client("iam")
    role, policy = inputs["role"], inputs["policyArn"]

    def find() -> dict[str, Any] | None:
        pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=role)
        return first((p for page in pages for p in page["AttachedPolicies"]), lambda p: p["PolicyArn"] == policy)

    action, _ = found_or_created(find, lambda: iam.attach_role_policy(RoleName=role, PolicyArn=policy))
    # The provider makes up an id of the role's name and a timestamp; the sandbox's is the one an import takes.
    return action, {"id": f"{role}/{policy}", "role": role, "policyArn": policy}


REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:iam/role:Role": ("iam role", _role),
    "aws:iam/rolePolicy:RolePolicy": ("iam role policy", _role_policy),
    "aws:iam/instanceProfile:InstanceProfile": ("iam instance profile", _instance_profile),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("iam role policy attachment", _role_policy_attachment),
}
