"""Two runs side by side: accuracy overall and per level/subject, and the problems that flipped."""

from __future__ import annotations

from pathlib import Path

from mathbench.core.evaluation.report import item_row, natural_key, summarize_rows
from mathbench.core.evaluation.rundir import RunDir, as_run
from mathbench.core.records import Verdict


def _flip(row_a: dict, row_b: dict, record: dict) -> dict:
    question = record.get("question") or ""
    return {
        "id": row_a["id"], "a": row_a["verdict"], "b": row_b["verdict"],
        "level": row_b["level"] or row_a["level"], "subject": row_b["subject"] or row_a["subject"],
        "question": question if len(question) <= 200 else question[:199] + "…",
    }


def _side_by_side(sa: dict, sb: dict) -> dict:
    out = {}
    for key in sorted(set(sa) | set(sb), key=natural_key):
        a, b = sa.get(key), sb.get(key)
        acc_a = a["accuracy"] if a else None
        acc_b = b["accuracy"] if b else None
        out[key] = {
            "a_total": a["total"] if a else 0, "a_correct": a["correct"] if a else 0, "a_accuracy": acc_a,
            "b_total": b["total"] if b else 0, "b_correct": b["correct"] if b else 0, "b_accuracy": acc_b,
            "delta": (acc_b - acc_a) if acc_a is not None and acc_b is not None else None,
        }
    return out


def compare(run_a: RunDir | Path | str, run_b: RunDir | Path | str) -> dict:
    """Run A vs run B (human verdicts applied in each): overall and per level/subject accuracy, and flips by id.

    A flip is an id in both runs that is correct in one and not correct (wrong or uncertain) in the other.
    """
    run_a, run_b = as_run(run_a), as_run(run_b)
    recs_a = run_a.load_results(strict=False)
    recs_b = run_b.load_results(strict=False)
    adj_a = run_a.load_adjudications(strict=False)
    adj_b = run_b.load_adjudications(strict=False)
    rows_a = {r["id"]: item_row(r, adj_a) for r in recs_a}
    rows_b = {r["id"]: item_row(r, adj_b) for r in recs_b}
    by_id_b = {r["id"]: r for r in recs_b}
    sum_a, sum_b = summarize_rows(rows_a.values()), summarize_rows(rows_b.values())
    common = [rid for rid in rows_a if rid in rows_b]
    right_to_wrong, wrong_to_right = [], []
    both_correct = 0
    for rid in common:
        ok_a = rows_a[rid]["verdict"] == Verdict.CORRECT
        ok_b = rows_b[rid]["verdict"] == Verdict.CORRECT
        if ok_a and ok_b:
            both_correct += 1
        elif ok_a:
            right_to_wrong.append(_flip(rows_a[rid], rows_b[rid], by_id_b[rid]))
        elif ok_b:
            wrong_to_right.append(_flip(rows_a[rid], rows_b[rid], by_id_b[rid]))
    n_common = len(common)
    correct_a_common = both_correct + len(right_to_wrong)
    correct_b_common = both_correct + len(wrong_to_right)

    def side(run: RunDir, s: dict, common_correct: int) -> dict:
        return {
            "name": run.name, "path": str(run.path), "total": s["total"], "correct": s["correct"],
            "accuracy": s["accuracy"], "ci95": s["ci95"],
            "common_accuracy": common_correct / n_common if n_common else None,
        }

    return {
        "a": side(run_a, sum_a, correct_a_common),
        "b": side(run_b, sum_b, correct_b_common),
        "common": n_common,
        "only_a": len(rows_a) - n_common,
        "only_b": len(rows_b) - n_common,
        "by_level": _side_by_side(sum_a["by_level"], sum_b["by_level"]),
        "by_subject": _side_by_side(sum_a["by_subject"], sum_b["by_subject"]),
        "flips": {"right_to_wrong": right_to_wrong, "wrong_to_right": wrong_to_right},
    }
