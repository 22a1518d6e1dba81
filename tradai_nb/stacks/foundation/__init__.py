"""Foundation stack (placeholder exporting the agreed contract until the real program lands)."""

from __future__ import annotations

import pulumi

from tradai_nb.settings import Settings


def make_program(settings: Settings):
    def program() -> None:
        pulumi.export("vpc_id", "vpc-placeholder")
        pulumi.export("vpc_cidr", settings.vpc_cidr)
        pulumi.export("public_subnet_ids", ["subnet-pub-a", "subnet-pub-b"])
        pulumi.export("private_subnet_ids", ["subnet-priv-a", "subnet-priv-b"])
        pulumi.export("data_subnet_ids", ["subnet-data-a", "subnet-data-b"])
        for sg in ("alb", "ecs", "rds", "vpc_endpoint", "nat"):
            pulumi.export(f"{sg}_sg_id", f"sg-{sg}")
        pulumi.export("rds_endpoint", "db.placeholder:5432")
        pulumi.export("rds_address", "db.placeholder")
        pulumi.export("rds_port", 5432)
        pulumi.export("rds_db_name", "mlflow")
        pulumi.export("rds_secret_arn", "arn:aws:secretsmanager:eu-central-1:000000000000:secret:placeholder")
        pulumi.export("backtest_queue_url", "https://sqs.eu-central-1.amazonaws.com/000000000000/q")
        pulumi.export("backtest_queue_arn", "arn:aws:sqs:eu-central-1:000000000000:q")
        pulumi.export("backtest_dlq_url", "https://sqs.eu-central-1.amazonaws.com/000000000000/dlq")
        pulumi.export("backtest_dlq_arn", "arn:aws:sqs:eu-central-1:000000000000:dlq")
        pulumi.export("alerts_topic_arn", "arn:aws:sns:eu-central-1:000000000000:alerts")
        pulumi.export("registration_topic_arn", "arn:aws:sns:eu-central-1:000000000000:registration")

    return program
