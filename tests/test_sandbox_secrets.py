"""No secret is reachable from model code: sandboxed code scanning /proc and every file finds no API key, and a real
`mathbench eval` job given a key leaves it in no file, argv or environment."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mathbench.core.evaluation.client import handed_key
from mathbench.core.keyfile import write_key_file
from mathbench.core.sandbox.pool import SandboxPool

# What hostile model code would run: every process's argv and environment, then every file it can see,
# printing what surrounds the key wherever it finds it (so a leak shows up in the run's results).
SCAN = r'''
import os, stat
KEY = os.environ.get("KEY_PREFIX", "") + "PLACEHOLDER"
key = KEY.encode()
hits, files, procs = [], 0, 0
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    for what in ("cmdline", "environ"):
        try:
            data = open(f"/proc/{pid}/{what}", "rb").read()
            procs += 1
        except OSError:
            continue
        if key in data:
            hits.append(data[data.index(key) - 20: data.index(key) + len(key)])
for top, dirs, names in os.walk("/"):
    if top == "/":
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "usr")]
    for name in names:
        path = os.path.join(top, name)
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or st.st_size > 256 * 1024:
                continue
            data = open(path, "rb").read()
            files += 1
        except OSError:
            continue
        if key in data:
            hits.append(path.encode() + b": " + data[max(0, data.index(key) - 20): data.index(key) + len(key)])
print("SCANNED", files, procs, hits)
'''


def _scan_code(key: str) -> str:
    # The key is split so that the scanning code itself (in argv-free memory) does not count as a hit.
    half = len(key) // 2
    return SCAN.replace('os.environ.get("KEY_PREFIX", "") + "PLACEHOLDER"', f"{key[:half]!r} + {key[half:]!r}")


@pytest.fixture()
def workspace():
    """A workspace outside /tmp, so that only the filesystem view (not the private /tmp) hides it."""
    root = Path(tempfile.mkdtemp(prefix="mathbench-ws-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_sandboxed_code_scanning_proc_and_files_finds_no_key(workspace):
    key = f"sk-mathbench-{os.getpid()}-scan-SECRET"
    (workspace / ".mathbench").mkdir()
    (workspace / ".mathbench" / "api_key").write_text(key)  # where `mathbench serve` keeps the workspace key
    handed = write_key_file(key)  # a hand-over file not yet read by its child
    eval_like = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "--api-key", key],
                                 env=dict(os.environ, OPENAI_API_KEY=key, MATHBENCH_API_KEY=key))
    try:
        with SandboxPool(size=1, hide=[str(workspace)]) as pool:
            r = pool.run(_scan_code(key), timeout=120)
        assert r.status == "ok", r.stderr
        assert key not in r.stdout + r.stderr
        _, files, procs, hits = r.stdout.split(" ", 3)
        assert hits.strip() == "[]"
        assert int(files) > 100 and int(procs) >= 1  # it did look
    finally:
        eval_like.kill()
        eval_like.wait()
        shutil.rmtree(os.path.dirname(handed), ignore_errors=True)


def test_a_handed_key_file_is_read_once_and_deleted(monkeypatch):
    from mathbench.core.evaluation import client

    path = write_key_file("sk-handed-over")
    assert os.stat(path).st_mode & 0o777 == 0o600 and os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    monkeypatch.setattr(client, "_handed", {})
    monkeypatch.setenv("MATHBENCH_API_KEY_FILE", path)
    assert handed_key() == "sk-handed-over"
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
    assert "MATHBENCH_API_KEY_FILE" not in os.environ
    assert client.resolve_api_key() == "sk-handed-over"  # read once, kept in memory


def test_a_real_eval_job_with_a_key_leaves_it_nowhere(workspace, monkeypatch):
    from mathbench.core.evaluation.rundir import RunDir
    from mathbench.core.jobs import JobError, start_job, wait_job
    from mathbench.core.workspace import open_workspace
    from tests.support.evalkit import gsm8k, server_for

    key = f"sk-mathbench-{os.getpid()}-job-SECRET"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("MATHBENCH_API_KEY", key)  # in our environment: the job must still not get it there
    ws = open_workspace(workspace, sample=False)
    problems = gsm8k(2)
    run_dir = workspace / "runs" / "secret-run"
    key_dirs_before = set(glob.glob(os.path.join(tempfile.gettempdir(), "mathbench-key-*")))
    with server_for(problems, api_key=key) as srv:
        srv.script.preamble = _scan_code(key) + "\n"
        argv = [sys.executable, "-m", "mathbench.tui", "--workspace", str(workspace), "eval", "--benchmark", "gsm8k",
                "--limit", "2", "--base-url", srv.base_url, "--model", "demo-pot", "--run-dir", str(run_dir),
                "--json", "--code-timeout", "120", "--concurrency", "1"]
        job = start_job(ws, "eval", argv, api_key=key, meta={"run_dir": str(run_dir)})
        job = wait_job(ws, job.id, timeout=600)
        requests = list(srv.chat_requests)
    assert job.state == "succeeded", (job.error, (job.dir / "output.log").read_text())
    assert requests and all(r.authorized for r in requests)  # the key did reach the eval
    records = RunDir(run_dir).load_results()
    scans = [e["stdout"] for rec in records for e in rec["executions"] if "SCANNED" in e["stdout"]]
    assert len(scans) == 2 and all(s.split(" ", 3)[3].startswith("[]") for s in scans), scans
    assert all(rec["verdict"] == "correct" for rec in records)
    for path in workspace.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), f"the key is in {path}"
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "mathbench-key-*"))) <= key_dirs_before
    with pytest.raises(JobError):
        start_job(ws, "train", [sys.executable, "-c", "pass"], api_key=key)
