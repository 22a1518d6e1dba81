"""Where the policy rules bite: `tradai-nb policy check` exit codes, up refused at its gate with a record, bootstrap
refused before its first stack, and the CrossGuard pack built from the same rules."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from unittest import mock

import pulumi
import pulumi_policy
import pytest
from pulumi import automation as auto

from tradai_nb import cli
from tradai_nb.bootstrap import bootstrap
from tradai_nb.engine import automation
from tradai_nb.engine import plan as plan_module
from tradai_nb.engine.plan import Plan, plan_program
from tradai_nb.errors import EXIT_POLICY, GuardError, PolicyViolationError
from tradai_nb.review import policy
from tradai_nb.settings import PROJECT_ROOT, load_settings

PACK_DIR = PROJECT_ROOT / "policy"


def unencrypted_database():
    from pulumi_aws import rds

    rds.Instance("mlflow-db", engine="postgres", instance_class="db.t4g.micro", allocated_storage=20,
                 storage_encrypted=False, tags={"Project": "tradai", "Environment": "dev", "Service": "mlflow",
                                                "ManagedBy": "pulumi"},
                 opts=pulumi.ResourceOptions(retain_on_delete=True))


def provisioned_table():
    from pulumi_aws import dynamodb

    dynamodb.Table("t", hash_key="id", attributes=[{"name": "id", "type": "S"}], billing_mode="PROVISIONED",
                   read_capacity=1, write_capacity=1, server_side_encryption={"enabled": True},
                   tags={"Project": "tradai", "Environment": "dev", "Service": "db", "ManagedBy": "pulumi"},
                   opts=pulumi.ResourceOptions(retain_on_delete=True))


@pytest.fixture
def planned(monkeypatch):
    """planned(program): make every offline plan of the estate plan `program` as its first requested stack."""
    def use(program):
        def fake_plan(settings, stack_names=None, **kwargs):
            stack = (list(stack_names) if stack_names else ["persistent"])[0]
            return Plan(settings.environment, [plan_program(settings, stack, program, {})])
        monkeypatch.setattr(plan_module, "plan", fake_plan)
    return use


@pytest.fixture
def untouched(monkeypatch):
    """Autospecs of the Automation API's entry points and of the Pulumi CLI class: a refused up reaches none."""
    entries = {name: mock.create_autospec(getattr(auto, name)) for name in
               ("PulumiCommand", "create_or_select_stack", "select_stack", "LocalWorkspace")}
    for name, double in entries.items():
        monkeypatch.setattr(auto, name, double)
    yield entries
    for double in entries.values():
        double.assert_not_called()


def test_policy_check__exit_5_on_a_mandatory_violation_naming_resource_rule_and_fix(planned, capsys):
    planned(unencrypted_database)
    code = cli.main(["policy", "check", "--env", "dev", "--stack", "foundation"])
    out = capsys.readouterr().out

    assert code == EXIT_POLICY == 5
    assert "rds-private-encrypted" in out and "mlflow-db" in out and "storage_encrypted=True" in out
    assert "1 mandatory and 0 advisory violations" in out


def test_policy_check__exit_0_when_only_advisory_rules_are_broken(planned, capsys):
    planned(provisioned_table)
    code = cli.main(["policy", "check", "--env", "dev", "--stack", "persistent", "--json"])
    report = json.loads(capsys.readouterr().out)

    assert code == 0
    assert report["passed"] is True and report["mandatory"] == 0 and report["advisory"] == 1
    assert [v["rule"] for v in report["violations"]] == ["dynamodb-on-demand"]


def test_policy_check__the_real_estate_passes(capsys):
    assert cli.main(["policy", "check", "--env", "prod", "--stack", "persistent"]) == 0
    assert "0 mandatory" in capsys.readouterr().out


def test_up__refused_at_its_gate_before_any_pulumi_call_and_recorded(planned, untouched, journal):
    planned(unencrypted_database)
    with pytest.raises(PolicyViolationError) as refused:
        automation.up(load_settings("dev"), "foundation")

    assert refused.value.exit_code == 5
    assert "[rds-private-encrypted]" in str(refused.value) and "'mlflow-db'" in str(refused.value)
    [record] = journal.records()
    assert (record.action, record.status, record.target) == ("stack.up", "refused", "foundation")
    assert record.error["ename"] == "PolicyViolationError" and "storage_encrypted=True" in record.error["evalue"]


def test_up__an_unconfirmed_prod_change_is_refused_by_confirm_before_the_policy_check(planned, untouched, journal):
    planned(unencrypted_database)
    with pytest.raises(GuardError, match="confirm='prod'"):
        automation.run_action(load_settings("prod"), "foundation", "up", confirm="")
    assert [r.status for r in journal.records()] == ["refused"]


