"""config.py gives exactly the canonical names, per environment, and refuses unknown ones."""

from __future__ import annotations

import pytest

from tradai_nb import config
from tradai_nb.errors import ConfigError


@pytest.mark.parametrize(
    ("environment", "expected_name", "expected_short"),
    [("dev", "tradai-backend-dev", "d"), ("staging", "tradai-backend-staging", "s"),
     ("prod", "tradai-backend-prod", "p"), ("local", "tradai-backend-local", "l")],
    ids=["dev", "staging", "prod", "local"],
)
def test_helpers__give_the_canonical_names_per_environment(environment, expected_name, expected_short):
    assert config.get_resource_name("backend", environment) == expected_name
    assert config.get_env_short(environment) == expected_short
    assert config.get_ecr_repo_name("backend") == "tradai/backend"
    assert config.get_tags(service="backend", environment=environment) == {
        "Project": "tradai", "Environment": environment, "Service": "backend", "ManagedBy": "pulumi",
    }


def test_short_codes__are_distinct_per_environment():
    assert len({config.get_env_short(e) for e in config.ENVIRONMENTS}) == len(config.ENVIRONMENTS)


def test_constants__match_the_deployment_guide():
    assert (config.PROJECT_NAME, config.AWS_REGION, config.VPC_CIDR) == ("tradai", "eu-central-1", "10.0.0.0/16")
    assert {name: (s["port"], s["cpu"], s["memory"]) for name, s in config.SERVICES.items()} == {
        "backend": (8000, 256, 512), "strategy-service": (8003, 256, 512),
        "data-collection": (8002, 256, 512), "mlflow": (5000, 256, 512),
    }
    assert len(config.DYNAMODB_TABLES) == 12
    assert config.DYNAMODB_TABLES["workflow_state"] == "tradai-workflow-state"
    assert config.DYNAMODB_TABLES["health_state"] == "tradai-health-state"
    assert config.DYNAMODB_TABLES["trading_state"] == "tradai-trading-state"
    assert set(config.S3_BUCKETS) == {"configs", "results", "arcticdb", "logs", "mlflow"}
    assert len(config.ECR_REPOSITORIES) == len(set(config.ECR_REPOSITORIES)) == 24
    assert set(config.SERVICES) | set(config.LAMBDA_FUNCTIONS) <= set(config.ECR_REPOSITORIES)


def test_physical_names__carry_the_environment():
    assert config.get_table_name("workflow_state", "dev") == "tradai-workflow-state-dev"
    assert config.get_bucket_name("logs", "prod") == "tradai-logs-prod"
    assert config.get_bucket_name(config.STATE_BUCKET_KEY, "dev") == "tradai-pulumi-state-dev"
    assert config.get_cluster_name("dev") == "tradai-dev"
    assert config.get_service_name("backend", "dev") == "tradai-backend-dev"
    assert config.get_consolidated_name("local") == "tradai-consolidated-local"


def test_environment__must_be_explicit_outside_a_pulumi_program():
    with pytest.raises(ConfigError, match="no environment given"):
        config.get_resource_name("backend")


def test_environment__comes_from_the_running_pulumi_stack(monkeypatch):
    from pulumi.runtime import settings as pulumi_settings

    monkeypatch.setattr(pulumi_settings.SETTINGS, "stack", "staging", raising=False)
    monkeypatch.setattr(pulumi_settings, "get_root_resource", lambda: object())
    assert config.get_resource_name("backend") == "tradai-backend-staging"
    assert config.get_tags()["Environment"] == "staging"


@pytest.mark.parametrize(
    "call",
    [lambda: config.get_resource_name("backend", "qa"), lambda: config.get_table_name("nope", "dev"),
     lambda: config.get_service_name("frontend", "dev"), lambda: config.get_bucket_name("tmp", "dev")],
    ids=["environment", "table", "service", "bucket"],
)
def test_unknown_names__are_refused_with_the_known_ones(call):
    with pytest.raises(ConfigError, match="known"):
        call()


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_log_group_name__nests_the_component_under_project_and_environment(environment):
    assert config.get_log_group_name("vpc-flow-logs", environment) == f"/tradai/{environment}/vpc-flow-logs"


def test_log_group_name__refuses_an_unknown_environment():
    with pytest.raises(ConfigError, match="unknown environment 'qa'"):
        config.get_log_group_name("vpc-flow-logs", "qa")


# The estate's names, pinned as literals: a rename in config.py is a change to real tables, buckets and repositories
# (their data stays under the old name), so it must fail here and be made on purpose.
TABLE_NAMES = {
    "workflow_state": "tradai-workflow-state", "health_state": "tradai-health-state",
    "trading_state": "tradai-trading-state", "backtest_jobs": "tradai-backtest-jobs",
    "strategy_registry": "tradai-strategy-registry", "model_registry": "tradai-model-registry",
    "order_history": "tradai-order-history", "position_state": "tradai-position-state",
    "market_data_catalog": "tradai-market-data-catalog", "experiment_runs": "tradai-experiment-runs",
    "alert_history": "tradai-alert-history", "api_keys": "tradai-api-keys",
}
BUCKET_NAMES_DEV = ["tradai-configs-dev", "tradai-results-dev", "tradai-arcticdb-dev", "tradai-logs-dev",
                    "tradai-mlflow-dev"]
REPOSITORY_NAMES = [
    "tradai/backend", "tradai/strategy-service", "tradai/data-collection", "tradai/mlflow", "tradai/drift-monitor",
    "tradai/retraining-scheduler", "tradai/health-check", "tradai/data-quality-check", "tradai/orphan-task-reaper",
    "tradai/cost-reporter", "tradai/backtest-consumer", "tradai/notification-dispatcher",
    "tradai/backtest-results-processor", "tradai/model-promoter", "tradai/strategy-runner", "tradai/backtest-worker",
    "tradai/feature-pipeline", "tradai/model-trainer", "tradai/model-server", "tradai/data-ingest-worker",
    "tradai/freqtrade-bot", "tradai/research-notebook", "tradai/base-python", "tradai/ops-toolbox",
]


def test_names__every_table_bucket_and_repository_is_pinned():
    assert dict(config.DYNAMODB_TABLES) == TABLE_NAMES
    assert [config.get_bucket_name(key, "dev") for key in config.S3_BUCKETS] == BUCKET_NAMES_DEV
    assert [config.get_ecr_repo_name(name) for name in config.ECR_REPOSITORIES] == REPOSITORY_NAMES
