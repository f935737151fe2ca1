"""The server dies mid-eval: the run pauses, goes on when the server is back, or stops incomplete; errors are
never scored, and resuming gives the exact accuracy without duplicates. In-process and as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from mathbench.core.evaluation import RunDir, summarize
from mathbench.core.evaluation.progress import EndpointsCameBack, EndpointsWentDown
from mathbench.core.evaluation.runconfig import EvalConfig
from mathbench.core.evaluation.runner import run_eval
from tests.support.evalkit import gsm8k, server_for


def _config(url, run_dir, n, **kw) -> EvalConfig:
    kw.setdefault("concurrency", 4)
    return EvalConfig(benchmark="gsm8k", limit=n, base_urls=[url], model="demo-pot", run_dir=run_dir,
                      backoff_base=0.05, max_retries=3, **kw)


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def _kill_after(srv, results, n: int) -> None:
    while not results.exists() or results.read_bytes().count(b"\n") < n:
        await asyncio.sleep(0.02)
    await asyncio.to_thread(srv.kill)


async def test_killed_server_leaves_an_incomplete_run_and_resume_gives_the_exact_accuracy(tmp_path):
    n = 30
    problems = gsm8k(n)
    with server_for(problems, accuracy=0.7) as clean:
        reference = await run_eval(_config(clean.base_url, tmp_path / "clean", n))
    assert reference.complete and 0 < reference.accuracy < 1

    srv = server_for(problems, accuracy=0.7, latency=0.05).start()
    run_dir = tmp_path / "run"
    results = run_dir / "results.jsonl"
    events: list = []
    killer = asyncio.create_task(_kill_after(srv, results, 8))
    first = await run_eval(_config(srv.base_url, run_dir, n, down_wait=1.5), events.append)
    await killer
    # stopped as incomplete; nothing in flight became an error, and accuracy counts graded items only
    assert not first.complete and first.status == "incomplete" and "down since" in first.stopped_reason
    assert first.errors == 0 and 8 <= first.done < n and first.graded == first.done
    assert any(isinstance(e, EndpointsWentDown) for e in events)
    report = summarize(run_dir)
    assert report["errors"] == 0 and report["graded"] == first.done
    assert report["accuracy"] == first.accuracy == report["correct"] / report["graded"]
    manifest = RunDir(run_dir).manifest
    assert manifest["status"] == "incomplete" and manifest["down_since"] is None and manifest["stopped_reason"]

    srv.start()  # the server comes back on the same port
    try:
        again = await run_eval(_config(srv.base_url, run_dir, n, down_wait=1.5))
    finally:
        srv.stop()
    assert again.complete and again.new_items == n - first.done
    assert again.accuracy == reference.accuracy and summarize(run_dir)["accuracy"] == reference.accuracy
    ids = [r["id"] for r in _lines(results)]
    assert len(ids) == len(set(ids)) == n  # no duplicates, no gaps
    assert RunDir(run_dir).manifest["status"] == "complete"


async def test_the_eval_goes_on_by_itself_when_the_server_comes_back(tmp_path):
    n = 24
    problems = gsm8k(n)
    srv = server_for(problems, latency=0.05).start()
    run_dir = tmp_path / "run"
    events: list = []

    async def outage() -> None:
        await _kill_after(srv, run_dir / "results.jsonl", 6)
        while not any(isinstance(e, EndpointsWentDown) for e in events):
            await asyncio.sleep(0.05)
        assert RunDir(run_dir).manifest["down_since"] is not None  # followers see the pause
        await asyncio.sleep(1.0)
        await asyncio.to_thread(srv.start)

    task = asyncio.create_task(outage())
    try:
        summary = await run_eval(_config(srv.base_url, run_dir, n, down_wait=60), events.append)
        await task
    finally:
        srv.stop()
    assert summary.complete and summary.errors == 0 and summary.correct == n
    kinds = [type(e) for e in events if isinstance(e, EndpointsWentDown | EndpointsCameBack)]
    assert kinds == [EndpointsWentDown, EndpointsCameBack]
    assert len({r["id"] for r in _lines(run_dir / "results.jsonl")}) == n


# -- the same with real processes: `mathbench demo-server` killed -9, `mathbench eval` ----------------------


def _start_demo_server(repo_root, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "mathbench.tui", "demo-server", "--port", str(port),
                             "--latency", "0.05", "--accuracy", "0.7", "--answer-key", "gsm8k"],
                            cwd=repo_root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
            return proc
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "demo server did not start"
            time.sleep(0.1)


def _eval(repo_root, port, run_dir, *extra) -> list[str]:
    return [sys.executable, "-m", "mathbench.tui", "eval", "--benchmark", "gsm8k", "--limit", "30",
            "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "demo-pot", "--concurrency", "4",
            "--run-dir", str(run_dir), "--json", *extra]


def test_cli_server_killed_mid_run_exits_incomplete_and_resume_completes(tmp_path, repo_root):
    from mathbench.core.jobs.registry import free_port

    port = free_port()
    server = _start_demo_server(repo_root, port)
    run_dir = tmp_path / "run"
    results = run_dir / "results.jsonl"
    try:
        proc = subprocess.Popen(_eval(repo_root, port, run_dir, "--down-wait", "2"), cwd=repo_root,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not results.exists() or results.read_bytes().count(b"\n") < 8:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, err  # incomplete is not success
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["status"] == "incomplete" and not summary["complete"] and summary["errors"] == 0
        assert "endpoint down since" in err and "resume with" in err
        report = json.loads(subprocess.run([sys.executable, "-m", "mathbench.tui", "report", str(run_dir), "--json"],
                                           cwd=repo_root, capture_output=True, text=True, check=True).stdout)
        assert report["errors"] == 0 and report["graded"] == summary["done"] < 30
        assert report["accuracy"] == report["correct"] / report["graded"]

        server = _start_demo_server(repo_root, port)  # back on the same port
        done = subprocess.run(_eval(repo_root, port, run_dir), cwd=repo_root, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, done.stderr
        clean = subprocess.run(_eval(repo_root, port, tmp_path / "clean"), cwd=repo_root, capture_output=True,
                               text=True, timeout=180)
        assert clean.returncode == 0, clean.stderr
    finally:
        server.kill()
        server.wait()
    resumed, reference = (json.loads(p.stdout.strip().splitlines()[-1]) for p in (done, clean))
    assert resumed["complete"] and resumed["accuracy"] == reference["accuracy"] and resumed["done"] == 30
    ids = [r["id"] for r in _lines(results)]
    assert len(ids) == len(set(ids)) == 30
