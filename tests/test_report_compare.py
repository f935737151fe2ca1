"""Comparisons that say whether a difference is real: paired bootstrap and exact McNemar against independent
computations, the intersection of different problem sets, per level and subject, the CLI's JSON."""

from __future__ import annotations

import itertools
import json
import math
import random
import subprocess
import sys

import numpy as np
import pytest

from mathbench.core.evaluation import RunDir
from mathbench.core.evaluation.compare import bootstrap_diffs, compare, mcnemar_p, paired_bootstrap_ci, verdict_sentence


def _mcnemar_by_enumeration(a_only: int, b_only: int) -> float:
    n = a_only + b_only
    tail = sum(math.comb(n, i) for i in range(min(a_only, b_only) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def test_exact_mcnemar_matches_a_direct_sum_of_binomials():
    for a_only, b_only in itertools.product(range(0, 13), repeat=2):
        expected = 1.0 if a_only + b_only == 0 else _mcnemar_by_enumeration(a_only, b_only)
        assert mcnemar_p(a_only, b_only) == pytest.approx(expected, rel=1e-9), (a_only, b_only)
    assert mcnemar_p(2, 12) < 0.05 < mcnemar_p(4, 10)


def test_bootstrap_distribution_matches_every_resample_enumerated():
    a = [True, True, False, False, True, False]
    b = [True, False, True, True, True, False]
    n = len(a)
    exact: dict[float, float] = {}
    for idx in itertools.product(range(n), repeat=n):  # all 6**6 equally likely resamples
        d = round((sum(b[i] for i in idx) - sum(a[i] for i in idx)) / n, 9)
        exact[d] = exact.get(d, 0) + 1 / n ** n
    drawn = bootstrap_diffs(a, b, resamples=200_000, seed=7)
    values, counts = np.unique(np.round(drawn, 9), return_counts=True)
    seen = dict(zip(values.tolist(), (counts / len(drawn)).tolist()))
    for d, p in exact.items():
        assert seen.get(d, 0.0) == pytest.approx(p, abs=0.005), d


def test_bootstrap_interval_agrees_with_plain_index_resampling():
    rng = random.Random(3)
    a = [rng.random() < 0.55 for _ in range(400)]
    b = [x if rng.random() < 0.8 else not x for x in a]
    lo, hi = paired_bootstrap_ci(a, b)
    gen = np.random.default_rng(12345)
    aa, bb = np.array(a, float), np.array(b, float)
    idx = gen.integers(0, len(a), size=(10_000, len(a)))
    diffs = bb[idx].mean(axis=1) - aa[idx].mean(axis=1)
    ref_lo, ref_hi = np.percentile(diffs, [2.5, 97.5])
    assert lo == pytest.approx(ref_lo, abs=0.01) and hi == pytest.approx(ref_hi, abs=0.01)
    assert paired_bootstrap_ci(a, b) == (lo, hi)  # seeded: the same interval every time


def test_sentence_says_who_is_better_only_when_it_shows():
    assert verdict_sentence(0.021, [0.004, 0.038], 0.02, 900) == \
        "B is better by 2.1 points, 95% CI 0.4–3.8, p = 0.02 (900 problems)"
    assert verdict_sentence(-0.05, [-0.08, -0.02], 0.003, 400).startswith("A is better by 5.0 points, 95% CI 2.0–8.0")
    assert verdict_sentence(0.01, [-0.01, 0.03], 0.4, 300).startswith("no detectable difference")


def _run(path, verdicts: dict, level=lambda pid: "Level 1", subject=lambda pid: "Algebra"):
    run = RunDir(path)
    run.write_manifest({"benchmark": "math", "model": "m"})
    with run.open_writer() as w:
        for pid, verdict in verdicts.items():
            error = "timeout" if verdict == "error" else None
            w.append({"id": pid, "question": f"q {pid}", "verdict": None if error else verdict, "error": error,
                      "level": level(pid), "subject": subject(pid)})
    return run


def test_compare_pairs_the_problems_both_runs_graded(tmp_path):
    rng = random.Random(11)
    ids = [f"p{i:03d}" for i in range(300)]
    a_ok = {pid: rng.random() < 0.5 for pid in ids}
    b_ok = {pid: (ok or rng.random() < 0.3) for pid, ok in a_ok.items()}  # B fixes many of A's misses
    a = {pid: "correct" if a_ok[pid] else "wrong" for pid in ids[:280]}  # A never ran the last 20
    b = {pid: "correct" if b_ok[pid] else "wrong" for pid in ids[10:]}  # B never ran the first 10
    a["p050"] = "error"
    level = lambda pid: f"Level {int(pid[1:]) % 3 + 1}"  # noqa: E731
    c = compare(_run(tmp_path / "a", a, level), _run(tmp_path / "b", b, level))
    paired = [pid for pid in ids[10:280] if pid != "p050"]
    assert c["n_paired"] == len(paired) == 269
    assert c["left_out"] == {"only_a": 10, "only_b": 20, "errors": 1}
    diff = sum(b_ok[p] for p in paired) / 269 - sum(a_ok[p] for p in paired) / 269
    assert c["diff"] == pytest.approx(diff)
    a_only = sum(a_ok[p] and not b_ok[p] for p in paired)
    b_only = sum(b_ok[p] and not a_ok[p] for p in paired)
    assert c["mcnemar_p"] == pytest.approx(_mcnemar_by_enumeration(a_only, b_only), rel=1e-9)
    lo, hi = c["diff_ci95"]
    assert lo < diff < hi and lo > 0 and c["sentence"].startswith("B is better by")
    for key in ("Level 1", "Level 2", "Level 3"):
        row = c["by_level"][key]
        mine = [p for p in paired if level(p) == key]
        assert row["n_paired"] == len(mine)
        assert row["diff"] == pytest.approx(sum(b_ok[p] for p in mine) / len(mine) - sum(a_ok[p] for p in mine) / len(mine))
        assert row["diff_ci95"][0] <= row["diff"] <= row["diff_ci95"][1] and 0 <= row["mcnemar_p"] <= 1
    assert c["by_subject"]["Algebra"]["n_paired"] == 269


def test_report_compare_json_has_the_contract_keys(tmp_path, repo_root):
    ws = tmp_path / "ws"
    _run(ws / "runs" / "a", {f"p{i}": "correct" if i % 2 else "wrong" for i in range(40)})
    _run(ws / "runs" / "b", {f"p{i}": "correct" if i % 3 else "wrong" for i in range(44)})
    cmd = [sys.executable, "-m", "mathbench.tui", "-w", str(ws), "report", "a", "--compare", "b"]
    out = subprocess.run([*cmd, "--json"], cwd=repo_root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"diff", "diff_ci95", "mcnemar_p", "n_paired"} <= set(data) and data["n_paired"] == 40
    assert data["left_out"] == {"only_a": 0, "only_b": 4, "errors": 0} and data["compare"]["diff"] == data["diff"]
    text = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True)
    assert "no detectable difference" in text.stdout and "left out 4 (4 only in B)" in text.stdout
