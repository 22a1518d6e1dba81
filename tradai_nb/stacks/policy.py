"""Least-privilege IAM policy documents: every statement names its actions and the resources they act on."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi


class PolicyBuilder:
    """Builds an IAM policy document; refuses wildcard actions on wildcard resources."""

    def __init__(self) -> None:
        self._statements: list[dict] = []

    def allow(
        self,
        actions: Sequence[str],
        resources: Sequence[pulumi.Input[str]],
        sid: str | None = None,
        condition: dict | None = None,
        principal: pulumi.Input[str] | dict | None = None,
    ) -> PolicyBuilder:
        """Allow `actions` on `resources` (ARNs, possibly Outputs). Resource "*" needs a narrow action list.
        `principal` is for resource policies (key, endpoint and bucket policies), e.g. {"Service": [...]}."""
        actions = list(actions)
        resources = list(resources)
        if not actions or not resources:
            raise ValueError("a policy statement needs at least one action and one resource")
        if "*" in actions or (any(a.endswith(":*") for a in actions) and "*" in resources):
            raise ValueError(f"statement {sid or actions} grants a wildcard action; name the actions it needs")
        statement: dict = {"Effect": "Allow", "Action": actions, "Resource": resources}
        if sid:
            statement["Sid"] = sid
        if condition:
            statement["Condition"] = condition
        if principal is not None:
            statement["Principal"] = principal
        self._statements.append(statement)
        return self

    def allow_service(
        self,
        service_principal: str,
        actions: Sequence[str],
        resources: Sequence[pulumi.Input[str]],
        sid: str | None = None,
        condition: dict | None = None,
    ) -> PolicyBuilder:
        """Resource-policy statement: let an AWS service (e.g. cloudtrail.amazonaws.com) do `actions` on `resources`."""
        return self.allow(actions, resources, sid, condition, principal={"Service": service_principal})

    def deny(
        self,
        actions: Sequence[str],
        resources: Sequence[pulumi.Input[str]],
        sid: str | None = None,
        condition: dict | None = None,
        principal: str | dict = "*",
    ) -> PolicyBuilder:
        """Deny `actions` on `resources` to `principal` (everyone); a deny only takes access away, so wildcards are
        fine."""
        actions = list(actions)
        resources = list(resources)
        if not actions or not resources:
            raise ValueError("a policy statement needs at least one action and one resource")
        statement: dict = {"Effect": "Deny", "Principal": principal, "Action": actions, "Resource": resources}
        if sid:
            statement["Sid"] = sid
        if condition:
            statement["Condition"] = condition
        self._statements.append(statement)
        return self

    def to_json(self) -> pulumi.Output[str]:
        """The policy document as JSON (an Output, since resource ARNs usually are)."""
        return pulumi.Output.from_input({"Version": "2012-10-17", "Statement": self._statements}).apply(
            lambda doc: json.dumps(doc, sort_keys=True)
        )


def assume_role_policy(*services: str) -> str:
    """Trust policy letting the given AWS service principals assume a role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}],
        },
        sort_keys=True,
    )
