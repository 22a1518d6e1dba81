"""The project's exceptions: one base, one subclass per kind of failure a user can meet."""

from __future__ import annotations


class TradaiError(Exception):
    """Raised for every failure tradai-nb reports to its user; the message says what to do next."""


class ConfigError(TradaiError):
    """Raised when a name, environment or constant lookup in config.py is not known."""


class SettingsError(TradaiError):
    """Raised when a params file is missing, unreadable or invalid."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.key = key


class SandboxError(TradaiError):
    """Raised when the embedded local AWS cannot be started, reached or stopped."""


class AwsAccessError(TradaiError):
    """Raised when a boto3 session would point at the wrong place, or an AWS call fails in a way the user can fix."""


class PlanError(TradaiError):
    """Raised when the offline plan of a stack cannot be produced."""

    def __init__(self, message: str, *, stack: str | None = None, upstream: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.stack = stack
        self.upstream = upstream
        self.key = key


class GuardError(TradaiError):
    """Raised when a guard rail refuses an action before anything is touched; `name` is the deciding parameter."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class ParameterError(TradaiError):
    """Raised when a notebook or runbook parameter is unknown, mistyped or missing."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class PulumiCliMissingError(TradaiError):
    """Raised when an action needs the Pulumi CLI and none is installed."""


class PassphraseMissingError(TradaiError):
    """Raised when a Pulumi action needs the secrets passphrase and the environment does not supply it."""


class AutomationError(TradaiError):
    """Raised when a Pulumi Automation API call fails; the message says what to check."""

    def __init__(self, message: str, *, stack: str | None = None, action: str | None = None) -> None:
        super().__init__(message)
        self.stack = stack
        self.action = action


class StackLockedError(AutomationError):
    """Raised when another update holds the stack's lock; `locks` lists the lock files the backend named."""

    def __init__(self, message: str, *, stack: str, action: str, locks: list[str]) -> None:
        super().__init__(message, stack=stack, action=action)
        self.locks = locks


class StackNotDeployedError(AutomationError):
    """Raised when an action needs a stack that does not exist on the environment's backend."""


class StackProgramError(AutomationError):
    """Raised when a stack's program fails while the Pulumi engine runs it."""


class AuditError(TradaiError):
    """Raised when an audit record cannot be written, read or verified."""


class OperationError(TradaiError):
    """Raised when a runbook action fails or times out; the message says what failed and what to check."""


class StateError(OperationError):
    """Raised when Pulumi state on a self-managed backend (or a state backup) is missing, unreadable or malformed."""
