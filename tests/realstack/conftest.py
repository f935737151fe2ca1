"""The real stack, built once per run: the vLLM and LLaMA-Factory venvs, the tiny model, a workspace, a CLI runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.realstack import envs
from tests.standins import wait_for

pytestmark = pytest.mark.realstack


@dataclass
class Stack:
    """What the real-stack tests share: built tools, the workspace, and what earlier steps made."""

    root: Path
    bin_dir: Path
    model: Path
    env: dict[str, str]
    ws_root: Path
    made: dict = field(default_factory=dict)  # step results: adapter dir, merged dir, server jobs, ...

    def mb(self, *args: str, timeout: float = 600, check: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run `mathbench --workspace WS ARGS` as a user would, with the real tools on PATH."""
        full = {**self.env, **(env or {})}
        res = subprocess.run([sys.executable, "-m", "mathbench.tui", "--workspace", str(self.ws_root), *args],
                             capture_output=True, text=True, env=full, timeout=timeout, cwd=str(self.ws_root))
        if check and res.returncode != 0:
            raise AssertionError(f"mathbench {' '.join(args)} exited {res.returncode}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
        return res

    def mb_json(self, *args: str, **kw) -> object:
        res = self.mb(*args, check=True, **kw)
        return json.loads(res.stdout)

    @property
    def workspace(self):
        from mathbench.core.workspace import Workspace

        return Workspace(self.ws_root)


@pytest.fixture(scope="session")
def stack() -> Stack:
    problem = envs.machine_problem()
    if problem:
        pytest.fail(f"this machine cannot run the real stack: {problem}")
    t0 = time.monotonic()
    built = envs.build_all()
    # Not under pytest's basetemp: other pytest runs on the machine prune old basetemps while this one
    # trains for many minutes.
    root = Path(tempfile.mkdtemp(prefix="mathbench-realstack-"))
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name in ("vllm", "llamafactory"):
        exe = envs.ENVS[name].executable
        (bin_dir / exe).symlink_to(Path(built[name].path) / "bin" / exe)
    env = dict(os.environ)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
        VLLM_CPU_KVCACHE_SPACE="1", VLLM_HOST_IP="127.0.0.1", PYTHONUNBUFFERED="1",
        # Both tools are pinned in their own venvs; their version checks would only warn.
        DISABLE_VERSION_CHECK="1",
    )
    for var in ("MATHBENCH_GPUS", "CUDA_VISIBLE_DEVICES"):
        env.pop(var, None)
    from mathbench.core.workspace import open_workspace

    ws_root = root / "ws"
    open_workspace(ws_root)
    st = Stack(root, bin_dir, Path(built["model"].path), env, ws_root)
    st.made["build"] = {k: {"seconds": round(v.seconds, 1), "cached": v.cached} for k, v in built.items()}
    st.made["build_seconds"] = round(time.monotonic() - t0, 1)
    print(f"\nrealstack: tools ready in {st.made['build_seconds']} s: {json.dumps(st.made['build'])}", file=sys.stderr)
    yield st
    _stop_everything(st)
    if not os.environ.get("MATHBENCH_REALSTACK_KEEP"):
        shutil.rmtree(root, ignore_errors=True)


def _stop_everything(st: Stack) -> None:
    """No server or training outlives the suite, whatever failed."""
    from mathbench.core.jobs import kill_job, list_jobs

    for job in list_jobs(st.workspace):
        if job.active:
            kill_job(st.workspace, job.id, wait=30)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.5):
    """Poll *predicate* until it returns something truthy (returned), or fail naming *what*."""
    return wait_for(predicate, timeout=timeout, interval=interval, what=what)
