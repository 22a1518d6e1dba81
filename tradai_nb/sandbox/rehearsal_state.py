"""The rehearsal Pulumi state of the sandbox: one checkpoint per stack of the local plan (carrying the sandbox's values
of what the sandbox created from the plan) and its history. The stale lock is rehearsal data (rehearsal_data)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3

from tradai_nb import config
from tradai_nb.sandbox import planned
from tradai_nb.settings import Settings
from tradai_nb.state import backend, sealing

if TYPE_CHECKING:
    from tradai_nb.engine.plan import StackPlan


def _provider_packages(types: Iterable[str]) -> list[str]:
    return sorted({t.split(":", 1)[0] for t in types if not t.startswith("pulumi:")})


def _package_version(package: str) -> str:
    try:
        return importlib.metadata.version(f"pulumi_{package}")
    except importlib.metadata.PackageNotFoundError:
        return ""


def _default_providers(
    types: Iterable[str], settings: Settings, project: str, moment: str
) -> dict[str, dict[str, Any]]:
    """The default provider resource of each package the types are of, by package."""
    providers: dict[str, dict[str, Any]] = {}
    for package in _provider_packages(types):
        version = _package_version(package)
        name = "default_" + version.replace(".", "_") if version else "default"
        urn = f"urn:pulumi:{settings.environment}::{project}::pulumi:providers:{package}::{name}"
        inputs = {"region": settings.aws_region} if package == "aws" else {}
        if version:
            inputs["version"] = version
        providers[package] = {
            "urn": urn,
            "custom": True,
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, urn)),
            "type": f"pulumi:providers:{package}",
            "inputs": inputs,
            "outputs": dict(inputs),
            "created": moment,
            "modified": moment,
        }
    return providers


def deployment_from_plan(
    stack_plan: StackPlan,
    settings: Settings,
    *,
    time: datetime | None = None,
    realized: planned.Realized | None = None,
) -> dict[str, Any]:
    """A DEPLOYMENT (what a checkpoint's `latest` holds) for one planned stack: the manifest, the passphrase
    secrets provider, the root stack resource with the stack outputs, one default provider per package, then every
    planned resource with its urn, id, inputs, outputs, parent, dependencies, provider and protect flag.

    realized (planned.realize's) puts the sandbox's values in place of the plan's mock values of what the sandbox
    created; a realized resource keeps no mock ARN where its realizer returned none (the plan's mocks give every
    resource one, a bucket's versioning or a role's inline policy has none)."""
    values = realized.values if realized else {}
    realized_outputs = realized.outputs if realized else {}
    environment = settings.environment
    project = config.get_stack_project(stack_plan.name)
    moment = backend.format_time(time or datetime.now(UTC))
    cli_version = f"v{importlib.metadata.version('pulumi')}"
    root_urn = f"urn:pulumi:{environment}::{project}::{backend.STACK_TYPE}::{project}-{environment}"
    provider_state = sealing.secrets_provider_state(environment, project)
    # Secret values (the Python SDK's {SECRET_SIG_KEY: SECRET_SIG, "value": ...}) are written as the CLI writes them,
    # sealed under the rehearsal passphrase so that a real CLI given sealing.LOCAL_PASSPHRASE decrypts them.
    seal = sealing._secret_sealer(sealing._opened_key(provider_state, sealing.LOCAL_PASSPHRASE))
    resources: list[dict[str, Any]] = [
        {
            "urn": root_urn,
            "custom": False,
            "type": backend.STACK_TYPE,
            "outputs": sealing._serialized(planned.in_sandbox(dict(stack_plan.exports), values), seal),
            "created": moment,
            "modified": moment,
        }
    ]
    frame = stack_plan.resources
    providers = _default_providers(frame["type"], settings, project, moment)
    resources.extend(providers.values())
    known = {r["urn"] for r in resources} | set(frame["urn"])
    for row in frame.itertuples(index=False):
        resource: dict[str, Any] = {"urn": row.urn, "custom": bool(row.custom), "type": row.type}
        if row.custom:
            resource["id"] = planned.in_sandbox(row.id, values)
        resource.update(
            {
                "inputs": sealing._serialized(planned.in_sandbox(row.inputs, values), seal),
                "outputs": sealing._serialized(planned.in_sandbox(_outputs(row, realized_outputs), values), seal)
                if row.custom
                else {},
                "parent": row.parent or root_urn,
                # Stack references are not part of the plan's resources; a checkpoint may only name what it holds.
                "dependencies": [d for d in row.dependencies if d in known],
            }
        )
        if row.custom and row.type.split(":", 1)[0] in providers:
            provider = providers[row.type.split(":", 1)[0]]
            resource["provider"] = f"{provider['urn']}::{provider['id']}"
        resource.update({"protect": bool(row.protect), "created": moment, "modified": moment})
        resources.append(resource)
    return {
        "manifest": {"time": moment, "magic": hashlib.sha256(cli_version.encode()).hexdigest(), "version": cli_version},
        "secrets_providers": {"type": "passphrase", "state": provider_state},
        "resources": resources,
        "pending_operations": [],
    }


def _outputs(row: Any, realized_outputs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A planned resource's outputs, without the mock ARN of a realized resource whose realizer returned none."""
    outputs = dict(row.outputs)
    if row.urn in realized_outputs and "arn" not in realized_outputs[row.urn]:
        outputs.pop("arn", None)
    return outputs


def checkpoint_resources(session: boto3.Session, settings: Settings, stack: str) -> list[dict[str, Any]]:
    """The resources of a stack's rehearsal checkpoint in the sandbox's state bucket, the stack resource (its outputs
    are the exports) first."""
    store = backend.state_store_for(settings, session)
    return list(store.read_deployment(backend.stack_ref(stack, settings.environment))["deployment"]["resources"])


def _without_times(deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("created", "modified")} for r in deployment.get("resources", [])]


def seed_state(
    session: boto3.Session, settings: Settings, realized: planned.Realized
) -> Iterable[tuple[str, str, str]]:
    """The rehearsal Pulumi state in the sandbox's state bucket (one checkpoint per stack from the local plan carrying
    what realized holds, and one history entry each), idempotent. Yields (kind, name, action)."""
    store = backend.state_store_for(settings, session)
    if store.layout_version() != backend.LAYOUT_VERSION:
        store.write_meta()
    now = datetime.now(UTC).replace(microsecond=0)
    for stack_plan in planned.local_plan(settings).stacks:
        ref = backend.stack_ref(stack_plan.name, settings.environment)
        deployment = deployment_from_plan(stack_plan, settings, time=now, realized=realized)
        if store.existing_checkpoint_key(ref) is None:
            action = "created"
        elif _without_times(store.read_deployment(ref)["deployment"]) == _without_times(deployment):
            yield "pulumi checkpoint", ref.fully_qualified, "exists"
            continue
        else:
            action = "refreshed"
        store.write_checkpoint(ref, deployment)
        store.add_history(
            ref,
            kind="update",
            result="succeeded",
            version=len(store.history(ref)) + 1,
            start=now,
            end=now,
            resource_changes={"create": len(deployment["resources"])},
            message="rehearsal state seeded from the offline plan",
        )
        yield "pulumi checkpoint", ref.fully_qualified, action
