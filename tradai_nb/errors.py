"""The project's exceptions: one base, one subclass per kind of failure a user can meet, each with its exit code."""

from __future__ import annotations

# Exit codes, following the Pulumi CLI where the meanings overlap (0 ok, 1 failure, 2 invalid invocation, 5 policy
# violation); tradai-nb's own meanings use codes Pulumi leaves free.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_POLICY = 5
EXIT_REFUSED = 10
EXIT_PREREQUISITE = 11
EXIT_AUDIT_STORE = 12
EXIT_AUDIT_UNREACHABLE = 13
EXIT_INTERRUPTED = 130


class TradaiError(Exception):
    """Raised for every failure tradai-nb reports to its user; the message says what to do next."""

    exit_code = EXIT_FAILED


class PrerequisiteMissingError(TradaiError):
    """Raised when something the action needs is not on this machine (Pulumi CLI, passphrase, AWS credentials)."""

    exit_code = EXIT_PREREQUISITE


class ConfigError(TradaiError):
    """Raised when a name, environment or constant lookup in config.py is not known."""

    exit_code = EXIT_INVALID


class SettingsError(TradaiError):
    """Raised when a params file is missing, unreadable or invalid."""

    exit_code = EXIT_INVALID

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.key = key


class UnreadableFileError(TradaiError):
    """Raised when a file a user named cannot be read as text; `problem` completes "<path> ...", `reason` is one
    word (missing, folder, not-regular, too-large, not-utf8, unreadable) for callers that word it their way."""

    exit_code = EXIT_INVALID

    def __init__(self, problem: str, reason: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.reason = reason


class SandboxError(TradaiError):
    """Raised when the embedded local AWS cannot be started, reached or stopped."""


class AwsAccessError(TradaiError):
    """Raised when a boto3 session would point at the wrong place, or an AWS call fails in a way the user can fix."""


class CredentialsMissingError(AwsAccessError, PrerequisiteMissingError):
    """Raised when an environment's AWS credentials (or its profile) are not configured on this machine."""


class PlanError(TradaiError):
    """Raised when the offline plan of a stack cannot be produced."""

    def __init__(
        self, message: str, *, stack: str | None = None, upstream: str | None = None, key: str | None = None
    ) -> None:
        super().__init__(message)
        self.stack = stack
        self.upstream = upstream
        self.key = key


class GuardError(TradaiError):
    """Raised when a guard rail refuses an action before anything is touched; `name` is the deciding parameter."""

    exit_code = EXIT_REFUSED

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class PolicyViolationError(TradaiError):
    """Raised when a change is refused because the planned resources break a mandatory policy rule; `violations`
    lists them (rule, level, stack, type, name, urn, message)."""

    exit_code = EXIT_POLICY

    def __init__(self, message: str, *, violations: list[dict] | None = None) -> None:
        super().__init__(message)
        self.violations = violations or []


class ParameterError(TradaiError):
    """Raised when a notebook or runbook parameter is unknown, mistyped or missing."""

    exit_code = EXIT_INVALID

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class PulumiCliMissingError(PrerequisiteMissingError):
    """Raised when an action needs the Pulumi CLI and none is installed."""


class PassphraseMissingError(PrerequisiteMissingError):
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
    """Raised when an audit record cannot be read or verified."""


class AuditStoreError(AuditError):
    """Raised when a change cannot be recorded ahead (the audit folder is unwritable or its index damaged); the
    change is refused."""

    exit_code = EXIT_AUDIT_STORE


class AuditUnreachableError(AuditError):
    """Raised when the uploaded copies of an audit chain cannot be read, so they cannot be compared."""

    exit_code = EXIT_AUDIT_UNREACHABLE


class CheckFailedError(TradaiError):
    """Raised at a runbook's end when the check it exists for did not pass (a backup that does not verify, a health
    check not ok, drift found or not checkable, images missing), so the run fails."""


class OperationError(TradaiError):
    """Raised when a runbook action fails or times out; the message says what failed and what to check."""


class StateError(OperationError):
    """Raised when Pulumi state on a self-managed backend (or a state backup) is missing, unreadable or malformed."""