def test_bootstrap_up__refused_before_the_first_stack_deploys(planned, untouched, journal):
    planned(unencrypted_database)
    result = bootstrap(load_settings("dev"), "up", on_output=lambda line: None, on_progress=lambda line: None)

    assert isinstance(result.error, PolicyViolationError)
    assert list(result.steps["status"]) == ["failed", "not run", "not run", "not run"]
    [record] = journal.records()
    assert (record.target, record.status) == ("persistent", "refused")


def test_preview__reports_the_policy_check_and_still_runs(planned, monkeypatch):
    planned(unencrypted_database)
    monkeypatch.setattr(automation, "find_pulumi_cli", mock.create_autospec(automation.find_pulumi_cli))
    ran = mock.create_autospec(automation._preview, return_value="previewed")
    monkeypatch.setattr(automation, "_preview", ran)
    lines: list[str] = []

    assert automation.preview(load_settings("dev"), "foundation", on_output=lines.append) == "previewed"
    assert "1 mandatory" in lines[0]
    assert any("[rds-private-encrypted]" in line and "mlflow-db" in line for line in lines[1:])


# --- the CrossGuard pack ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pack():
    """policy/__main__.py run as the CLI runs it, with PolicyPack (which would serve gRPC forever) autospecced."""
    with mock.patch.object(pulumi_policy, "PolicyPack", mock.create_autospec(pulumi_policy.PolicyPack)) as made:
        runpy.run_path(str(PACK_DIR / "__main__.py"), run_name="__main__")
    made.assert_called_once()
    return made.call_args.kwargs


def test_pack__is_a_python_pack_whose_policies_are_the_rules(pack):
    manifest = (PACK_DIR / "PulumiPolicy.yaml").read_text()
    assert "name: python" in manifest
    assert pack["name"] == "tradai-estate"
    levels = {p.name: p.enforcement_level for p in pack["policies"]}
    assert levels == {r.name: pulumi_policy.EnforcementLevel(r.level) for r in policy.RULES}
    kinds = {p.name: isinstance(p, pulumi_policy.StackValidationPolicy) for p in pack["policies"]}
    assert kinds == {r.name: r.stack_check is not None for r in policy.RULES}


def _options(protect: bool = False) -> pulumi_policy.PolicyResourceOptions:
    return pulumi_policy.PolicyResourceOptions(protect, [], None, [], pulumi_policy.PolicyCustomTimeouts(0, 0, 0), [])


def test_pack__resource_policy_reports_what_the_rule_finds(pack):
    [encryption] = [p for p in pack["policies"] if p.name == "dynamodb-encryption"]
    urn = "urn:pulumi:prod::tradai-persistent::aws:dynamodb/table:Table::orders"
    args = pulumi_policy.ResourceValidationArgs("aws:dynamodb/table:Table", {"name": "orders"}, urn, "orders",
                                                _options(), None)
    reported = mock.Mock()

    encryption.validate(args, reported)
    [(message, where)] = [c.args for c in reported.call_args_list]
    assert "server_side_encryption" in message and where is None

    reported.reset_mock()
    args.props = {"name": "orders", "serverSideEncryption": {"enabled": True}}
    encryption.validate(args, reported)
    reported.assert_not_called()


def test_pack__stack_policy_resolves_dependencies_and_names_the_resource(pack):
    [flow_logs] = [p for p in pack["policies"] if p.name == "vpc-flow-logs"]
    vpc_urn = "urn:pulumi:dev::tradai-foundation::aws:ec2/vpc:Vpc::vpc"
    vpc = pulumi_policy.PolicyResource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16"}, vpc_urn, "vpc", _options(),
                                       None, None, [], {})
    reported = mock.Mock()

    flow_logs.validate(pulumi_policy.StackValidationArgs([vpc]), reported)
    [(message, where)] = [c.args for c in reported.call_args_list]
    assert where == vpc_urn and "FlowLog" in message

    log = pulumi_policy.PolicyResource("aws:ec2/flowLog:FlowLog", {"trafficType": "ALL"},
                                       "urn:pulumi:dev::tradai-foundation::aws:ec2/flowLog:FlowLog::log", "log",
                                       _options(), None, None, [vpc], {})
    reported.reset_mock()
    flow_logs.validate(pulumi_policy.StackValidationArgs([vpc, log]), reported)
    reported.assert_not_called()


def test_pack__data_protection_in_prod_reads_protect_from_the_options(pack):
    [protected] = [p for p in pack["policies"] if p.name == "data-protected"]
    urn = "urn:pulumi:prod::tradai-persistent::aws:s3/bucket:Bucket::logs"
    reported = mock.Mock()
    for protect, calls in ((False, 1), (True, 0)):
        reported.reset_mock()
        protected.validate(pulumi_policy.ResourceValidationArgs("aws:s3/bucket:Bucket", {}, urn, "logs",
                                                                _options(protect), None), reported)
        assert reported.call_count == calls


def test_automation__passes_the_pack_by_absolute_path():
    [pack_path] = automation.policy_packs()
    assert Path(pack_path).is_absolute() and Path(pack_path) == PACK_DIR.resolve()
    assert (Path(pack_path) / "__main__.py").is_file()
