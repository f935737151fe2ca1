"""Two runs side by side, over the problems both graded: the accuracy difference with a paired-bootstrap 95%
interval, the exact McNemar test on the flips, a plain sentence, per level and subject, and the flips.

Runs that drew several samples are compared on each problem's first sample. Problems only one run has,
or that errored in either, are left out and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mathbench.core.evaluation.report import item_row, natural_key, summarize_rows
from mathbench.core.evaluation.rundir import RunDir, as_run
from mathbench.core.records import ResultRecord, Verdict

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
SIGNIFICANCE = 0.05


def bootstrap_diffs(a: Sequence[bool], b: Sequence[bool], *, resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED) -> Any:
    """Accuracy of B minus A on *resamples* paired bootstrap resamples of the problems (a numpy array).

    The difference depends only on how many drawn problems B alone got right and how many A alone did,
    so drawing those counts from a multinomial gives exactly the distribution of resampling problems.
    """
    import numpy as np

    n = len(a)
    if n != len(b):
        raise ValueError("paired samples differ in length")
    if n == 0:
        return np.zeros(0)
    b_only = sum(1 for x, y in zip(a, b) if y and not x)
    a_only = sum(1 for x, y in zip(a, b) if x and not y)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, [b_only / n, a_only / n, (n - b_only - a_only) / n], size=resamples)
    return (draws[:, 0] - draws[:, 1]) / n


def paired_bootstrap_ci(a: Sequence[bool], b: Sequence[bool], *, resamples: int = BOOTSTRAP_RESAMPLES,
                        seed: int = BOOTSTRAP_SEED) -> tuple[float, float] | None:
    """The 95% percentile interval of accuracy(B) - accuracy(A) over paired problems (None with none)."""
    import numpy as np

    diffs = bootstrap_diffs(a, b, resamples=resamples, seed=seed)
    if not len(diffs):
        return None
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(lo), float(hi)


def mcnemar_p(a_only: int, b_only: int) -> float:
    """The exact McNemar test's two-sided p-value: the flips against a fair coin (1.0 with no flips)."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(min(a_only, b_only), n, 0.5).pvalue)


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.01 else f"p = {p:.2f}"


def verdict_sentence(diff: float | None, ci: Sequence[float] | None, p: float | None, n: int,
                     a_name: str = "A", b_name: str = "B") -> str:
    """One plain sentence: which run is better, by how much, how sure; or that no difference shows."""
    if not n or diff is None or ci is None or p is None:
        return "no problem was graded in both runs: nothing to compare"
    lo, hi = 100 * ci[0], 100 * ci[1]
    if p < SIGNIFICANCE and (lo > 0 or hi < 0):
        better, by, lo, hi = (b_name, 100 * diff, lo, hi) if diff > 0 else (a_name, -100 * diff, -hi, -lo)
        return f"{better} is better by {by:.1f} points, 95% CI {lo:.1f}–{hi:.1f}, {_fmt_p(p)} ({n} problems)"
    return (f"no detectable difference: {b_name} − {a_name} = {100 * diff:+.1f} points, "
            f"95% CI {lo:.1f} to {hi:.1f}, {_fmt_p(p)} ({n} problems)")


def paired_stats(a: Sequence[bool], b: Sequence[bool]) -> dict:
    """``n_paired``, both runs' accuracy on them, ``diff`` (B - A), ``diff_ci95``, the flips and ``mcnemar_p``."""
    n = len(a)
    a_only = sum(1 for x, y in zip(a, b) if x and not y)
    b_only = sum(1 for x, y in zip(a, b) if y and not x)
    acc_a = sum(a) / n if n else None
    acc_b = sum(b) / n if n else None
    ci = paired_bootstrap_ci(a, b)
    return {
        "n_paired": n, "a_paired_accuracy": acc_a, "b_paired_accuracy": acc_b,
        "diff": (acc_b - acc_a) if acc_a is not None and acc_b is not None else None,
        "diff_ci95": list(ci) if ci else None,
        "a_only": a_only, "b_only": b_only, "mcnemar_p": mcnemar_p(a_only, b_only) if n else None,
    }


def _flip(row_a: dict, row_b: dict, record: ResultRecord) -> dict:
    question = record.question or ""
    return {
        "id": row_a["id"], "a": row_a["verdict"], "b": row_b["verdict"],
        "level": row_b["level"] or row_a["level"], "subject": row_b["subject"] or row_a["subject"],
        "question": question if len(question) <= 200 else question[:199] + "…",
    }


def _first_samples(run: RunDir) -> list[ResultRecord]:
    """One record per problem: the record itself, or its first sample when the run drew several."""
    out: dict[Any, ResultRecord] = {}
    for rec in run.load_records(strict=False):
        kept = out.get(rec.id)
        if kept is None or (rec.sample or 0) < (kept.sample or 0):
            out[rec.id] = rec
    return list(out.values())


