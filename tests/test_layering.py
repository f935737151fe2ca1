"""core never imports a UI library; the command line stays light to start."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import mathbench.core

FORBIDDEN = ("textual", "rich", "plotext", "mathbench.tui")


def _core_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(mathbench.core.__path__, "mathbench.core.")
                  if not m.name.rsplit(".", 1)[-1].startswith("_"))


def test_core_modules_exist():
    assert "mathbench.core.workspace" in _core_modules()
    assert "mathbench.core.grading" in _core_modules()


def test_core_imports_no_ui_library(repo_root):
    code = (
        "import importlib, sys\n"
        f"mods = {_core_modules()!r}\n"
        "for m in mods: importlib.import_module(m)\n"
        f"bad = sorted(k for k in sys.modules if k.startswith({FORBIDDEN!r}))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core pulled in UI modules: {out.stdout.strip()}"


def test_help_imports_no_heavy_library(repo_root):
    code = (
        "import sys\n"
        "from mathbench.tui.cli import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = ('textual', 'pandas', 'sympy', 'openai', 'math_verify', 'torch', 'vllm', 'datasets', 'plotext')\n"
        "print(','.join(sorted(k for k in sys.modules if k.split('.')[0] in heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"`mathbench --help` imports heavy modules: {out.stdout.strip()}"
