"""Run summaries: accuracy overall, by level and by subject, human verdicts applied, live or from disk.

Counting rules (the same everywhere: CLI, TUI, exports):

- every item counts once (its latest record): ``total = graded + errors`` and
  ``graded = correct + wrong + uncertain``;
- ``errors`` are items whose latest record has an error (or no verdict): they were never graded, so
  they count apart and never as wrong;
- a standing human verdict replaces the grader's; the grader's counts stay in ``grader``;
- ``uncertain`` items the human has not settled count as not correct, so ``accuracy =
  correct / graded`` is a lower bound and ``accuracy_upper = (correct + uncertain) / graded``;
- a run that draws several samples per problem counts each sample as an item; ``samples`` says
  how many, and ``pass_at_k``, ``maj_at_k`` and ``agreement`` (from `samples`) are added by summarize().

Comparisons of two runs are in `compare`; pandas tables, Markdown and CSV in `export`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mathbench.core.evaluation.layout import RunError
from mathbench.core.evaluation.rundir import RunDir, as_run, human_verdict
from mathbench.core.records import ResultRecord, Verdict

NO_GROUP = None  # items without a level/subject are left out of by_level / by_subject
COUNT_KEYS = ("total", "graded", "correct", "wrong", "uncertain", "errors")
ERROR = "error"  # the row verdict of an item that was never graded


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes out of n (95% with the default z); (0, 0) when n is 0."""
    if n <= 0:
        return (0.0, 0.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def natural_key(value: Any) -> tuple:
    """Sort key that puts "Level 2" before "Level 10"."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", str(value)) if t)


def _group_key(value: Any) -> str | None:
    if value is None or value == "":
        return NO_GROUP
    return str(value)


def item_row(record: ResultRecord | dict, adjudications: dict | None = None) -> dict:
    """The compact facts about one item that every summary is built from."""
    if not isinstance(record, ResultRecord):
        record = ResultRecord.from_json(record)
    error = record.is_error
    human = None if error else human_verdict(record, adjudications)
    grader = None if error else record.verdict
    return {
        "id": record.id,
        "sample": record.sample,
        "verdict": ERROR if error else (human or grader),
        "grader_verdict": grader,
        "human_verdict": human,
        "level": _group_key(record.level),
        "subject": _group_key(record.subject),
        "error": (record.error or "no verdict") if error else None,
    }


def _empty() -> dict:
    return {k: 0 for k in COUNT_KEYS}


def _finish(bucket: dict, total_correct: int | None = None) -> dict:
    n, k = bucket["graded"], bucket["correct"]
    bucket["accuracy"] = k / n if n else None
    lo, hi = wilson_interval(k, n)
    bucket["ci95"] = [lo, hi] if n else None
    if total_correct is not None:
        bucket["share_of_correct"] = k / total_correct if total_correct else 0.0
    return bucket


def summarize_rows(rows: Iterable[dict]) -> dict:
    """Summary dict (see module doc) from item_row() rows."""
    overall = _empty()
    grader: dict[str, Any] = {"correct": 0, "wrong": 0, "uncertain": 0}
    human = {"reviewed": 0, "overrides": 0, "to_correct": 0, "to_wrong": 0, "pending": 0}
    levels: dict[str, dict] = {}
    subjects: dict[str, dict] = {}
    for row in rows:
        verdict = row["verdict"]
        buckets = [overall]
        if row["level"] is not None:
            buckets.append(levels.setdefault(row["level"], _empty()))
        if row["subject"] is not None:
            buckets.append(subjects.setdefault(row["subject"], _empty()))
        for b in buckets:
            b["total"] += 1
            if verdict == ERROR:
                b["errors"] += 1
            else:
                b["graded"] += 1
                b[verdict] += 1
        if verdict == ERROR:
            continue
        g = row["grader_verdict"]
        grader[g] += 1
        h = row["human_verdict"]
        if h is not None:
            human["reviewed"] += 1
            if h != g:
                human["overrides"] += 1
                human["to_correct" if h == Verdict.CORRECT else "to_wrong"] += 1
        elif g == Verdict.UNCERTAIN:
            human["pending"] += 1
    total_correct = overall["correct"]
    summary = _finish(overall)
    n = overall["graded"]
    summary["accuracy_upper"] = (overall["correct"] + overall["uncertain"]) / n if n else None
    summary["by_level"] = {k: _finish(levels[k], total_correct) for k in sorted(levels, key=natural_key)}
    summary["by_subject"] = {k: _finish(subjects[k], total_correct) for k in sorted(subjects, key=natural_key)}
    grader["accuracy"] = grader["correct"] / n if n else None
    summary["grader"] = grader
    summary["human"] = human
    return summary


def summarize_records(records: Iterable[ResultRecord | dict], adjudications: dict | None = None) -> dict:
    """Summary of records already in memory (one per key), human verdicts from *adjudications* applied."""
    return summarize_rows(item_row(r, adjudications) for r in records)


def summarize(run: RunDir | Path | str, *, strict: bool = False) -> dict:
    """Summary of a run directory: ``total, graded, correct, wrong, uncertain, errors, accuracy, by_level,
    by_subject`` plus ``ci95``, ``accuracy_upper``, ``grader``, ``human``, and ``samples``, ``pass_at_k``,
    ``maj_at_k``, ``agreement`` (see module doc)."""
    run = as_run(run)
    problems: list[str] = []
    records = run.load_results(strict=strict, problems=problems)
    adjs = run.load_adjudications(strict=strict, problems=problems)
    summary = summarize_read(run, records, adjs)
    summary["problems"] = problems
    return summary


def summarize_read(run: RunDir, records: list[dict], adjudications: dict) -> dict:
    """summarize() of *run* from its results and adjudications as already read (for callers that keep them)."""
    from mathbench.core.evaluation.samples import sample_stats

    typed = [ResultRecord.from_json(r) for r in records]
    summary = summarize_records(typed, adjudications)
    summary["run"] = run.name
    try:
        declared = run.manifest.get("samples")
    except (RunError, OSError):
        declared = None  # a damaged manifest is not needed to count results
    summary.update(sample_stats(typed, adjudications, samples=declared if isinstance(declared, int) else None))
    return summary


class LiveSummary:
    """Running summary for a growing run: add records as they arrive (a repeated key replaces the old one)."""

    def __init__(self, adjudications: dict | None = None):
        self.adjudications = adjudications or {}
        self._rows: dict[Any, dict] = {}
        self._records: dict[Any, ResultRecord] = {}

    def add(self, record: ResultRecord | dict) -> None:
        if not isinstance(record, ResultRecord):
            record = ResultRecord.from_json(record)
        self._records[record.key] = record
        self._rows[record.key] = item_row(record, self.adjudications)

    def extend(self, records: Iterable[ResultRecord | dict]) -> None:
        for r in records:
            self.add(r)

    def set_adjudications(self, adjudications: dict) -> None:
        """Re-apply human verdicts (after the adjudication screen changed some)."""
        self.adjudications = adjudications or {}
        self._rows = {k: item_row(r, self.adjudications) for k, r in self._records.items()}

    def __len__(self) -> int:
        return len(self._rows)

    def summary(self) -> dict:
        return summarize_rows(self._rows.values())


def chart_data(summary: dict) -> dict[str, tuple[list[str], list[float]]]:
    """The four charts of the seed as (labels, values in %): accuracy and share of correct, by level and subject."""
    out = {}
    for group in ("level", "subject"):
        buckets = summary.get(f"by_{group}") or {}
        labels = list(buckets)
        out[f"accuracy_by_{group}"] = (labels, [100 * (b["accuracy"] or 0.0) for b in buckets.values()])
        out[f"share_by_{group}"] = (labels, [100 * b.get("share_of_correct", 0.0) for b in buckets.values()])
    return out
