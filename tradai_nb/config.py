"""Canonical constants and naming helpers: every name in the TradAI estate comes from here."""

from __future__ import annotations

from collections.abc import Mapping

from tradai_nb.errors import ConfigError

PROJECT_NAME = "tradai"
AWS_REGION = "eu-central-1"
VPC_CIDR = "10.0.0.0/16"
# The account of offline plans and of the sandbox (moto serves it), so rehearsal ARNs name what the sandbox holds.
PLAN_ACCOUNT_ID = "000000000000"

# Environments in the order an operator meets them; `local` is the embedded sandbox.
ENVIRONMENTS = ("local", "dev", "staging", "prod")
ENV_SHORT = {"local": "l", "dev": "d", "staging": "s", "prod": "p"}
# Environments where changing actions need confirm=<environment name>.
PROTECTED_ENVIRONMENTS = ("staging", "prod")

SERVICES: dict[str, dict[str, int | str]] = {
    "backend": {"port": 8000, "cpu": 256, "memory": 512, "path": "/api/*", "container": "backend-api"},
    "strategy-service": {
        "port": 8003,
        "cpu": 256,
        "memory": 512,
        "path": "/strategy/*",
        "container": "strategy-service",
    },
    "data-collection": {"port": 8002, "cpu": 256, "memory": 512, "path": "/data/*", "container": "data-collection"},
    "mlflow": {"port": 5000, "cpu": 256, "memory": 512, "path": "/mlflow/*", "container": "mlflow"},
}
# The service that places live orders: never on FARGATE_SPOT in prod.
LIVE_TRADING_SERVICE = "strategy-service"
# Health check path per service, relative to the service's own prefix on the ALB.
HEALTH_CHECK_PATHS = {
    "backend": "/api/health",
    "strategy-service": "/strategy/health",
    "data-collection": "/data/health",
    "mlflow": "/mlflow/health",
}

# Logical table key -> base table name (the physical name adds the environment, see get_table_name).
DYNAMODB_TABLES = {
    "workflow_state": "tradai-workflow-state",
    "health_state": "tradai-health-state",
    "trading_state": "tradai-trading-state",
    "backtest_jobs": "tradai-backtest-jobs",
    "strategy_registry": "tradai-strategy-registry",
    "model_registry": "tradai-model-registry",
    "order_history": "tradai-order-history",
    "position_state": "tradai-position-state",
    "market_data_catalog": "tradai-market-data-catalog",
    "experiment_runs": "tradai-experiment-runs",
    "alert_history": "tradai-alert-history",
    "api_keys": "tradai-api-keys",
}

# Logical bucket key -> purpose. Physical names come from get_bucket_name.
S3_BUCKETS = {
    "configs": "strategy and service configuration",
    "results": "backtest results",
    "arcticdb": "ArcticDB market data store",
    "logs": "access logs, CloudTrail and audit records",
    "mlflow": "MLflow artifacts",
}
# The self-managed Pulumi backend bucket (persistent stack, never destroyed).
STATE_BUCKET_KEY = "pulumi-state"
# The bucket that takes CloudTrail logs and the uploaded audit records (under Object Lock).
LOGS_BUCKET_KEY = "logs"
# Key prefixes in the logs bucket: CloudTrail's log files, and the uploaded audit chains.
TRAIL_KEY_PREFIX = "cloudtrail"
AUDIT_KEY_PREFIX = "audit"

# Lambda functions: name -> what triggers it. "setting:<field>" means the schedule comes from settings.
LAMBDA_FUNCTIONS: dict[str, dict[str, str | int]] = {
    "drift-monitor": {"trigger": "setting:drift_monitor_schedule", "memory": 512, "timeout": 300},
    "retraining-scheduler": {"trigger": "setting:retraining_scheduler_schedule", "memory": 256, "timeout": 120},
    "health-check": {"trigger": "rate(5 minutes)", "memory": 256, "timeout": 60},
    "data-quality-check": {"trigger": "rate(1 hour)", "memory": 512, "timeout": 300},
    "orphan-task-reaper": {"trigger": "rate(15 minutes)", "memory": 256, "timeout": 120},
    "cost-reporter": {"trigger": "cron(0 6 * * ? *)", "memory": 256, "timeout": 120},
    "backtest-consumer": {"trigger": "sqs:backtest", "memory": 512, "timeout": 300},
    "notification-dispatcher": {"trigger": "sns:alerts", "memory": 256, "timeout": 60},
    "backtest-results-processor": {"trigger": "stepfunctions", "memory": 1024, "timeout": 600},
    "model-promoter": {"trigger": "stepfunctions", "memory": 512, "timeout": 300},
}

# Other images the platform builds (workers, research and base images).
OTHER_IMAGES = (
    "strategy-runner",
    "backtest-worker",
    "feature-pipeline",
    "model-trainer",
    "model-server",
    "data-ingest-worker",
    "freqtrade-bot",
    "research-notebook",
    "base-python",
    "ops-toolbox",
)

