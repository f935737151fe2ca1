"""Run reading and reports over the real GSM8K predictions of a fine-tuned Yi-1.5-34B (1,319 items)."""

from __future__ import annotations

import json

from mathbench.core.evaluation import report
from mathbench.core.evaluation.compare import compare
from mathbench.core.evaluation.rundir import RunDir


def write_run(path, rows):
    run = RunDir(path)
    run.path.mkdir(parents=True)
    run.results_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return run


def test_real_predictions_load_summarize_and_compare(tmp_path, shared_data):
    lines = (shared_data / "predictions" / "gsm8k_yi-1.5-34b-math.jsonl").read_text(encoding="utf-8").splitlines()
    preds = [json.loads(x) for x in lines]
    rows = [{"id": f"gsm8k-{i:04d}", "question": p["question"], "gold": p["answer"], "final_text": p["pred_answer"],
             "messages": [{"role": "user", "content": p["question"]}, {"role": "assistant", "content": p["pred_answer"]}],
             "verdict": "correct" if p["is_correct"] else "wrong", "level": None, "subject": None, "error": None}
            for i, p in enumerate(preds)]
    expected = sum(1 for p in preds if p["is_correct"])
    run = write_run(tmp_path / "yi", rows)
    s = report.summarize(run)
    assert s["total"] == len(preds) == 1319 and s["correct"] == expected
    assert s["by_level"] == {} and s["by_subject"] == {}

    # a crash mid-line: the torn record is dropped, the rest intact
    with open(run.results_path, "ab") as fh:
        fh.write(json.dumps(rows[0], ensure_ascii=False).encode()[:57])
    assert len(run.load_results()) == 1319
    with run.open_writer() as w:
        assert len(w.done_ids()) == 1319

    # a second "model" that gets the first 10 wrong answers right: exactly those flip
    wrong_ids = [r["id"] for r in rows if r["verdict"] == "wrong"][:10]
    better = write_run(tmp_path / "better", [{**r, "verdict": "correct"} if r["id"] in wrong_ids else r for r in rows])
    c = compare(run, better)
    assert [f["id"] for f in c["flips"]["wrong_to_right"]] == wrong_ids
    assert c["flips"]["right_to_wrong"] == [] and c["common"] == 1319
    assert c["b"]["correct"] - c["a"]["correct"] == 10
