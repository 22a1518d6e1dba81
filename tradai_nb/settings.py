"""Per-environment settings: params/<env>.yaml loaded into one typed, validated object."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tradai_nb import config, files
from tradai_nb.errors import SettingsError, UnreadableFileError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PARAMS_DIR = PROJECT_ROOT / "params"
# TRADAI_PARAMS_DIR: a folder of <env>.yaml files to use instead of params/ (a private params repository, tests).
PARAMS_DIR_ENV_VAR = "TRADAI_PARAMS_DIR"
# TRADAI_HOME: where local working state lives (sandbox, local Pulumi state, workspaces, local backups);
# `.tradai/...` paths in params files mean this folder.
HOME_ENV_VAR = "TRADAI_HOME"
LOCAL_HOME = ".tradai"

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\((\S+ ){5}\S+\))$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# S3 Object Lock accepts retention periods of up to 100 years.
MAX_AUDIT_RETENTION_DAYS = 36500
# Where `tradai-nb sandbox start` records the running sandbox (pid, port, start time), under tradai_home().
SANDBOX_STATE_FILE = "sandbox.json"
_AZ = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")


class CostAssumptions(BaseModel):
    """Usage the plan cannot tell, for the cost estimate (`tradai-nb cost`): requests, data, storage, run hours."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    api_requests_millions_per_month: float = Field(
        1.0, description="HTTP API requests a month, in millions (WAF inspects the same requests)"
    )
    alb_lcu_average: float = Field(
        1.0, description="average load balancer capacity units (LCUs) the ALB uses each hour"
    )
    nat_data_gb_per_month: float = Field(50.0, description="GB a month leaving the private subnets through NAT")
    interface_endpoint_data_gb_per_month: float = Field(5.0, description="GB a month through each interface endpoint")
    backtest_runs_per_month: float = Field(200.0, description="backtest workflow executions a month")
    backtest_task_hours: float = Field(0.5, description="hours one backtest ECS task runs")
    lambda_invocations_per_function_per_month: float = Field(
        10_000.0, description="invocations of each Lambda function a month"
    )
    lambda_average_duration_s: float = Field(2.0, description="average duration of one Lambda invocation, in seconds")
    s3_storage_gb_per_bucket: float = Field(20.0, description="GB stored in each S3 bucket (current versions)")
    s3_infrequent_access_share: float = Field(
        0.5, description="share (0 to 1) of a bucket's data older than its lifecycle transition age"
    )
    s3_superseded_gb_per_bucket_per_month: float = Field(
        2.0, description="GB of object versions overwritten or deleted each month in each versioned bucket"
    )
    dynamodb_write_millions_per_month: float = Field(
        1.0, description="DynamoDB write request units a month over all tables, in millions"
    )
    dynamodb_read_millions_per_month: float = Field(
        5.0, description="DynamoDB read request units a month over all tables, in millions"
    )
    dynamodb_storage_gb_per_table: float = Field(1.0, description="GB stored in each DynamoDB table")
    dynamodb_provisioned_wcu_per_table: float = Field(
        5.0, description="write capacity units a provisioned table would reserve (for the on-demand comparison)"
    )
    dynamodb_provisioned_rcu_per_table: float = Field(
        5.0, description="read capacity units a provisioned table would reserve (for the on-demand comparison)"
    )
    ecr_storage_gb_per_repository: float = Field(1.0, description="GB of images kept in each ECR repository")
    codeartifact_storage_gb: float = Field(1.0, description="GB of packages in each CodeArtifact repository")
    log_ingestion_gb_per_group_per_month: float = Field(
        0.5, description="GB a month written to each CloudWatch log group"
    )
    sqs_requests_millions_per_queue_per_month: float = Field(
        0.1, description="SQS requests a month to each queue, in millions"
    )
    sns_publishes_millions_per_topic_per_month: float = Field(
        0.01, description="SNS publishes a month to each topic, in millions"
    )
    cognito_monthly_active_users: float = Field(100.0, description="monthly active users of the Cognito user pool")
    ebs_root_volume_gb: float = Field(
        8.0, description="root volume GB where a launch template leaves the size to the AMI"
    )

    @field_validator("*")
    @classmethod
    def _usage(cls, value: float, info) -> float:
        if value < 0:
            raise ValueError("expected a number that is zero or more")
        if info.field_name.endswith("_share") and value > 1:
            raise ValueError("expected a share from 0 to 1")
        return value


