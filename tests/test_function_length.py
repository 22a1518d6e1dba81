"""No function or method in tradai_nb/ runs past MAX_FUNCTION_LINES lines (decorators excluded)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tradai_nb"
MAX_FUNCTION_LINES = 80


def long_functions(root: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Every function longer than the limit under root, as "path:line name (N lines)"."""
    offenders = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    relative = path.relative_to(root.parent).as_posix()
                    offenders.append(f"{relative}:{node.lineno} {node.name} ({length} lines)")
    return offenders


def test_long_functions__counts_from_the_def_line_not_the_decorators(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(3))
    (package / "mod.py").write_text(f"@decorator\n@another\ndef three():\n{body}\n\n\ndef four():\n{body}\n    return x0\n")
    assert long_functions(package, limit=4) == ["pkg/mod.py:9 four (5 lines)"]
    assert long_functions(package, limit=5) == []


def test_no_function_is_longer_than_the_limit():
    offenders = long_functions(PACKAGE)
    assert not offenders, (
        f"{len(offenders)} function(s) longer than {MAX_FUNCTION_LINES} lines; split them:\n" + "\n".join(offenders)
    )
