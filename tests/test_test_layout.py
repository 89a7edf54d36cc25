"""Test modules never import each other: shared builders live in tests/factories.py and tests/harness/.

Importing a test module from another runs (and re-collects) its tests' module-level set-up and
hides what is shared; a builder moved into the harness is found, named and reused.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def imports_of_test_modules(source: str) -> list[str]:
    """The modules named `test_*` that `source` imports, at any depth (a function-level import counts)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [name for name in names if name.startswith("tests.") and "test_" in name.split(".")[-1][:5]]
    return found


def test_the_check_sees_both_import_forms() -> None:
    assert imports_of_test_modules("from tests.core.test_billrun import build_book\n") != []
    assert imports_of_test_modules("def f():\n    import tests.handlers.test_customers\n") != []
    assert (
        imports_of_test_modules(
            "from tests.harness.billbook import build_book\nfrom tests import factories\n"
        )
        == []
    )


def test_no_test_module_imports_another() -> None:
    offenders = {
        str(path.relative_to(TESTS)): found
        for path in sorted(TESTS.rglob("*.py"))
        if "vendor" not in path.parts and (found := imports_of_test_modules(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
