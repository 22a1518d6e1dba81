"""The package's layers: no module imports one above its own layer (imports inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import tradai_nb

PACKAGE = Path(tradai_nb.__file__).parent

# Lowest first. A module may import its own layer and the layers below it, never one above.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"__init__", "errors", "files", "timefmt", "progress", "config", "settings", "redaction", "troubleshooting",
                    "aws", "notebook", "stacks.registry"}),
    ("state and records", {"state", "records"}),
    ("programs and guards", {"stacks", "guards"}),
    ("engine and review", {"engine", "importable", "review"}),
    ("operations", {"ops", "sandbox", "actions", "bootstrap", "environments", "scaffold"}),
    ("notebook runner", {"runner"}),
    ("interface", {"commands", "cli", "__main__"}),
]
# What the state layer may use: the backend must not depend on anything that changes or plans.
STATE_MAY_IMPORT = {"state", "errors", "files", "timefmt", "config", "settings", "aws", "troubleshooting", "stacks.registry"}


# Modules that sit below their package's layer: the registry is the estate's shape (names, order, destroy policy),
# plain data that the state layer needs to name stacks, with no Pulumi program in it.
UNITS_OF_THEIR_OWN = {"tradai_nb.stacks.registry": "stacks.registry"}


def _unit(module: str) -> str:
    """The layer unit of a dotted module name: tradai_nb.ops.ecs -> ops, tradai_nb -> __init__."""
    if module in UNITS_OF_THEIR_OWN:
        return UNITS_OF_THEIR_OWN[module]
    parts = module.split(".")
    if len(parts) == 1 or not _is_module(parts[1]):
        return "__init__"  # the package itself, or a name it defines (from tradai_nb import __version__)
    return parts[1]


def _is_module(name: str) -> bool:
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file()


def _layer_of(unit: str) -> int:
    for number, (_, units) in enumerate(LAYERS):
        if unit in units:
            return number
    raise AssertionError(f"tradai_nb.{unit} belongs to no layer: add it to LAYERS in {__file__}")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported tradai_nb module) for every import in the file, those inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("tradai_nb"):
            if node.module == "tradai_nb":
                found += [(node.lineno, f"tradai_nb.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("tradai_nb")]
    return found


def _modules() -> list[tuple[Path, str]]:
    result = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["tradai_nb", *path.relative_to(PACKAGE).with_suffix("").parts]
        result.append((path, ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)))
    return result


def test_every_module_belongs_to_a_layer():
    for _, module in _modules():
        _layer_of(_unit(module))


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path, module in _modules():
        own = _layer_of(_unit(module))
        for line, imported in _imports(path):
            theirs = _layer_of(_unit(imported))
            if theirs > own:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({LAYERS[own][0]}) imports {imported} "
                              f"({LAYERS[theirs][0]})")
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_the_state_layer_uses_only_config_settings_and_aws_below_it():
    reached = []
    for path, module in _modules():
        if _unit(module) == "state":
            reached += [f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}"
                        for line, imported in _imports(path) if _unit(imported) not in STATE_MAY_IMPORT]
    assert not reached, "the state layer reaches beyond config, settings and aws:\n" + "\n".join(reached)


def test_the_check_sees_an_upward_import(tmp_path):
    offender = tmp_path / "offender.py"
    offender.write_text("def f():\n    from tradai_nb.commands import run\n")
    assert [(_layer_of(_unit(m))) for _, m in _imports(offender)] == [len(LAYERS) - 1]
