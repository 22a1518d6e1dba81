"""Runbook actions for the on-call engineer; helpers shared by every ops module (AWS error mapping, confirmation)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from tradai_nb import config
from tradai_nb.errors import AwsAccessError, GuardError, OperationError
from tradai_nb.settings import Settings

_ACCESS_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
    "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "SignatureDoesNotMatch", "AuthFailure",
})
_NOT_FOUND_SUFFIXES = ("NotFound", "NotFoundException", "NoSuchKey", "NoSuchBucket", "NoSuchEntity")


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn botocore failures inside the block into messages that say what failed and what to check."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Unknown"), error.get("Message", str(exc))
        if code in _ACCESS_CODES:
            raise AwsAccessError(
                f"{what} was refused by AWS ({code}: {message}); check that the credentials of this environment "
                "(aws_profile in its params file) are current and allow this call"
            ) from None
        if code.endswith(_NOT_FOUND_SUFFIXES) or code == "404":
            raise OperationError(
                f"{what} failed: not found ({code}: {message}); check the name and that you chose the right "
                "environment"
            ) from None
        raise OperationError(f"{what} failed ({code}: {message})") from None
    except NoCredentialsError:
        raise AwsAccessError(
            f"{what} needs AWS credentials and none were found: run `aws sso login --profile <profile>` or set "
            "aws_profile in the environment's params file"
        ) from None
    except BotoCoreError as exc:
        raise OperationError(f"{what} failed before AWS answered ({exc}); check network access and the region") from None


def require_confirm(settings: Settings, confirm: str, what: str) -> None:
    """Refuse a changing step in staging/prod unless confirm names the environment."""
    if settings.environment in config.PROTECTED_ENVIRONMENTS and confirm != settings.environment:
        raise GuardError(
            f"{what} changes {settings.environment}: pass confirm={settings.environment!r} to go ahead "
            f"(got {confirm!r}); run the read-only default first to see what would change",
            name="confirm",
        )
