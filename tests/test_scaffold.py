"""`tradai-nb new-module`: the module, its registration and its test, written into a copy of the project and checked
there by planning the stack and running the new test in subprocesses; refusals write nothing."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tradai_nb import scaffold
from tradai_nb.cli import main
from tradai_nb.errors import EXIT_INVALID, EXIT_OK, ParameterError
from tradai_nb.settings import PARAMS_DIR_ENV_VAR, PROJECT_ROOT
from tradai_nb.stacks import stacks

STACKS_DIR = PROJECT_ROOT / "tradai_nb" / "stacks"


def _copy_project(target: Path) -> Path:
    """What the stacks, the plan and the generated test need: the package, the params, pyproject, the stack tests'
    conftest. Not .venv, not the notebooks."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PROJECT_ROOT / "tradai_nb", target / "tradai_nb", ignore=ignore)
    shutil.copytree(PROJECT_ROOT / "params", target / "params", ignore=ignore)
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", target / "pyproject.toml")
    (target / "tests" / "stacks").mkdir(parents=True)
    shutil.copy2(PROJECT_ROOT / "tests" / "stacks" / "conftest.py", target / "tests" / "stacks" / "conftest.py")
    return target


@pytest.fixture
def project(tmp_path) -> Path:
    return _copy_project(tmp_path / "project")


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _in_copy(root: Path, argv: list[str], timeout_s: int = 240) -> subprocess.CompletedProcess:
    """A Python process whose `import tradai_nb` is the copy's (and whose params are the copy's)."""
    environment = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    environment.pop(PARAMS_DIR_ENV_VAR, None)
    return subprocess.run([sys.executable, *argv], cwd=root, env=environment, capture_output=True, text=True,
                          timeout=timeout_s)


def _pytest_in_copy(root: Path, test: Path) -> subprocess.CompletedProcess:
    return _in_copy(root, ["-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-q", "--rootdir", str(root),
                           str(test.relative_to(root))])


PLAN_PROBE = """
import json, sys
import tradai_nb
from tradai_nb.engine.plan import plan
from tradai_nb.review.policy import check_plan
from tradai_nb.settings import load_settings

stack = sys.argv[1]
settings = load_settings("dev")
result = plan(settings, [stack])
report = check_plan(result, settings)
frame = result.resources
log_groups = frame[frame["type"] == "aws:cloudwatch/logGroup:LogGroup"]
print(json.dumps({
    "package": tradai_nb.__file__,
    "log_groups": {row.name: {"inputs": row.inputs, "urn": row.urn} for row in log_groups.itertuples()},
    "exports": result.exports[stack],
    "violations": [{"rule": v.rule, "urn": v.urn} for v in report.violations],
    "retention_days": settings.log_retention_days,
}, default=str))
"""


