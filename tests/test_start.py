"""A new user's first steps: named benchmarks are found (workspace, then Hugging Face, else one line on how),
a failed eval leaves an empty folder empty, an unusable workspace folder is a message, the README's
no-GPU walk-through runs as written."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

from mathbench.core.evaluation import benchmarks
from mathbench.core.evaluation.benchmarks import BenchmarkError, load_benchmark, resolve_spec
from mathbench.core.workspace import open_workspace

ROWS = [{"question": f"What is {i} + {i}?", "answer": f"{i} + {i} = {2 * i}\n#### {2 * i}"} for i in range(3)]


@pytest.fixture
def no_shared_data(monkeypatch, tmp_path):
    """Look-ups as on a machine without ../shared/data beside the checkout."""
    monkeypatch.setattr(benchmarks, "SHARED_BENCHMARKS_DIR", tmp_path / "no-shared-data")


@pytest.fixture
def hugging_face(tmp_path, monkeypatch):
    """A `datasets` package on the path that serves GSM8K rows and records what it was asked."""
    pkg = tmp_path / "site" / "datasets"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(f"""
        CALLS = []
        ROWS = {ROWS!r}

        def get_dataset_config_names(name):
            return ["algebra", "geometry"]

        def load_dataset(name, config=None, split=None):
            CALLS.append((name, config, split))
            return list(ROWS)
    """))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "datasets", raising=False)
    yield
    sys.modules.pop("datasets", None)


def test_a_named_benchmark_is_found_in_the_workspace_first(tmp_path, no_shared_data, hugging_face):
    ws = open_workspace(tmp_path / "ws", sample=False)
    (ws.benchmarks_dir / "gsm8k_test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[:2]))
    assert resolve_spec("gsm8k", ws) == ws.benchmarks_dir / "gsm8k_test.jsonl"
    assert [p.id for p in load_benchmark("gsm8k", workspace=ws)] == ["gsm8k-test-00000", "gsm8k-test-00001"]
    import datasets

    assert datasets.CALLS == []


def test_then_hugging_face_with_the_same_ids(tmp_path, no_shared_data, hugging_face):
    ws = open_workspace(tmp_path / "ws", sample=False)
    assert resolve_spec("gsm8k", ws) == "hf:openai/gsm8k:main:test"
    problems = load_benchmark("gsm8k", workspace=ws)
    assert [p.id for p in problems] == ["gsm8k-test-00000", "gsm8k-test-00001", "gsm8k-test-00002"]
    assert problems[2].gold.endswith("#### 4")
    load_benchmark("math", workspace=ws)
    import datasets

    assert datasets.CALLS[-2:] == [("EleutherAI/hendrycks_math", "algebra", "test"),
                                   ("EleutherAI/hendrycks_math", "geometry", "test")]


@pytest.mark.skipif(importlib.util.find_spec("datasets") is not None, reason="datasets is installed here")
def test_else_one_line_says_how_to_get_it(tmp_path, no_shared_data):
    ws = open_workspace(tmp_path / "ws", sample=False)
    with pytest.raises(BenchmarkError) as caught:
        resolve_spec("math", ws)
    message = str(caught.value)
    assert "\n" not in message and str(ws.benchmarks_dir) in message and "pip install 'mathbench[hf]'" in message


def test_a_missing_file_is_named_as_it_was_given(tmp_path):
    with pytest.raises(BenchmarkError) as caught:
        resolve_spec("benchmarks/nothing.jsonl")
    assert "benchmarks/nothing.jsonl: no such file" in str(caught.value) and ".jsonl.jsonl" not in str(caught.value)
    assert len(load_benchmark("sample")) == 40  # the shipped sample is a name too


def _mathbench(*args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "mathbench.tui", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_a_failed_eval_leaves_an_empty_folder_empty(tmp_path):
    from tests.support.evalkit import closed_port_url

    empty = tmp_path / "empty"
    empty.mkdir()
    done = _mathbench("eval", "--benchmark", "sample", "--limit", "2", "--base-url", closed_port_url(), "--model", "m",
                      cwd=empty)
    assert done.returncode == 2 and "no endpoint answered" in done.stderr
    assert list(empty.iterdir()) == []


def test_a_folder_that_cannot_hold_a_workspace_is_a_message(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    done = _mathbench("--workspace", str(tmp_path / "a-file" / "ws"), cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot make a workspace here" in done.stderr and "--workspace" in done.stderr


def test_the_readme_walk_through_runs_as_written(tmp_path):
    """`mathbench demo-server --answer-key sample`, then the README's eval into the sample workspace."""
    import os
    import time
    import urllib.request

    from mathbench.core.jobs.registry import free_port

    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "mathbench.tui", "demo-server", "--port", str(port),
                               "--answer-key", "sample", "--latency", "0.01"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, server.stderr.read()
                time.sleep(0.1)
        workspace = str(home / "mathbench-sample")
        done = subprocess.run([sys.executable, "-m", "mathbench.tui", "--workspace", workspace, "eval",
                               "--benchmark", "sample", "--limit", "20", "--base-url",
                               f"http://127.0.0.1:{port}/v1", "--model", "demo-pot", "--json"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["done"] == 20 and summary["correct"] > 0
    assert (home / "mathbench-sample" / ".mathbench" / "workspace.json").is_file()
