"""Report: accuracy by level and subject as terminal charts, run-vs-run comparison with flips, exports."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.widgets import ContentSwitcher, Static

from mathbench.tui.widgets.chart import SERIES_COLORS, BarChartData, PlotextChart
from mathbench.tui.widgets.common import VERDICT_STYLES, WorkbenchScreen, one_line, pct
from mathbench.tui.widgets.item_table import Column, ItemTable
from mathbench.tui.widgets.run_data import run_signature


class ReportReady(Message):
    """A run's summary (and its comparison with a second run) was computed."""

    def __init__(self, run_path: Path, compare_path: Path | None, summary: dict, comparison: dict | None,
                 records: dict[Any, dict], other_records: dict[Any, dict]) -> None:
        super().__init__()
        self.run_path = run_path
        self.compare_path = compare_path
        self.summary = summary
        self.comparison = comparison
        self.records = records
        self.other_records = other_records


class ReportFailed(Message):
    """The report could not be computed."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class ReportExported(Message):
    """The report was written to files."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.paths = paths


def _flip_style(value: str) -> str | None:
    return VERDICT_STYLES.get(value)


FLIP_COLUMNS = [
    Column("change", 12),
    Column("id", 12),
    Column("A", 9, style=_flip_style),
    Column("B", 9, style=_flip_style),
    Column("level", 6, hide_below=90),
    Column("subject", 16, hide_below=110),
    Column("question"),
]


def single_charts(summary: dict) -> list[BarChartData]:
    """The seed's four charts: accuracy and share of correct answers, by level and by subject."""
    charts = []
    for group, horizontal in (("level", False), ("subject", True)):
        buckets = summary.get(f"by_{group}") or {}
        labels = tuple(f"L{k}" if group == "level" and str(k).isdigit() else str(k) for k in buckets)
        acc = tuple(round(100 * (b["accuracy"] or 0.0), 1) for b in buckets.values())
        share = tuple(round(100 * b.get("share_of_correct", 0.0), 1) for b in buckets.values())
        charts.append(BarChartData(f"Accuracy by {group} (%)", labels, (acc,), horizontal=horizontal))
        charts.append(BarChartData(f"Share of correct answers by {group} (%)", labels, (share,),
                                   horizontal=horizontal, limit=max(share, default=0) * 1.15 or 100))
    return [charts[0], charts[2], charts[1], charts[3]]


def compare_charts(comparison: dict) -> list[BarChartData]:
    """Accuracy by level and by subject, runs A and B side by side."""
    names = (comparison["a"]["name"], comparison["b"]["name"])
    charts = []
    for group in ("level", "subject"):
        buckets = comparison.get(f"by_{group}") or {}
        labels = tuple(f"L{k}" if group == "level" and str(k).isdigit() else str(k) for k in buckets)
        a = tuple(round(100 * (b["a_accuracy"] or 0.0), 1) for b in buckets.values())
        b = tuple(round(100 * (b["b_accuracy"] or 0.0), 1) for b in buckets.values())
        charts.append(BarChartData(f"Accuracy by {group} (%)", labels, (a, b), names=names))
    return charts


