"""Drift: a preview-only refresh through the Automation API (autospecs of the real SDK classes), and the expected
outcome without the Pulumi CLI."""

from __future__ import annotations

from pulumi import automation as auto
from state_fixtures import no_pulumi_cli, sdk  # noqa: F401 (fixtures)

from tradai_nb.ops import drift
from tradai_nb.settings import load_settings
from tradai_nb.stacks.registry import stacks

PROJECT = "tradai-foundation"
VPC_URN = f"urn:pulumi:dev::{PROJECT}::aws:ec2/vpc:Vpc::vpc"
QUEUE_URN = f"urn:pulumi:dev::{PROJECT}::aws:sqs/queue:Queue::backtest-queue"
TOPIC_URN = f"urn:pulumi:dev::{PROJECT}::aws:sns/topic:Topic::alerts"


def outputs_event(op: str, urn: str, typ: str, *, diffs=None, gone: bool = False) -> auto.EngineEvent:
    """An engine event as the SDK parses it from the CLI's event log."""
    metadata = {"op": op, "urn": urn, "type": typ, "provider": "", "diffs": diffs,
                "old": {"type": typ, "urn": urn, "id": "x", "parent": "", "provider": ""}}
    if not gone:
        metadata["new"] = {"type": typ, "urn": urn, "id": "x", "parent": "", "provider": ""}
    return auto.EngineEvent.from_json({"sequence": 1, "timestamp": 0, "resOutputsEvent": {"metadata": metadata}})


def quiet(_: str) -> None:
    """Swallows engine output."""


def test_drift__without_the_cli_is_reported_as_the_result_not_raised(no_pulumi_cli):
    report = drift.detect_drift(load_settings("local"), on_output=quiet)

    assert not report.checked
    assert report.summary["stack"].tolist() == list(stacks.names())
    assert set(report.summary["status"]) == {"pulumi-cli-missing"}
    assert "tradai-nb setup" in report.message and report.resources.empty


def test_drift__lists_drifted_resources_and_counts_per_stack(sdk):
    def preview_refresh(**kwargs):
        for event in (outputs_event("refresh", VPC_URN, "aws:ec2/vpc:Vpc", diffs=["tags"]),
                      outputs_event("refresh", QUEUE_URN, "aws:sqs/queue:Queue", gone=True),
                      outputs_event("same", TOPIC_URN, "aws:sns/topic:Topic")):
            kwargs["on_event"](event)
        return auto.PreviewResult("", "", {auto.OpType.UPDATE: 1, auto.OpType.DELETE: 1, auto.OpType.SAME: 5})

    sdk.stack.preview_refresh.side_effect = preview_refresh

    report = drift.detect_drift(load_settings("dev"), stack="foundation", on_output=quiet)

    assert report.summary.values.tolist() == [["foundation", "drifted", 2, 5]]
    assert report.resources[["stack", "change", "type", "name", "properties"]].values.tolist() == [
        ["foundation", "update", "aws:ec2/vpc:Vpc", "vpc", "tags"],
        ["foundation", "delete", "aws:sqs/queue:Queue", "backtest-queue", ""]]
    assert report.message.startswith("2 resource(s) drifted in dev")


def test_drift__previews_only_and_never_shows_secrets(sdk):
    sdk.stack.preview_refresh.return_value = auto.PreviewResult("", "", {auto.OpType.SAME: 4})

    report = drift.detect_drift(load_settings("dev"), stack="edge", on_output=quiet)

    assert report.summary.values.tolist() == [["edge", "in sync", 0, 4]]
    assert sdk.stack.preview_refresh.call_args.kwargs["show_secrets"] is False
    sdk.stack.refresh.assert_not_called()
    sdk.stack.up.assert_not_called()


def test_drift__a_stack_never_deployed_is_reported_and_the_others_checked(sdk):
    not_found = auto.StackNotFoundError(auto.CommandResult(stdout="", stderr="no stack named dev", code=255))
    sdk.select.side_effect = [not_found, sdk.stack, sdk.stack, sdk.stack]
    sdk.stack.preview_refresh.return_value = auto.PreviewResult("", "", {auto.OpType.SAME: 3})

    report = drift.detect_drift(load_settings("dev"), on_output=quiet)

    assert report.summary[["stack", "status"]].values.tolist() == [
        ["persistent", "not deployed"], ["foundation", "in sync"], ["compute", "in sync"], ["edge", "in sync"]]
    assert report.message == "no drift in dev: the state matches AWS"
