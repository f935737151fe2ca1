"""core's stages depend downward only, nothing imports in a circle, and no module grows past its size."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "core"

# Lower ranks are lower stages; a module may import only from its own stage or a lower one.
RANK = {
    "storage": 0, "records": 0, "resources": 0, "workspace": 0, "keyfile": 0, "lazy": 0,
    "grading": 1, "sandbox": 1,
    "evaluation": 2,
    "datasets": 3,
    "jobs": 4,
    "demo": 5,
}
MAX_LINES = 520  # "near 500"


def _module_name(path: Path) -> str:
    parts = ["mathbench", *path.relative_to(REPO).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def _stage(module: str) -> str:
    return module.split(".")[2] if module.count(".") >= 2 else "core"


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(module: str, path: Path) -> set[str]:
    """Every core module *module* imports, at any depth (lazy imports included, TYPE_CHECKING blocks not)."""
    found: set[str] = set()

    def add(base: str, names: list[str]) -> None:
        for name in names:
            found.add(f"{base}.{name}" if f"{base}.{name}" in MODULES else base)

    def visit(node: ast.AST) -> None:
        if _is_type_checking(node):
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    package = package.rsplit(".", 1)[0]
                base = f"{package}.{node.module}" if node.module else package
            else:
                base = node.module or ""
            add(base, [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in MODULES and m != module}


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_every_core_module_belongs_to_a_known_stage():
    stages = {_stage(m) for m in MODULES} - {"core"}
    assert stages <= set(RANK), f"modules outside any stage: {sorted(stages - set(RANK))}"


def test_stages_depend_downward_only():
    upward = []
    for module, deps in GRAPH.items():
        here = _stage(module)
        for dep in deps:
            there = _stage(dep)
            if "core" in (here, there) or here == there:
                continue
            if RANK[there] > RANK[here] or (RANK[there] == RANK[here] and RANK[here] > 0):
                upward.append(f"{module} -> {dep}")
    assert not upward, "imports that go up or sideways between stages:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            connect(v)
    assert not cycles, f"modules that import each other in a circle: {cycles}"


@pytest.mark.parametrize("folder", ["core", "tui"])
def test_modules_stay_near_500_lines(folder):
    big = {str(p.relative_to(REPO)): n for p in (REPO / folder).rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_the_graph_sees_lazy_and_package_imports():
    runner = GRAPH["mathbench.core.evaluation.runner"]
    assert any(_stage(d) == "grading" for d in runner), runner
    assert any(_stage(d) == "sandbox" for d in runner), runner  # imported inside a function
