"""Choice benchmarks (MathQA, AQuA, TAL-SCQ5K, GAOKAO shapes) from local files, mapped with --fields, evaluated
end to end against the demo server, and reported like any other run."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from mathbench.core.evaluation.benchmarks import BenchmarkError, load_benchmark, parse_fields
from tests.support.evalkit import server_for, write_jsonl

MATHQA = [  # MathQA's own keys: Problem, options as one labelled string, correct as a lower-case letter
    {"Problem": f"a train covers {d} km in {t} hours . find its speed in km / hr .",
     "options": f"a ) {d // t} , b ) {d // t + 5} , c ) {d // t + 10} , d ) data inadequate , e ) none",
     "correct": "a", "category": "physics"}
    for d, t in [(120, 2), (300, 5), (90, 3), (240, 4), (150, 5), (200, 4)]
]
FIELDS = "question=Problem,answer=correct,choices=options"


def test_mathqa_shape_loads_with_a_field_mapping(tmp_path):
    path = write_jsonl(tmp_path / "mathqa.jsonl", MATHQA)
    problems = load_benchmark(str(path), fields=parse_fields(FIELDS))
    p = problems[0]
    assert p.gold == "A" and p.choices == {"A": "60", "B": "65", "C": "70", "D": "data inadequate", "E": "none"}
    assert p.question.endswith("A. 60\nB. 65\nC. 70\nD. data inadequate\nE. none")  # the model sees its options
    assert p.subject == "physics" and "options" not in p.meta


def test_other_choice_shapes_load_without_a_mapping(tmp_path):
    aqua = write_jsonl(tmp_path / "aqua.jsonl", [
        {"question": "What is 2+3?", "options": ["A)4", "B)5", "C)6", "D)7", "E)8"], "rationale": "...", "correct": "B"}])
    tal = tmp_path / "tal.json"
    tal.write_text(json.dumps([{"problem": "What is $2\\times 3$?", "answer_value": "C", "answer_option_list": [
        [{"aoVal": "A", "content": "$$4$$"}], [{"aoVal": "B", "content": "$$5$$"}], [{"aoVal": "C", "content": "$$6$$"}]]}]))
    gaokao = write_jsonl(tmp_path / "gaokao.jsonl", [
        {"question": "下列四个数中，最小的数是() A.-2 B.0 C. 3 D. -1/2", "answer": "-2", "choice_answer": "A"}])
    mmlu = write_jsonl(tmp_path / "mmlu.jsonl", [{"question": "Which is prime?", "choices": ["4", "6", "7", "8"], "answer": 2}])
    assert [(p.gold, p.choices["B"]) for p in load_benchmark(str(aqua))] == [("B", "5")]
    assert [(p.gold, p.choices["C"]) for p in load_benchmark(str(tal))] == [("C", "$$6$$")]
    assert [(p.gold, p.choices["A"]) for p in load_benchmark(str(gaokao))] == [("A", "-2")]
    assert [(p.gold, p.choices["C"]) for p in load_benchmark(str(mmlu))] == [("C", "7")]


def test_choice_parquet_is_read(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path = tmp_path / "aqua.parquet"
    pd.DataFrame([{"question": "What is 2+3?", "options": ["A)4", "B)5", "C)6"], "correct": "B"}]).to_parquet(path)
    assert [(p.gold, p.choices) for p in load_benchmark(str(path))] == [("B", {"A": "4", "B": "5", "C": "6"})]


def test_bad_mappings_and_golds_name_the_place(tmp_path):
    path = write_jsonl(tmp_path / "mathqa.jsonl", MATHQA[:1])
    with pytest.raises(BenchmarkError, match=rf"{path}:1: no field 'question_text'"):
        load_benchmark(str(path), fields=parse_fields("question=question_text,answer=correct,choices=options"))
    bad = write_jsonl(tmp_path / "bad.jsonl", [{**MATHQA[0], "correct": "z"}])
    with pytest.raises(BenchmarkError, match=rf"{bad}:1: the answer 'z' names none of the options"):
        load_benchmark(str(bad), fields=parse_fields(FIELDS))
    with pytest.raises(ValueError, match="--fields"):
        parse_fields("question")
    with pytest.raises(ValueError, match="--fields"):
        parse_fields("colour=red")


def test_eval_and_report_on_a_choice_benchmark(tmp_path, repo_root):
    path = write_jsonl(tmp_path / "mathqa.jsonl", MATHQA)
    problems = load_benchmark(str(path), fields=parse_fields(FIELDS))
    # The scripted model answers the right letter for four problems and a wrong one for two.
    scripted = [p if i % 3 else dataclasses.replace(p, gold="C") for i, p in enumerate(problems)]
    run_dir = tmp_path / "run"
    with server_for(scripted, latency=0.0) as srv:
        r = subprocess.run([sys.executable, "-m", "mathbench.tui", "eval", "--benchmark", str(path), "--fields", FIELDS,
                            "--base-url", srv.base_url, "--model", "demo-pot", "--run-dir", str(run_dir), "--json"],
                           cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    results = [json.loads(line) for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted((x["gold_answer"], x["pred_answer"], x["verdict"]) for x in results) == sorted(
        [("A", "A", "correct")] * 4 + [("A", "C", "wrong")] * 2)
    assert json.loads((run_dir / "manifest.json").read_text())["fields"] == parse_fields(FIELDS)
    rep = subprocess.run([sys.executable, "-m", "mathbench.tui", "report", str(run_dir), "--json"],
                         cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert rep.returncode == 0, rep.stderr
    summary = json.loads(rep.stdout)
    assert (summary["total"], summary["correct"], summary["wrong"], summary["uncertain"]) == (6, 4, 2, 0)
    assert summary["by_subject"]["physics"]["correct"] == 4
