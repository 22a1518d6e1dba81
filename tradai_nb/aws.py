"""The one place that makes boto3 sessions: real credential chain for team environments, the sandbox for local."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ProfileNotFound

from tradai_nb.errors import AwsAccessError, CredentialsMissingError
from tradai_nb.settings import Settings

# Test credentials for the sandbox; moto accepts any, real AWS accepts none of these.
SANDBOX_ACCESS_KEY = "testing"
SANDBOX_SECRET_KEY = "testing"
RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=5, read_timeout=60)
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class EnvironmentSession(boto3.Session):
    """A boto3 session bound to one environment; every client it makes goes to that environment's endpoint.

    For local, that is the sandbox, whatever AWS_ENDPOINT_URL or a profile says. For dev/staging/prod it is real
    AWS: configured endpoint overrides are ignored and a loopback endpoint is refused.
    """

    def __init__(self, environment: str, endpoint_url: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.environment = environment
        self.endpoint_url = endpoint_url

    def client(self, service_name: str, *args: Any, **kwargs: Any):  # type: ignore[override]
        return super().client(service_name, *args, **self._checked(kwargs))

    def resource(self, service_name: str, *args: Any, **kwargs: Any):  # type: ignore[override]
        return super().resource(service_name, *args, **self._checked(kwargs))

    def _checked(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        requested = kwargs.get("endpoint_url")
        if self.endpoint_url is not None:
            if requested not in (None, self.endpoint_url):
                raise AwsAccessError(
                    f"environment {self.environment!r} talks only to the sandbox at {self.endpoint_url}; "
                    f"refusing endpoint {requested}"
                )
            kwargs["endpoint_url"] = self.endpoint_url
        elif requested is not None and urlparse(requested).hostname in _LOOPBACK_HOSTS:
            raise AwsAccessError(
                f"environment {self.environment!r} is real AWS; refusing the loopback endpoint {requested}. "
                "Use --env local for the sandbox."
            )
        kwargs.setdefault("config", RETRY_CONFIG)
        return kwargs


def session_for(settings: Settings) -> EnvironmentSession:
    """A boto3 session for the settings' environment (sandbox for local, credential chain otherwise)."""
    if settings.is_local:
        return EnvironmentSession(
            settings.environment,
            settings.endpoint_url,
            aws_access_key_id=SANDBOX_ACCESS_KEY,
            aws_secret_access_key=SANDBOX_SECRET_KEY,
            region_name=settings.aws_region,
            botocore_session=_botocore_session(ignore_configured_endpoints=True, isolated=True),
        )
    try:
        return EnvironmentSession(
            settings.environment,
            None,
            profile_name=settings.aws_profile,
            region_name=settings.aws_region,
            botocore_session=_botocore_session(ignore_configured_endpoints=True, isolated=False),
        )
    except ProfileNotFound:
        raise CredentialsMissingError(
            f"AWS profile {settings.aws_profile!r} (aws_profile in params/{settings.environment}.yaml) is not configured "
            "on this machine: run `aws configure --profile "
            f"{settings.aws_profile}` or `aws sso login --profile {settings.aws_profile}`, or name another profile in "
            f"params/{settings.environment}.yaml (for one notebook run: -p aws_profile=<name>)"
        ) from None


def _botocore_session(*, ignore_configured_endpoints: bool, isolated: bool) -> botocore.session.Session:
    # The sandbox session must not pick up a real profile's credentials or config from the environment:
    # AWS_PROFILE / AWS_DEFAULT_PROFILE are not even read (a profile missing on this machine would fail the session).
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)} if isolated else None)
    # AWS_ENDPOINT_URL and profile endpoint settings must never redirect an environment's session.
    session.set_config_variable("ignore_configured_endpoint_urls", ignore_configured_endpoints)
    return session
