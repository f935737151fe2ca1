"""Several samples per problem: one record per sample, resumable per sample, pass@k and maj@k checked against
independent computations from the records."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from fractions import Fraction

import pytest

from mathbench.core.evaluation import RunDir, summarize
from mathbench.core.evaluation.runconfig import EvalConfig
from mathbench.core.evaluation.runner import run_eval
from mathbench.core.evaluation.samples import ks_up_to, pass_at_k, sample_stats
from mathbench.core.records import ResultRecord
from tests.support.evalkit import gsm8k, server_for


def test_pass_at_k_is_the_unbiased_estimator():
    for n in range(1, 11):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
                assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12), (n, c, k)
    assert ks_up_to(1) == [1] and ks_up_to(4) == [1, 2, 4] and ks_up_to(10) == [1, 2, 4, 8]


def _rec(pid, sample, answer, verdict, error=None):
    return ResultRecord(id=pid, sample=sample, pred_answer=answer, verdict=None if error else verdict, error=error)


def test_maj_at_k_groups_answers_by_the_graders_equivalence_and_ties_are_uncertain():
    records = [
        # equal values written differently vote together: 1/2 and 0.5 beat 3 and 4
        _rec("a", 0, "3", "wrong"), _rec("a", 1, "1/2", "correct"), _rec("a", 2, "0.5", "correct"),
        _rec("a", 3, "4", "wrong"),
        # two answers, two votes each: a tie
        _rec("b", 0, "7", "correct"), _rec("b", 1, "8", "wrong"), _rec("b", 2, "8", "wrong"),
        _rec("b", 3, "7", "correct"),
        # the winning group's members were all uncertain
        _rec("c", 0, "x+1", "uncertain"), _rec("c", 1, "1+x", "uncertain"), _rec("c", 2, "5", "wrong"),
        _rec("c", 3, "x + 1", "uncertain"),
        # no sample gave an answer; an errored sample does not vote and is not counted
        _rec("d", 0, None, "wrong"), _rec("d", 1, None, "wrong"), _rec("d", 2, None, "wrong"),
        _rec("d", 3, None, None, error="timeout after 600s"),
    ]
    stats = sample_stats(records, {}, samples=4)
    counts = stats["maj_at_k_counts"]
    assert counts["4"] == {"correct": 1, "wrong": 0, "uncertain": 2, "problems": 3}  # d has only 3 graded
    # k = 2: a ties 3 with 1/2, b ties 7 with 8, c's two votes are uncertain, d gave no answer
    assert counts["2"] == {"correct": 0, "wrong": 1, "uncertain": 3, "problems": 4}
    assert stats["maj_at_k"]["4"] == pytest.approx(1 / 3)
    assert stats["agreement"]["by_problem"] == {"a": 0.5, "b": 0.5, "c": 0.75, "d": 0.0}
    # a human verdict settles one sample and counts in the vote
    human = {("c", 0): {"verdict": "correct"}, ("c", 1): {"verdict": "correct"}, ("c", 3): {"verdict": "correct"}}
    assert sample_stats(records, human, samples=4)["maj_at_k_counts"]["4"]["correct"] == 2


def _independent(records: list[dict], samples: int) -> tuple[dict, dict]:
    """pass@k and maj@k straight from the records: math.comb, and a Counter over the (integer) answers."""
    by_id: dict = {}
    for r in records:
        by_id.setdefault(r["id"], {})[r["sample"]] = r
    passes, majs = {}, {}
    k = 1
    while k <= samples:
        p = []
        m = []
        for recs in by_id.values():
            ordered = [recs[s] for s in sorted(recs)]
            c = sum(r["verdict"] == "correct" for r in ordered)
            p.append(1 - math.comb(len(ordered) - c, k) / math.comb(len(ordered), k))
            votes = Counter(r["pred_answer"] for r in ordered[:k] if r["pred_answer"])
            top = votes.most_common()
            tie = len(top) > 1 and top[0][1] == top[1][1]
            winner = top[0][0] if top and not tie else None
            m.append(any(r["pred_answer"] == winner and r["verdict"] == "correct" for r in ordered[:k]))
        passes[str(k)] = sum(p) / len(p)
        majs[str(k)] = sum(m) / len(m)
        k *= 2
    return passes, majs


async def test_samples_are_records_of_their_own_and_the_report_matches_an_independent_computation(tmp_path):
    problems = gsm8k(10)
    with server_for(problems, accuracy=0.5, latency=0.01) as srv:
        cfg = EvalConfig(benchmark="gsm8k", limit=10, base_urls=[srv.base_url], model="demo-pot",
                         run_dir=tmp_path / "run", samples=4, concurrency=8)
        summary = await run_eval(cfg)
        bodies = [r.body for r in srv.chat_requests]
    assert summary.complete and summary.total == 40 and summary.samples == 4 and summary.problems == 10
    records = RunDir(tmp_path / "run").load_results()
    assert sorted((r["id"], r["sample"]) for r in records) == sorted((p.id, s) for p in problems for s in range(4))
    assert {b["temperature"] for b in bodies} == {0.7} and {b["seed"] for b in bodies} == {0, 1, 2, 3}
    report = summarize(tmp_path / "run")
    passes, majs = _independent(records, 4)
    assert report["samples"] == 4 and list(report["pass_at_k"]) == ["1", "2", "4"]
    assert report["pass_at_k"] == pytest.approx(passes) and report["maj_at_k"] == pytest.approx(majs)
    assert 0 < report["pass_at_k"]["1"] < report["pass_at_k"]["4"] <= 1  # the samples really differ
    assert RunDir(tmp_path / "run").manifest["samples"] == 4


async def test_one_sample_keeps_records_and_report_as_before(tmp_path):
    problems = gsm8k(4)
    with server_for(problems, accuracy=0.5) as srv:
        cfg = EvalConfig(benchmark="gsm8k", limit=4, base_urls=[srv.base_url], model="demo-pot",
                         run_dir=tmp_path / "run")
        await run_eval(cfg)
        assert {r.body["temperature"] for r in srv.chat_requests} == {0.0}
    lines = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert all("sample" not in r for r in lines)
    report = summarize(tmp_path / "run")
    assert report["samples"] == 1 and report["pass_at_k"] == {"1": report["accuracy"]}
    assert report["maj_at_k"] == {"1": report["accuracy"]} and report["agreement"]["by_problem"] == {}


def _eval_cmd(url, run_dir):
    return [sys.executable, "-m", "mathbench.tui", "eval", "--benchmark", "gsm8k", "--limit", "12", "--samples", "4",
            "--base-url", url, "--model", "demo-pot", "--concurrency", "4", "--run-dir", str(run_dir), "--json"]


def _kill_when(proc, results, lines: int) -> int:
    deadline = time.monotonic() + 180
    while not results.exists() or results.read_bytes().count(b"\n") < lines:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return results.read_bytes().count(b"\n")


def test_samples_survive_kill_9_twice_without_loss_or_duplicates(tmp_path, repo_root):
    problems = gsm8k(12)
    run_dir = tmp_path / "run"
    results = run_dir / "results.jsonl"
    with server_for(problems, accuracy=0.5, latency=0.05) as srv:
        seen = 0
        for at in (10, 26):
            proc = subprocess.Popen(_eval_cmd(srv.base_url, run_dir), cwd=repo_root, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            written = _kill_when(proc, results, at)
            kept = RunDir(run_dir).load_results()
            assert len(kept) >= min(written, seen + 1) and len(kept) >= seen  # nothing written was lost
            seen = len(kept)
            proc.stdout.close()
            proc.stderr.close()
        done = subprocess.run(_eval_cmd(srv.base_url, run_dir), cwd=repo_root, capture_output=True, text=True,
                              timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["complete"] and summary["done"] == 48
    raw = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    keys = [(r["id"], r["sample"]) for r in raw]
    assert len(keys) == len(set(keys)) == 48  # every sample once: none lost, none twice
    report = json.loads(subprocess.run([sys.executable, "-m", "mathbench.tui", "report", str(run_dir), "--json"],
                                       cwd=repo_root, capture_output=True, text=True, check=True).stdout)
    passes, majs = _independent(raw, 4)
    assert report["samples"] == 4
    assert report["pass_at_k"] == pytest.approx(passes) and report["maj_at_k"] == pytest.approx(majs)
