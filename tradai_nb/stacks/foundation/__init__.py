"""Foundation stack: the network (VPC, NAT instance, security groups, NACLs, endpoints, flow logs), RDS, SQS and SNS."""

from __future__ import annotations

from collections.abc import Callable

from tradai_nb.settings import Settings


def make_program(settings: Settings) -> Callable[[], None]:
    """The foundation program for these settings; resources are declared only when the program runs."""

    def program() -> None:
        import pulumi

        from tradai_nb.stacks.foundation import (
            nacl,
            nat_instance,
            rds,
            secret_rotation,
            security_groups,
            sns,
            sqs,
            vpc,
            vpc_endpoints,
            vpc_flow_logs,
        )

        network = vpc.create_network(settings)
        groups = security_groups.create_security_groups(settings, network)
        nacl.create_network_acls(settings, network)
        nat_instance.create_nat_instance(settings, network, groups.nat)
        vpc_endpoints.create_vpc_endpoints(settings, network, groups.vpc_endpoint)
        vpc_flow_logs.create_flow_logs(settings, network)
        database = rds.create_database(settings, network, groups.rds)
        secret_rotation.rotate_master_secret(settings, database)
        queues = sqs.create_backtest_queues(settings)
        topics = sns.create_topics(settings)

        pulumi.export("vpc_id", network.vpc.id)
        pulumi.export("vpc_cidr", network.vpc.cidr_block)
        for tier in vpc.TIERS:
            pulumi.export(f"{tier}_subnet_ids", [subnet.id for subnet in network.subnets[tier]])
        for key in security_groups.GROUPS:
            pulumi.export(f"{key}_sg_id", getattr(groups, key).id)
        pulumi.export("rds_endpoint", database.endpoint)
        pulumi.export("rds_address", database.address)
        pulumi.export("rds_port", database.port)
        pulumi.export("rds_db_name", database.db_name)
        pulumi.export("rds_secret_arn", secret_rotation.master_secret_arn(database))
        pulumi.export("backtest_queue_url", queues.queue.url)
        pulumi.export("backtest_queue_arn", queues.queue.arn)
        pulumi.export("backtest_dlq_url", queues.dead_letter_queue.url)
        pulumi.export("backtest_dlq_arn", queues.dead_letter_queue.arn)
        pulumi.export("alerts_topic_arn", topics["alerts"].arn)
        pulumi.export("registration_topic_arn", topics["registration"].arn)

    return program
