"""The DynamoDB tables: on-demand, encrypted, with the keys and indexes the platform's queries need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.common import persistent_options

if TYPE_CHECKING:
    import pulumi_aws as aws

# Key attributes that hold numbers; every other key is a string (timestamps are ISO-8601, so they sort by time).
NUMBER_ATTRIBUTES = frozenset({"version"})


@dataclass(frozen=True)
class Index:
    """A global secondary index, projecting all attributes (the tables are small; reads need whole items)."""

    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class TableSchema:
    """A table's primary key, its indexes and the attribute that expires items (TTL), if any."""

    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None

    def key_attributes(self) -> list[str]:
        names = [self.hash_key, self.range_key]
        for index in self.indexes:
            names += [index.hash_key, index.range_key]
        return sorted({name for name in names if name})


TABLE_SCHEMAS: dict[str, TableSchema] = {
    # Backtest workflow executions; the reaper and dashboards look them up by status.
    "workflow_state": TableSchema(
        "workflow_id", indexes=(Index("status-index", "status", "updated_at"),), ttl_attribute="expires_at"
    ),
    # Heartbeats per service component; stale ones expire.
    "health_state": TableSchema("service", "component", ttl_attribute="expires_at"),
    "trading_state": TableSchema("strategy_id"),
    # Jobs queued by the backtest queue: polled by status, listed per strategy.
    "backtest_jobs": TableSchema(
        "job_id",
        indexes=(Index("status-index", "status", "created_at"), Index("strategy-index", "strategy_id", "created_at")),
    ),
    "strategy_registry": TableSchema(
        "strategy_id", "version", indexes=(Index("status-index", "status", "updated_at"),)
    ),
    # The model promoter finds the model currently in a stage (staging, production).
    "model_registry": TableSchema("model_name", "version", indexes=(Index("stage-index", "stage", "updated_at"),)),
    "order_history": TableSchema("order_id", indexes=(Index("strategy-index", "strategy_id", "created_at"),)),
    "position_state": TableSchema("strategy_id", "symbol"),
    "market_data_catalog": TableSchema("symbol", "timeframe"),
    "experiment_runs": TableSchema("run_id", indexes=(Index("experiment-index", "experiment_id", "started_at"),)),
    "alert_history": TableSchema("alert_name", "triggered_at", ttl_attribute="expires_at"),
    # Items hold a hash of each key, never the key itself.
    "api_keys": TableSchema("key_id", indexes=(Index("owner-index", "owner_id"),)),
}


def create_tables(settings: Settings) -> dict[str, aws.dynamodb.Table]:
    """The tables of config.DYNAMODB_TABLES, keyed like it. Point-in-time recovery wherever data is protected
    (staging and prod): staging rehearses prod's restores, and PITR on its small tables costs next to nothing."""
    import pulumi_aws as aws

    tables: dict[str, aws.dynamodb.Table] = {}
    for key in config.DYNAMODB_TABLES:
        schema = TABLE_SCHEMAS[key]
        tables[key] = aws.dynamodb.Table(
            f"{key}-table",
            name=config.get_table_name(key, settings.environment),
            billing_mode="PAY_PER_REQUEST",
            hash_key=schema.hash_key,
            range_key=schema.range_key,
            attributes=[
                {"name": name, "type": "N" if name in NUMBER_ATTRIBUTES else "S"} for name in schema.key_attributes()
            ],
            global_secondary_indexes=[_index_args(index) for index in schema.indexes] or None,
            ttl={"attribute_name": schema.ttl_attribute, "enabled": True} if schema.ttl_attribute else None,
            server_side_encryption={"enabled": True},
            point_in_time_recovery={"enabled": settings.protect_data},
            deletion_protection_enabled=settings.protect_data,
            tags=config.get_tags(service="database", environment=settings.environment),
            opts=persistent_options(settings),
        )
    return tables


def _index_args(index: Index) -> aws.dynamodb.TableGlobalSecondaryIndexArgsDict:
    key_schemas: list[aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgsDict] = [
        {"attribute_name": index.hash_key, "key_type": "HASH"}
    ]
    if index.range_key:
        key_schemas.append({"attribute_name": index.range_key, "key_type": "RANGE"})
    return {"name": index.name, "key_schemas": key_schemas, "projection_type": "ALL"}
