"""`mathbench grade` end to end, as a real subprocess on real files."""

from __future__ import annotations

import json
import subprocess
import sys


def _mathbench(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mathbench.tui", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


LINES = [
    {"id": 1, "gold": "Natalia sold 48/2 = 24 clips.\n#### 1,080", "prediction": "因此，共 \\(\\boxed{1,080}\\) 个。"},
    {"id": 2, "gold": "\\frac{1}{3}", "prediction": "The code printed 0.3333333333, so \\boxed{0.3333333333}"},
    {"id": 3, "gold": "So the answer is $\\boxed{10\\pi}$.", "prediction": "\\boxed{31.4}"},
    {"id": 4, "gold": "#### 3", "prediction": "因此，制作一件长袍总共需要 \\(\\boxed{2.5}\\) 卷纤维。", "extra": [1, 2]},
]


def _write(path, rows, tail=""):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) + tail, encoding="utf-8")


def test_grade_writes_output_and_summary(tmp_path, repo_root):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(src, LINES, tail="\n")
    r = _mathbench("grade", str(src), "-o", str(out), "--json", cwd=repo_root)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"total": 4, "correct": 2, "wrong": 1, "uncertain": 1, "accuracy": 0.5}
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["verdict"] for row in rows] == ["correct", "correct", "uncertain", "wrong"]
    assert rows[0]["gold_answer"] == "1080" and rows[0]["pred_answer"] == "1,080"
    assert rows[2]["reason"] == "float-close-not-equal"
    assert rows[3]["extra"] == [1, 2] and rows[3]["id"] == 4


def test_grade_to_stdout(tmp_path, repo_root):
    src = tmp_path / "in.jsonl"
    _write(src, LINES[:1])
    r = _mathbench("grade", str(src), cwd=repo_root)
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert row["verdict"] == "correct" and row["reason"] == "exact"


def test_malformed_line_names_file_and_line_and_writes_nothing(tmp_path, repo_root):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(src, LINES[:2], tail='{"gold": "1", "prediction": \n')
    r = _mathbench("grade", str(src), "-o", str(out), cwd=repo_root)
    assert r.returncode == 2
    assert f"{src}:3:" in r.stderr and "invalid JSON" in r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_missing_field_is_reported(tmp_path, repo_root):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(src, [LINES[0], {"gold": "5"}])
    r = _mathbench("grade", str(src), "-o", str(out), cwd=repo_root)
    assert r.returncode == 2 and f"{src}:2: missing field 'prediction'" in r.stderr
    assert not out.exists()
