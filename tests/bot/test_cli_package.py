"""The shape of `bot/cli/` (issue 11): modules that register themselves, share only what is public,
and import at the top unless a comment says why not."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import bot.cli
from bot.cli import FEATURES, main

PACKAGE = Path(bot.cli.__file__).parent


def modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(PACKAGE.glob("*.py"))}


def test_every_module_with_commands_registers_them() -> None:
    with_register = {
        name
        for name, tree in modules().items()
        if any(isinstance(node, ast.FunctionDef) and node.name == "register" for node in tree.body)
    }
    assert with_register == {feature.__name__.rsplit(".", 1)[1] for feature in FEATURES}
    assert {m.name for m in pkgutil.iter_modules([str(PACKAGE)])} >= with_register
    assert len(main.commands) >= len(FEATURES)


def test_no_module_imports_another_modules_private_names() -> None:
    found = [
        f"{name}: from {node.module} import {alias.name}"
        for name, tree in modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot.")
        for alias in node.names
        if alias.name.startswith("_") and alias.name != "__future__"
    ]
    assert found == []


def test_an_import_inside_a_function_says_why() -> None:
    """Imports belong at the top; the few that would slow every command's start-up for one
    command's sake stay in that command, with a comment saying so (bench/cli_startup.py)."""
    unexplained = []
    for name, tree in modules().items():
        source = (PACKAGE / f"{name}.py").read_text(encoding="utf-8")
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            nested = [n for n in ast.walk(function) if isinstance(n, ast.Import | ast.ImportFrom)]
            text = ast.get_source_segment(source, function) or ""
            if nested and "Imported here" not in text and "why not at the top" not in text:
                unexplained.append(f"{name}.{function.name}")
    assert unexplained == []
