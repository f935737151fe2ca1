"""A run's report as pandas tables, Markdown and CSV files (pandas is imported only inside these functions)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mathbench.core.evaluation.compare import compare
from mathbench.core.evaluation.report import COUNT_KEYS, item_row, summarize, summarize_records
from mathbench.core.evaluation.rundir import RunDir, as_run
from mathbench.core.storage import atomic_write_text


_TABLE_COLUMNS = ["total", "graded", "correct", "wrong", "uncertain", "errors", "accuracy", "ci_low", "ci_high"]
_COMPARE_COLUMNS = ["a_total", "a_correct", "a_accuracy", "b_total", "b_correct", "b_accuracy", "n_paired", "diff",
                    "ci_low", "ci_high", "mcnemar_p", "sentence"]


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
    records = run.load_records(strict=False)
    adjs = run.load_adjudications(strict=False)
    summary = summary or summarize_records(records, adjs)
    overall = _bucket_frame({run.name: summary}, "run").drop(columns=["share_of_correct"])
    overall["accuracy_upper"] = summary["accuracy_upper"]
    overall["grader_accuracy"] = summary["grader"]["accuracy"]
    overall["human_reviewed"] = summary["human"]["reviewed"]
    overall["human_overrides"] = summary["human"]["overrides"]
    rows = [item_row(r, adjs) for r in records]
    items = pd.DataFrame(rows, columns=["id", "sample", "verdict", "grader_verdict", "human_verdict", "level",
                                        "subject", "error"])
    if items["sample"].isna().all():
        items = items.drop(columns=["sample"])
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
        rows = {key: {**row, "ci_low": (row.get("diff_ci95") or [None, None])[0],
                      "ci_high": (row.get("diff_ci95") or [None, None])[1]}
                for key, row in comparison[f"by_{group}"].items()}
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=_COMPARE_COLUMNS)
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
        f"Accuracy {_pct(s['accuracy'])} ({s['correct']}/{s['graded']} graded; 95% CI {_pct(lo)}–{_pct(hi)}), "
        f"human verdicts applied ({s['human']['reviewed']} reviewed, {s['human']['overrides']} overriding the grader; "
        f"grader alone {_pct(s['grader']['accuracy'])}). Uncertain items count as not correct "
        f"(upper bound {_pct(s['accuracy_upper'])}); {s['errors']} errored items are not graded and not counted.",
        "", "## Overall", "", frame_to_markdown(t["overall"]),
    ]
    if s.get("samples", 1) > 1:
        ks = list(s["pass_at_k"])
        parts += ["", f"## Samples ({s['samples']} per problem)", "", "| k | pass@k | maj@k |", "| --- | --- | --- |"]
        parts += [f"| {k} | {_pct(s['pass_at_k'][k])} | {_pct(s['maj_at_k'][k])} |" for k in ks]
        parts += ["", f"Mean agreement between a problem's samples: {_pct(s['agreement']['mean'])}."]
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
        f"{comparison['sentence'][:1].upper()}{comparison['sentence'][1:]}.",
        "",
        f"A {_pct(a['accuracy'])} ({a['correct']}/{a['graded']}), B {_pct(b['accuracy'])} ({b['correct']}/{b['graded']}); "
        f"on the {comparison['n_paired']} problems both graded A {_pct(a['common_accuracy'])}, "
        f"B {_pct(b['common_accuracy'])}; {left_out_text(comparison['left_out'])}. "
        f"{len(flips['right_to_wrong'])} right→wrong, {len(flips['wrong_to_right'])} wrong→right.",
    ]
    for key, title in (("by_level", "By level"), ("by_subject", "By subject")):
        if len(ct[key]):
            parts += ["", f"### {title}", "", frame_to_markdown(ct[key])]
    parts += ["", "### Flips", "", frame_to_markdown(ct["flips"]) if len(ct["flips"]) else "None."]
    return "\n".join(parts)


def left_out_text(left: dict) -> str:
    """How many problems a comparison left out, and why, in words."""
    parts = [f"{n} {why}" for n, why in ((left["only_a"], "only in A"), (left["only_b"], "only in B"),
                                         (left["errors"], "errored in a run")) if n]
    return f"left out {sum(left.values())} ({', '.join(parts)})" if parts else "none left out"


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
