"""The private parts of Pulumi's runtime the offline plan relies on, and the pin that keeps them where they are."""

from __future__ import annotations

import importlib.metadata
import inspect
import tomllib

from packaging.requirements import Requirement

from tradai_nb.settings import PROJECT_ROOT


def _requirement(name: str) -> Requirement:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    return next(Requirement(r) for r in project["dependencies"] if Requirement(r).name == name)


def test_pulumi_pins__are_exactly_the_installed_versions():
    # The offline plan and the import of resources use private internals of these releases: nothing else is allowed.
    for name in ("pulumi", "pulumi-aws", "pulumi-policy"):
        requirement = _requirement(name)
        installed = importlib.metadata.version(name)

        assert [s.operator for s in requirement.specifier] == ["=="], f"pin {name} with == (private internals are used)"
        assert requirement.specifier.contains(installed), f"{name} {installed} is outside the pin {requirement}"


def test_pulumi_internals__the_mock_runtime_uses_are_still_there():
    from pulumi.runtime import mocks, rpc
    from pulumi.runtime import settings as pulumi_settings
    from pulumi.runtime.stack import run_pulumi_func

    assert isinstance(rpc._special_sig_key, str) and rpc._special_sig_key == "4dabf18193072939515e22adb298388d"
    # The secret signature redaction and sealing recognise (and the state files of the Pulumi CLI carry).
    assert isinstance(rpc._special_secret_sig, str) and rpc._special_secret_sig == "1b47061264138c4ac30d75fd1eb44270"
    assert hasattr(pulumi_settings.ROOT, "set") and callable(pulumi_settings.get_root_resource)
    for attribute in ("stack", "project", "rpc_manager", "outputs"):
        assert hasattr(pulumi_settings.SETTINGS, attribute), attribute
    assert callable(pulumi_settings.SETTINGS.rpc_manager.clear)
    assert "parent" in inspect.signature(mocks.MockMonitor.make_urn).parameters
    assert callable(mocks.MockMonitor.RegisterResource)
    assert inspect.iscoroutinefunction(run_pulumi_func)
