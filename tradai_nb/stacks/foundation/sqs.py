"""The backtest queue and its dead-letter queue: encrypted at rest, failed jobs moved aside after a few attempts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.common import data_options

QUEUE_SERVICE = "backtest"
CONSUMER_FUNCTION = "backtest-consumer"
MAX_RECEIVE_COUNT = 3
# AWS's advice for a queue feeding a Lambda function: visibility at least six times the function's timeout.
VISIBILITY_TIMEOUT_FACTOR = 6
QUEUE_RETENTION_S = 4 * 24 * 3600
DLQ_RETENTION_S = 14 * 24 * 3600  # the longest SQS keeps a message: time to investigate and redrive
LONG_POLL_WAIT_S = 20


@dataclass(frozen=True)
class BacktestQueues:
    """The work queue and where its failed messages go."""

    queue: Any
    dead_letter_queue: Any


def visibility_timeout_s() -> int:
    """Visibility timeout of the backtest queue, from its consumer function's timeout."""
    return VISIBILITY_TIMEOUT_FACTOR * int(config.LAMBDA_FUNCTIONS[CONSUMER_FUNCTION]["timeout"])


def redrive_policy(dead_letter_queue_arn: str) -> str:
    """The queue's redrive policy: after MAX_RECEIVE_COUNT receives, a message goes to the DLQ."""
    return json.dumps({"deadLetterTargetArn": dead_letter_queue_arn, "maxReceiveCount": MAX_RECEIVE_COUNT})


def create_backtest_queues(settings: Settings) -> BacktestQueues:
    """Create the DLQ, then the backtest queue redriving into it; both SSE-SQS encrypted."""
    from pulumi_aws import sqs

    env = settings.environment

    def queue_args(component: str) -> dict[str, Any]:
        name = config.get_resource_name(component, env)
        return {
            "name": name,
            "sqs_managed_sse_enabled": True,
            "tags": config.get_tags(service=QUEUE_SERVICE, environment=env, Name=name),
        }

    dead_letter_queue = sqs.Queue(
        "backtest-dlq",
        message_retention_seconds=DLQ_RETENTION_S,
        **queue_args(f"{config.BACKTEST_QUEUE}-dlq"),
        opts=data_options(settings),
    )
    queue = sqs.Queue(
        "backtest-queue",
        visibility_timeout_seconds=visibility_timeout_s(),
        message_retention_seconds=QUEUE_RETENTION_S,
        receive_wait_time_seconds=LONG_POLL_WAIT_S,
        redrive_policy=dead_letter_queue.arn.apply(redrive_policy),
        **queue_args(config.BACKTEST_QUEUE),
        opts=data_options(settings),
    )
    return BacktestQueues(queue, dead_letter_queue)
