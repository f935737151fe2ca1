"""The Data screen's stats pane: item, turn and role counts, lengths, and status shares, with two bar charts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from mathbench.tui.widgets.train_chart import ChartData, LineChart, Series

_BINS = 10


@dataclass
class StatsFigures:
    """What the stats pane shows of one dataset (computed in a worker)."""

    items: int
    fmt: str
    turns_count: Counter = field(default_factory=Counter)
    lengths: list[int] = field(default_factory=list)
    roles: Counter = field(default_factory=Counter)


def compute_stats(dataset) -> StatsFigures:
    """Turns per item, characters per item and turns by role of every item of *dataset*."""
    figures = StatsFigures(items=len(dataset), fmt=dataset.fmt)
    for index in range(len(dataset)):
        turns = dataset.turns(index)
        figures.turns_count[len(turns)] += 1
        figures.lengths.append(sum(len(t.content) for t in turns))
        figures.roles.update(t.role for t in turns)
    return figures


class DataStats(Vertical):
    """Counts as text, then bars of items by number of turns and by length."""

    def compose(self) -> ComposeResult:
        yield Static("", id="data-stats-text")
        yield LineChart(ChartData("turns per item"), id="data-turns-chart")
        yield LineChart(ChartData("characters per item"), id="data-length-chart")

    def show(self, figures: StatsFigures, statuses: Mapping[int, str]) -> None:
        """Draw *figures*, with the share of each validation status when there are any."""
        n = figures.items
        lines = [f"[b]{n:,}[/b] items · format {figures.fmt} · turns by role: "
                 + ", ".join(f"{r} {c:,}" for r, c in figures.roles.most_common())]
        lengths = figures.lengths
        if lengths:
            ordered = sorted(lengths)
            lines.append(f"characters per item: median {ordered[len(ordered) // 2]:,}, max {ordered[-1]:,}")
        if statuses:
            counts = Counter(statuses.values())
            lines.append("status: " + ", ".join(f"{k} {v} ({100 * v / max(1, n):.0f}%)" for k, v in counts.most_common()))
        self.query_one("#data-stats-text", Static).update("\n".join(lines))
        keys = sorted(figures.turns_count)
        self.query_one("#data-turns-chart", LineChart).show(ChartData(
            "items by number of turns",
            (Series("items", tuple(range(len(keys))), tuple(float(figures.turns_count[k]) for k in keys)),),
            kind="bar", bar_labels=tuple(str(k) for k in keys)))
        if lengths:
            width = max(1, -(-(max(lengths) or 1) // _BINS))
            hist = Counter(min(_BINS - 1, length // width) for length in lengths)
            labels = tuple(f"{b * width // 1000}k" if width >= 1000 else str(b * width) for b in range(_BINS))
            self.query_one("#data-length-chart", LineChart).show(ChartData(
                "items by characters",
                (Series("items", tuple(range(_BINS)), tuple(float(hist[b]) for b in range(_BINS))),),
                kind="bar", bar_labels=labels))
