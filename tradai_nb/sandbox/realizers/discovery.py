"""The compute stack's Cloud Map namespace of the consolidated host's services and their discovery services, as
planned."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradai_nb.sandbox.realizers.base import Realizer, Sandbox, api_shape, first, found_or_created, tags


def _private_dns_namespace(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """In the planned VPC: the foundation VPC's sandbox id where the foundation network is realized, else the plan's
    id of it. moto does not look the VPC up (it holds one private namespace per VPC id, and makes the namespace's
    private hosted zone), so the namespace needs no fallback to the sandbox's default VPC."""
    discovery = sandbox.client("servicediscovery")
    name = inputs["name"]

    def find() -> dict[str, Any] | None:
        pages = discovery.get_paginator("list_namespaces").paginate()
        namespaces = (n for page in pages for n in page["Namespaces"])
        return first(namespaces, lambda n: n["Name"] == name and n["Type"] == "DNS_PRIVATE")

    def create() -> dict[str, Any]:
        arguments = {"Description": inputs["description"]} if inputs.get("description") else {}
        discovery.create_private_dns_namespace(Name=name, Vpc=inputs["vpc"], Tags=tags(inputs), **arguments)
        created = find()
        assert created is not None, f"the namespace {name} was not made"
        return created

    action, found = found_or_created(find, create)
    # moto gives the zone's id as Route 53's path, /hostedzone/ZONE; the provider's is the bare id.
    zone = found.get("Properties", {}).get("DnsProperties", {}).get("HostedZoneId", "").removeprefix("/hostedzone/")
    return action, {"id": found["Id"], "arn": found["Arn"], "name": name, "hostedZone": zone}


def _service(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    discovery = sandbox.client("servicediscovery")
    name = inputs["name"]
    dns = api_shape(inputs.get("dnsConfig") or {})
    namespace = inputs.get("namespaceId") or dns.get("NamespaceId")

    def find() -> dict[str, Any] | None:
        # A listed service does not name its namespace; the service itself does.
        listed = (s for page in discovery.get_paginator("list_services").paginate() for s in page["Services"])
        services = (discovery.get_service(Id=s["Id"])["Service"] for s in listed if s["Name"] == name)
        return first(services, lambda s: s.get("NamespaceId") == namespace)

    def create() -> dict[str, Any]:
        keys = ("description", "healthCheckConfig", "healthCheckCustomConfig", "type")
        arguments = api_shape({k: inputs[k] for k in keys if inputs.get(k)})
        if dns:
            arguments["DnsConfig"] = dns
        created: dict[str, Any] = discovery.create_service(
            Name=name, NamespaceId=namespace, Tags=tags(inputs), **arguments
        )["Service"]
        return created

    action, found = found_or_created(find, create)
    return action, {"id": found["Id"], "arn": found["Arn"], "name": name}


REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": (
        "service discovery namespace",
        _private_dns_namespace,
    ),
    "aws:servicediscovery/service:Service": ("service discovery service", _service),
}
