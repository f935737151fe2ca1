"""Failures back into data: `data from-run` pairs, synthesis keeping their provenance, export keeping test
problems out of training data, and the report that follows the data to a trained model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

from mathbench.core.datasets.from_run import missed_problems
from mathbench.core.datasets.lineage import report_path, training_data
from mathbench.core.datasets.synth import SynthConfig, run_synth
from mathbench.core.demo.server import DemoServer, PotScript
from mathbench.core.evaluation.benchmarks import load_benchmark
from mathbench.core.evaluation.rundir import RunDir, effective_verdict
from mathbench.core.workspace import open_workspace


def _cli(ws, *args):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.run([sys.executable, "-m", "mathbench.tui", "--workspace", str(ws.root), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def _verdicts(run: RunDir) -> dict:
    adjudications = run.load_adjudications()
    return {r["id"]: None if r.get("error") else effective_verdict(r, adjudications) for r in run.load_results()}


def test_from_run_writes_wrong_uncertain_and_flipped_problems_with_gold_and_provenance(tmp_path):
    ws = open_workspace(tmp_path / "ws")
    v1, v2 = RunDir(ws.runs_dir / "demo-pot-v1"), RunDir(ws.runs_dir / "demo-pot-v2")
    after, before = _verdicts(v2), _verdicts(v1)
    out = ws.datasets_dir / "wrong.jsonl"
    res = _cli(ws, "data", "from-run", str(v2.path), "--which", "wrong", "--out", str(out), "--json")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["problem_id"] for r in rows) == sorted(i for i, v in after.items() if v == "wrong")
    gold = {p.id: p for p in load_benchmark(ws.benchmarks_dir / "sample.jsonl")}
    for r in rows:
        assert r["question"] == gold[r["id"]].question and r["answer"] == gold[r["id"]].gold
        assert r["source_run"] == "demo-pot-v2" and r["benchmark"] == str((ws.benchmarks_dir / "sample.jsonl").resolve())
    assert json.loads(res.stdout)["problems"] == len(rows)
    # The pairs file is what synthesis reads (scheme 3).
    assert [p.id for p in load_benchmark(out)] == [r["id"] for r in rows]
    uncertain = missed_problems(v2.path, "uncertain", workspace=ws)
    assert sorted(r["id"] for r in uncertain) == sorted(i for i, v in after.items() if v == "uncertain")
    flipped = missed_problems(v2.path, "flipped", compare=v1.path, workspace=ws)
    expected = sorted(i for i, v in after.items() if v in ("wrong", "uncertain") and before.get(i) == "correct")
    assert sorted(r["id"] for r in flipped) == expected
    # Without --compare: the newest other run on the same benchmark.
    assert sorted(r["id"] for r in missed_problems(v2.path, "flipped", workspace=ws)) == expected
    bad = _cli(ws, "data", "from-run", str(tmp_path), "--which", "wrong", "--out", str(tmp_path / "x.jsonl"))
    assert bad.returncode == 2 and "not a run directory" in bad.stderr


async def test_synthesised_items_keep_provenance_and_export_keeps_them_out(tmp_path):
    ws = open_workspace(tmp_path / "ws")
    run = ws.runs_dir / "demo-pot-v1"
    pairs = ws.datasets_dir / "pairs.jsonl"
    assert _cli(ws, "data", "from-run", str(run), "--which", "wrong", "--out", str(pairs)).returncode == 0
    n_pairs = len(pairs.read_text(encoding="utf-8").splitlines())
    key = {p.question: p.gold for p in load_benchmark(ws.benchmarks_dir / "sample.jsonl")}
    with DemoServer(script=PotScript(answer_key=key), latency=0.0) as srv:
        summary = await run_synth(SynthConfig(out=ws.datasets_dir / "fixes.jsonl", base_urls=[srv.base_url],
                                              model="demo-pot", pairs=str(pairs), backoff_base=0.01))
    items = [json.loads(line) for line in (ws.datasets_dir / "fixes.jsonl").read_text(encoding="utf-8").splitlines()]
    assert summary.accepted == len(items) > 0 and n_pairs >= len(items)
    assert all(it["source_run"] == "demo-pot-v1" and it["problem_id"] == it["id"] and it["benchmark"] for it in items)
    # Mixed with clean items: the made-from-test items never reach the exported training data.
    clean = [{"conversations": [{"from": "human", "value": "题目：一辆汽车每小时行驶60千米，3小时行驶多少千米？"},
                                {"from": "gpt", "value": "因此，答案是 \\boxed{180}。"}]}]
    mixed = ws.datasets_dir / "mixed.jsonl"
    mixed.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in clean + items), encoding="utf-8")
    res = _cli(ws, "data", "export", str(mixed), "--to", str(ws.exports_dir), "--name", "round2", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["exported"] == 1 and out["skipped_contaminated"] == len(items)
    assert out["contamination"]["left_out"] == len(items)
    report = json.loads(report_path(ws.exports_dir / "round2.json").read_text(encoding="utf-8"))
    assert report["contaminated"] == len(items) and report["left_out"] == len(items)
    assert "warning" not in res.stderr  # nothing flagged was exported
    # Their benchmark gone, they cannot be cleared: they still stay out, and the export says why.
    (ws.benchmarks_dir / "sample.jsonl").unlink()
    res = _cli(ws, "data", "export", str(mixed), "--to", str(ws.exports_dir), "--name", "round2", "--json")
    assert json.loads(res.stdout)["skipped_contaminated"] == len(items)
    assert "not checked against" in res.stderr and "sample.jsonl" in res.stderr


def test_export_warns_on_overlap_with_a_workspace_benchmark_and_the_model_remembers(tmp_path):
    ws = open_workspace(tmp_path / "ws")
    bench = load_benchmark(ws.benchmarks_dir / "sample.jsonl")
    items = [{"conversations": [{"from": "human", "value": "题目：" + q},
                                {"from": "gpt", "value": "因此，答案是 \\boxed{1}。"}]}
             for q in [bench[0].question, "一辆汽车每小时行驶60千米，3小时行驶多少千米？", bench[5].question.replace("3", "4", 1)]]
    data = ws.datasets_dir / "mine.json"
    data.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    res = _cli(ws, "data", "export", str(data), "--to", str(ws.exports_dir), "--name", "mine")
    assert res.returncode == 0, res.stderr
    assert "warning: 2 exported items overlap a benchmark (sample: 2)" in res.stderr
    assert len(json.loads((ws.exports_dir / "mine.json").read_text(encoding="utf-8"))) == 3
    # A model trained on it: its training_args.yaml names the dataset; an eval can find the report.
    model = ws.train_dir / "mine-lora"
    (model / "checkpoint-10").mkdir(parents=True)
    (model / "training_args.yaml").write_text("dataset: mine\ndataset_dir: exports\noutput_dir: train/mine-lora\n",
                                               encoding="utf-8")
    found = training_data(str(model / "checkpoint-10"), ws)
    assert found["contaminated"] == 2 and "sample: 2" in found["warning"]
    assert training_data("mine-lora", ws)["datasets"]["mine"]["by_benchmark"] == {"sample": 2}
    assert training_data("some/other-model", ws) is None
    # An eval of that model says so in its manifest (served under its folder's path, as vLLM names it).
    key = {p.question: p.gold for p in bench}
    with DemoServer(script=PotScript(answer_key=key), model=str(model)) as srv:
        ev = _cli(ws, "eval", "--benchmark", str(ws.benchmarks_dir / "sample.jsonl"), "--limit", "2",
                  "--base-url", srv.base_url, "--model", str(model), "--run-dir", str(ws.runs_dir / "mine"), "--json")
    assert ev.returncode == 0, ev.stderr
    assert "trained on 2 items that overlap benchmark problems (sample: 2)" in ev.stderr
    noted = RunDir(ws.runs_dir / "mine").manifest["training_data"]
    assert noted["contaminated"] == 2 and noted["model_dir"] == str(model)
    # --drop-contaminated leaves both out and says so.
    res = _cli(ws, "data", "export", str(data), "--to", str(ws.exports_dir), "--name", "mine", "--drop-contaminated",
               "--json")
    assert json.loads(res.stdout)["exported"] == 1 and "warning" not in res.stderr
    assert Counter(h["benchmark"] for h in json.loads(report_path(ws.exports_dir / "mine.json").read_text())["hits"]) \
        == {"sample": 2}
