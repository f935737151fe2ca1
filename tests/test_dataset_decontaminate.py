"""Decontamination: exact, 13-gram and MinHash near hits (Chinese too), `data decontaminate`, and the acceptance
measure on the real data: benchmark problems seeded into SFT data are found, clean items are not."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mathbench.core.datasets import Dataset, problem_text
from mathbench.core.datasets.decontaminate import BenchmarkIndex, lightly_edited, load_against, tokens
from mathbench.core.evaluation.benchmarks import Problem
from tests.support.contamination import seeded_items

GSM = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
       "How many clips did Natalia sell altogether in April and May?")
SHORT = "Compute $\\dbinom{16}{5}$."
ZH = "一个长方形花坛的长是12米，宽是8米，在花坛四周铺一条宽2米的小路，小路的面积是多少平方米？"


def _bench(*questions: str, name: str = "bench") -> dict[str, list[Problem]]:
    return {name: [Problem(id=f"{name}-{i}", question=q, gold="1") for i, q in enumerate(questions)]}


def test_each_kind_of_hit_and_its_problem_id():
    index = BenchmarkIndex(_bench("Something unrelated about triangles and their angles, nothing else.", GSM, SHORT,
                                  ZH))
    texts = [
        "题目：" + GSM.upper(),                                            # 0 exact after normalisation
        "Please solve with Python. " + GSM + " Answer in \\boxed{}.",      # 1 the problem inside the item
        GSM.replace("48", "52"),                                           # 2 one number changed: 13-grams remain
        GSM.replace("clips", "pins").replace("April", "June"),             # 3 words changed everywhere: near
        "Compute $\\dbinom{17}{5}$.",                                      # 4 a short problem, one number changed
        ZH.replace("12米", "15米"),                                         # 5 Chinese, one number changed
        ZH.replace("花坛", "花园", 1),                                      # 6 Chinese, a word changed
        "How many prime numbers are there between 1 and 50?",              # 7 clean
        "一辆汽车每小时行驶60千米，3小时行驶多少千米？",                         # 8 clean
    ]
    report = index.scan(texts)
    best = report.by_item()
    assert sorted(best) == [0, 1, 2, 3, 4, 5, 6]
    assert best[0].kind == "exact" and best[0].score == 1.0 and best[0].id == "bench-1"
    assert best[1].kind == "exact" and best[1].id == "bench-1"
    assert best[2].kind == "ngram" and 0.3 < best[2].score < 1 and best[2].id == "bench-1"
    assert best[3].kind == "near" and best[3].id == "bench-1"
    assert best[4].id == "bench-2" and best[5].id == "bench-3" and best[6].id == "bench-3"
    summary = report.summary()
    assert summary["items"] == 9 and summary["contaminated"] == 7 and summary["by_benchmark"] == {"bench": 7}
    assert set(summary["hits"][0]) == {"index", "benchmark", "id", "kind", "score"}


def test_chinese_is_compared_by_characters():
    assert tokens("题目：小明有3个苹果") == ["题", "目", "小", "明", "有", "3", "个", "苹", "果"]
    assert lightly_edited(ZH.replace("铺一条", "修一条"), ZH)
    assert not lightly_edited("一个正方形花坛的边长是9米，求它的周长是多少米？", ZH)


def test_boilerplate_shared_by_many_problems_is_not_a_hit():
    tail = " Express your answer as a common fraction in simplest form and show each step clearly please."
    bench = _bench(*(f"A bag holds {n} red and {n + 3} blue marbles; one is drawn at random." + tail
                     for n in range(2, 8)))
    report = BenchmarkIndex(bench).scan(["Two dice are rolled once; what is the chance of a sum of nine?" + tail])
    assert report.contaminated == []


def test_seeded_benchmark_problems_are_found_and_clean_items_are_not(shared_data):
    """The acceptance measure: at least 95% of seeded problems flagged, at most 1% of the clean items."""
    items, seeds, n_clean = seeded_items(shared_data, n_seeds=240, seed=7)
    report = BenchmarkIndex(load_against([str(shared_data / "benchmarks" / "gsm8k_test.jsonl"),
                                          str(shared_data / "benchmarks" / "math_test.jsonl")])).scan(
        [problem_text(it) for it in items])
    flagged = report.by_item()
    found = [n_clean + j in flagged for j in range(len(seeds))]
    false_alarms = [i for i in flagged if i < n_clean]
    for kind in ("copy", "words", "number"):
        of_kind = [f for f, s in zip(found, seeds) if s.kind == kind]
        assert sum(of_kind) / len(of_kind) >= 0.95, kind
    assert sum(found) / len(found) >= 0.95
    assert len(false_alarms) / n_clean <= 0.01
    # A hit names the problem it repeats (copies always; edits almost always).
    copies = [(n_clean + j, s) for j, s in enumerate(seeds) if s.kind == "copy"]
    assert all(flagged[i].id == s.id and flagged[i].kind == "exact" for i, s in copies)


def _cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.run([sys.executable, "-m", "mathbench.tui", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_cli_json_and_drop_write_the_clean_file(tmp_path, shared_data):
    gsm8k = shared_data / "benchmarks" / "gsm8k_test.jsonl"
    rows = [json.loads(line) for line in gsm8k.read_text(encoding="utf-8").splitlines()[:6]]
    bench = tmp_path / "mybench.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows[3:]), encoding="utf-8")
    items = [{"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": "\\boxed{1}"}], "k": i}
             for i, q in enumerate([rows[1]["question"], "一辆汽车每小时行驶60千米，3小时行驶多少千米？",
                                    rows[2]["question"].replace("and", "plus"), "What is 7 times 8?"])]
    data = tmp_path / "sft.json"
    data.write_text(json.dumps(items, ensure_ascii=False, indent=4), encoding="utf-8")
    out = _cli("data", "decontaminate", str(data), "--against", f"gsm8k,{gsm8k},{bench}", "--json",
               "--drop", str(tmp_path / "clean.json"))
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["items"] == 4 and summary["contaminated"] == 2
    assert summary["by_benchmark"] == {"gsm8k": 2, "mybench": 0}  # one file named twice is checked once
    assert {(h["index"], h["benchmark"], h["id"]) for h in summary["hits"]} == {
        (0, "gsm8k", "gsm8k-test-00001"), (2, "gsm8k", "gsm8k-test-00002")}
    clean = json.loads((tmp_path / "clean.json").read_text(encoding="utf-8"))
    assert [it["k"] for it in clean] == [1, 3]
    assert (tmp_path / "clean.json").read_text(encoding="utf-8").startswith("[\n    {")  # the input's layout
    text = _cli("data", "decontaminate", str(data), "--against", "gsm8k")
    assert "2 repeat a benchmark problem" in text.stdout and "gsm8k-test-00001" in text.stdout
    bad = _cli("data", "decontaminate", str(data), "--against", "no-such-bench")
    assert bad.returncode == 2 and "no-such-bench" in bad.stderr
