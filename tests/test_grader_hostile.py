"""A batch of sixty hostile answers through `mathbench grade`: a verdict on every line, none lost, none hung."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.hostile import READABLE, hostile_pairs


def test_hostile_batch_gets_a_verdict_on_every_line(tmp_path, repo_root):
    cases = hostile_pairs()
    src, out = tmp_path / "hostile.jsonl", tmp_path / "graded.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        for name, gold, pred in cases:
            fh.write(json.dumps({"name": name, "gold": gold, "prediction": pred}) + "\n")
    r = subprocess.run([sys.executable, "-m", "mathbench.tui", "grade", str(src), "-o", str(out), "--json"],
                       cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n") if line]
    assert [row["name"] for row in rows] == [name for name, _, _ in cases]
    summary = json.loads(r.stdout)
    assert summary["total"] == 60 and summary["correct"] + summary["wrong"] + summary["uncertain"] == 60
    got = {row["name"]: (row["verdict"], row["reason"]) for row in rows}
    for name, _, _ in cases:
        verdict, reason = got[name]
        if name in READABLE:
            assert verdict == READABLE[name], (name, verdict, reason)
        else:
            assert (verdict, reason) == ("uncertain", "too-large"), (name, verdict, reason)


def test_an_unreadable_item_does_not_take_its_neighbours_down(tmp_path, repo_root):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    lines = [{"gold": "#### 18", "prediction": "\\boxed{18}"},
             {"gold": "42", "prediction": "\\boxed{" + "9" * 200_000 + "}"},
             {"gold": "42", "prediction": "\\boxed{1e999999999}"},
             {"gold": "\\frac{1}{2}", "prediction": "0.5"}]
    src.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "mathbench.tui", "grade", str(src), "-o", str(out)],
                       cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n") if line]
    assert [(row["verdict"], row["reason"]) for row in rows] == [
        ("correct", "exact"), ("uncertain", "too-large"), ("uncertain", "too-large"), ("correct", "exact")]
