"""The justfile: every recipe of the deployment guide, each described, each running the tradai-nb command it shows,
with the environment from TRADAI_ENV (else dev), TRADAI_CONFIRM passed to changes, and tradai-nb's exit code."""

from __future__ import annotations

import json
import os
import shlex
import subprocess

import pytest

from tradai_nb.errors import EXIT_OK, EXIT_REFUSED
from tradai_nb.records import audit
from tradai_nb.settings import PROJECT_ROOT

JUSTFILE = PROJECT_ROOT / "justfile"
JUST = PROJECT_ROOT / ".venv" / "bin" / "just"
TRADAI_NB = str(PROJECT_ROOT / ".venv" / "bin" / "tradai-nb")
JUST_TIMEOUT_S = 240

# The recipes of the deployment guide, with their parameters, pinned as literals (plan is ours).
GUIDE_RECIPES = {
    "infra-setup": [], "infra-preview": ["env"], "infra-preview-persistent": ["env"],
    "infra-preview-foundation": ["env"], "infra-preview-compute": ["env"], "infra-preview-edge": ["env"],
    "infra-bootstrap": ["env"], "infra-up-persistent": ["env"], "infra-up-foundation": ["env"],
    "infra-up-compute": ["env"], "infra-up-edge": ["env"], "infra-outputs": ["stack", "env"], "ecs-status": [],
    "ecs-force-deploy": ["service"], "ecs-force-deploy-all": [], "asg-refresh": [], "asg-status": [],
    "lambda-check-images": [], "lambda-bootstrap": [], "service-ecr-login": [], "service-push": ["service"],
    "service-push-all": [],
}
RECIPES = {**GUIDE_RECIPES, "plan": ["env"]}
STACKS = ("persistent", "foundation", "compute", "edge")
ECS = "notebooks/runbooks/ecs_operations.ipynb"


def _run(notebook: str, environment: str, *parameters: str) -> list[str]:
    return [TRADAI_NB, "run", notebook, "--env", environment, *[a for p in parameters for a in ("-p", p)], "--show"]


