"""Report summaries, comparisons, tables and exports computed from real run directories."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from mathbench.core.evaluation import export, report
from mathbench.core.evaluation.compare import compare
from mathbench.core.evaluation.follow import RunFollower
from mathbench.core.evaluation.rundir import RunDir


def make_run(path, items, manifest=None):
    """items: list of (id, verdict, level, subject, error)."""
    run = RunDir(path)
    run.write_manifest(manifest or {"benchmark": "math", "model": "m"})
    with run.open_writer() as w:
        for rid, verdict, level, subject, error in items:
            w.append({"id": rid, "question": f"question {rid}", "verdict": verdict, "level": level,
                      "subject": subject, "error": error})
    return run


ITEMS = [
    ("a", "correct", "Level 1", "Algebra", None),
    ("b", "wrong", "Level 1", "Algebra", None),
    ("c", "uncertain", "Level 2", "Geometry", None),
    ("d", "uncertain", "Level 10", "Geometry", None),
    ("e", None, "Level 2", "Algebra", "ReadTimeout"),
    ("f", "correct", None, None, None),
]


def test_counts_and_rules(tmp_path):
    run = make_run(tmp_path / "r", ITEMS)
    s = report.summarize(run)
    assert (s["total"], s["correct"], s["wrong"], s["uncertain"], s["errors"]) == (6, 2, 1, 2, 1)
    # an error is never graded: it counts apart, not as wrong, and accuracy is over graded items
    assert s["correct"] + s["wrong"] + s["uncertain"] == s["graded"] == s["total"] - s["errors"] == 5
    assert s["accuracy"] == pytest.approx(2 / 5)
    assert s["accuracy_upper"] == pytest.approx(4 / 5)
    lo, hi = s["ci95"]
    assert lo < s["accuracy"] < hi
    # natural order of levels; items without a level are left out of by_level
    assert list(s["by_level"]) == ["Level 1", "Level 2", "Level 10"]
    level2 = s["by_level"]["Level 2"]
    assert (level2["errors"], level2["wrong"], level2["graded"], level2["accuracy"]) == (1, 0, 1, 0.0)
    assert s["by_level"]["Level 1"]["accuracy"] == 0.5
    assert s["by_subject"]["Algebra"]["total"] == 3 and s["by_subject"]["Algebra"]["graded"] == 2
    assert s["by_level"]["Level 1"]["share_of_correct"] == 0.5  # one of the two correct answers
    assert s["human"] == {"reviewed": 0, "overrides": 0, "to_correct": 0, "to_wrong": 0, "pending": 2}


def test_human_verdicts_override_grader_everywhere(tmp_path):
    run = make_run(tmp_path / "r", ITEMS)
    run.append_adjudication("c", "correct", grader_verdict="uncertain")
    run.append_adjudication("d", "wrong", grader_verdict="uncertain")
    run.append_adjudication("a", "wrong", "gold key is wrong", grader_verdict="correct")
    s = report.summarize(run)
    assert (s["correct"], s["wrong"], s["uncertain"], s["errors"]) == (2, 3, 0, 1)
    assert s["by_level"]["Level 2"]["correct"] == 1 and s["by_level"]["Level 10"]["wrong"] == 1
    assert s["by_level"]["Level 1"]["correct"] == 0
    # the grader's own figures are kept beside them
    assert s["grader"] == {"correct": 2, "wrong": 1, "uncertain": 2, "accuracy": pytest.approx(2 / 5)}
    assert s["human"]["reviewed"] == 3 and s["human"]["overrides"] == 3
    assert s["human"]["to_correct"] == 1 and s["human"]["to_wrong"] == 2 and s["human"]["pending"] == 0
    run.undo_adjudication("a")
    assert report.summarize(run)["correct"] == 3


def test_wilson_interval_known_values():
    lo, hi = report.wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    assert report.wilson_interval(0, 0) == (0.0, 0.0)
    lo, hi = report.wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.7225, abs=1e-4)


def test_live_summary_replaces_repeated_ids():
    live = report.LiveSummary()
    live.add({"id": 1, "verdict": None, "error": "timeout"})
    live.add({"id": 2, "verdict": "correct"})
    assert live.summary()["errors"] == 1
    live.add({"id": 1, "verdict": "correct", "error": None})  # retried
    s = live.summary()
    assert len(live) == 2 and s["correct"] == 2 and s["errors"] == 0
    live.set_adjudications({2: {"verdict": "wrong"}})
    assert live.summary()["correct"] == 1


def test_chart_data_gives_the_four_charts(tmp_path):
    s = report.summarize(make_run(tmp_path / "r", ITEMS))
    charts = report.chart_data(s)
    assert set(charts) == {"accuracy_by_level", "accuracy_by_subject", "share_by_level", "share_by_subject"}
    labels, values = charts["accuracy_by_level"]
    assert labels == ["Level 1", "Level 2", "Level 10"] and values[0] == 50.0
    assert sum(charts["share_by_subject"][1]) == pytest.approx(50.0)  # "f" has no subject


def test_compare_flips_by_id_with_human_verdicts(tmp_path):
    a = make_run(tmp_path / "a", [("1", "correct", "Level 1", "Algebra", None),
                                  ("2", "wrong", "Level 1", "Algebra", None),
                                  ("3", "correct", "Level 2", "Geometry", None),
                                  ("4", "uncertain", "Level 2", "Geometry", None),
                                  ("5", "correct", "Level 3", "Algebra", None)])
    b = make_run(tmp_path / "b", [("1", "wrong", "Level 1", "Algebra", None),
                                  ("2", "correct", "Level 1", "Algebra", None),
                                  ("3", "correct", "Level 2", "Geometry", None),
                                  ("4", "correct", "Level 2", "Geometry", None),
                                  ("6", "correct", "Level 3", "Algebra", None)])
    a.append_adjudication("4", "correct")  # the human settles it: no flip any more
    c = compare(a, b)
    assert [f["id"] for f in c["flips"]["right_to_wrong"]] == ["1"]
    assert [f["id"] for f in c["flips"]["wrong_to_right"]] == ["2"]
    flip = c["flips"]["right_to_wrong"][0]
    assert (flip["a"], flip["b"], flip["level"], flip["question"]) == ("correct", "wrong", "Level 1", "question 1")
    assert c["common"] == 4 and c["only_a"] == 1 and c["only_b"] == 1
    assert c["a"]["accuracy"] == pytest.approx(4 / 5) and c["b"]["accuracy"] == pytest.approx(4 / 5)
    assert c["a"]["common_accuracy"] == pytest.approx(3 / 4) and c["b"]["common_accuracy"] == pytest.approx(3 / 4)
    assert c["by_level"]["Level 1"]["a_accuracy"] == 0.5 and c["by_level"]["Level 1"]["delta"] == 0.0
    assert c["by_level"]["Level 3"]["a_total"] == 1 and c["by_level"]["Level 3"]["b_accuracy"] == 1.0
    assert set(c["by_subject"]) == {"Algebra", "Geometry"}


def test_tables_markdown_and_csv(tmp_path):
    run = make_run(tmp_path / "r", ITEMS)
    other = make_run(tmp_path / "o", [("a", "wrong", "Level 1", "Algebra", None)])
    t = export.tables(run)
    assert list(t["by_level"].index) == ["Level 1", "Level 2", "Level 10"]
    assert t["overall"].loc["r", "total"] == 6
    assert list(t["errors"]["id"]) == ["e"]
    md = export.to_markdown(run, compare_to=other)
    assert "## By level" in md and "| Level 10 |" in md and "1 right→wrong" in md
    assert "| e | Level 2 | Algebra |" in md
    written = export.to_csv(run, tmp_path / "csv", compare_to=other)
    names = {p.name for p in written}
    assert {"overall.csv", "by_level.csv", "by_subject.csv", "errors.csv", "compare_flips.csv"} <= names
    with open(tmp_path / "csv" / "by_level.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["level"] == "Level 1" and rows[0]["correct"] == "1"
    with open(tmp_path / "csv" / "compare_flips.csv", newline="") as fh:
        flips = list(csv.DictReader(fh))
    assert [(f["direction"], f["id"]) for f in flips] == [("right_to_wrong", "a")]


def cli(repo_root, *args):
    return subprocess.run([sys.executable, "-c", "import sys; from mathbench.tui.cli import main; sys.exit(main())", *args],
                          cwd=repo_root, capture_output=True, text=True)


def test_report_cli_json_keys(tmp_path, repo_root):
    run = make_run(tmp_path / "r", ITEMS)
    run.append_adjudication("c", "correct")
    out = cli(repo_root, "report", str(run.path), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"total", "correct", "wrong", "uncertain", "errors", "accuracy", "by_level", "by_subject"} <= set(data)
    assert data["correct"] == 3 and data["by_level"]["Level 2"]["correct"] == 1


def test_report_cli_table_compare_and_exports(tmp_path, repo_root):
    ws = tmp_path / "ws"
    make_run(ws / "runs" / "a", ITEMS)
    make_run(ws / "runs" / "b", [("a", "wrong", "Level 1", "Algebra", None)])
    out = cli(repo_root, "-w", str(ws), "report", "a", "--compare", "b",
              "--markdown", str(tmp_path / "r.md"), "--csv", str(tmp_path / "csv"))
    assert out.returncode == 0, out.stderr
    assert "40.0%" in out.stdout and "right → wrong: 1" in out.stdout and "errors 1" in out.stdout
    assert (tmp_path / "r.md").read_text().startswith("# Report: a")
    assert (tmp_path / "csv" / "compare_by_level.csv").is_file()
    out = cli(repo_root, "-w", str(ws), "report", "a", "--compare", "b", "--json")
    assert json.loads(out.stdout)["compare"]["flips"]["right_to_wrong"][0]["id"] == "a"


def test_report_cli_errors(tmp_path, repo_root):
    out = cli(repo_root, "report", str(tmp_path / "nope"))
    assert out.returncode == 2 and "not a run directory" in out.stderr
    run = make_run(tmp_path / "r", ITEMS)
    run.manifest_path.write_text("{oops", encoding="utf-8")
    out = cli(repo_root, "report", str(run.path))
    assert out.returncode == 0  # the manifest is not needed to count results
    with open(run.results_path, "a") as fh:
        fh.write('{"id": "torn", "verd')
    out = cli(repo_root, "report", str(run.path), "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["total"] == 6
    assert "torn last line dropped" in out.stderr and "results.jsonl:7" in out.stderr


def test_runs_cli_lists_workspace(tmp_path, repo_root):
    ws = tmp_path / "ws"
    make_run(ws / "runs" / "first", ITEMS, {"benchmark": "gsm8k", "model": "qwen", "created": 5.0})
    out = cli(repo_root, "-w", str(ws), "runs", "--json")
    assert out.returncode == 0, out.stderr
    [info] = json.loads(out.stdout)
    assert (info["name"], info["benchmark"], info["model"], info["total"]) == ("first", "gsm8k", "qwen", 6)
    assert info["accuracy"] == pytest.approx(2 / 5) and info["running"] is False
    assert (info["errors"], info["status"]) == (1, "incomplete")  # an error left makes the run incomplete
    out = cli(repo_root, "-w", str(ws), "runs")
    assert out.returncode == 0 and "first" in out.stdout and "qwen" in out.stdout


def test_follower_tracks_a_growing_run(tmp_path):
    run = make_run(tmp_path / "r", ITEMS[:2])
    follower = RunFollower(run)
    assert [r["id"] for r in follower.poll()] == ["a", "b"]
    assert follower.summary()["total"] == 2 and follower.poll() == []
    with run.open_writer() as w:
        w.append({"id": "c", "verdict": "uncertain", "level": "Level 2", "error": None})
        assert [r["id"] for r in follower.poll()] == ["c"]
    s = follower.summary()
    assert s["total"] == 3 and s["uncertain"] == 1 and s["by_level"]["Level 2"]["total"] == 1
    run.append_adjudication("c", "correct")
    follower.refresh_adjudications()
    assert follower.summary()["correct"] == 2


def test_a_run_is_found_by_its_path_in_the_workspace_from_any_folder(tmp_path, repo_root):
    from mathbench.core.evaluation.rundir import find_run

    ws = tmp_path / "ws"
    run = make_run(ws / "runs" / "a", ITEMS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("runs/a", "a", str(run.path)):
        out = cli(repo_root, "-w", str(ws), "report", name, "--json")
        assert out.returncode == 0 and json.loads(out.stdout)["total"] == 6, (name, out.stderr)
        assert find_run(name, ws) in (run.path, ws / "runs/a")
    assert find_run("runs/b", ws) is None and find_run("a", elsewhere) is None
    out = cli(repo_root, "-w", str(ws), "data", "from-run", "runs/a", "--which", "wrong", "--out",
              str(tmp_path / "pairs.jsonl"))
    assert out.returncode == 0 and "wrong problems of runs/a" in out.stdout, out.stderr
    assert (tmp_path / "pairs.jsonl").is_file()