class Settings(BaseModel):
    """Everything that differs between environments. Field names are the params-file keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    environment: Literal["local", "dev", "staging", "prod"]
    aws_region: str = config.AWS_REGION
    aws_profile: str | None = Field(None, description="profile for the standard credential chain (None: default chain)")
    sandbox_port: int | None = Field(None, description="local only: port of the embedded moto server on 127.0.0.1")
    vpc_cidr: str = config.VPC_CIDR
    availability_zones: list[str] = Field(description="the two AZs the subnets span")
    multi_az: bool = Field(description="RDS standby and services spread over both AZs (prod)")
    rds_instance_class: str
    rds_allocated_storage_gb: int = 20
    fargate_spot: bool = Field(
        description="FARGATE_SPOT capacity for services; never for the live-trading service in prod"
    )
    consolidated: bool = Field(description="one consolidated EC2 host instead of Fargate services")
    consolidated_instance_type: str = "t4g.medium"
    nat_instance_type: str = "t4g.nano"
    log_retention_days: int
    certificate_arn: str | None = None
    api_domain: str | None = None
    alert_emails: list[str] = []
    cors_allowed_origins: list[str] = []
    alarm_latency_threshold_ms: int = 5000
    alarm_min_strategies: int = 0
    drift_monitor_schedule: str = "rate(1 day)"
    retraining_scheduler_schedule: str = "rate(7 days)"
    pulumi_backend_url: str
    secrets_provider: Literal["passphrase"] = "passphrase"
    state_backup_url: str = Field(description="where state backups go: s3://bucket/prefix or file://folder")
    audit_dir: str = "runs"
    audit_upload: bool = Field(True, description="also upload audit records to the environment's logs bucket")
    audit_retention_days: int = Field(365, description="Object Lock retention of uploaded audit records (days)")
    protect_data: bool = Field(description="protect data-bearing resources from deletion")
    cost_assumptions: CostAssumptions = Field(
        default_factory=CostAssumptions, description="usage for the cost estimate: a mapping of CostAssumptions keys"
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"expected an IPv4 CIDR block such as 10.0.0.0/16 ({exc})") from None
        if network.version != 4 or not 16 <= network.prefixlen <= 20:
            raise ValueError("expected an IPv4 CIDR block from /16 to /20 (six subnets are carved from it)")
        return value

    @field_validator("availability_zones")
    @classmethod
    def _azs(cls, value: list[str]) -> list[str]:
        if len(value) != 2 or len(set(value)) != 2 or not all(_AZ.match(az) for az in value):
            raise ValueError("expected two distinct availability zones such as [eu-central-1a, eu-central-1b]")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"expected one of CloudWatch's retention periods: {', '.join(map(str, LOG_RETENTION_DAYS))}"
            )
        return value

    @field_validator("drift_monitor_schedule", "retraining_scheduler_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if not _SCHEDULE.match(value):
            raise ValueError("expected an EventBridge schedule: rate(N minutes|hours|days) or cron(six fields)")
        return value

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _EMAIL.match(v)]
        if bad:
            raise ValueError(f"expected e-mail addresses, got {bad}")
        return value

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.match(r"^https?://[^/\s]+$", v)]
        if bad:
            raise ValueError(f"expected origins such as https://app.tradai.io (scheme and host, no path), got {bad}")
        return value

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("arn:aws:acm:"):
            raise ValueError(
                "expected an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>) or null"
            )
        return value

    @field_validator("pulumi_backend_url")
    @classmethod
    def _backend(cls, value: str) -> str:
        if not value.startswith(("file://", "s3://")):
            raise ValueError("expected a self-managed backend URL: file://<folder> or s3://<bucket>")
        return value

    @field_validator("state_backup_url")
    @classmethod
    def _backup(cls, value: str) -> str:
        if not value.startswith(("file://", "s3://")):
            raise ValueError("expected file://<folder> or s3://<bucket>/<prefix>")
        return value

    @field_validator("alarm_latency_threshold_ms", "alarm_min_strategies", "rds_allocated_storage_gb")
    @classmethod
    def _non_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("expected a number that is zero or more")
        return value

    @field_validator("audit_retention_days")
    @classmethod
    def _audit_retention(cls, value: int) -> int:
        if not 1 <= value <= MAX_AUDIT_RETENTION_DAYS:
            raise ValueError(f"expected a number of days from 1 to {MAX_AUDIT_RETENTION_DAYS}")
        return value

    @field_validator("sandbox_port")
    @classmethod
    def _port(cls, value: int | None) -> int | None:
        if value is not None and not 1024 <= value <= 65535:
            raise ValueError("expected a port from 1024 to 65535")
        return value

    @model_validator(mode="after")
    def _environment_rules(self) -> Settings:
        if self.environment == "local" and self.sandbox_port is None:
            raise ValueError("sandbox_port: local needs the port of the embedded moto server")
        if self.environment != "local" and self.sandbox_port is not None:
            raise ValueError("sandbox_port: only the local environment talks to the sandbox; set it to null")
        if self.environment == "prod" and self.consolidated:
            raise ValueError("consolidated: prod runs the services on ECS Fargate; set it to false")
        if self.environment in config.PROTECTED_ENVIRONMENTS and not self.protect_data:
            raise ValueError("protect_data: data resources are always protected in staging and prod")
        if not all(az.startswith(self.aws_region) for az in self.availability_zones):
            raise ValueError(f"availability_zones: expected zones of {self.aws_region}")
        return self

    @property
    def short(self) -> str:
        """Short environment code (d, s, p, l)."""
        return config.get_env_short(self.environment)

    @property
    def is_local(self) -> bool:
        return self.environment == "local"

    @property
    def endpoint_url(self) -> str | None:
        """The sandbox endpoint for local; None (real AWS) otherwise."""
        return f"http://127.0.0.1:{self.sandbox_port}" if self.sandbox_port else None


SETTINGS_FIELDS = tuple(Settings.model_fields)


def default_params_dir() -> Path:
    """$TRADAI_PARAMS_DIR, else params/ of the project."""
    override = os.environ.get(PARAMS_DIR_ENV_VAR)
    return Path(override).expanduser().resolve() if override else PARAMS_DIR


def tradai_home() -> Path:
    """$TRADAI_HOME, else .tradai/ in the project root."""
    override = os.environ.get(HOME_ENV_VAR)
    return Path(override).expanduser().resolve() if override else PROJECT_ROOT / LOCAL_HOME


def recorded_sandbox() -> dict[str, Any] | None:
    """The sandbox recorded in tradai_home() if its process is still alive (pid, port, started_at, ...), else None."""
    try:
        recorded = json.loads((tradai_home() / SANDBOX_STATE_FILE).read_text(encoding="utf-8"))
        pid, port = int(recorded["pid"]), int(recorded["port"])
        os.kill(pid, 0)
    except PermissionError:
        return {**recorded, "port": int(recorded["port"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        stat = []
    # A zombie has exited; field 22 of stat (the start time) tells a reused pid from the sandbox.
    if stat and (stat[0] == "Z" or recorded.get("process_start_ticks") not in (None, int(stat[19]))):
        return None
    return {**recorded, "port": port}


def port_answers(port: int | None) -> bool:
    """Whether something accepts connections on this port of 127.0.0.1 (half a second at most)."""
    if port is None:
        return False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def local_folder(url: str) -> Path:
    """The folder of a file:// URL from a params file: `.tradai/...` is under tradai_home(), other relative paths are
    relative to the project root."""
    folder = Path(url.removeprefix("file://")).expanduser()
    if folder.is_absolute():
        return folder
    if folder.parts[:1] == (LOCAL_HOME,):
        return tradai_home().joinpath(*folder.parts[1:])
    return PROJECT_ROOT / folder


def params_path(environment: str, params_dir: Path | None = None) -> Path:
    """Path of an environment's params file; unknown environments list the known ones."""
    if environment not in config.ENVIRONMENTS:
        raise SettingsError(
            f"unknown environment {environment!r}; known environments: {', '.join(config.ENVIRONMENTS)}",
            key="environment",
        )
    return (params_dir or default_params_dir()) / f"{environment}.yaml"