def _groups(rows: dict[Any, dict], common: list, field: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for rid in common:
        key = rows[rid][field]
        if key is not None:
            out.setdefault(key, []).append(rid)
    return out


def _side_by_side(sa: dict, sb: dict, paired: dict[str, dict]) -> dict:
    out = {}
    for key in sorted(set(sa) | set(sb) | set(paired), key=natural_key):
        a, b = sa.get(key), sb.get(key)
        acc_a = a["accuracy"] if a else None
        acc_b = b["accuracy"] if b else None
        out[key] = {
            "a_total": a["graded"] if a else 0, "a_correct": a["correct"] if a else 0, "a_accuracy": acc_a,
            "b_total": b["graded"] if b else 0, "b_correct": b["correct"] if b else 0, "b_accuracy": acc_b,
            "delta": (acc_b - acc_a) if acc_a is not None and acc_b is not None else None,
            **(paired.get(key) or paired_stats([], [])),
        }
    return out


def compare(run_a: RunDir | Path | str, run_b: RunDir | Path | str) -> dict:
    """Run A vs run B, human verdicts applied in each (see the module doc).

    Top level: ``diff`` (B - A on the paired problems), ``diff_ci95``, ``mcnemar_p``, ``n_paired``,
    ``sentence``, ``left_out``; ``a`` and ``b`` (each run's own figures); ``by_level`` and ``by_subject``
    rows with the same paired statistics; ``flips`` (right_to_wrong, wrong_to_right).
    """
    run_a, run_b = as_run(run_a), as_run(run_b)
    recs_a, recs_b = _first_samples(run_a), _first_samples(run_b)
    adj_a = run_a.load_adjudications(strict=False)
    adj_b = run_b.load_adjudications(strict=False)
    rows_a = {r.id: item_row(r, adj_a) for r in recs_a}
    rows_b = {r.id: item_row(r, adj_b) for r in recs_b}
    by_id_b = {r.id: r for r in recs_b}
    sum_a, sum_b = summarize_rows(rows_a.values()), summarize_rows(rows_b.values())
    both = [rid for rid in rows_a if rid in rows_b]
    common = [rid for rid in both if rows_a[rid]["error"] is None and rows_b[rid]["error"] is None]
    ok_a = {rid: rows_a[rid]["verdict"] == Verdict.CORRECT for rid in common}
    ok_b = {rid: rows_b[rid]["verdict"] == Verdict.CORRECT for rid in common}
    right_to_wrong = [_flip(rows_a[r], rows_b[r], by_id_b[r]) for r in common if ok_a[r] and not ok_b[r]]
    wrong_to_right = [_flip(rows_a[r], rows_b[r], by_id_b[r]) for r in common if ok_b[r] and not ok_a[r]]
    overall = paired_stats([ok_a[r] for r in common], [ok_b[r] for r in common])

    def grouped(field: str) -> dict[str, dict]:
        return {key: paired_stats([ok_a[r] for r in ids], [ok_b[r] for r in ids])
                for key, ids in _groups(rows_b, common, field).items()}

    def side(run: RunDir, s: dict, acc_common: float | None) -> dict:
        return {
            "name": run.name, "path": str(run.path), "total": s["total"], "graded": s["graded"],
            "errors": s["errors"], "correct": s["correct"], "accuracy": s["accuracy"], "ci95": s["ci95"],
            "common_accuracy": acc_common,
        }

    left_out = {"only_a": len(rows_a) - len(both), "only_b": len(rows_b) - len(both),
                "errors": len(both) - len(common)}
    by_level = _side_by_side(sum_a["by_level"], sum_b["by_level"], grouped("level"))
    by_subject = _side_by_side(sum_a["by_subject"], sum_b["by_subject"], grouped("subject"))
    for rows in (by_level, by_subject):
        for row in rows.values():
            row["sentence"] = verdict_sentence(row["diff"], row["diff_ci95"], row["mcnemar_p"], row["n_paired"])
    return {
        "a": side(run_a, sum_a, overall["a_paired_accuracy"]),
        "b": side(run_b, sum_b, overall["b_paired_accuracy"]),
        "n_paired": overall["n_paired"], "diff": overall["diff"], "diff_ci95": overall["diff_ci95"],
        "mcnemar_p": overall["mcnemar_p"], "a_only": overall["a_only"], "b_only": overall["b_only"],
        "sentence": verdict_sentence(overall["diff"], overall["diff_ci95"], overall["mcnemar_p"],
                                     overall["n_paired"]),
        "left_out": left_out,
        "common": overall["n_paired"],
        "only_a": left_out["only_a"],
        "only_b": left_out["only_b"],
        "by_level": by_level,
        "by_subject": by_subject,
        "flips": {"right_to_wrong": right_to_wrong, "wrong_to_right": wrong_to_right},
        "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED},
    }
