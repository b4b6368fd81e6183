"""What the service's own modules import, read from their source: the tests that keep the
functions' cold starts (test_powertools_door) and the layer's contents (test_layer_requirements)
in check share it."""

from __future__ import annotations

import ast
from pathlib import Path

from devserver.template import PROJECT_ROOT


def deployed_modules() -> list[Path]:
    """Every module Lambda runs: the layer's package and the functions' code."""
    return sorted([*PROJECT_ROOT.joinpath("shared").rglob("*.py"), *PROJECT_ROOT.joinpath("functions").rglob("*.py")])


def runtime_imports(path: Path) -> list[str]:
    """The modules a file imports at run time, by absolute name: not those under
    ``if TYPE_CHECKING:`` (annotations only), nor relative imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(node)
        for statement in ast.walk(tree)
        if isinstance(statement, ast.If) and ast.unparse(statement.test) == "TYPE_CHECKING"
        for inner in statement.body
        for node in ast.walk(inner)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found
