"""PostgreSQL for MLflow in the data subnets: private, encrypted, multi-AZ where settings say, password held by RDS."""

from __future__ import annotations

from typing import Any

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.common import data_options
from tradai_nb.stacks.foundation.vpc import Network

DATABASE_COMPONENT = config.DATABASE_COMPONENT
DATABASE_SERVICE = "mlflow"
DATABASE_NAME = "mlflow"
MASTER_USERNAME = "mlflow"
ENGINE = "postgres"
ENGINE_MAJOR_VERSION = "16"  # minor versions arrive with auto_minor_version_upgrade
# Backups kept longer where data is protected (staging, prod) than in the throwaway environments.
BACKUP_RETENTION_DAYS = {True: 30, False: 7}
BACKUP_WINDOW = "02:00-03:00"  # UTC, before the maintenance window
MAINTENANCE_WINDOW = "sun:03:30-sun:04:30"
STORAGE_GROWTH_FACTOR = 4  # storage autoscaling ceiling, as a multiple of the allocated storage


def database_identifier(settings: Settings) -> str:
    """The RDS instance identifier: tradai-mlflow-db-<environment>."""
    return config.get_resource_name(DATABASE_COMPONENT, settings.environment)


def create_database(settings: Settings, network: Network, rds_security_group: Any) -> Any:
    """Create the subnet group over the data subnets and the PostgreSQL instance."""
    from pulumi_aws import rds

    env = settings.environment
    identifier = database_identifier(settings)
    tags = config.get_tags(service=DATABASE_SERVICE, environment=env, Name=identifier)
    protected = settings.protect_data

    subnet_group = rds.SubnetGroup(
        "mlflow-db-subnets",
        name=identifier,
        description="MLflow database: the data subnets",
        subnet_ids=[subnet.id for subnet in network.subnets["data"]],
        tags=tags,
    )
    return rds.Instance(
        "mlflow-db",
        identifier=identifier,
        engine=ENGINE,
        engine_version=ENGINE_MAJOR_VERSION,
        instance_class=settings.rds_instance_class,
        allocated_storage=settings.rds_allocated_storage_gb,
        max_allocated_storage=settings.rds_allocated_storage_gb * STORAGE_GROWTH_FACTOR,
        storage_type="gp3",
        storage_encrypted=True,
        db_name=DATABASE_NAME,
        username=MASTER_USERNAME,
        # RDS generates the password and keeps it in Secrets Manager; it never passes through this program or state.
        manage_master_user_password=True,
        db_subnet_group_name=subnet_group.name,
        vpc_security_group_ids=[rds_security_group.id],
        publicly_accessible=False,
        multi_az=settings.multi_az,
        backup_retention_period=BACKUP_RETENTION_DAYS[protected],
        backup_window=BACKUP_WINDOW,
        maintenance_window=MAINTENANCE_WINDOW,
        auto_minor_version_upgrade=True,
        copy_tags_to_snapshot=True,
        deletion_protection=protected,
        skip_final_snapshot=not protected,
        final_snapshot_identifier=f"{identifier}-final" if protected else None,
        tags=tags,
        opts=data_options(settings),
    )
