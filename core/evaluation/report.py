"""Run reports: accuracy overall, by level and by subject, human verdicts applied; run-vs-run flips.

Counting rules (the same everywhere: CLI, TUI, exports):

- every item counts once (its latest record); ``total = correct + wrong + uncertain``;
- a standing human verdict replaces the grader's; the grader's counts stay in ``grader``;
- ``uncertain`` items the human has not settled count as not correct, so ``accuracy =
  correct / total`` is a lower bound and ``accuracy_upper = (correct + uncertain) / total``;
- ``errors`` counts items whose record has an ``error``; they overlap the three verdicts (an
  errored item with no grader verdict counts as wrong).

pandas is imported only by the table and export functions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mathbench.core.evaluation.rundir import GRADER_VERDICTS, HUMAN_VERDICTS, RunDir, as_run
from mathbench.core.storage import atomic_write_text

NO_GROUP = None  # items without a level/subject are left out of by_level / by_subject
COUNT_KEYS = ("total", "correct", "wrong", "uncertain", "errors")


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


def item_row(record: dict, adjudications: dict | None = None) -> dict:
    """The compact facts about one item that every summary is built from."""
    rid = record.get("id")
    adj = adjudications.get(rid) if adjudications else None
    human = adj.get("verdict") if adj and adj.get("verdict") in HUMAN_VERDICTS else None
    grader = record.get("verdict") if record.get("verdict") in GRADER_VERDICTS else None
    verdict = human or grader or "wrong"
    return {
        "id": rid,
        "verdict": verdict,
        "grader_verdict": grader,
        "human_verdict": human,
        "level": _group_key(record.get("level")),
        "subject": _group_key(record.get("subject")),
        "error": record.get("error") or None,
    }


def _empty() -> dict:
    return {k: 0 for k in COUNT_KEYS}


def _finish(bucket: dict, total_correct: int | None = None) -> dict:
    n, k = bucket["total"], bucket["correct"]
    bucket["accuracy"] = k / n if n else None
    lo, hi = wilson_interval(k, n)
    bucket["ci95"] = [lo, hi] if n else None
    if total_correct is not None:
        bucket["share_of_correct"] = k / total_correct if total_correct else 0.0
    return bucket


def summarize_rows(rows: Iterable[dict]) -> dict:
    """Summary dict (see module doc) from item_row() rows."""
    overall = _empty()
    grader = {"correct": 0, "wrong": 0, "uncertain": 0}
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
            b[verdict] += 1
            if row["error"]:
                b["errors"] += 1
        g = row["grader_verdict"] or "wrong"
        grader[g] += 1
        h = row["human_verdict"]
        if h is not None:
            human["reviewed"] += 1
            if h != g:
                human["overrides"] += 1
                human["to_correct" if h == "correct" else "to_wrong"] += 1
        elif g == "uncertain":
            human["pending"] += 1
    total_correct = overall["correct"]
    summary = _finish(overall)
    n = overall["total"]
    summary["accuracy_upper"] = (overall["correct"] + overall["uncertain"]) / n if n else None
    summary["by_level"] = {k: _finish(levels[k], total_correct) for k in sorted(levels, key=natural_key)}
    summary["by_subject"] = {k: _finish(subjects[k], total_correct) for k in sorted(subjects, key=natural_key)}
    grader["accuracy"] = grader["correct"] / n if n else None
    summary["grader"] = grader
    summary["human"] = human
    return summary


def summarize_records(records: Iterable[dict], adjudications: dict | None = None) -> dict:
    """Summary of records already in memory (one per id), human verdicts from *adjudications* applied."""
    return summarize_rows(item_row(r, adjudications) for r in records)


def summarize(run: RunDir | Path | str, *, strict: bool = False) -> dict:
    """Summary of a run directory: ``total, correct, wrong, uncertain, errors, accuracy, by_level,
    by_subject`` plus ``ci95``, ``accuracy_upper``, ``grader`` and ``human`` (see module doc)."""
    run = as_run(run)
    problems: list[str] = []
    records = run.load_results(strict=strict, problems=problems)
    adjs = run.load_adjudications(strict=strict, problems=problems)
    summary = summarize_records(records, adjs)
    summary["run"] = run.name
    summary["problems"] = problems
    return summary


class LiveSummary:
    """Running summary for a growing run: add records as they arrive (a repeated id replaces the old one)."""

    def __init__(self, adjudications: dict | None = None):
        self.adjudications = adjudications or {}
        self._rows: dict[Any, dict] = {}
        self._records: dict[Any, dict] = {}

    def add(self, record: dict) -> None:
        self._records[record.get("id")] = record
        self._rows[record.get("id")] = item_row(record, self.adjudications)

    def extend(self, records: Iterable[dict]) -> None:
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


class RunFollower:
    """Follows a run as it grows: poll() reads only new complete lines and keeps a LiveSummary current."""

    def __init__(self, run: RunDir | Path | str):
        self.run = as_run(run)
        self.tail = self.run.tail()
        self.live = LiveSummary(self.run.load_adjudications(strict=False))

    def poll(self) -> list[dict]:
        """Records appended since the last poll (already folded into the summary)."""
        new = self.tail.read_new()
        if self.tail.resets:
            # The file was cut back (a torn tail repaired): rebuild from what is there now.
            self.tail.resets = 0
            self.live = LiveSummary(self.live.adjudications)
        self.live.extend(new)
        return new

    def refresh_adjudications(self) -> None:
        """Re-read adjudications.jsonl (a reviewer may have settled items meanwhile)."""
        self.live.set_adjudications(self.run.load_adjudications(strict=False))

    @property
    def problems(self) -> list[str]:
        """Malformed complete lines met so far, as FILE:LINE:COL messages."""
        return self.tail.problems

    def summary(self) -> dict:
        return self.live.summary()


def chart_data(summary: dict) -> dict[str, tuple[list[str], list[float]]]:
    """The four charts of the seed as (labels, values in %): accuracy and share of correct, by level and subject."""
    out = {}
    for group in ("level", "subject"):
        buckets = summary.get(f"by_{group}") or {}
        labels = list(buckets)
        out[f"accuracy_by_{group}"] = (labels, [100 * (b["accuracy"] or 0.0) for b in buckets.values()])
        out[f"share_by_{group}"] = (labels, [100 * b.get("share_of_correct", 0.0) for b in buckets.values()])
    return out


# --------------------------------------------------------------------------- comparison


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
        ok_a = rows_a[rid]["verdict"] == "correct"
        ok_b = rows_b[rid]["verdict"] == "correct"
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


# --------------------------------------------------------------------------- pandas tables and exports


_TABLE_COLUMNS = ["total", "correct", "wrong", "uncertain", "errors", "accuracy", "ci_low", "ci_high"]


def _bucket_frame(buckets: dict[str, dict], index_name: str):
    import pandas as pd

    rows = []
    for key, b in buckets.items():
        lo, hi = b["ci95"] or (None, None)
        row = {index_name: key, **{c: b.get(c) for c in COUNT_KEYS}, "accuracy": b["accuracy"],
               "ci_low": lo, "ci_high": hi}
        if "share_of_correct" in b:
            row["share_of_correct"] = b["share_of_correct"]
        rows.append(row)
    columns = [index_name, *_TABLE_COLUMNS, "share_of_correct"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.set_index(index_name)


def tables(run: RunDir | Path | str, summary: dict | None = None) -> dict:
    """pandas DataFrames for a run: ``overall``, ``by_level``, ``by_subject``, ``errors``, ``items``."""
    import pandas as pd

    run = as_run(run)
    records = run.load_results(strict=False)
    adjs = run.load_adjudications(strict=False)
    summary = summary or summarize_records(records, adjs)
    overall = _bucket_frame({run.name: summary}, "run").drop(columns=["share_of_correct"])
    overall["accuracy_upper"] = summary["accuracy_upper"]
    overall["grader_accuracy"] = summary["grader"]["accuracy"]
    overall["human_reviewed"] = summary["human"]["reviewed"]
    overall["human_overrides"] = summary["human"]["overrides"]
    rows = [item_row(r, adjs) for r in records]
    items = pd.DataFrame(rows, columns=["id", "verdict", "grader_verdict", "human_verdict", "level", "subject", "error"])
    errors = items[items["error"].notna()][["id", "level", "subject", "grader_verdict", "error"]].reset_index(drop=True)
    return {
        "overall": overall,
        "by_level": _bucket_frame(summary["by_level"], "level"),
        "by_subject": _bucket_frame(summary["by_subject"], "subject"),
        "errors": errors,
        "items": items,
    }


def compare_tables(comparison: dict) -> dict:
    """pandas DataFrames for a compare() result: ``by_level``, ``by_subject``, ``flips``."""
    import pandas as pd

    out = {}
    for group in ("level", "subject"):
        frame = pd.DataFrame.from_dict(comparison[f"by_{group}"], orient="index")
        frame.index.name = group
        out[f"by_{group}"] = frame
    flips = [{"direction": "right_to_wrong", **f} for f in comparison["flips"]["right_to_wrong"]]
    flips += [{"direction": "wrong_to_right", **f} for f in comparison["flips"]["wrong_to_right"]]
    out["flips"] = pd.DataFrame(flips, columns=["direction", "id", "a", "b", "level", "subject", "question"])
    return out


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def frame_to_markdown(frame) -> str:
    """A GitHub-style Markdown table of a DataFrame (index included when named)."""
    if frame.index.name is not None:
        frame = frame.reset_index()
    header = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def to_markdown(run: RunDir | Path | str, *, compare_to: RunDir | Path | str | None = None) -> str:
    """The report as Markdown: overall, by level, by subject, errors (and a comparison when asked)."""
    run = as_run(run)
    t = tables(run)
    s = summarize(run)
    lo, hi = s["ci95"] or (None, None)
    parts = [
        f"# Report: {run.name}",
        "",
        f"Accuracy {_pct(s['accuracy'])} ({s['correct']}/{s['total']}; 95% CI {_pct(lo)}–{_pct(hi)}), "
        f"human verdicts applied ({s['human']['reviewed']} reviewed, {s['human']['overrides']} overriding the grader; "
        f"grader alone {_pct(s['grader']['accuracy'])}). Uncertain items count as not correct "
        f"(upper bound {_pct(s['accuracy_upper'])}).",
        "", "## Overall", "", frame_to_markdown(t["overall"]),
    ]
    for key, title in (("by_level", "By level"), ("by_subject", "By subject")):
        if len(t[key]):
            parts += ["", f"## {title}", "", frame_to_markdown(t[key])]
    parts += ["", f"## Errors ({len(t['errors'])})", ""]
    parts.append(frame_to_markdown(t["errors"]) if len(t["errors"]) else "None.")
    if compare_to is not None:
        parts += ["", compare_markdown(compare(run, compare_to))]
    return "\n".join(parts) + "\n"


def compare_markdown(comparison: dict) -> str:
    """A compare() result as Markdown."""
    a, b = comparison["a"], comparison["b"]
    ct = compare_tables(comparison)
    flips = comparison["flips"]
    parts = [
        f"## {a['name']} (A) vs {b['name']} (B)",
        "",
        f"A {_pct(a['accuracy'])} ({a['correct']}/{a['total']}), B {_pct(b['accuracy'])} ({b['correct']}/{b['total']}); "
        f"on the {comparison['common']} common items A {_pct(a['common_accuracy'])}, B {_pct(b['common_accuracy'])}. "
        f"{len(flips['right_to_wrong'])} right→wrong, {len(flips['wrong_to_right'])} wrong→right.",
    ]
    for key, title in (("by_level", "By level"), ("by_subject", "By subject")):
        if len(ct[key]):
            parts += ["", f"### {title}", "", frame_to_markdown(ct[key])]
    parts += ["", "### Flips", "", frame_to_markdown(ct["flips"]) if len(ct["flips"]) else "None."]
    return "\n".join(parts)


def write_markdown(run: RunDir | Path | str, path: Path | str, *,
                   compare_to: RunDir | Path | str | None = None) -> Path:
    """Save to_markdown() atomically to *path*."""
    path = Path(path)
    atomic_write_text(path, to_markdown(run, compare_to=compare_to))
    return path


def to_csv(run: RunDir | Path | str, out_dir: Path | str, *,
           compare_to: RunDir | Path | str | None = None) -> list[Path]:
    """Write overall/by_level/by_subject/errors/items CSVs (plus compare_* when asked) into *out_dir*."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    frames = dict(tables(run))
    if compare_to is not None:
        frames.update({f"compare_{k}": v for k, v in compare_tables(compare(run, compare_to)).items()})
    for name, frame in frames.items():
        path = out_dir / f"{name}.csv"
        keep_index = frame.index.name is not None
        atomic_write_text(path, frame.to_csv(index=keep_index))
        written.append(path)
    return written
