"""Cost estimate: real plans under the mock runtime priced from the shipped price data; expectations derive from both."""

from __future__ import annotations

import dataclasses
import functools
import json
import re

import pytest

from tradai_nb import cli, config
from tradai_nb.engine.plan import plan
from tradai_nb.review import cost
from tradai_nb.settings import load_settings

PRICES = cost.load_prices()


@functools.lru_cache(maxsize=None)
def _plan(environment: str):
    return plan(load_settings(environment))


def _estimate(environment: str, prices: cost.PriceData = PRICES, **assumptions):
    overrides = {"cost_assumptions": assumptions} if assumptions else None
    return cost.estimate(_plan(environment), load_settings(environment, overrides), prices)


def _component(estimate, resource_type: str, component: str) -> float:
    rows = estimate.lines[(estimate.lines["type"] == resource_type) & (estimate.lines["component"] == component)]
    assert not rows.empty, f"no {component!r} line for {resource_type}"
    return float(rows["monthly_usd"].sum())


def _planned(environment: str, resource_type: str):
    resources = _plan(environment).resources
    return resources[resources["type"] == resource_type].iloc[0]


def test_price_data__states_its_date_region_and_a_source_for_every_group():
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", PRICES.as_of)
    assert PRICES.region == config.AWS_REGION
    assert "list prices" in PRICES.note.lower() or "list prices" in open(cost.PRICES_FILE).read().lower()
    assert PRICES.groups and all(source.startswith("https://aws.amazon.com/") for source in PRICES.sources().values())


def test_prod_multi_az_rds__costs_twice_single_az_for_the_same_class():
    db = _planned("prod", "aws:rds/instance:Instance").inputs
    assert db["multiAz"] is True
    single = PRICES.price("rds", "instance_hour_single_az", db["instanceClass"])
    multi = PRICES.price("rds", "instance_hour_multi_az", db["instanceClass"])
    assert multi == pytest.approx(2 * single)
    prod = _estimate("prod")
    assert _component(prod, "aws:rds/instance:Instance", "instance") == pytest.approx(PRICES.hours_per_month * multi)
    dev_db = _planned("dev", "aws:rds/instance:Instance").inputs
    dev = _estimate("dev")
    assert _component(dev, "aws:rds/instance:Instance", "instance") == pytest.approx(
        PRICES.hours_per_month * PRICES.price("rds", "instance_hour_single_az", dev_db["instanceClass"]))


def test_nat_instance_saving__is_the_gateway_price_less_the_instance_price():
    dev = _estimate("dev")
    usage = load_settings("dev").cost_assumptions
    hours = PRICES.hours_per_month
    gateway = (hours * PRICES.price("nat_gateway", "gateway_hour")
               + usage.nat_data_gb_per_month * PRICES.price("nat_gateway", "data_processed_gb"))
    nat = dev.lines[dev.lines["name"] == "nat-group"]
    assert _plan("dev").resources.query("name == 'nat-launch-template'").iloc[0].inputs["instanceType"] == \
        load_settings("dev").nat_instance_type
    instance_hour = PRICES.price("ec2", "instance_hour", load_settings("dev").nat_instance_type)
    assert float(nat[nat["component"] == "instances"]["monthly_usd"].iloc[0]) == pytest.approx(hours * instance_hour)
    row = dev.savings.set_index("optimisation").loc[PRICES.guide_claims["nat_instance"]["optimisation"]]
    assert row["computed_usd"] == pytest.approx(gateway - float(nat["monthly_usd"].sum()), abs=0.01)
    assert row["guide_claim"] == PRICES.guide_claims["nat_instance"]["claim"]
    assert row["difference"] == f"{round(row['computed_usd'] - PRICES.guide_claims['nat_instance']['usd'], 2) + 0:+,.2f} USD"


def test_fargate_spot__dev_backtests_on_spot_prod_services_on_demand():
    dev, prod = _estimate("dev"), _estimate("prod")
    spot = dev.savings.set_index("optimisation").loc[PRICES.guide_claims["fargate_spot"]["optimisation"]]
    assert spot["in_plan"] == "yes"
    on_demand = prod.savings.set_index("optimisation").loc[PRICES.guide_claims["fargate_spot"]["optimisation"]]
    assert on_demand["in_plan"] == "no"
    services = prod.lines[prod.lines["type"] == "aws:ecs/service:Service"]
    assert len(services) == 4 and services["how"].str.endswith(", FARGATE").all()


def test_single_az_saving__is_multi_less_single_for_the_planned_class_and_storage():
    db = _planned("dev", "aws:rds/instance:Instance").inputs
    hours, gb = PRICES.hours_per_month, float(db["allocatedStorage"])

    def monthly(mode):
        return (hours * PRICES.price("rds", f"instance_hour_{mode}", db["instanceClass"])
                + gb * PRICES.price("rds", f"gp3_gb_month_{mode}"))

    row = _estimate("dev").savings.set_index("optimisation").loc[PRICES.guide_claims["single_az_rds"]["optimisation"]]
    assert row["computed_usd"] == pytest.approx(monthly("multi_az") - monthly("single_az"), abs=0.01)
    assert row["in_plan"] == "yes"


