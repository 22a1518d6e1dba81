"""A new module for one stack: the module file, its registration in the stack's program, a plan test, the checklist."""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from tradai_nb import files
from tradai_nb.errors import ParameterError, TradaiError
from tradai_nb.stacks.registry import stacks

# What belongs in each stack (the deployment guide's "choose the right stack").
STACK_FIT = {
    "persistent": "data-bearing resources, never destroyed",
    "foundation": "the network and the data services, with no image dependencies",
    "compute": "what needs ECR images and reads persistent and foundation",
    "edge": "what needs compute: the entry points and monitoring",
}
MODULE_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
# The lines the name goes into stay within LINE_LENGTH, and the AWS names built from it (tradai-<name>-<env>) within
# the shortest limits of the services (32 characters for load balancers and target groups).
MAX_NAME_LENGTH = 24
LINE_LENGTH = 120
LOG_GROUP_TYPE = "aws:cloudwatch/logGroup:LogGroup"


class ModuleShapeError(TradaiError):
    """Raised when a stack's __init__.py is not shaped as the scaffold expects, so it cannot register a module."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class NewModule:
    """What `new_module` wrote, and the checklist of what is left to do by hand."""

    stack: str
    name: str
    module_path: Path
    init_path: Path
    test_path: Path
    export: str
    next_steps: tuple[str, ...]


def new_module(stack: str, name: str, root: Path | None = None) -> NewModule:
    """Write tradai_nb/stacks/<stack>/<name>.py, register it in the stack's program, write its plan test under
    tests/stacks/. Everything is checked before the first file is written; a refusal writes nothing."""
    root = _project_root(root)
    _check_stack(stack)
    package = root / "tradai_nb" / "stacks" / stack
    init_path = package / "__init__.py"
    module_path = package / f"{name}.py"
    test_path = root / "tests" / "stacks" / f"test_{stack}_{name}.py"
    if not init_path.is_file():
        raise ModuleShapeError(
            f"{init_path} does not exist: the {stack} stack's package is missing from {root}", path=init_path
        )
    _check_name(stack, name, package, test_path)
    init_source = init_path.read_text(encoding="utf-8")
    _check_unbound(stack, name, init_source, init_path)
    _check_logical_name(name, package)

    export = export_name(name)
    registered = register(init_source, stack, name, path=init_path)
    sources = {
        module_path: module_source(stack, name),
        test_path: test_source(stack, name, export),
        init_path: registered,
    }
    for path, source in sources.items():
        compile(source, str(path), "exec")

    _write_all(sources, replaced=init_path)
    return NewModule(stack, name, module_path, init_path, test_path, export, next_steps(stack, export, root, test_path))


def register(source: str, stack: str, name: str, *, path: Path) -> str:
    """The stack __init__.py `source` with the module imported, created inside the program, and its output exported.

    The expected shape (every stack has it): a top-level `def make_program(settings)` holding a nested
    `def program()` and ending in `return program`; `pulumi` imported at module level or in the program. The new
    import joins the `from tradai_nb.stacks.<stack> import ...` of the program (else the module-level one, else it
    goes after the last module-level import); the call goes where the declarations before the program's first
    export end (see _call_line), and the export after the program's last statement."""
    tree = _parse(source, path)
    factory, program = _program_of(tree, path)
    settings_arg = factory.args.args[0].arg
    if program.body[0].lineno == program.lineno or isinstance(program.body[-1], ast.Return):
        raise ModuleShapeError(
            f"{path}: `program` inside make_program must start on a line of its own and not "
            "end in a return; register the module by hand",
            path=path,
        )
    if not (_binds(tree.body, "pulumi") or _binds(program.body, "pulumi")):
        raise ModuleShapeError(
            f"{path}: `pulumi` is not imported at module level or in `program`, so an export "
            "cannot be added; add `import pulumi` and run again",
            path=path,
        )

    lines = source.splitlines(keepends=True)
    variable = f"{name}_log_group"
    body_indent = _indent(lines[program.body[0].lineno - 1])
    call_at = _call_line(program, lines)
    last = _end_line(program.body[-1])
    # Edits from the bottom up, so the line numbers of the ones above stay right.
    edits = [
        (last, last, [f'{body_indent}pulumi.export("{export_name(name)}", {variable}.name)\n']),
        (call_at, call_at, [f"{body_indent}{variable} = {name}.create_{name}({settings_arg})\n"]),
        _import_edit(tree, program, lines, stack, name),
    ]
    for start, end, new_lines in sorted(edits, key=lambda edit: edit[0], reverse=True):
        lines[start:end] = new_lines
    result = "".join(lines)
    _program_of(_parse(result, path), path)
    return result