def test_new_module__plans_in_the_copy_and_its_test_passes_there(project, capsys):
    original_init = (project / "tradai_nb/stacks/foundation/__init__.py").read_text()

    assert main(["new-module", "--stack", "foundation", "--name", "order_audit", "--root", str(project)]) == EXIT_OK

    printed = capsys.readouterr().out
    module = project / "tradai_nb/stacks/foundation/order_audit.py"
    test = project / "tests/stacks/test_foundation_order_audit.py"
    assert str(module) in printed and str(test) in printed
    for step in ("config entry", "tradai_nb/config.py", "get_tags", 'Upstream("foundation", settings).require',
                 '"The estate"', "tradai-nb plan --env dev --stack foundation",
                 "tradai-nb policy check --env dev --stack foundation",
                 "pytest tests/stacks/test_foundation_order_audit.py",
                 "tradai-nb notebooks refresh notebooks/stacks/foundation.ipynb"):
        assert step in printed, step
    assert not (PROJECT_ROOT / "tradai_nb/stacks/foundation/order_audit.py").exists()

    planned = _in_copy(project, ["-c", PLAN_PROBE, "foundation"])
    assert planned.returncode == 0, planned.stderr
    found = json.loads(planned.stdout)
    assert Path(found["package"]).is_relative_to(project)
    group = found["log_groups"]["order-audit-log-group"]
    assert group["inputs"]["name"] == "/tradai/dev/order-audit"
    assert group["inputs"]["retentionInDays"] == found["retention_days"]
    assert group["inputs"]["tags"] == {"Project": "tradai", "Environment": "dev", "Service": "order-audit",
                                       "ManagedBy": "pulumi", "Name": "tradai-order-audit-dev"}
    assert found["exports"]["order_audit_log_group_name"] == "/tradai/dev/order-audit"
    assert "vpc_id" in found["exports"], "the stack's other exports stay"
    assert [v for v in found["violations"] if v["urn"] == group["urn"]] == []

    passed = _pytest_in_copy(project, test)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 passed" in passed.stdout

    # The new test fails when the module is no longer created by the program.
    (project / "tradai_nb/stacks/foundation/__init__.py").write_text(original_init)
    failed = _pytest_in_copy(project, test)
    assert failed.returncode == 1 and "1 failed" in failed.stdout, failed.stdout + failed.stderr


def _program(tree: ast.Module) -> ast.FunctionDef:
    factory = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "make_program")
    return next(n for n in factory.body if isinstance(n, ast.FunctionDef) and n.name == "program")


def _imports_stack_modules(body: list[ast.stmt], stack: str) -> list[ast.ImportFrom]:
    return [n for n in body if isinstance(n, ast.ImportFrom) and n.module == f"tradai_nb.stacks.{stack}"]


@pytest.mark.parametrize("stack", stacks.names(), ids=stacks.names())
def test_register__imports_creates_before_the_exports_and_exports_last(stack):
    path = STACKS_DIR / stack / "__init__.py"
    source = path.read_text()

    registered = scaffold.register(source, stack, "order_audit", path=path)

    before, after = ast.parse(source), ast.parse(registered)
    program = _program(after)
    # The import joins the stack's own import where the stack has it: in the program, else at module level.
    scope = "program" if _imports_stack_modules(_program(before).body, stack) else "module"
    body = program.body if scope == "program" else after.body
    [joined] = _imports_stack_modules(body, stack)
    assert "order_audit" in [alias.name for alias in joined.names], scope
    calls = [i for i, s in enumerate(program.body) if "order_audit.create_order_audit(settings)" in ast.unparse(s)]
    exports = [i for i, s in enumerate(program.body) if "pulumi.export" in ast.unparse(s)]
    assert len(calls) == 1 and calls[0] < exports[0]
    assert ast.unparse(program.body[-1]) == "pulumi.export('order_audit_log_group_name', order_audit_log_group.name)"
    assert max(len(line) for line in registered.splitlines()) <= scaffold.LINE_LENGTH
    # Take the three additions out again, and the program is the stack's own, node for node.
    joined.names = [alias for alias in joined.names if alias.name != "order_audit"]
    del program.body[-1]
    del program.body[calls[0]]
    assert ast.dump(after) == ast.dump(before)


@pytest.mark.parametrize("stack", stacks.names(), ids=stacks.names())
def test_register_and_sources__the_longest_name_stays_within_the_line_length(stack):
    path = STACKS_DIR / stack / "__init__.py"
    name = "_".join(["abcd"] * 5)[:scaffold.MAX_NAME_LENGTH].rstrip("_")
    written = [scaffold.register(path.read_text(), stack, name, path=path), scaffold.module_source(stack, name),
               scaffold.test_source(stack, name, scaffold.export_name(name))]

    too_long = [line for source in written for line in source.splitlines() if len(line) > scaffold.LINE_LENGTH]
    assert too_long == []