def test_type_missing_from_the_price_data__is_listed_not_priced_and_not_counted():
    full = _estimate("dev")
    kms = "aws:kms/key:Key"
    groups = {name: {**group, "types": [t for t in group.get("types", []) if t != kms]}
              for name, group in PRICES.groups.items()}
    without = _estimate("dev", dataclasses.replace(PRICES, groups=groups))
    row = without.not_priced[without.not_priced["type"] == kms]
    assert int(row["count"].iloc[0]) == len(_plan("dev").resources.query("type == @kms"))
    assert kms not in set(without.lines["type"])
    assert without.total_usd == pytest.approx(full.total_usd - _component(full, kms, "customer managed key"), abs=0.01)


def test_every_planned_type__is_priced_free_by_rule_or_listed_not_priced():
    for environment in ("dev", "prod"):
        estimate = _estimate(environment)
        resources = _plan(environment).resources
        custom = set(resources[resources["custom"].astype(bool)]["type"])
        covered = set(estimate.lines["type"]) | set(estimate.free["type"]) | set(estimate.not_priced["type"])
        assert custom == covered
        assert not set(estimate.free["type"]) & set(estimate.lines["type"])
        assert set(estimate.free["type"]) <= set(PRICES.free)


def test_usage_assumption_from_params__changes_the_usage_driven_figure():
    base = load_settings("dev").cost_assumptions
    one, two = _estimate("dev"), _estimate("dev", api_requests_millions_per_month=base.api_requests_millions_per_month * 2)
    api = "aws:apigatewayv2/api:Api"
    assert _component(two, api, "requests") == pytest.approx(2 * _component(one, api, "requests"))
    assert _component(one, api, "requests") == pytest.approx(
        base.api_requests_millions_per_month * PRICES.price("api_gateway", "http_api_million_requests"))
    longer = _estimate("dev", backtest_task_hours=base.backtest_task_hours * 3)
    machine = "aws:sfn/stateMachine:StateMachine"
    assert _component(longer, machine, "backtest tasks") == pytest.approx(3 * _component(one, machine, "backtest tasks"))


def test_bad_assumption__is_refused_naming_the_key():
    from tradai_nb.errors import SettingsError

    with pytest.raises(SettingsError, match=r"cost_assumptions\.backtest_task_hours': expected a number that is zero"):
        load_settings("dev", {"cost_assumptions": {"backtest_task_hours": -1}})
    with pytest.raises(SettingsError, match=r"cost_assumptions\.requests'.*known keys: api_requests_millions"):
        load_settings("dev", {"cost_assumptions": {"requests": 1}})


def test_comparison__per_stack_totals_and_difference():
    comparison = cost.compare(_estimate("dev"), _estimate("prod"))
    per_stack = comparison.per_stack()
    assert list(per_stack.columns) == ["stack", "dev", "prod", "difference"]
    assert (per_stack["difference"] == (per_stack["prod"] - per_stack["dev"]).round(2)).all()
    assert comparison.difference_usd == pytest.approx(comparison.against.total_usd - comparison.estimate.total_usd)
    per_type = comparison.per_type().set_index(["stack", "type"])
    rds = per_type.loc[("foundation", "aws:rds/instance:Instance")]
    assert rds["prod"] > rds["dev"]


def test_chart__one_bar_per_stack_with_a_legend():
    figure = cost.cost_chart(_estimate("dev"))
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_yticklabels()] == list(reversed(_estimate("dev").stacks))
    assert axes.get_legend() is not None


def test_bootstrap_plans__give_the_same_estimate_as_the_whole_plan():
    from tradai_nb.bootstrap import bootstrap

    settings = load_settings("dev")
    result = bootstrap(settings, "plan", on_progress=lambda _: None)
    assert cost.estimate_bootstrap(result, settings, PRICES).total_usd == pytest.approx(_estimate("dev").total_usd)


def test_cli_json__is_one_document_with_stacks_types_savings_and_prices(capsys):
    assert cli.main(["cost", "--env", "dev", "--json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["environment"] == "dev"
    assert [s["stack"] for s in document["stacks"]] == ["persistent", "foundation", "compute", "edge"]
    assert document["total_monthly_usd"] == pytest.approx(sum(s["monthly_usd"] for s in document["stacks"]), abs=0.05)
    assert {"type", "count", "reason"} <= set(document["not_priced"][0])
    assert len(document["savings"]) == 6 and document["prices"]["as_of"] == PRICES.as_of
    assert "planning" in captured.err


def test_cli_against_same_environment__is_refused_naming_the_parameter(capsys):
    assert cli.main(["cost", "--env", "dev", "--against", "dev"]) == 2
    assert "parameter '--against'" in capsys.readouterr().err
