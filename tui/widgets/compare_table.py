"""Two runs side by side as a table: A%, B% and the difference with its interval, overall, by level, by subject."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from mathbench.tui.widgets.common import pct

CI_KEYS = ("diff_ci95", "delta_ci95")
P_KEYS = ("mcnemar_p", "p")


def _first(bucket: dict, keys: tuple[str, ...]) -> Any:
    return next((bucket[k] for k in keys if bucket.get(k) is not None), None)


def _delta(value: float | None) -> Text:
    if value is None:
        return Text("—", style="dim")
    points = 100 * value
    style = "green" if points > 0 else "red" if points < 0 else ""
    return Text(f"{points:+.1f}", style=style)


def _interval(ci: Any) -> str:
    if not ci or len(ci) != 2 or ci[0] is None:
        return "—"
    return f"{100 * ci[0]:+.0f}..{100 * ci[1]:+.0f}"


def _p(value: Any) -> str:
    if value is None:
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def compare_rows(comparison: dict) -> list[dict]:
    """One row per group: overall on the common items, then each level and subject; paired figures (the
    problems both runs graded) when the comparison has them."""
    a, b = comparison["a"], comparison["b"]
    overall = {
        "group": "all (paired)", "n": comparison.get("n_paired", comparison.get("common")),
        "a": a.get("common_accuracy"), "b": b.get("common_accuracy"),
        "delta": comparison.get("diff"), "ci": _first(comparison, CI_KEYS), "p": _first(comparison, P_KEYS),
    }
    if overall["delta"] is None and overall["a"] is not None and overall["b"] is not None:
        overall["delta"] = overall["b"] - overall["a"]
    rows = [overall]
    for group in ("level", "subject"):
        for key, bucket in (comparison.get(f"by_{group}") or {}).items():
            label = f"Level {key}" if group == "level" and str(key).isdigit() else str(key)
            paired = "n_paired" in bucket
            rows.append({
                "group": label,
                "n": bucket["n_paired"] if paired else max(bucket.get("a_total") or 0, bucket.get("b_total") or 0),
                "a": bucket.get("a_paired_accuracy" if paired else "a_accuracy"),
                "b": bucket.get("b_paired_accuracy" if paired else "b_accuracy"),
                "delta": bucket.get("diff" if paired else "delta"),
                "ci": _first(bucket, CI_KEYS), "p": _first(bucket, P_KEYS),
            })
    return rows


def compare_table(comparison: dict) -> Table:
    """The comparison as a Rich table; the interval and p columns appear when the comparison carries them."""
    rows = compare_rows(comparison)
    has_ci = any(row["ci"] is not None for row in rows)
    has_p = any(row["p"] is not None for row in rows)
    cells_by_row: list[list[Any]] = []
    for row in rows:
        cells: list[Any] = [row["group"], str(row["n"]), pct(row["a"]), pct(row["b"]), _delta(row["delta"])]
        if has_ci:
            cells.append(_interval(row["ci"]))
        if has_p:
            cells.append(_p(row["p"]))
        cells_by_row.append(cells)
    headers = ["", "n", "A", "B", "Δ pts"] + (["95% CI"] if has_ci else []) + (["p"] if has_p else [])
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", expand=False)
    for i, header in enumerate(headers):
        if i == 0:
            # Only the group's name gives way when space is short; numbers are never cut.
            table.add_column(header, no_wrap=True, max_width=24, overflow="ellipsis")
            continue
        width = max(len(header), *(len(str(cells[i])) for cells in cells_by_row))
        table.add_column(header, justify="right", no_wrap=True, min_width=width,
                         style="dim" if header in ("95% CI", "p") else None)
    for i, cells in enumerate(cells_by_row):
        table.add_row(*cells, style="bold" if i == 0 else None, end_section=i == 0)
    return table
