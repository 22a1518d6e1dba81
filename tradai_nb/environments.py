"""A new environment's params file, written from the documented template, and why the environments are fixed."""

from __future__ import annotations

from pathlib import Path

from tradai_nb import config, files
from tradai_nb.errors import ParameterError, SettingsError
from tradai_nb.settings import PARAMS_DIR, Settings, load_settings, params_path, read_params

TEMPLATE_PATH = PARAMS_DIR / "TEMPLATE.yaml"
# In the template: the placeholder of the environment's name, and the mark of each value to fill in.
NAME_PLACEHOLDER = "ENVIRONMENT_NAME"
FILL_IN = "FILL-IN"


def check_known(environment: object) -> str:
    """The environment, when it is one of config.ENVIRONMENTS; otherwise a ParameterError that says why the list is
    fixed and how to add a name to it."""
    if isinstance(environment, str) and environment in config.ENVIRONMENTS:
        return environment
    raise ParameterError(adding_an_environment(str(environment)), name="env")


def adding_an_environment(name: str) -> str:
    """Why `stack init` does not add environments, and what adding one takes."""
    return (
        f"--env {name!r}: not one of the environments ({', '.join(config.ENVIRONMENTS)}), and `stack init` does not "
        "add one: the list is fixed in code because the estate's names (tradai-<name>-<env>, the short codes of "
        "config.ENV_SHORT), the guard rails (config.PROTECTED_ENVIRONMENTS: where changes need --confirm) and the "
        "settings' validation (Settings.environment) all depend on it. To add an environment: "
        f"(1) in tradai_nb/config.py add {name!r} to ENVIRONMENTS, give it a short code in ENV_SHORT, and add it to "
        "PROTECTED_ENVIRONMENTS if its changes must be confirmed; "
        f"(2) in tradai_nb/settings.py add it to the Literal of Settings.environment; "
        f"(3) run `tradai-nb stack init --env {name}`: it writes params/{name}.yaml from params/TEMPLATE.yaml (or "
        f"copy the template yourself) — fill in the values marked {FILL_IN}, then run it again to create the stacks; "
        "(4) update the tests that pin the names: tests/stacks/test_whole_estate.py (the --env choices), "
        "tests/test_guards.py (its environment list), tests/safety/test_change_gate.py (WRONG_CONFIRMS, for a "
        "protected environment), and run tests/test_config.py and tests/test_settings.py"
    )


def prepare_params(environment: str) -> tuple[Settings, str]:
    """The environment's validated settings, and what was done to its params file: 'exists', or 'written' (from the
    template) when it was missing. A file that still holds FILL-IN values is refused naming them."""
    check_known(environment)
    path = params_path(environment)
    done = "exists"
    if not path.exists():
        text = files.read_text(TEMPLATE_PATH, 1024 * 1024).replace(NAME_PLACEHOLDER, environment)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        done = "written"
    unfilled = unfilled_keys(path)
    if unfilled:
        what = f"wrote {path} from {TEMPLATE_PATH.name}" if done == "written" else f"{path} is not filled in"
        raise SettingsError(
            f"{what}: fill in the values marked {FILL_IN} (keys {', '.join(unfilled)}; each key's "
            "comment says what it takes), then run `tradai-nb stack init --env "
            f"{environment}` again; nothing else was done",
            path=str(path),
            key=unfilled[0],
        )
    return load_settings(environment), done


def unfilled_keys(path: Path) -> list[str]:
    """The top-level keys of a params file whose value (or an item of it) is still the FILL-IN mark."""

    def marked(value: object) -> bool:
        if isinstance(value, (list, tuple)):
            return any(marked(v) for v in value)
        if isinstance(value, dict):
            return any(marked(v) for v in value.values())
        return value == FILL_IN

    return [key for key, value in read_params(path).items() if marked(value)]