def export_name(name: str) -> str:
    """The stack output the new module's log group name goes out as."""
    return f"{name}_log_group_name"


def module_source(stack: str, name: str) -> str:
    """The new module: one tagged log group, named from config, retention from settings."""
    component = _component(name)
    title = name.replace("_", " ").capitalize()
    return f'''"""{title} ({stack} stack): one log group for now, kept for the environment's log retention.

Dependencies: settings only. Values from other stacks come in as keyword arguments, read in make_program with
Upstream("<stack>", settings).require("<output>"); values other stacks need go out through pulumi.export there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradai_nb import config
from tradai_nb.settings import Settings

if TYPE_CHECKING:
    import pulumi_aws as aws

COMPONENT = "{component}"


def create_{name}(settings: Settings) -> aws.cloudwatch.LogGroup:
    """Declare the {component} log group: named from config, tagged, retention from settings."""
    from pulumi_aws import cloudwatch

    env = settings.environment
    return cloudwatch.LogGroup(
        f"{{COMPONENT}}-log-group",
        name=config.get_log_group_name(COMPONENT, env),
        retention_in_days=settings.log_retention_days,
        tags=config.get_tags(service=COMPONENT, environment=env, Name=config.get_resource_name(COMPONENT, env)),
    )
'''


def test_source(stack: str, name: str, export: str) -> str:
    """The new module's test: the stack planned under the mock runtime, the log group with its tags, the export."""
    component = _component(name)
    return f'''"""{name} ({stack} stack) under the offline plan: its tagged log group and its export."""

from __future__ import annotations

from tests.stacks.conftest import resources_of
from tradai_nb import config
from tradai_nb.engine.plan import plan
from tradai_nb.settings import load_settings

ENVIRONMENT = "dev"
LOG_GROUP = "{LOG_GROUP_TYPE}"
COMPONENT = "{component}"


def test_{name}__plans_one_tagged_log_group_and_exports_its_name():
    settings = load_settings(ENVIRONMENT)
    result = plan(settings, ["{stack}"])
    log_group_name = config.get_log_group_name(COMPONENT, ENVIRONMENT)

    groups = [inputs for inputs in resources_of(result, "{stack}", LOG_GROUP)["inputs"]
              if inputs.get("name") == log_group_name]
    assert len(groups) == 1, f"expected one log group {{log_group_name}} in the {stack} plan, found {{len(groups)}}"
    [group] = groups
    assert group["retentionInDays"] == settings.log_retention_days
    assert group["tags"] == {{"Project": config.PROJECT_NAME, "Environment": ENVIRONMENT, "Service": COMPONENT,
                             "ManagedBy": "pulumi", "Name": config.get_resource_name(COMPONENT, ENVIRONMENT)}}
    assert result.exports["{stack}"]["{export}"] == log_group_name
'''


def next_steps(stack: str, export: str, root: Path, test_path: Path) -> tuple[str, ...]:
    """The deployment guide's integration checklist, for this module."""
    readers = [spec.name for spec in stacks if stack in spec.upstream]
    if readers:
        outputs = (
            f"outputs: export with pulumi.export what {' and '.join(readers)} must read (as {export} is now); "
            f'they read it with Upstream("{stack}", settings).require("{export}"), never by a name of their '
            "own"
        )
    else:
        outputs = (
            f"outputs: no stack reads {stack}'s outputs; keep {export} for operators (tradai-nb stack output) "
            "or drop it"
        )
    test = test_path.relative_to(root)
    return (
        f"stack: {stack} is for {STACK_FIT[stack]}; if the module is not, move it to the stack it is for",
        "config entry: if the module needs a canonical name (a constant or a naming helper that runbooks or the "
        "sandbox also use), add it to tradai_nb/config.py and use it in the module",
        "tags: every resource takes tags=config.get_tags(service=..., environment=env): Project, Environment, "
        "Service, ManagedBy (policy rule required-tags)",
        outputs,
        f'docs: the README\'s "The estate" table, row {stack}',
        f"plan: tradai-nb plan --env dev --stack {stack}",
        f"policy: tradai-nb policy check --env dev --stack {stack}",
        f"test: .venv/bin/pytest {test} (extend it as the module grows; tests/stacks/test_{stack}.py counts the "
        "stack's resources by type)",
        f"notebook: tradai-nb notebooks refresh notebooks/stacks/{stack}.ipynb (its stored outputs count resources)",
    )


