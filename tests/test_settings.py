"""Settings: every params file validates; each kind of bad input is refused naming the file, key and expectation."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tradai_nb import config
from tradai_nb.errors import SettingsError
from tradai_nb.settings import PARAMS_DIR, SETTINGS_FIELDS, from_parameters, load_settings


@pytest.mark.parametrize("environment", config.ENVIRONMENTS)
def test_every_params_file__validates_and_names_its_environment(environment):
    settings = load_settings(environment)
    assert settings.environment == environment
    assert set(yaml.safe_load((PARAMS_DIR / f"{environment}.yaml").read_text())) <= set(SETTINGS_FIELDS)


def test_environment_differences__follow_the_guide():
    dev, staging, prod = (load_settings(e) for e in ("dev", "staging", "prod"))
    assert (dev.rds_instance_class, dev.multi_az, dev.log_retention_days, dev.fargate_spot) == ("db.t4g.micro", False, 7, True)
    assert (staging.rds_instance_class, staging.multi_az) == ("db.t4g.small", False)
    assert (prod.multi_az, prod.log_retention_days, prod.fargate_spot, prod.consolidated) == (True, 90, False, False)
    assert dev.consolidated and staging.consolidated
    assert prod.protect_data and staging.protect_data and not dev.protect_data


def test_params_files__are_plain_papermill_parameter_files():
    for environment in config.ENVIRONMENTS:
        data = yaml.safe_load((PARAMS_DIR / f"{environment}.yaml").read_text())
        assert all(isinstance(v, (str, int, bool, list, type(None))) for k, v in data.items() if k != "cost_assumptions")
        # The one mapping (a plain papermill parameter too) holds numbers only.
        assert all(isinstance(v, (int, float)) for v in data.get("cost_assumptions", {}).values())


def test_unknown_environment__lists_the_known_ones():
    with pytest.raises(SettingsError, match="unknown environment 'qa'; known environments: local, dev, staging, prod"):
        load_settings("qa")


@pytest.mark.parametrize(
    ("overrides", "key", "expected"),
    [
        ({"colour": "blue"}, "colour", "unknown key"),
        ({"multi_az": "yes"}, "multi_az", "valid boolean"),
        ({"log_retention_days": -1}, "log_retention_days", "retention periods"),
        ({"log_retention_days": "7"}, "log_retention_days", "valid integer"),
        ({"vpc_cidr": "10.0.0.300/16"}, "vpc_cidr", "CIDR"),
        ({"drift_monitor_schedule": "every day"}, "drift_monitor_schedule", r"rate\(N"),
        ({"alert_emails": ["not-an-address"]}, "alert_emails", "e-mail"),
        ({"availability_zones": ["eu-central-1a"]}, "availability_zones", "two distinct"),
        ({"certificate_arn": "arn:aws:iam::1:role/x"}, "certificate_arn", "ACM certificate"),
        ({"pulumi_backend_url": "https://api.pulumi.com"}, "pulumi_backend_url", "self-managed"),
        ({"alarm_latency_threshold_ms": -5}, "alarm_latency_threshold_ms", "zero or more"),
        ({"sandbox_port": 5055}, "sandbox_port", "only the local environment"),
    ],
    ids=["unknown-key", "bool", "negative-retention", "string-int", "cidr", "schedule", "email", "azs",
         "certificate", "backend", "negative-threshold", "sandbox-port-on-dev"],
)
def test_bad_values__name_the_file_key_and_expectation(overrides, key, expected):
    with pytest.raises(SettingsError, match=expected) as caught:
        load_settings("dev", overrides)
    assert "params/dev.yaml" in str(caught.value)
    assert f"'{key}'" in str(caught.value)
    assert caught.value.key == key or key in str(caught.value)


def test_protected_environments__refuse_unprotected_data():
    with pytest.raises(SettingsError, match="protect_data"):
        load_settings("prod", {"protect_data": False})


def test_broken_file__names_the_file(tmp_path):
    for environment in config.ENVIRONMENTS:
        shutil.copy(PARAMS_DIR / f"{environment}.yaml", tmp_path)
    (tmp_path / "dev.yaml").write_text("environment: dev\nmulti_az: [unclosed\n")
    with pytest.raises(SettingsError, match=r"dev.yaml: not valid YAML"):
        load_settings("dev", params_dir=tmp_path)
    (tmp_path / "dev.yaml").write_text("environment: prod\n")
    with pytest.raises(SettingsError, match="key 'environment' is 'prod' but the file is for 'dev'"):
        load_settings("dev", params_dir=tmp_path)


def test_missing_key__is_named(tmp_path):
    data = yaml.safe_load((PARAMS_DIR / "dev.yaml").read_text())
    del data["rds_instance_class"]
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(SettingsError, match="key 'rds_instance_class': required key is missing"):
        load_settings("dev", params_dir=tmp_path)


def test_from_parameters__overlays_injected_settings_keys_and_ignores_other_names():
    namespace = {"environment": "dev", "action": "plan", "log_retention_days": 14, "rds_instance_class": "db.t4g.micro"}
    settings = from_parameters(namespace)
    assert (settings.environment, settings.log_retention_days) == ("dev", 14)


def test_from_parameters__refuses_a_bad_injected_value_naming_it():
    with pytest.raises(SettingsError, match="key 'log_retention_days'"):
        from_parameters({"environment": "dev", "log_retention_days": 8})