# (recipe and arguments, TRADAI_ENV / TRADAI_CONFIRM set, the command it runs)
DRY_RUNS = [
    (["infra-setup"], {}, [TRADAI_NB, "setup"]),
    (["plan"], {}, _run("notebooks/stacks/bootstrap.ipynb", "dev", "action=plan")),
    (["plan", "prod"], {}, _run("notebooks/stacks/bootstrap.ipynb", "prod", "action=plan")),
    (["infra-preview"], {}, _run("notebooks/stacks/bootstrap.ipynb", "dev", "action=preview")),
    (["infra-preview"], {"TRADAI_ENV": "staging"}, _run("notebooks/stacks/bootstrap.ipynb", "staging",
                                                         "action=preview")),
    (["infra-preview", "prod"], {"TRADAI_ENV": "staging"}, _run("notebooks/stacks/bootstrap.ipynb", "prod",
                                                                 "action=preview")),
    *[([f"infra-preview-{stack}", "dev"], {}, _run(f"notebooks/stacks/{stack}.ipynb", "dev", "action=preview"))
      for stack in STACKS],
    (["infra-bootstrap"], {}, _run("notebooks/stacks/bootstrap.ipynb", "dev", "action=up", "confirm=")),
    (["infra-bootstrap", "prod"], {"TRADAI_CONFIRM": "prod"}, _run("notebooks/stacks/bootstrap.ipynb", "prod",
                                                                    "action=up", "confirm=prod")),
    *[([f"infra-up-{stack}", "prod"], {"TRADAI_CONFIRM": "prod"},
       _run(f"notebooks/stacks/{stack}.ipynb", "prod", "action=up", "confirm=prod")) for stack in STACKS],
    (["infra-up-compute"], {}, _run("notebooks/stacks/compute.ipynb", "dev", "action=up", "confirm=")),
    (["infra-up-edge"], {"TRADAI_ENV": "staging", "TRADAI_CONFIRM": "staging"},
     _run("notebooks/stacks/edge.ipynb", "staging", "action=up", "confirm=staging")),
    (["infra-outputs", "compute", "dev"], {}, [TRADAI_NB, "stack", "output", "--stack", "compute", "--env", "dev",
                                               "--json"]),
    (["infra-outputs", "edge"], {"TRADAI_ENV": "prod"}, [TRADAI_NB, "stack", "output", "--stack", "edge", "--env",
                                                          "prod", "--json"]),
    (["ecs-status"], {}, _run(ECS, "dev", "action=status")),
    (["ecs-status"], {"TRADAI_ENV": "prod"}, _run(ECS, "prod", "action=status")),
    (["ecs-force-deploy", "backend"], {}, _run(ECS, "dev", "action=force-redeploy", "service=backend", "confirm=")),
    (["ecs-force-deploy", "mlflow"], {"TRADAI_ENV": "prod", "TRADAI_CONFIRM": "prod"},
     _run(ECS, "prod", "action=force-redeploy", "service=mlflow", "confirm=prod")),
    (["ecs-force-deploy-all"], {}, _run(ECS, "dev", "action=force-redeploy", "service=all", "confirm=")),
    (["asg-refresh"], {"TRADAI_ENV": "staging", "TRADAI_CONFIRM": "staging"},
     _run(ECS, "staging", "action=instance-refresh", "confirm=staging")),
    (["asg-status"], {}, _run(ECS, "dev", "action=status")),
    (["lambda-check-images"], {}, _run("notebooks/runbooks/images.ipynb", "dev")),
    (["lambda-bootstrap"], {}, [TRADAI_NB, "images", "push-all", "--lambdas", "--env", "dev", "--confirm", ""]),
    (["lambda-bootstrap"], {"TRADAI_ENV": "prod", "TRADAI_CONFIRM": "prod"},
     [TRADAI_NB, "images", "push-all", "--lambdas", "--env", "prod", "--confirm", "prod"]),
    (["service-ecr-login"], {"TRADAI_ENV": "staging"}, [TRADAI_NB, "images", "login", "--env", "staging"]),
    (["service-push", "backend"], {}, [TRADAI_NB, "images", "push", "backend", "--env", "dev", "--confirm", ""]),
    (["service-push", "backend"], {"TRADAI_ENV": "staging", "TRADAI_CONFIRM": "staging"},
     [TRADAI_NB, "images", "push", "backend", "--env", "staging", "--confirm", "staging"]),
    (["service-push-all"], {}, [TRADAI_NB, "images", "push-all", "--env", "dev", "--confirm", ""]),
]


