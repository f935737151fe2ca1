"""Synthesis against the loopback teacher: keep only executed-right items, resume, de-duplicate."""

from __future__ import annotations

import json
import subprocess
import sys

from mathbench.core.evaluation.benchmarks import load_benchmark
from mathbench.core.demo import DemoServer, PotScript
from mathbench.core.demo.script import _gold_answer
from mathbench.core.datasets.synth import SynthConfig, parse_generated, run_synth, sidecar_paths
from tests.support.evalkit import read_jsonl, write_jsonl


def _pairs(tmp_path, n=16):
    rows = [{"question": p.question, "answer": p.gold} for p in load_benchmark("gsm8k-train", limit=n)]
    return write_jsonl(tmp_path / "pairs.jsonl", rows), rows


def _cfg(srv, tmp_path, pairs, **kw) -> SynthConfig:
    kw.setdefault("concurrency", 6)
    return SynthConfig(out=tmp_path / "out.jsonl", base_urls=[srv.base_url], model="demo-pot", pairs=str(pairs),
                       backoff_base=0.01, **kw)


async def test_scheme3_keeps_only_right_executed_items_and_resumes(tmp_path, shared_data):
    pairs, rows = _pairs(tmp_path)
    existing = tmp_path / "existing.json"
    existing.write_text(json.dumps([{"conversations": [{"from": "human", "value": "题目：  " + rows[0]["question"].upper()},
                                                        {"from": "gpt", "value": "x"}]}], ensure_ascii=False))
    key = {r["question"]: r["answer"] for r in rows}
    with DemoServer(script=PotScript(answer_key=key, accuracy=0.6), latency=0.01) as srv:
        summary = await run_synth(_cfg(srv, tmp_path, pairs, dedupe_against=[existing]))
        n_requests = len(srv.chat_requests)
        again = await run_synth(_cfg(srv, tmp_path, pairs, dedupe_against=[existing]))
        assert len(srv.chat_requests) == n_requests  # nothing asked twice
    script = PotScript(answer_key=key, accuracy=0.6)
    expected_rejected = sum(script._answer(r["question"]) != _gold_answer(r["answer"])
                            for r in rows[1:])
    assert summary.skipped_duplicates == 1
    assert summary.accepted + summary.rejected == 15 and summary.rejected == expected_rejected
    assert summary.accepted > 0 and summary.rejected > 0
    assert again.accepted == summary.accepted
    items = read_jsonl(tmp_path / "out.jsonl")
    assert len(items) == summary.accepted and len({i["id"] for i in items}) == len(items)
    for item in items:
        conv = item["conversations"]
        assert [t["from"] for t in conv] == ["human", "gpt", "human", "gpt"]
        assert conv[0]["value"].startswith("题目：") and "```python" in conv[1]["value"]
        printed = conv[2]["value"].split("```")[1]
        assert f"\\boxed{{{printed}}}" in conv[3]["value"] and printed == item["answer"]
    # Few-shot examples went to the teacher but are not in the saved items.
    body = srv.chat_requests[0].body
    assert len(body["messages"]) == 1 + 2 * 4 + 1 and body["temperature"] == 0.7
    rejected = read_jsonl(sidecar_paths(tmp_path / "out.jsonl")["rejected"])
    assert all("answer wrong" in r["reason"] for r in rejected)


async def test_scheme3_errors_are_retried_on_the_next_run(tmp_path, shared_data):
    pairs, rows = _pairs(tmp_path, 6)
    poison = rows[2]["question"]
    key = {r["question"]: r["answer"] for r in rows}

    def faults(i, body):
        return "500" if poison in body["messages"][-1]["content"] else None

    with DemoServer(script=PotScript(answer_key=key), faults=faults) as bad:
        first = await run_synth(_cfg(bad, tmp_path, pairs, max_retries=1, shots=0))
    assert first.accepted == 5 and first.errors == 1
    with DemoServer(script=PotScript(answer_key=key)) as good:
        second = await run_synth(_cfg(good, tmp_path, pairs, shots=0))
        assert len(good.chat_requests) == 2
    assert second.accepted == 6 and len(read_jsonl(tmp_path / "out.jsonl")) == 6


async def test_scheme1_generates_solves_and_checks_consistency(tmp_path):
    with DemoServer(latency=0.0) as srv:
        cfg = SynthConfig(out=tmp_path / "gen.json", base_urls=[srv.base_url], model="demo-pot", topics=["分数", "行程"],
                          count=3, backoff_base=0.01)
        summary = await run_synth(cfg)
    assert summary.total == 6 and summary.accepted + summary.rejected == 6 and summary.accepted >= 4
    items = json.loads((tmp_path / "gen.json").read_text())  # the JSON array written at completion
    assert len(items) == summary.accepted and all(i["source"] == "synth-scheme1" for i in items)
    assert parse_generated("题目：1+1等于几？\n答案：2") == ("1+1等于几？", "2")
    assert parse_generated("no format") is None


def test_synth_cli_json(tmp_path, repo_root, shared_data):
    pairs, rows = _pairs(tmp_path, 5)
    key = {r["question"]: r["answer"] for r in rows}
    with DemoServer(script=PotScript(answer_key=key)) as srv:
        out = subprocess.run([sys.executable, "-m", "mathbench.tui", "synth", "--pairs", str(pairs), "--base-url", srv.base_url,
                              "--model", "demo-pot", "--out", str(tmp_path / "s.jsonl"), "--concurrency", "3",
                              "--fewshot", str(shared_data / "sft" / "llm_train_data.json"), "--json"],
                             cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["accepted"] == 5 and summary["complete"]
    assert len(srv.chat_requests[0].body["messages"]) == 1 + 2 * 4 + 1