def _project_root(root: Path | None) -> Path:
    if root is None:
        from tradai_nb.settings import PROJECT_ROOT

        root = PROJECT_ROOT
    root = Path(root)
    missing = [p for p in ("tradai_nb/stacks", "tests/stacks") if not (root / p).is_dir()]
    if missing:
        raise ParameterError(
            f"--root {root} is not a tradai-nb project: it has no {' or '.join(missing)} folder; "
            "pass the folder holding tradai_nb/ and tests/ (default: this project)",
            name="--root",
        )
    return root


def _check_stack(stack: str) -> None:
    if stack not in stacks.names():
        raise ParameterError(
            f"--stack {stack!r} is not a stack of the estate; pass one of {', '.join(stacks.names())}", name="--stack"
        )


def _check_name(stack: str, name: str, package: Path, test_path: Path) -> None:
    def refuse(problem: str) -> ParameterError:
        return ParameterError(f"--name {name!r} {problem}", name="--name")

    if not MODULE_NAME.fullmatch(name):
        raise refuse(
            "is not a snake_case Python identifier: lower-case letters and digits, words joined by single "
            "underscores, starting with a letter (e.g. order_audit)"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or hasattr(builtins, name):
        raise refuse("is a Python keyword or built-in name; pick a name that says what the module handles")
    if len(name) > MAX_NAME_LENGTH:
        raise refuse(
            f"is {len(name)} characters, more than {MAX_NAME_LENGTH}: the AWS names built from it have "
            "length limits; pick a shorter name"
        )
    if (package / f"{name}.py").exists() or (package / name).exists():
        raise refuse(
            f"is already a module of the {stack} stack ({package / name}.py); pick another name, or extend that module"
        )
    if test_path.exists():
        raise refuse(f"would overwrite {test_path}; pick another name, or remove that test first")


def _check_unbound(stack: str, name: str, source: str, path: Path) -> None:
    """The module's name, and the variable its resource goes into, must not already mean something in the program."""
    tree = _parse(source, path)
    bound = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    bound |= {
        alias.asname or alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    bound |= {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    bound |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    exports = {
        node.args[0].value
        for node in ast.walk(tree)
        if _is_export(node) and node.args and isinstance(node.args[0], ast.Constant)
    }
    for taken in (name, f"{name}_log_group"):
        if taken in bound:
            raise ParameterError(
                f"--name {name!r}: {taken!r} is already a name in {path}; pick another name", name="--name"
            )
    if export_name(name) in exports:
        raise ParameterError(
            f"--name {name!r}: the {stack} stack already exports {export_name(name)}; pick another name", name="--name"
        )


def _check_logical_name(name: str, package: Path) -> None:
    """Pulumi names must be unique per type within a stack: refuse a log group name one of its modules uses."""
    logical = f"{_component(name)}-log-group"
    for module in sorted(package.glob("*.py")):
        tree = _parse(module.read_text(encoding="utf-8"), module)
        if any(isinstance(node, ast.Constant) and node.value == logical for node in ast.walk(tree)):
            raise ParameterError(
                f"--name {name!r}: the log group name {logical!r} is already used in {module}; pick another name",
                name="--name",
            )


def _parse(source: str, path: Path) -> ast.Module:
    try:
        return ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise ModuleShapeError(
            f"{path} does not parse (line {exc.lineno}: {exc.msg}); fix it first", path=path
        ) from None


def _program_of(tree: ast.Module, path: Path) -> tuple[ast.FunctionDef, ast.FunctionDef]:
    factories = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "make_program"]
    if len(factories) != 1:
        raise ModuleShapeError(
            f"{path} has no top-level `def make_program(settings)`; a stack package's program "
            "factory is expected there (see tradai_nb/stacks/edge/__init__.py)",
            path=path,
        )
    [factory] = factories
    if not factory.args.args:
        raise ModuleShapeError(
            f"{path}: make_program takes no settings argument; expected `def make_program(settings)`", path=path
        )
    programs = [n for n in factory.body if isinstance(n, ast.FunctionDef) and n.name == "program"]
    returned = factory.body[-1] if factory.body else None
    if len(programs) != 1 or not (
        isinstance(returned, ast.Return) and isinstance(returned.value, ast.Name) and returned.value.id == "program"
    ):
        raise ModuleShapeError(
            f"{path}: make_program must define one nested `def program()` and end with "
            "`return program`; register the module by hand",
            path=path,
        )
    return factory, programs[0]


def _import_edit(
    tree: ast.Module, program: ast.FunctionDef, lines: list[str], stack: str, name: str
) -> tuple[int, int, list[str]]:
    """Where the import goes, as (first line index, end line index, new lines) over `lines`."""
    package = f"tradai_nb.stacks.{stack}"

    def own_imports(body: list[ast.stmt]) -> list[ast.ImportFrom]:
        return [n for n in body if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module == package]

    found = own_imports(program.body) or own_imports(tree.body)
    if not found:
        imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        at = _end_line(imports[-1]) if imports else 0
        return at, at, [f"from {package} import {name}\n"]
    node = found[0]
    indent = _indent(lines[node.lineno - 1])
    end = _end_line(node)
    original = lines[node.lineno - 1 : end]
    if any("#" in line for line in original):  # keep its comments: a line of its own after it
        return end, end, [f"{indent}from {package} import {name}\n"]
    names = [f"{a.name} as {a.asname}" if a.asname else a.name for a in node.names]
    position = next((i for i, existing in enumerate(names) if existing > name), len(names))
    names.insert(position, name)
    one_line = f"{indent}from {package} import {', '.join(names)}\n"
    if len(one_line) - 1 <= LINE_LENGTH:
        return node.lineno - 1, end, [one_line]
    wrapped = [f"{indent}from {package} import (\n", *(f"{indent}    {n},\n" for n in names), f"{indent})\n"]
    return node.lineno - 1, end, wrapped


def _call_line(program: ast.FunctionDef, lines: list[str]) -> int:
    """Where the call goes: after the last declaration that closes a paragraph (a blank line follows it) before the
    first export; else just before the first export; with no export, at the end of the program."""
    first = next((i for i, statement in enumerate(program.body) if _exports(statement)), None)
    if first is None:
        return _end_line(program.body[-1])
    for statement in reversed(program.body[:first]):
        end = _end_line(statement)
        if end < len(lines) and not lines[end].strip():
            return end
    return program.body[first].lineno - 1


def _end_line(statement: ast.stmt) -> int:
    """The statement's last line (1-based); ast.parse sets it on every statement it returns."""
    if statement.end_lineno is None:
        raise RuntimeError(f"a parsed {type(statement).__name__} statement has no end line")
    return statement.end_lineno


def _is_export(node: ast.AST) -> TypeGuard[ast.Call]:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "export"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "pulumi"
    )


def _exports(statement: ast.stmt) -> bool:
    return any(_is_export(node) for node in ast.walk(statement))


def _binds(body: list[ast.stmt], name: str) -> bool:
    return any(isinstance(n, ast.Import) and any((a.asname or a.name) == name for a in n.names) for n in body)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _component(name: str) -> str:
    return name.replace("_", "-")


def _write_all(sources: dict[Path, str], *, replaced: Path) -> None:
    """Create the new files (never over an existing one), then swap the edited one in; undo on failure."""
    created: list[Path] = []
    try:
        for path, source in sources.items():
            if path == replaced:
                continue
            with open(path, "x", encoding="utf-8") as out:
                created.append(path)
                out.write(source)
        files.write_atomically(replaced, sources[replaced].encode("utf-8"), mode=replaced.stat().st_mode & 0o777)
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
