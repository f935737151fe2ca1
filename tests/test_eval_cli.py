"""`mathbench eval` as a real subprocess: kill -9 mid-run, resume, no duplicates or gaps; key never on disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from mathbench.core.evaluation.rundir import RunDir
from tests.support.evalkit import gsm8k, server_for

SECRET = "sk-test-DO-NOT-STORE-4242"


def _eval_cmd(srv, run_dir, n, *extra):
    return [sys.executable, "-m", "mathbench.tui", "eval", "--benchmark", "gsm8k", "--limit", str(n),
            "--base-url", srv.base_url, "--model", "demo-pot", "--concurrency", "4",
            "--run-dir", str(run_dir), *extra]


def _env():
    env = dict(os.environ, MATHBENCH_API_KEY=SECRET, PYTHONUNBUFFERED="1")
    env.pop("OPENAI_API_KEY", None)
    return env


def test_kill_9_mid_run_then_resume_has_no_duplicates_and_no_gaps(tmp_path, repo_root):
    n = 48
    problems = gsm8k(n)
    run_dir = tmp_path / "run"
    results = run_dir / "results.jsonl"
    with server_for(problems, latency=0.1, api_key=SECRET) as srv:
        proc = subprocess.Popen(_eval_cmd(srv, run_dir, n, "--json"), cwd=repo_root, env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if results.exists() and results.read_bytes().count(b"\n") >= 8:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        partial = RunDir(run_dir).load_results()
        assert 8 <= len(partial) < n
        assert not RunDir(run_dir).is_running()  # the lock died with the process

        # Requests the killed process sent just before dying may still be arriving: wait until none do.
        before, quiet_since = len(srv.chat_requests), time.monotonic()
        while time.monotonic() - quiet_since < 1.0:
            time.sleep(0.1)
            if len(srv.chat_requests) != before:
                before, quiet_since = len(srv.chat_requests), time.monotonic()
        done = subprocess.run(_eval_cmd(srv, run_dir, n, "--json"), cwd=repo_root, env=_env(),
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        # Resuming asked only about what was not finished (two turns per problem).
        assert len(srv.chat_requests) - before == 2 * (n - len(partial))
    assert summary["complete"] and summary["done"] == n and summary["correct"] == n
    ids = [json.loads(line)["id"] for line in results.read_text().splitlines() if line.strip()]
    assert sorted(ids) == sorted(p.id for p in problems)  # no duplicates, no gaps
    assert all(r.authorized for r in srv.chat_requests)
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path


def test_progress_bar_run_prints_summary_and_exit_zero(tmp_path, repo_root):
    problems = gsm8k(6)
    with server_for(problems, latency=0.01) as srv:
        cmd = _eval_cmd(srv, tmp_path / "run", 6, "--prompt", "en", "--temperature", "0.2")
        out = subprocess.run(cmd, cwd=repo_root, env=_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "accuracy" in out.stdout and "100.00%" in out.stdout
    assert srv.chat_requests[0].body["temperature"] == 0.2
    assert srv.chat_requests[0].body["messages"][1]["content"].startswith("Problem: ")


def test_resume_from_run_dir_alone_and_bad_benchmark_errors(tmp_path, repo_root):
    problems = gsm8k(4)
    with server_for(problems) as srv:
        first = subprocess.run(_eval_cmd(srv, tmp_path / "run", 4, "--json"), cwd=repo_root, env=_env(),
                               capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        again = subprocess.run([sys.executable, "-m", "mathbench.tui", "eval", "--run-dir", str(tmp_path / "run"), "--json"],
                               cwd=repo_root, env=_env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["new_items"] == 0
    bad = subprocess.run([sys.executable, "-m", "mathbench.tui", "eval", "--benchmark", str(tmp_path / "nope.jsonl"),
                          "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--run-dir", str(tmp_path / "r2")],
                         cwd=repo_root, env=_env(), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "nope" in bad.stderr