@pytest.mark.parametrize("name, problem", [
    ("OrderAudit", "snake_case"),
    ("order-audit", "snake_case"),
    ("9lives", "snake_case"),
    ("order__audit", "snake_case"),
    ("order_audit_", "snake_case"),
    ("", "snake_case"),
    ("class", "keyword"),
    ("match", "keyword"),
    ("list", "built-in"),
    ("a" * (scaffold.MAX_NAME_LENGTH + 1), "characters"),
    ("waf", "already a module of the edge stack"),
    ("compute", "already a name in"),
    ("settings", "already a name in"),
], ids=["camel-case", "dash", "digit-first", "double-underscore", "trailing-underscore", "empty", "keyword",
        "soft-keyword", "builtin", "too-long", "existing-module", "upstream-variable", "settings"])
def test_new_module__refuses_a_bad_name_and_writes_nothing(project, name, problem):
    before = _snapshot(project)

    with pytest.raises(ParameterError, match=problem) as refused:
        scaffold.new_module("edge", name, project)

    assert refused.value.name == "--name"
    assert _snapshot(project) == before


def test_new_module__refuses_a_name_whose_test_exists_or_whose_log_group_name_is_taken(project):
    (project / "tests/stacks/test_edge_order_audit.py").write_text("")
    (project / "tradai_nb/stacks/foundation/extra.py").write_text('NAME = "flow-audit-log-group"\n')
    before = _snapshot(project)

    with pytest.raises(ParameterError, match="would overwrite"):
        scaffold.new_module("edge", "order_audit", project)
    with pytest.raises(ParameterError, match="already used in"):
        scaffold.new_module("foundation", "flow_audit", project)
    assert _snapshot(project) == before


def test_new_module__refuses_an_unknown_stack_or_a_folder_that_is_no_project(project, tmp_path, capsys):
    before = _snapshot(project)

    with pytest.raises(ParameterError, match="persistent, foundation, compute, edge") as refused:
        scaffold.new_module("network", "order_audit", project)
    assert refused.value.name == "--stack"
    with pytest.raises(ParameterError, match="not a tradai-nb project") as refused:
        scaffold.new_module("edge", "order_audit", tmp_path / "elsewhere")
    assert refused.value.name == "--root"
    with pytest.raises(SystemExit) as exited:
        main(["new-module", "--stack", "network", "--name", "order_audit", "--root", str(project)])
    assert exited.value.code == EXIT_INVALID and "--stack" in capsys.readouterr().err
    assert _snapshot(project) == before


def test_new_module__the_command_names_the_argument_it_refuses(project, capsys):
    assert main(["new-module", "--stack", "edge", "--name", "Bad-Name", "--root", str(project)]) == EXIT_INVALID
    assert "--name 'Bad-Name'" in capsys.readouterr().err


@pytest.mark.parametrize("init, problem", [
    ('"""Edge."""\n\ndef make_stack(settings):\n    def program():\n        pass\n    return program\n',
     "no top-level `def make_program"),
    ('def make_program(settings):\n    return lambda: None\n', "nested `def program"),
    ('import pulumi\n\ndef make_program(settings):\n    def program():\n        pulumi.export("a", 1)\n'
     '    return None\n', "end with `return program`"),
    ('import pulumi\n\ndef make_program():\n    def program():\n        pulumi.export("a", 1)\n    return program\n',
     "no settings argument"),
    ('def make_program(settings):\n    def program():\n        print("no exports")\n    return program\n',
     "`pulumi` is not imported"),
    ('def make_program(settings:\n', "does not parse"),
], ids=["no-factory", "no-nested-program", "not-returned", "no-settings", "no-pulumi", "syntax-error"])
def test_new_module__refuses_a_stack_init_of_unexpected_shape_and_writes_nothing(project, init, problem):
    (project / "tradai_nb/stacks/edge/__init__.py").write_text(init)
    before = _snapshot(project)

    with pytest.raises(scaffold.ModuleShapeError, match=problem):
        scaffold.new_module("edge", "order_audit", project)

    assert _snapshot(project) == before