# The 24 ECR repositories: services, Lambda functions, other images.
ECR_REPOSITORIES = (*SERVICES, *LAMBDA_FUNCTIONS, *OTHER_IMAGES)

SNS_TOPICS = ("alerts", "registration")
BACKTEST_QUEUE = "backtest"
CONSOLIDATED_LOG_GROUP = "/tradai/consolidated/containers"
CONSOLIDATED_COMPOSE_DIR = "/opt/tradai"


def _checked(environment: str | None) -> str:
    """Return the environment, taken from the running Pulumi stack when not given."""
    if environment is None:
        environment = _current_pulumi_stack()
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {environment!r}; known environments: {', '.join(ENVIRONMENTS)}")
    return environment


def _current_pulumi_stack() -> str:
    # Only inside a running Pulumi program is the stack name meaningful; elsewhere the caller must say.
    from pulumi.runtime import settings as pulumi_settings

    # The root stack resource exists only while a program runs; SETTINGS.stack outlives a run, so it is not enough.
    stack = pulumi_settings.SETTINGS.stack if pulumi_settings.get_root_resource() is not None else None
    if not stack:
        raise ConfigError(
            "no environment given and no Pulumi program is running: pass environment='dev' (or local, staging, prod)"
        )
    return stack


def get_env_short(environment: str | None = None) -> str:
    """Short environment code for names with length limits: d, s, p (and l for local)."""
    return ENV_SHORT[_checked(environment)]


def get_resource_name(name: str, environment: str | None = None) -> str:
    """Standard resource name: tradai-<name>-<environment>."""
    return f"{PROJECT_NAME}-{name}-{_checked(environment)}"


# The MLflow PostgreSQL instance (foundation stack): tradai-mlflow-db-<environment>.
DATABASE_COMPONENT = "mlflow-db"


def get_database_identifier(environment: str | None = None) -> str:
    """The RDS instance identifier of the MLflow database: tradai-mlflow-db-<environment>."""
    return get_resource_name(DATABASE_COMPONENT, environment)


def get_ecr_repo_name(name: str) -> str:
    """ECR repository name, shared by all environments: tradai/<name>."""
    return f"{PROJECT_NAME}/{name}"


def get_tags(service: str = "platform", environment: str | None = None, **extra: str) -> dict[str, str]:
    """The four standard tags, plus any extra ones."""
    tags = {
        "Project": PROJECT_NAME,
        "Environment": _checked(environment),
        "Service": service,
        "ManagedBy": "pulumi",
    }
    tags.update(extra)
    return tags


def get_table_name(key: str, environment: str | None = None) -> str:
    """Physical DynamoDB table name: the base name from DYNAMODB_TABLES plus the environment."""
    return f"{_lookup(DYNAMODB_TABLES, key, 'DynamoDB table')}-{_checked(environment)}"


def get_bucket_name(key: str, environment: str | None = None) -> str:
    """Physical S3 bucket name for one of S3_BUCKETS or the Pulumi state bucket."""
    if key != STATE_BUCKET_KEY:
        _lookup(S3_BUCKETS, key, "S3 bucket")
    return get_resource_name(key, environment)


def get_cluster_name(environment: str | None = None) -> str:
    """ECS cluster name: tradai-<environment>."""
    return f"{PROJECT_NAME}-{_checked(environment)}"


def get_service_name(service: str, environment: str | None = None) -> str:
    """ECS service name (also its task-definition family): tradai-<service>-<environment>."""
    _lookup(SERVICES, service, "service")
    return get_resource_name(service, environment)


def get_service_log_group(service: str, environment: str | None = None) -> str:
    """CloudWatch log group of a service's ECS tasks: /ecs/tradai-<service>-<environment>."""
    return f"/ecs/{get_service_name(service, environment)}"


def get_consolidated_name(environment: str | None = None) -> str:
    """Name tag of the consolidated EC2 host (and its ASG): tradai-consolidated-<environment>."""
    return get_resource_name("consolidated", environment)


def get_function_name(function: str, environment: str | None = None) -> str:
    """Lambda function name: tradai-<function>-<environment>."""
    _lookup(LAMBDA_FUNCTIONS, function, "Lambda function")
    return get_resource_name(function, environment)


def get_log_group_name(component: str, environment: str | None = None) -> str:
    """CloudWatch log group of an estate component: /tradai/<environment>/<component>."""
    return f"/{PROJECT_NAME}/{_checked(environment)}/{component}"


def get_stack_project(stack: str) -> str:
    """Pulumi project name of a stack: tradai-<stack>."""
    return f"{PROJECT_NAME}-{stack}"


def _lookup(table: Mapping[str, object], key: str, what: str):
    try:
        return table[key]
    except KeyError:
        raise ConfigError(f"unknown {what} {key!r}; known: {', '.join(table)}") from None