# Params files are small flat `key: value` files (a few KiB); these bounds refuse anything else before it costs much.
MAX_PARAMS_BYTES = 1024 * 1024
_PARAMS_LIMIT = f"{MAX_PARAMS_BYTES // (1024 * 1024)} MiB ({MAX_PARAMS_BYTES:,} bytes)"
# Nesting levels below the top-level mapping: lists of strings need one; more than a few is not a params file.
MAX_PARAMS_DEPTH = 8


def read_params(path: Path) -> dict[str, Any]:
    """The raw mapping of a params file (no validation): a regular file of at most MAX_PARAMS_BYTES of UTF-8 YAML,
    a mapping at the top level, without anchors or aliases, nested at most MAX_PARAMS_DEPTH levels."""
    text = _read_params_text(path)
    loader = None
    try:
        loader = _ParamsLoader(text)
        data = loader.get_single_data()
    except _ParamsRefused as exc:
        where = f"{path}:{exc.mark.line + 1}:{exc.mark.column + 1}" if exc.mark else str(path)
        key = exc.key or (loader.top_level_key_at(exc.mark) if loader is not None else None)
        raise SettingsError(f"{where}: {f'key {key!r}: ' if key else ''}{exc}", path=str(path), key=key) from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML ({exc})", path=str(path)) from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise SettingsError(
            f"{path}: expected a mapping of settings at the top level (key: value lines), got {got}", path=str(path)
        )
    for key in data:
        if not isinstance(key, str):
            raise SettingsError(
                f"{path}: key {key!r}: expected setting names (text) as keys, got {type(key).__name__}",
                path=str(path),
                key=str(key),
            )
    return data


