"""Fixtures for the runbook action tests: sessions whose clients for some services answer through botocore's Stubber."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from unittest import mock

import boto3
import pytest
from botocore.stub import Stubber

from tradai_nb import config
from tradai_nb.aws import EnvironmentSession, session_for
from tradai_nb.sandbox import server as sandbox_api
from tradai_nb.settings import Settings, load_settings


class SessionWithStubs:
    """A session whose clients for the given services are stubbed; any other client comes from `fallback`
    (a real session on the sandbox), and without a fallback asking for one fails the test."""

    def __init__(self, clients: dict, fallback=None) -> None:
        self._clients = clients
        self._fallback = fallback

    def client(self, service_name: str, *args, **kwargs):
        if service_name in self._clients:
            return self._clients[service_name]
        if self._fallback is None:
            raise AssertionError(f"unexpected {service_name} client: only {', '.join(self._clients)} are stubbed")
        return self._fallback.client(service_name, *args, **kwargs)


@pytest.fixture
def stubbed():
    """stubbed(service) -> (client, Stubber): a client that never reaches the network; its Stubber checks each
    request against the real service model. Every queued response must be used by the end of the test."""
    stubbers = []
    plain = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=config.AWS_REGION)

    def make(service_name: str):
        client = plain.client(service_name)
        stubber = Stubber(client)
        stubber.activate()
        stubbers.append(stubber)
        return client, stubber

    yield make
    for stubber in stubbers:
        stubber.assert_no_pending_responses()
        stubber.deactivate()


@pytest.fixture
def untouchable_session():
    """A session double that records every client it is asked for: guard tests assert it was never asked."""
    return mock.create_autospec(EnvironmentSession, instance=True)


@pytest.fixture
def with_stubs():
    """with_stubs(clients, fallback=None) -> a session that hands out the given (stubbed) clients."""
    return SessionWithStubs


@dataclass(frozen=True)
class EmptySandbox:
    """A second, unseeded sandbox for tests that must create resources the shared estate may not keep
    (moto never forgets a deleted ECS service: it stays listed as INACTIVE)."""

    settings: Settings
    session: EnvironmentSession


@pytest.fixture(scope="module")
def empty_sandbox(tmp_path_factory):
    home = tmp_path_factory.mktemp("empty-sandbox")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = load_settings("local", {"sandbox_port": port})
    sandbox_api.start(settings, home=home)
    try:
        yield EmptySandbox(settings, session_for(settings))
    finally:
        sandbox_api.stop(home=home)
