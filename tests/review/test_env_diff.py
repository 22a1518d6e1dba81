"""The environment diff: real offline plans of two environments, the rules that keep the environment's name out of
the comparison (on a small program planned under the mock runtime), the command line and the notebook."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pulumi
import pytest

from tradai_nb import config
from tradai_nb.cli import main
from tradai_nb.engine import mock_runtime
from tradai_nb.engine.plan import RESOURCE_COLUMNS, Plan, PlanMocks, StackPlan
from tradai_nb.errors import EXIT_INVALID, EXIT_OK, ParameterError
from tradai_nb.review import env_diff
from tradai_nb.settings import PROJECT_ROOT

NOTEBOOK = PROJECT_ROOT / "notebooks" / "runbooks" / "env_diff.ipynb"
RDS = "aws:rds/instance:Instance"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


@pytest.fixture(scope="module")
def dev_vs_prod(settings_of) -> env_diff.EnvDiff:
    return env_diff.diff_environments(settings_of("dev"), "prod")


def _values(report: env_diff.EnvDiff, type_token: str, prop: str) -> list[dict]:
    return [c for c in report.change_values if c["type"] == type_token and c["property"] == prop]


def _keys(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["type"], frame["resource"]))


# The estate, dev against prod.

def test_dev_vs_prod__shows_the_rds_class_and_multi_az_of_each_params_file(dev_vs_prod, settings_of):
    dev, prod = settings_of("dev"), settings_of("prod")

    for prop, field in (("instanceClass", "rds_instance_class"), ("multiAz", "multi_az"),
                        ("allocatedStorage", "rds_allocated_storage_gb")):
        [change] = _values(dev_vs_prod, RDS, prop)
        assert (change["stack"], change["dev"], change["prod"]) == ("foundation", getattr(dev, field),
                                                                    getattr(prod, field)), prop


def test_dev_vs_prod__the_consolidated_host_is_only_in_dev_and_the_fargate_services_only_in_prod(dev_vs_prod):
    only_dev, only_prod = _keys(dev_vs_prod.only_in("dev")), _keys(dev_vs_prod.only_in("prod"))

    assert {("aws:autoscaling/group:Group", "consolidated"),
            ("aws:ec2/launchTemplate:LaunchTemplate", "consolidated")} <= only_dev
    assert {name for kind, name in only_prod if kind == "aws:ecs/service:Service"} == set(config.SERVICES)
    assert not any(kind == "aws:ecs/service:Service" for kind, _ in only_dev)
    assert not (only_dev & only_prod)


def test_dev_vs_prod__log_retention_differs_in_every_stack_with_log_groups_as_the_params_say(dev_vs_prod, settings_of):
    changes = _values(dev_vs_prod, LOG_GROUP, "retentionInDays")

    assert {c["stack"] for c in changes} == {"foundation", "compute", "edge"}
    assert {(c["dev"], c["prod"]) for c in changes} == {(settings_of("dev").log_retention_days,
                                                        settings_of("prod").log_retention_days)}


def test_dev_vs_prod__capacity_providers_follow_fargate_spot(dev_vs_prod, settings_of):
    [change] = _values(dev_vs_prod, "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders",
                       "defaultCapacityProviderStrategies[0].capacityProvider")

    assert settings_of("dev").fargate_spot and not settings_of("prod").fargate_spot
    assert (change["dev"], change["prod"]) == ("FARGATE_SPOT", "FARGATE")


def test_dev_vs_prod__names_arns_tags_and_planned_ids_that_differ_only_by_environment_are_not_differences(dev_vs_prod):
    changed = dev_vs_prod.changes

    assert not changed["property"].str.startswith("tags.").any()
    # The cluster differs only by its name (tradai-dev / tradai-prod) and its tags; the VPC endpoints refer to
    # subnets and security groups by their planned IDs, which differ in every environment.
    assert not _keys(changed) & {("aws:ecs/cluster:Cluster", "cluster"),
                                 ("aws:ec2/vpcEndpoint:VpcEndpoint", "sqs-interface-endpoint")}
    for change in dev_vs_prod.change_values:
        if isinstance(change["dev"], str) and isinstance(change["prod"], str):
            assert change["dev"].replace("-dev", "-prod") != change["prod"], change


def test_dev_vs_prod__summary_counts_each_stack_from_the_rows(dev_vs_prod):
    summary = dev_vs_prod.summary.set_index("stack")

    assert list(summary.index) == list(env_diff.stacks.names())
    for stack, row in summary.iterrows():
        changes = dev_vs_prod.changes[dev_vs_prod.changes["stack"] == stack]
        only = dev_vs_prod.only[dev_vs_prod.only["stack"] == stack]
        assert row["changed properties"] == len(changes)
        assert row["changed resources"] == len(changes[["type", "resource"]].drop_duplicates())
        assert row["only in dev"] + row["only in prod"] == len(only)
        assert row["changed resources"] + row["same"] == dev_vs_prod.shared[stack]


def test_diff__of_an_environment_with_itself_or_an_unknown_one_is_refused_naming_against(settings_of):
    with pytest.raises(ParameterError, match="against") as same:
        env_diff.check_parameters(settings_of("dev"), against="dev")
    with pytest.raises(ParameterError, match="production") as unknown:
        env_diff.diff_environments(settings_of("dev"), "production")
    with pytest.raises(ParameterError) as stack:
        env_diff.check_parameters(settings_of("dev"), against="prod", stack="network")

    assert (same.value.name, unknown.value.name, stack.value.name) == ("against", "against", "stack")


def test_diff__of_two_plans_of_the_same_environment_finds_nothing(settings_of):
    names = ["persistent", "foundation"]
    first = env_diff.plan(settings_of("staging"), names)
    second = env_diff.plan(settings_of("staging"), names)

    report = env_diff.diff_plans(first, second)

    assert not report.has_differences
    assert report.summary["same"].sum() == sum(len(s.resources) for s in first.stacks)


# The rules, on a small program planned under the mock runtime.

def _probe_plan(settings, *, retention_days: int, alerts: str, policy_bucket: str, extra: bool) -> Plan:
    env = settings.environment

    def program() -> None:
        tags = config.get_tags("probe", env)
        logs = pulumi.CustomResource("aws:s3/bucket:Bucket", "logs", {"bucket": f"tradai-logs-{env}", "tags": tags})
        archive = pulumi.CustomResource("aws:s3/bucket:Bucket", "archive", {"tags": tags})
        target = {"logs": logs, "archive": archive}[policy_bucket]
        pulumi.CustomResource("aws:s3/bucketPolicy:BucketPolicy", "logs-policy", {
            "bucket": target.id,
            "policy": json.dumps({"Statement": [{"Effect": "Allow", "Resource": f"arn:aws:s3:::tradai-logs-{env}/*"}]}),
        })
        # A device path that reads "dev" in every environment: not the environment's name.
        pulumi.CustomResource("aws:ec2/launchTemplate:LaunchTemplate", "host", {
            "blockDeviceMappings": [{"deviceName": "/dev/xvda"}], "namePrefix": f"tradai-host-{env}-",
        })
        pulumi.CustomResource("aws:cloudwatch/logGroup:LogGroup", f"flow-{env}",
                              {"name": f"/tradai/{env}/flow", "retentionInDays": retention_days})
        pulumi.CustomResource("aws:sns/topicSubscription:TopicSubscription", "alerts",
                              {"endpoint": alerts, "protocol": "email"})
        if extra:
            pulumi.CustomResource("aws:sqs/queue:Queue", "extra", {"name": f"tradai-extra-{env}"})

    registrations, outputs = mock_runtime.run(program, PlanMocks(settings, "probe", {}), project="tradai-probe",
                                              stack=env)
    rows = [{"stack": "probe", "type": r.type, "name": r.name, "urn": r.urn, "parent": r.parent, "custom": r.custom,
             "protect": r.protect, "inputs": r.inputs, "id": r.id, "outputs": r.outputs,
             "dependencies": list(r.dependencies)} for r in registrations]
    return Plan(env, [StackPlan("probe", pd.DataFrame(rows, columns=RESOURCE_COLUMNS), outputs)])


def test_rules__a_resource_that_differs_only_by_the_environment_shows_no_difference(settings_of):
    same = dict(retention_days=7, alerts="ops@tradai.io", policy_bucket="logs", extra=False)
    dev = _probe_plan(settings_of("dev"), **same)
    prod = _probe_plan(settings_of("prod"), **same)

    report = env_diff.diff_plans(dev, prod)

    assert dev.stack("probe").resources["id"].tolist() != prod.stack("probe").resources["id"].tolist()
    assert not report.has_differences, report.changes
    assert report.shared == {"probe": 6}


def test_rules__a_value_that_differs_in_more_than_the_environment_is_a_difference(settings_of):
    dev = _probe_plan(settings_of("dev"), retention_days=7, alerts="alerts-dev@tradai.io", policy_bucket="logs",
                      extra=True)
    prod = _probe_plan(settings_of("prod"), retention_days=90, alerts="alerts@tradai.io", policy_bucket="archive",
                       extra=False)

    report = env_diff.diff_plans(dev, prod)
    changes = {(c["resource"], c["property"]): (c["dev"], c["prod"]) for c in report.change_values}

    assert changes == {
        ("flow-{env}", "retentionInDays"): (7, 90),
        ("alerts", "endpoint"): ("alerts-dev@tradai.io", "alerts@tradai.io"),
        ("logs-policy", "bucket"): ("<id of aws:s3/bucket:Bucket::logs>", "<id of aws:s3/bucket:Bucket::archive>"),
    }
    assert report.only_in("dev").to_dict("records") == [{"stack": "probe", "type": "aws:sqs/queue:Queue",
                                                         "resource": "extra"}]
    assert report.only_in("prod").empty


@pytest.mark.parametrize(("dev", "prod", "same"), [
    ("tradai-logs-dev", "tradai-logs-prod", True),
    ("arn:aws:sns:eu-central-1:0:tradai-alerts-dev", "arn:aws:sns:eu-central-1:0:tradai-alerts-prod", True),
    ("/dev/xvda tradai-dev", "/dev/xvda tradai-prod", True),
    ("tradai-logs-dev", "tradai-logs-staging", False),
    ("alerts-dev@tradai.io", "alerts@tradai.io", False),
    ("development", "production", False),
    ("tradai-logs-prod", "tradai-logs-dev", False),
    (["a-dev", "b-dev"], ["a-prod", "b-prod"], True),
    (["a-dev"], ["a-prod", "b-prod"], False),
    (7, 7.5, False),
    (True, 1, False),
], ids=["name", "arn", "device-path-and-name", "other-env", "email", "inside-a-word", "swapped", "list",
        "longer-list", "number", "bool-vs-int"])
def test_same_value__sets_aside_only_the_two_environments_names_as_whole_words(dev, prod, same):
    assert env_diff.same_value(dev, "dev", prod, "prod") is same


def test_flatten__paths_for_nested_inputs_json_text_and_user_data():
    inputs = {"scalingConfig": {"desiredSize": 2.0}, "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
              "rules": [{"days": 7.0}], "policy": json.dumps({"Statement": [{"Action": "s3:GetObject"}]}),
              "userData": "IyEvYmluL2Jhc2gKZWNobyBoaQo="}

    assert dict(env_diff.flatten(inputs)) == {
        "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
        "policy.Statement[0].Action": "s3:GetObject",
        "rules[0].days": 7,
        "scalingConfig.desiredSize": 2,
        "userData": "#!/bin/bash\necho hi\n",
    }


# The command line.

def test_cli_diff__json_is_one_document_on_stdout_for_one_stack_and_exits_0(capsys):
    assert main(["diff", "--env", "dev", "--against", "prod", "--stack", "foundation", "--json"]) == EXIT_OK
    captured = capsys.readouterr()
    document = json.loads(captured.out)

    assert set(document) == {"environment", "against", "stacks", "summary", "only_in", "changes"}
    assert (document["environment"], document["against"], document["stacks"]) == ("dev", "prod", ["foundation"])
    assert [row["stack"] for row in document["summary"]] == ["foundation"]
    assert {row["stack"] for row in document["changes"]} == {"foundation"}
    assert set(document["only_in"]) == {"dev", "prod"}
    assert {"stack", "type", "resource", "property", "dev", "prod"} == set(document["changes"][0])
    assert any(row["type"] == RDS and row["property"] == "multiAz" and row["dev"] is False and row["prod"] is True
               for row in document["changes"])
    assert "diff: dev: planning foundation" in captured.err and "diff: prod:" in captured.err


def test_cli_diff__one_stack_reads_its_upstreams_ids_so_references_to_them_are_not_differences(capsys):
    assert main(["diff", "--env", "dev", "--against", "staging", "--stack", "compute", "--json"]) == EXIT_OK
    document = json.loads(capsys.readouterr().out)

    assert document["stacks"] == ["compute"]
    assert {row["stack"] for row in document["changes"]} == {"compute"}
    properties = {(row["type"], row["property"]) for row in document["changes"]}
    assert ("aws:lb/loadBalancer:LoadBalancer", "subnets") not in properties
    assert ("aws:lb/loadBalancer:LoadBalancer", "securityGroups") not in properties


def test_cli_diff__tables_exit_0_even_with_differences(capsys):
    assert main(["diff", "--env", "dev", "--against", "prod", "--stack", "persistent"]) == EXIT_OK
    out = capsys.readouterr().out

    assert "changed properties" in out and "properties that differ:" in out
    assert out.rstrip().splitlines()[-1].startswith("dev against prod (persistent):")


def test_cli_diff__the_same_environment_twice_exits_2_naming_against_before_planning(capsys, monkeypatch):
    monkeypatch.setattr(env_diff, "plan", lambda *a, **k: pytest.fail("planned before the parameters were checked"))

    assert main(["diff", "--env", "prod", "--against", "prod"]) == EXIT_INVALID
    assert "--against prod" in capsys.readouterr().err


def test_cli_diff__against_and_stack_take_only_known_names(capsys):
    for argv in (["--against", "qa"], ["--against", "prod", "--stack", "network"]):
        with pytest.raises(SystemExit) as exited:
            main(["diff", "--env", "dev", *argv])
        assert exited.value.code == EXIT_INVALID
        assert "invalid choice" in capsys.readouterr().err


# The notebook.

def test_notebook__parameters_are_what_the_diff_checks_with_dev_against_prod_defaults():
    declared = papermill.inspect_notebook(str(NOTEBOOK))
    defaults = {key: ast.literal_eval(p["default"]) for key, p in declared.items()}

    assert defaults == {"environment": "dev", "against": "prod", "stack": ""}
    checked = set(inspect.signature(env_diff.check_parameters).parameters) - {"settings"}
    assert set(defaults) - {"environment"} == checked


def test_notebook__stored_outputs_are_an_offline_dev_against_prod_diff():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    shown = {c.id: "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in c.outputs)
             for c in notebook.cells if c.cell_type == "code"}

    assert shown["summary"].count("\n") > len(env_diff.stacks.names())
    assert "consolidated" in shown["only-environment"] and "aws:ecs/service:Service" in shown["only-against"]
    assert "instanceClass" in shown["changes"]
    assert not any(o.output_type == "error" for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert Path(NOTEBOOK).stat().st_size < 1_000_000