def _read_params_text(path: Path) -> str:
    """The file's text: a regular file (not a folder, device or pipe) of at most MAX_PARAMS_BYTES, decoded as UTF-8."""
    try:
        return files.read_text(path, MAX_PARAMS_BYTES)
    except UnreadableFileError as exc:
        problem = {
            "missing": "params file not found"
            if Path(path).parent.is_dir()
            else f"{Path(path).parent} is not a folder; the params folder ({PARAMS_DIR_ENV_VAR}, else params/) holds "
            "the <environment>.yaml files",
            "folder": "is a folder, not a params file; expected a <environment>.yaml file",
            "not-regular": f"{exc.problem}; expected a <environment>.yaml file",
            "too-large": f"{exc.problem}; a params file is at most {_PARAMS_LIMIT} of key: value lines",
            "not-utf8": f"{exc.problem}; save the file as UTF-8",
        }.get(exc.reason, f"cannot read the params file: it {exc.problem}")
        raise SettingsError(f"{path}: {problem}", path=str(path)) from None


class _ParamsRefused(Exception):
    """Something a params file must not hold, with where it starts (and the top-level key, when known)."""

    def __init__(self, message: str, mark, key: str | None = None) -> None:
        super().__init__(message)
        self.mark = mark
        self.key = key


class _ParamsLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases (params files are flat key: value files; an alias bomb never
    expands), nesting deeper than MAX_PARAMS_DEPTH, and scalars that do not convert to their tagged type."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._key: str | None = None  # the top-level key whose value is being composed
        self._root: yaml.Node | None = None

    def compose_node(self, parent, index):
        if self._depth == 1:  # an entry of the top-level mapping: its key (index None) or its value (index: the key)
            self._key = index.value if isinstance(index, yaml.ScalarNode) else None
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            name = event.anchor
            raise _ParamsRefused(
                f"anchors and aliases (&{name} / *{name}) are not allowed: params files are flat "
                "key: value files; write each value out",
                event.start_mark,
                self._key,
            )
        if self._depth > MAX_PARAMS_DEPTH:
            raise _ParamsRefused(
                f"nested more than {MAX_PARAMS_DEPTH} levels deep; params files are flat key: value "
                "files (values are text, numbers, true/false, null or short lists)",
                event.start_mark,
                self._key,
            )
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if self._depth == 0:
            self._root = node
        return node

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            value = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            shown = value if len(value) <= 60 else f"{value[:60]}..."
            raise _ParamsRefused(
                f"cannot read the value {shown!r} as {node.tag.rsplit(':', 1)[-1]} ({exc})", node.start_mark
            ) from None

    def top_level_key_at(self, mark) -> str | None:
        """The top-level key whose entry holds mark (None when unknown)."""
        if mark is None or not isinstance(self._root, yaml.MappingNode):
            return None
        for key_node, value_node in self._root.value:
            if key_node.start_mark.index <= mark.index <= value_node.end_mark.index:
                return key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        return None


