"""Exact and MinHash near-duplicate clusters, keep-one policies, and `mathbench data dedupe`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mathbench.core.datasets.dataset import Dataset

from mathbench.core.datasets.items import problem_text
from mathbench.core.datasets.dedupe import choose_drops, find_duplicates
from mathbench.core.datasets.similarity import normalize_problem

BASE = "A train travels 120 kilometres in 2 hours and then 180 kilometres in 3 hours. What is its average speed?"


def test_normalisation_folds_width_case_prefix_and_punctuation():
    assert normalize_problem("题目：ＡＢＣ，１２３？") == normalize_problem("abc, 123?") == "abc123"


def test_exact_and_near_clusters():
    texts = [
        BASE,                                             # 0
        "题目：" + BASE.upper(),                          # 1 exact (prefix, case)
        BASE.replace("average speed", "mean speed"),      # 2 near
        "Completely different: how many primes are below 100?",  # 3 alone
        BASE.replace("travels", "goes"),                  # 4 near
        "",                                               # 5 empty: never a duplicate
        "",                                               # 6
    ]
    clusters = find_duplicates(texts, threshold=0.7)
    assert len(clusters) == 1
    c = clusters[0]
    assert c.kind == "near" and c.members == [0, 1, 2, 4] and 0.7 <= c.similarity < 1
    exact_only = find_duplicates(texts, near=False)
    assert [(x.kind, x.members) for x in exact_only] == [("exact", [0, 1])]
    assert find_duplicates(texts, threshold=0.99) == exact_only


def test_numbers_that_differ_are_flagged():
    texts = [BASE, BASE.replace("120", "150")]
    (c,) = find_duplicates(texts, threshold=0.7)
    assert c.kind == "near" and c.numbers_differ


def test_keep_policies():
    texts = [BASE, BASE, "other question entirely, nothing alike", BASE]
    clusters = find_duplicates(texts)
    assert choose_drops(clusters, policy="first") == [1, 3] and clusters[0].keep == 0
    assert choose_drops(clusters, policy="last") == [0, 1]
    lengths = {0: 5, 1: 50, 3: 20}
    assert choose_drops(clusters, policy="longest", length=lengths.get) == [0, 3]
    assert choose_drops(clusters, policy="shortest", length=lengths.get) == [1, 3]
    assert choose_drops(clusters, policy="valid", is_valid=lambda i: i == 3) == [0, 1]
    with pytest.raises(ValueError):
        choose_drops(clusters, policy="valid")
    with pytest.raises(ValueError):
        choose_drops(clusters, policy="random")


def test_real_data_has_known_duplicates(shared_data):
    files = sorted((shared_data / "sft").glob("*.json"))
    where, texts = [], []
    for f in files:
        ds = Dataset.load(f)
        where += [(f.name, i) for i in range(len(ds))]
        texts += [problem_text(it) for it in ds.items]
    clusters = find_duplicates(texts)
    found = [[where[i] for i in c.members] for c in clusters]
    # the same problem typed twice, once with a full-width question mark
    assert [("hand-make-train-data.json", 103), ("hand-make-train-data.json", 637)] in found
    # the same TAL problem with and without its "(2013 Math Kangaroo ...)" source note
    assert [("tal_scq5k_train_data.json", 141), ("tal_scq5k_train_data.json", 318)] in found
    assert 15 <= len(clusters) <= 60


def test_cli_dedupe_writes_kept_items(tmp_path):
    items = [{"conversations": [{"from": "human", "value": t}, {"from": "gpt", "value": "a"}]}
             for t in (BASE, "题目：" + BASE, "unrelated question about primes")]
    f = tmp_path / "d.json"
    f.write_text(json.dumps(items, ensure_ascii=False, indent=2), encoding="utf-8")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    out = subprocess.run([sys.executable, "-m", "mathbench.tui", "data", "dedupe", str(f), "--json", "--out",
                          str(tmp_path / "o.json")], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["clusters"] == 1 and data["duplicates"] == 1
    assert data["cluster_list"][0]["where"][1] == {"file": str(f), "index": 1, "line": 14}
    kept = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    assert [k["conversations"][0]["value"] for k in kept] == [BASE, "unrelated question about primes"]
    same = subprocess.run([sys.executable, "-m", "mathbench.tui", "data", "dedupe", str(f), "--out", str(f)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert same.returncode == 2 and json.loads(f.read_text(encoding="utf-8")) == items
