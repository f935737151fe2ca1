"""`mathbench doctor`: what this machine offers mathbench — the sandbox's protections, the tools, the GPU, the workspace."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path

TOOLS = ("llamafactory-cli", "vllm", "bwrap", "nvidia-smi")


def _workspace_facts(root: Path) -> dict:
    from mathbench.core.workspace import Workspace, is_workspace

    facts: dict = {"path": str(root), "is_workspace": is_workspace(root)}
    if facts["is_workspace"]:
        ws = Workspace(root)
        facts["runs"] = len(ws.run_dirs())
        for name, folder in (("datasets", ws.datasets_dir), ("benchmarks", ws.benchmarks_dir), ("jobs", ws.jobs_dir)):
            facts[name] = sum(1 for _ in folder.iterdir()) if folder.is_dir() else 0
    probe = root if root.is_dir() else root.parent
    try:
        usage = shutil.disk_usage(probe)
        facts["free_gib"] = round(usage.free / 2**30, 1)
    except OSError:
        facts["free_gib"] = None
    facts["writable"] = os.access(probe, os.W_OK)
    return facts


def _gpu_facts() -> dict:
    from mathbench.core.jobs.gpu import snapshot

    snap = snapshot()
    return {"available": snap.available, "driver": snap.driver, "reason": snap.reason,
            "gpus": [{"index": g.index, "name": g.name, "mem_total_gib": None if g.mem_total is None
                      else round(g.mem_total / 2**30, 1)} for g in snap.gpus]}


def doctor_report(workspace: Path | str, *, verify: bool = True) -> dict:
    """Everything `mathbench doctor` shows, as one JSON-ready dict; never raises for a missing piece.

    The sandbox's protections come from a one-slot pool started for the purpose (the same probe every eval
    runs); with *verify*, one block also checks each protection from the inside.
    """
    from mathbench.core import __version__
    from mathbench.core.sandbox.pool import SandboxPool
    from mathbench.core.sandbox.protections import sandbox_protections, verify_protections

    with SandboxPool(size=1, hide=[str(workspace)]) as pool:
        sandbox = sandbox_protections(pool)
        if verify and "error" not in sandbox:
            sandbox["verified"] = verify_protections(pool)
    return {
        "mathbench": __version__,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "user": "root" if os.geteuid() == 0 else str(os.geteuid()),
        "sandbox": sandbox,
        "tools": {name: shutil.which(name) for name in TOOLS},
        "gpu": _gpu_facts(),
        "workspace": _workspace_facts(Path(workspace).resolve()),
        "executable": sys.executable,
    }
