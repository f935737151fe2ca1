"""Stand-in `llamafactory-cli` and `vllm` executables, and fixtures that put them first on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
EXECUTABLES = ("llamafactory-cli", "vllm")


@pytest.fixture
def standins(tmp_path, monkeypatch) -> Path:
    """A bin folder holding the stand-ins (executable, with their data file), first on PATH, fast pace."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in (*EXECUTABLES, "vllm_metrics.txt"):
        shutil.copy2(HERE / name, bin_dir / name)
    for name in EXECUTABLES:
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("STANDIN_PACE", "0.02")
    monkeypatch.setenv("STANDIN_STATS_INTERVAL", "0.05")
    for var in ("STANDIN_EXIT", "STANDIN_FAIL_AT", "STANDIN_IGNORE_SIGNALS", "STANDIN_STEPS", "STANDIN_RECORD"):
        monkeypatch.delenv(var, raising=False)
    return bin_dir


@pytest.fixture
def ws(tmp_path):
    """An empty workspace whose jobs are all killed when the test ends."""
    from mathbench.core.jobs import kill_job, list_jobs
    from mathbench.core.workspace import open_workspace

    workspace = open_workspace(tmp_path / "ws", sample=False)
    yield workspace
    for job in list_jobs(workspace):
        if job.active:
            kill_job(workspace, job.id, wait=5)


def mathbench(*args: str, env: dict | None = None, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """Run the `mathbench` command line in a fresh Python process (this checkout first on the path)."""
    full_env = os.environ.copy()
    full_env.update(env or {})
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run([sys.executable, "-m", "mathbench.tui", *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=str(REPO_ROOT), **kw)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.02, what: str = "condition"):
    """Poll *predicate* until it returns a truthy value (returned) or fail the test after *timeout* s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(interval)
