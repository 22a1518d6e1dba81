"""The whole estate under the offline plan: tags, determinism, the JSON contract, the CLI, the cross-stack check."""

from __future__ import annotations

import json

import pytest

from tests.stacks.conftest import is_taggable
from tradai_nb import config
from tradai_nb.cli import main
from tradai_nb.engine.plan import plan, plan_stack
from tradai_nb.errors import PlanError
from tradai_nb.settings import load_settings
from tradai_nb.stacks import stacks

ENVIRONMENTS = list(config.ENVIRONMENTS)


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_every_taggable_resource__carries_the_four_standard_tags(plan_of, environment):
    frame = plan_of(environment).resources
    missing = []
    for row in frame[frame["custom"]].itertuples():
        if is_taggable(row.type):
            tags = row.inputs.get("tags") or {}
            if isinstance(tags, list):  # autoscaling groups: [{key, value, propagateAtLaunch}]
                tags = {tag["key"]: tag["value"] for tag in tags}
            expected = {"Project": "tradai", "Environment": environment, "ManagedBy": "pulumi"}
            if {k: tags.get(k) for k in expected} != expected or not tags.get("Service"):
                missing.append(f"{row.stack}/{row.type}/{row.name}: {tags}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_every_stack__has_resources_in_its_plan(plan_of, environment):
    counts = plan_of(environment).summary().groupby("stack")["count"].sum().to_dict()
    assert set(counts) == set(stacks.names())
    assert all(count > 0 for count in counts.values()), counts


def test_two_plans_of_the_same_environment__are_identical(plan_of):
    assert plan(load_settings("dev")).to_json() == plan_of("dev").to_json()


def test_environments__plan_differently(plan_of):
    assert plan_of("dev").to_json() != plan_of("prod").to_json()


def test_json__has_the_shape_other_tools_read(plan_of):
    document = json.loads(plan_of("staging").to_json())
    assert document["environment"] == "staging"
    assert [s["name"] for s in document["stacks"]] == list(stacks.names())
    for stack in document["stacks"]:
        assert set(stack) == {"name", "resources", "exports"}
        assert stack["resources"], stack["name"]
        for resource in stack["resources"]:
            assert {"type", "name", "urn", "inputs"} <= set(resource)
            assert resource["urn"].startswith(f"urn:pulumi:staging::tradai-{stack['name']}::")


def test_planning_one_stack__uses_its_upstream_exports_and_returns_only_it(plan_of):
    single = plan(load_settings("dev"), ["edge"])
    assert [s.name for s in single.stacks] == ["edge"]
    assert single.stack("edge").resources.equals(plan_of("dev").stack("edge").resources)


def test_a_stack_reading_a_missing_upstream_output__fails_naming_both_stacks_and_the_key(plan_of):
    settings = load_settings("dev")
    exports = plan_of("dev").exports
    foundation_without_vpc = {k: v for k, v in exports["foundation"].items() if k != "vpc_id"}
    with pytest.raises(PlanError) as caught:
        plan_stack(settings, stacks.get("compute"), {"persistent": exports["persistent"], "foundation": foundation_without_vpc})
    assert (caught.value.stack, caught.value.upstream, caught.value.key) == ("compute", "foundation", "vpc_id")
    assert "stack 'compute' requires output 'vpc_id' from stack 'foundation'" in str(caught.value)


def test_cli_plan__prints_a_summary_per_stack(capsys):
    assert main(["plan", "--env", "dev", "--stack", "foundation"]) == 0
    out = capsys.readouterr().out
    assert "foundation:" in out and "aws:ec2/subnet:Subnet" in out and "persistent:" not in out


def test_cli_plan_json__round_trips(capsys, plan_of):
    assert main(["plan", "--env", "prod", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(plan_of("prod").to_json())


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["plan", "--env", "qa"], "invalid choice: 'qa' (choose from 'local', 'dev', 'staging', 'prod')"),
     (["plan", "--env", "dev", "--stack", "network"],
      "invalid choice: 'network' (choose from 'persistent', 'foundation', 'compute', 'edge')")],
    ids=["environment", "stack"],
)
def test_cli_plan__refuses_unknown_names_listing_the_valid_ones(capsys, argv, expected):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert expected in capsys.readouterr().err