def just(*arguments: str, env: dict[str, str] | None = None, cwd=PROJECT_ROOT,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`just ARGUMENTS` from the venv, with TRADAI_ENV and TRADAI_CONFIRM only as `env` sets them."""
    environment = {k: v for k, v in os.environ.items() if k not in ("TRADAI_ENV", "TRADAI_CONFIRM")}
    environment.update(env or {})
    return subprocess.run([str(JUST), "--justfile", str(JUSTFILE), *arguments], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=timeout)


@pytest.fixture
def shell_without_aws(tmp_path):
    """What a recipe run as a subprocess sees: its own audit folder, and no AWS profile or key of this machine."""
    empty = tmp_path / "aws-config"
    empty.write_text("")
    hidden = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    return {"TRADAI_AUDIT_DIR": str(tmp_path / "runs"), "AWS_CONFIG_FILE": str(empty),
            "AWS_SHARED_CREDENTIALS_FILE": str(empty), **{name: "" for name in hidden}}


def test_justfile__parses_and_just_list_describes_every_recipe_of_the_guide():
    listed = just("--list")
    dumped = just("--dump", "--dump-format", "json")

    assert listed.returncode == 0 and dumped.returncode == 0, listed.stderr + dumped.stderr
    descriptions = {}
    for line in listed.stdout.splitlines()[1:]:
        entry, _, description = line.strip().partition(" # ")
        if entry and not entry.startswith("["):
            descriptions[entry.split()[0]] = description.strip()
    assert set(RECIPES) <= set(descriptions), set(RECIPES) - set(descriptions)
    assert all(descriptions.values()), [name for name, text in descriptions.items() if not text]
    recipes = json.loads(dumped.stdout)["recipes"]
    public = {name for name, recipe in recipes.items() if not recipe["private"]}
    assert public == set(descriptions) and all(recipes[name]["doc"] for name in public)
    assert {name: [p["name"] for p in recipes[name]["parameters"]] for name in RECIPES} == RECIPES


def test_dry_runs__cover_every_recipe():
    assert {arguments[0] for arguments, _, _ in DRY_RUNS} == set(RECIPES)


@pytest.mark.parametrize(("arguments", "env", "command"), DRY_RUNS,
                         ids=[" ".join(a) + "".join(f" {k}={v}" for k, v in e.items()) for a, e, _ in DRY_RUNS])
def test_dry_run__shows_the_exact_tradai_nb_command_with_the_environment_defaulted_or_given(arguments, env, command):
    done = just("--dry-run", *arguments, env=env)

    assert done.returncode == 0, done.stderr
    assert shlex.split(done.stderr) == command


def test_dry_run__a_value_with_shell_characters_stays_one_argument():
    done = just("--dry-run", "ecs-force-deploy", "backend; touch pwned $(id)", env={"TRADAI_ENV": "dev'x"})

    assert shlex.split(done.stderr) == _run(ECS, "dev'x", "action=force-redeploy", "service=backend; touch pwned $(id)",
                                            "confirm=")


def test_dry_run__from_another_folder_uses_the_venv_next_to_the_justfile(tmp_path):
    done = just("--dry-run", "ecs-status", cwd=tmp_path)

    assert done.returncode == 0 and shlex.split(done.stderr)[0] == TRADAI_NB


def test_recipe__without_its_argument_is_an_error_naming_it():
    done = just("ecs-force-deploy")

    assert done.returncode != 0 and "service" in done.stderr


@pytest.mark.sandbox
def test_ecs_status_on_local__runs_the_runbook_from_any_folder_exits_0_and_leaves_a_run_record(
        sandbox, shell_without_aws, tmp_path):
    done = just("ecs-status", env={**shell_without_aws, "TRADAI_ENV": "local"}, cwd=tmp_path,
                timeout=JUST_TIMEOUT_S)

    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert "local: ECS cluster tradai-local, action 'status'" in done.stdout  # --show: what the notebook showed
    started, finished = audit.read_records(tmp_path / "runs")
    assert (finished.kind, finished.status, finished.environment) == ("run", "succeeded", "local")
    assert finished.notebook == ECS and finished.parameters["action"] == "status" and started.id == finished.id


def test_force_deploy_in_staging_without_confirm__exits_10_with_a_refusal_record(shell_without_aws, tmp_path):
    done = just("ecs-force-deploy", "backend", env={**shell_without_aws, "TRADAI_ENV": "staging"}, cwd=tmp_path,
                timeout=JUST_TIMEOUT_S)

    assert done.returncode == EXIT_REFUSED, done.stdout + done.stderr
    assert "GuardError" in done.stderr and "confirm='staging'" in done.stderr
    records = audit.read_records(tmp_path / "runs")
    change = [r for r in records if r.kind == "change"]
    assert [(r.action, r.status, r.target) for r in change] == [("ecs.force-redeploy", "refused", "backend")]
    run = [r for r in records if r.kind == "run"][-1]
    assert (run.status, run.environment, run.error["ename"]) == ("refused", "staging", "GuardError")
    assert change[0].parent == run.id and change[0].parameters["confirm"] == ""


@pytest.mark.sandbox
def test_infra_outputs_on_local__prints_one_json_object_ready_for_jq(sandbox, shell_without_aws, tmp_path):
    done = just("infra-outputs", "compute", "local", env=shell_without_aws, cwd=tmp_path, timeout=JUST_TIMEOUT_S)

    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    outputs = json.loads(done.stdout)  # stdout is the JSON alone: just echoes the command on stderr
    assert isinstance(outputs, dict) and outputs["ecs_cluster_name"] == "tradai-local"
    assert isinstance(outputs["alb_dns_name"], str)
