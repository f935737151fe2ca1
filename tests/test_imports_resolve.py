"""Every `from mathbench… import name` in the code, tests and benches names something that exists.

A name moved by a split and not followed everywhere fails only when that line runs (a worker that dies
quietly, say); this finds it at once.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("core", "tui", "tests", "bench", "scripts")


def _imports():
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("mathbench"):
                    yield path.relative_to(ROOT), node


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_imported_name_exists(folder):
    missing = []
    for where, node in _imports():
        if where.parts[0] != folder:
            continue
        try:
            module = importlib.import_module(node.module)
        except ImportError as exc:
            missing.append(f"{where}:{node.lineno}: {node.module} ({exc})")
            continue
        for alias in node.names:
            if alias.name == "*" or hasattr(module, alias.name):
                continue
            try:
                importlib.import_module(f"{node.module}.{alias.name}")
            except ImportError:
                missing.append(f"{where}:{node.lineno}: {node.module} has no {alias.name}")
    assert not missing, "\n".join(missing)