def validate(data: Mapping[str, Any], source: str) -> Settings:
    """Validate a mapping of settings; errors name the source, the key and what is expected."""
    try:
        return Settings.model_validate(dict(data))
    except ValidationError as exc:
        raise SettingsError(_describe(exc, source), path=source, key=_first_key(exc)) from None


def load_settings(
    environment: str, overrides: Mapping[str, Any] | None = None, params_dir: Path | None = None
) -> Settings:
    """Load params/<environment>.yaml, apply overrides, validate; nothing is touched before this succeeds."""
    path = params_path(environment, params_dir)
    data = read_params(path)
    if data.get("environment", environment) != environment:
        raise SettingsError(
            f"{path}: key 'environment' is {data['environment']!r} but the file is for {environment!r}",
            path=str(path),
            key="environment",
        )
    data = {**data, **{k: _merged(data.get(k), v) for k, v in dict(overrides or {}).items()}}
    source = str(path) if not overrides else f"{path} (with overrides {', '.join(sorted(overrides))})"
    if environment == "local" and "sandbox_port" not in (overrides or {}):
        # A sandbox started on another port (`sandbox start --port N`) is the one every local run must reach.
        running = recorded_sandbox()
        if running is not None:
            data["sandbox_port"] = running["port"]
    return validate(data, source)


def _merged(base: Any, override: Any) -> Any:
    """An override of a mapping setting (cost_assumptions) changes the keys it names and keeps the file's others."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        return {**base, **override}
    return override


def from_parameters(namespace: Mapping[str, Any]) -> Settings:
    """Settings for a notebook run: the params file of namespace['environment'], overlaid with any
    settings keys a runner injected (papermill -p / -f); other names in the namespace are ignored."""
    environment = namespace.get("environment", "local")
    if not isinstance(environment, str):
        raise SettingsError(
            f"parameter 'environment': expected a string, got {type(environment).__name__}", key="environment"
        )
    overrides = {k: namespace[k] for k in SETTINGS_FIELDS if k in namespace and k != "environment"}
    base = read_params(params_path(environment))
    return load_settings(environment, {k: v for k, v in overrides.items() if base.get(k, object()) != v})


def _key_and_message(error) -> tuple[str, str]:
    key = ".".join(str(p) for p in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if not key:
        # Cross-field rules (model validators) name their key as "key: message".
        head, sep, rest = message.partition(": ")
        if sep and head in SETTINGS_FIELDS:
            key, message = head, rest
    return key, message


def _known_keys(loc: tuple) -> tuple[str, ...]:
    """The keys allowed beside the unknown one at loc: settings keys, or a nested mapping's keys."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        model = annotation
    return tuple(model.model_fields)


def _first_key(exc: ValidationError) -> str | None:
    errors = exc.errors()
    return _key_and_message(errors[0])[0] or None if errors else None


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for error in exc.errors():
        key, message = _key_and_message(error)
        if error["type"] == "extra_forbidden":
            message = f"unknown key; known keys: {', '.join(_known_keys(error['loc']))}"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"].endswith("_type") or error["type"] == "literal_error":
            message = f"{message} (got {error.get('input')!r})"
        lines.append(f"key '{key}': {message}" if key else message)
    return (
        f"{source}: invalid settings\n  "
        + "\n  ".join(lines)
        + "\nFix the key(s) above and run again; nothing was touched."
    )
