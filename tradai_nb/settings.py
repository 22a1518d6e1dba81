"""Per-environment settings: params/<env>.yaml loaded into one typed, validated object."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tradai_nb import config
from tradai_nb.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PARAMS_DIR = PROJECT_ROOT / "params"
# TRADAI_PARAMS_DIR: a folder of <env>.yaml files to use instead of params/ (a private params repository, tests).
PARAMS_DIR_ENV_VAR = "TRADAI_PARAMS_DIR"
# TRADAI_HOME: where local working state lives (sandbox, local Pulumi state, workspaces, local backups);
# `.tradai/...` paths in params files mean this folder.
HOME_ENV_VAR = "TRADAI_HOME"
LOCAL_HOME = ".tradai"

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\((\S+ ){5}\S+\))$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_AZ = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")


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
    fargate_spot: bool = Field(description="FARGATE_SPOT capacity for services; never for the live-trading service in prod")
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
    protect_data: bool = Field(description="protect data-bearing resources from deletion")

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
            raise ValueError(f"expected one of CloudWatch's retention periods: {', '.join(map(str, LOG_RETENTION_DAYS))}")
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
            raise ValueError("expected an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>) or null")
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


def read_params(path: Path) -> dict[str, Any]:
    """The raw mapping of a params file (no validation)."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"{path}: params file not found", path=str(path)) from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML ({exc})", path=str(path)) from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping of settings at the top level", path=str(path))
    return data


def validate(data: Mapping[str, Any], source: str) -> Settings:
    """Validate a mapping of settings; errors name the source, the key and what is expected."""
    try:
        return Settings.model_validate(dict(data))
    except ValidationError as exc:
        raise SettingsError(_describe(exc, source), path=source, key=_first_key(exc)) from None


def load_settings(environment: str, overrides: Mapping[str, Any] | None = None, params_dir: Path | None = None) -> Settings:
    """Load params/<environment>.yaml, apply overrides, validate; nothing is touched before this succeeds."""
    path = params_path(environment, params_dir)
    data = read_params(path)
    if data.get("environment", environment) != environment:
        raise SettingsError(
            f"{path}: key 'environment' is {data['environment']!r} but the file is for {environment!r}",
            path=str(path),
            key="environment",
        )
    data = {**data, **dict(overrides or {})}
    source = str(path) if not overrides else f"{path} (with overrides {', '.join(sorted(overrides))})"
    return validate(data, source)


def from_parameters(namespace: Mapping[str, Any]) -> Settings:
    """Settings for a notebook run: the params file of namespace['environment'], overlaid with any
    settings keys a runner injected (papermill -p / -f); other names in the namespace are ignored."""
    environment = namespace.get("environment", "local")
    if not isinstance(environment, str):
        raise SettingsError(f"parameter 'environment': expected a string, got {type(environment).__name__}", key="environment")
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


def _first_key(exc: ValidationError) -> str | None:
    errors = exc.errors()
    return _key_and_message(errors[0])[0] or None if errors else None


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for error in exc.errors():
        key, message = _key_and_message(error)
        if error["type"] == "extra_forbidden":
            message = f"unknown key; known keys: {', '.join(SETTINGS_FIELDS)}"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"].endswith("_type") or error["type"] == "literal_error":
            message = f"{message} (got {error.get('input')!r})"
        lines.append(f"key '{key}': {message}" if key else message)
    return f"{source}: invalid settings\n  " + "\n  ".join(lines) + "\nFix the key(s) above and run again; nothing was touched."