class ReportScreen(WorkbenchScreen):
    """Charts of the current run; with a second run chosen, both side by side and the flipped problems."""

    TITLE = "Report"
    BINDINGS = [
        Binding("v", "toggle_view", "Charts/Compare", id="report.view", tooltip="Switch between one run's charts and the comparison"),
        Binding("c", "pick_compare", "Compare with…", id="report.compare", tooltip="Choose the run to compare against"),
        Binding("o", "pick_run", "Run…", id="report.pick-run", tooltip="Choose the run to report"),
        Binding("x", "export", "Export", id="report.export", tooltip="Write the report as Markdown and CSV into exports/"),
        Binding("f5,ctrl+r", "reload", "Reload", id="report.reload", tooltip="Compute the report again from disk"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.summary: dict | None = None
        self.comparison: dict | None = None
        self.flips: list[dict] = []
        self.records: dict[Any, dict] = {}
        self.other_records: dict[Any, dict] = {}
        self._shown: tuple | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("loading…", id="report-status")
        with ContentSwitcher(initial="report-single", id="report-switcher"):
            with Grid(id="report-single"):
                for i in range(4):
                    yield PlotextChart(id=f"chart-{i}", classes="report-chart")
            with Vertical(id="report-compare"):
                yield Static(id="report-legend")
                with Grid(id="report-compare-charts"):
                    yield PlotextChart(id="compare-level", classes="report-chart")
                    yield PlotextChart(id="compare-subject", classes="report-chart")
                yield Static(id="report-flips-title", classes="pane-title")
                yield ItemTable(FLIP_COLUMNS, id="report-flips")

    def on_screen_resume(self) -> None:
        if self.app.current_run is None:
            self.query_one("#report-status", Static).update("No run to report: choose one with o.")
        elif run_signature(self.app.current_run, self.app.compare_run) != self._shown:
            # A new run, or its verdicts changed (adjudication) while the screen was hidden.
            self.action_reload()

    def action_reload(self) -> None:
        if self.app.current_run is None:
            return
        self._shown = run_signature(self.app.current_run, self.app.compare_run)
        self.query_one("#report-status", Static).update(f"computing the report of {self.app.current_run.name}…")
        self.compute(self.app.current_run, self.app.compare_run)

    @work(thread=True, exclusive=True, group="report", exit_on_error=False)
    def compute(self, run_path: Path, compare_path: Path | None) -> None:
        """Summarize the run (and compare it) off the event loop."""
        from mathbench.core.evaluation.compare import compare
        from mathbench.core.evaluation.report import summarize_records
        from mathbench.core.evaluation.rundir import RunDir

        try:
            run = RunDir(run_path)
            records = run.load_results(strict=False)
            summary = summarize_records(records, run.load_adjudications(strict=False))
            summary["run"] = str(run.manifest.get("name") or run.name)
            comparison = None
            other: dict[Any, dict] = {}
            if compare_path is not None and compare_path != run_path:
                comparison = compare(run_path, compare_path)
                other = {r["id"]: r for r in RunDir(compare_path).load_results(strict=False)}
        except (OSError, ValueError) as exc:
            self.post_message(ReportFailed(str(exc)))
            return
        self.post_message(ReportReady(run_path, compare_path, summary, comparison,
                                      {r["id"]: r for r in records}, other))

    @on(ReportFailed)
    def failed(self, message: ReportFailed) -> None:
        self.query_one("#report-status", Static).update(f"[red]{message.reason}[/red]")

    @on(ReportReady)
    def ready(self, message: ReportReady) -> None:
        self.summary, self.comparison = message.summary, message.comparison
        self.records, self.other_records = message.records, message.other_records
        s = message.summary
        lo, hi = s["ci95"] or (None, None)
        status = (f"[b]{s['run']}[/b] accuracy [b]{pct(s['accuracy'])}[/b] ({s['correct']}/{s['total']}, "
                  f"95% CI {pct(lo)}–{pct(hi)}) · human reviewed {s['human']['reviewed']}, "
                  f"{s['human']['pending']} uncertain pending · grader alone {pct(s['grader']['accuracy'])}")
        if message.comparison:
            status += f"   [dim]v: compare with {message.comparison['b']['name']}[/dim]"
        else:
            status += "   [dim]c: choose a run to compare with[/dim]"
        self.query_one("#report-status", Static).update(status)
        for i, data in enumerate(single_charts(s)):
            self.query_one(f"#chart-{i}", PlotextChart).show(data)
        self._show_comparison()

    def _show_comparison(self) -> None:
        comparison = self.comparison
        flips_table = self.query_one("#report-flips", ItemTable)
        if comparison is None:
            self.query_one("#report-legend", Static).update("No second run chosen: press c to pick one.")
            self.query_one("#report-flips-title", Static).update("")
            flips_table.set_rows([])
            self.flips = []
            for chart in ("#compare-level", "#compare-subject"):
                self.query_one(chart, PlotextChart).show(None)
            return
        a, b = comparison["a"], comparison["b"]
        self.query_one("#report-legend", Static).update(Text.assemble(
            ("■", SERIES_COLORS[0]), " A ", (a["name"], "bold"), f" {pct(a['accuracy'])} ({a['correct']}/{a['total']})   ",
            ("■", SERIES_COLORS[1]), " B ", (b["name"], "bold"), f" {pct(b['accuracy'])} ({b['correct']}/{b['total']})   ",
            (f"{comparison['common']} common items", "dim"),
        ))
        level_chart, subject_chart = compare_charts(comparison)
        self.query_one("#compare-level", PlotextChart).show(level_chart)
        self.query_one("#compare-subject", PlotextChart).show(subject_chart)
        flips = comparison["flips"]
        self.flips = ([{"change": "A✓ → B✗", **f} for f in flips["right_to_wrong"]]
                      + [{"change": "A✗ → B✓", **f} for f in flips["wrong_to_right"]])
        self.query_one("#report-flips-title", Static).update(
            f"Flipped problems: {len(flips['right_to_wrong'])} right in A and not in B, "
            f"{len(flips['wrong_to_right'])} the other way   [dim]enter opens[/dim]"
        )
        flips_table.set_rows([
            (f["change"], str(f["id"]), f["a"], f["b"], str(f.get("level") or ""), str(f.get("subject") or ""),
             one_line(f.get("question"), 200))
            for f in self.flips
        ], keep_cursor=False)

    def action_toggle_view(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "report-compare" if switcher.current == "report-single" else "report-single"
        if switcher.current == "report-compare":
            self.query_one("#report-flips", ItemTable).focus()

    @on(ItemTable.Selected, "#report-flips")
    def open_flip(self, event: ItemTable.Selected) -> None:
        from mathbench.tui.screens.item import ItemScreen

        records = [self.records[f["id"]] for f in self.flips if f["id"] in self.records]
        if not records:
            return
        others = {f["id"]: self.other_records.get(f["id"]) for f in self.flips}
        other_name = self.comparison["b"]["name"] if self.comparison else ""
        self.app.push_screen(ItemScreen(records, event.index, others=others, other_name=other_name))

    def action_pick_run(self) -> None:
        from mathbench.tui.widgets.run_picker import RunPicker

        def picked(path: Path | None) -> None:
            if path is not None:
                self.app.select_run(path)
                self.action_reload()

        self.app.push_screen(RunPicker("Report on run", self.app.current_run), picked)

    def action_pick_compare(self) -> None:
        from mathbench.tui.widgets.run_picker import RunPicker

        def picked(path: Path | None) -> None:
            if path is not None:
                if path.resolve() == self.app.current_run:
                    self.notify("Pick a run other than the one reported.", severity="warning")
                    return
                self.app.compare_run = path.resolve()
                self.action_reload()
                self.query_one(ContentSwitcher).current = "report-compare"

        self.app.push_screen(RunPicker("Compare with run", self.app.compare_run), picked)

    def action_export(self) -> None:
        if self.app.current_run is None:
            return
        self.notify("Exporting the report…")
        self.export(self.app.current_run, self.app.compare_run)

    @work(thread=True, exclusive=True, group="report-export", exit_on_error=False)
    def export(self, run_path: Path, compare_path: Path | None) -> None:
        """Write report.md and the CSV tables into exports/<run>-<time>/."""
        from mathbench.core.evaluation.export import to_csv, write_markdown

        stamp = time.strftime("%Y%m%d-%H%M%S")
        out_dir = self.app.workspace.exports_dir / f"{run_path.name}-report-{stamp}"
        try:
            markdown = write_markdown(run_path, out_dir / "report.md", compare_to=compare_path)
            csvs = to_csv(run_path, out_dir, compare_to=compare_path)
        except (OSError, ValueError) as exc:
            self.post_message(ReportFailed(f"export failed: {exc}"))
            return
        self.post_message(ReportExported([markdown, *csvs]))

    @on(ReportExported)
    def exported(self, message: ReportExported) -> None:
        folder = message.paths[0].parent
        self.notify(f"Wrote {len(message.paths)} files to {folder}", title="Report exported", timeout=8)
