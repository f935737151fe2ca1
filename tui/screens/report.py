"""Report: accuracy by level and subject as terminal charts, run-vs-run comparison with flips, exports."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import ContentSwitcher, Static

from mathbench.tui.widgets.chart import SERIES_COLORS, Chart, ChartData, bar_chart
from mathbench.tui.widgets.compare_table import compare_table
from mathbench.tui.widgets.common import VERDICT_STYLES, WorkbenchScreen, one_line, pct
from mathbench.tui.widgets.item_list import Column, ItemList
from mathbench.tui.widgets.run_data import run_signature


class ReportReady(Message):
    """A run's summary (and its comparison with a second run) was computed."""

    def __init__(self, run_path: Path, compare_path: Path | None, summary: dict, comparison: dict | None,
                 records: dict[Any, dict], other_records: dict[Any, dict], signature: tuple = ()) -> None:
        super().__init__()
        self.signature = signature
        self.run_path = run_path
        self.compare_path = compare_path
        self.summary = summary
        self.comparison = comparison
        self.records = records
        self.other_records = other_records


class ComparisonReady(Message):
    """The current run was compared with a second run (paired statistics take a moment, so this comes later)."""

    def __init__(self, run_path: Path, compare_path: Path, comparison: dict, other_records: dict[Any, dict]) -> None:
        super().__init__()
        self.run_path = run_path
        self.compare_path = compare_path
        self.comparison = comparison
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


def _group_labels(group: str, keys) -> tuple[str, ...]:
    return tuple(f"L{k}" if group == "level" and str(k).isdigit() else str(k) for k in keys)


def single_charts(summary: dict) -> list[ChartData]:
    """The seed's four charts: accuracy and share of correct answers, by level and by subject."""
    charts = []
    for group in ("level", "subject"):
        buckets = summary.get(f"by_{group}") or {}
        labels = _group_labels(group, buckets)
        acc = tuple(round(100 * (b["accuracy"] or 0.0), 1) for b in buckets.values())
        share = tuple(round(100 * b.get("share_of_correct", 0.0), 1) for b in buckets.values())
        charts.append(bar_chart(f"Accuracy by {group} (%)", labels, acc, limit=100.0, unit="%"))
        charts.append(bar_chart(f"Share of correct answers by {group} (%)", labels, share, unit="%"))
    ordered = [charts[0], charts[2], charts[1], charts[3]]
    if (summary.get("samples") or 1) > 1:
        ordered[3] = samples_chart(summary)  # several samples per problem: pass@k and maj@k matter more
    return ordered


def samples_chart(summary: dict) -> ChartData:
    """pass@k and maj@k against k, for a run that drew several samples per problem."""
    ks = [k for k in summary["pass_at_k"] if summary["pass_at_k"][k] is not None]
    passes = tuple(round(100 * summary["pass_at_k"][k], 1) for k in ks)
    majs = tuple(round(100 * (summary["maj_at_k"].get(k) or 0.0), 1) for k in ks)
    return bar_chart(f"pass@k and maj@k (%), {summary['samples']} samples", tuple(f"k={k}" for k in ks), passes, majs,
                     names=("pass@k", "maj@k"), limit=100.0, unit="%")


def compare_charts(comparison: dict) -> list[ChartData]:
    """Accuracy by level and by subject, runs A and B side by side."""
    names = (comparison["a"]["name"], comparison["b"]["name"])
    charts = []
    for group in ("level", "subject"):
        buckets = comparison.get(f"by_{group}") or {}
        a = tuple(round(100 * (b["a_accuracy"] or 0.0), 1) for b in buckets.values())
        b = tuple(round(100 * (b["b_accuracy"] or 0.0), 1) for b in buckets.values())
        charts.append(bar_chart(f"Accuracy by {group} (%)", _group_labels(group, buckets), a, b, names=names,
                                limit=100.0, unit="%"))
    return charts


class ReportScreen(WorkbenchScreen):
    """Charts of the current run; with a second run chosen, both side by side and the flipped problems."""

    CSS_PATH = "../styles/report.tcss"

    TITLE = "Report"
    BINDINGS = [
        Binding("v", "toggle_view", "Charts/Compare", id="report.view", tooltip="Switch between one run's charts and the comparison"),
        Binding("c", "pick_compare", "Compare with…", id="report.compare", tooltip="Choose the run to compare against"),
        Binding("o", "pick_run", "Run…", id="report.pick-run", tooltip="Choose the run to report"),
        Binding("x", "export", "Export", id="report.export", tooltip="Write the report as Markdown and CSV into exports/"),
        Binding("f5,ctrl+r", "reload", "Reload", id="report.reload", tooltip="Compute the report again from disk"),
        Binding("m", "misses_to_synth", "Misses→Synth", id="report.misses",
                tooltip="Write the run's wrong, flipped or uncertain problems as pairs and open Synth on them"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.summary: dict | None = None
        self.comparison: dict | None = None
        self.flips: list[dict] = []
        self.records: dict[Any, dict] = {}
        self.other_records: dict[Any, dict] = {}
        self._shown: tuple | None = None
        self._compare_path: Path | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("loading…", id="report-status")
        with ContentSwitcher(initial="report-single", id="report-switcher"):
            with Grid(id="report-single"):
                for i in range(4):
                    yield Chart(id=f"chart-{i}", classes="report-chart")
            with Vertical(id="report-compare"):
                yield Static(id="report-legend")
                with Horizontal(id="report-compare-top"):
                    with VerticalScroll(id="report-compare-table-pane"):
                        yield Static(id="report-compare-table")
                    with Grid(id="report-compare-charts"):
                        yield Chart(id="compare-level", classes="report-chart")
                        yield Chart(id="compare-subject", classes="report-chart")
                yield Static(id="report-flips-title", classes="pane-title")
                yield ItemList(columns=FLIP_COLUMNS, id="report-flips")

    def on_screen_resume(self) -> None:
        if self.app.current_run is None:
            self.query_one("#report-status", Static).update("No run to report: choose one with o.")
        else:
            # Computed again only for a new run, or when its verdicts changed while the screen was hidden.
            self.compute(self.app.current_run, self.app.compare_run, only_if_changed=True)

    def action_reload(self) -> None:
        if self.app.current_run is None:
            return
        self.query_one("#report-status", Static).update(f"computing the report of {self.app.current_run.name}…")
        self.compute(self.app.current_run, self.app.compare_run)

    @work(thread=True, exclusive=True, group="report", exit_on_error=False)
    def compute(self, run_path: Path, compare_path: Path | None, only_if_changed: bool = False) -> None:
        """Summarize the run (and compare it) off the event loop."""
        from mathbench.core.evaluation.compare import compare
        from mathbench.core.evaluation.report import summarize_read
        from mathbench.core.evaluation.rundir import RunDir

        signature = run_signature(run_path, compare_path)
        if only_if_changed and signature == self._shown:
            return
        try:
            run = RunDir(run_path)
            records = run.load_results(strict=False)
            # pass@k and maj@k too, when the run drew several samples
            summary = summarize_read(run, records, run.load_adjudications(strict=False))
            summary["run"] = str(run.manifest.get("name") or run.name)
        except (OSError, ValueError) as exc:
            self.post_message(ReportFailed(str(exc)))
            return
        # The run's own charts show at once; the comparison (bootstrap intervals) follows when done.
        self.post_message(ReportReady(run_path, compare_path, summary, None, {r["id"]: r for r in records}, {},
                                      signature))
        if compare_path is None or compare_path == run_path:
            return
        try:
            comparison = compare(run_path, compare_path)
            other = {r["id"]: r for r in RunDir(compare_path).load_results(strict=False)}
        except (OSError, ValueError) as exc:
            self.post_message(ReportFailed(f"comparing with {compare_path.name}: {exc}"))
            return
        self.post_message(ComparisonReady(run_path, compare_path, comparison, other))

    @on(ReportFailed)
    def failed(self, message: ReportFailed) -> None:
        self.query_one("#report-status", Static).update(f"[red]{message.reason}[/red]")

    @on(ReportReady)
    def ready(self, message: ReportReady) -> None:
        self._shown = message.signature
        self.summary, self.comparison = message.summary, None
        self.records, self.other_records = message.records, {}
        self._compare_path = message.compare_path if message.compare_path != message.run_path else None
        self._show_status()
        for i, data in enumerate(single_charts(message.summary)):
            self.query_one(f"#chart-{i}", Chart).show(data)
        self._show_comparison()

    @on(ComparisonReady)
    def compared(self, message: ComparisonReady) -> None:
        if message.run_path != self.app.current_run or message.compare_path != self._compare_path:
            return
        self.comparison, self.other_records = message.comparison, message.other_records
        self._show_status()
        self._show_comparison()

    def _show_status(self) -> None:
        s = self.summary
        lo, hi = s["ci95"] or (None, None)
        status = (f"[b]{s['run']}[/b] accuracy [b]{pct(s['accuracy'])}[/b] ({s['correct']}/{s['graded']} graded, "
                  f"95% CI {pct(lo)}–{pct(hi)}) · human reviewed {s['human']['reviewed']}, "
                  f"{s['human']['pending']} uncertain pending · grader alone {pct(s['grader']['accuracy'])}")
        if self.comparison:
            status += f"   [dim]v: compare with {self.comparison['b']['name']}[/dim]"
        elif self._compare_path is not None:
            status += f"   [dim]comparing with {self._compare_path.name}…[/dim]"
        else:
            status += "   [dim]c: choose a run to compare with[/dim]"
        self.query_one("#report-status", Static).update(status)

    def _show_comparison(self) -> None:
        comparison = self.comparison
        flips_table = self.query_one("#report-flips", ItemList)
        if comparison is None:
            self.query_one("#report-legend", Static).update(
                f"Comparing with {self._compare_path.name}…" if self._compare_path is not None
                else "No second run chosen: press c to pick one.")
            self.query_one("#report-compare-table", Static).update("")
            self.query_one("#report-flips-title", Static).update("")
            flips_table.set_rows([])
            self.flips = []
            for chart in ("#compare-level", "#compare-subject"):
                self.query_one(chart, Chart).show(ChartData())
            return
        a, b = comparison["a"], comparison["b"]
        self.query_one("#report-legend", Static).update(Text.assemble(
            ("■", SERIES_COLORS[0]), " A ", (a["name"], "bold"), f" {pct(a['accuracy'])} ({a['correct']}/{a['total']})   ",
            ("■", SERIES_COLORS[1]), " B ", (b["name"], "bold"), f" {pct(b['accuracy'])} ({b['correct']}/{b['total']})   ",
            (f"{comparison['common']} common items", "dim"),
        ))
        self.query_one("#report-compare-table", Static).update(compare_table(comparison))
        level_chart, subject_chart = compare_charts(comparison)
        self.query_one("#compare-level", Chart).show(level_chart)
        self.query_one("#compare-subject", Chart).show(subject_chart)
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
        ], cursor=0)

    def action_toggle_view(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "report-compare" if switcher.current == "report-single" else "report-single"
        if switcher.current == "report-compare":
            self.query_one("#report-flips", ItemList).focus()

    @on(ItemList.Selected, "#report-flips")
    def open_flip(self, event: ItemList.Selected) -> None:
        from mathbench.tui.screens.item import ItemScreen

        records = [self.records[f["id"]] for f in self.flips if f["id"] in self.records]
        if not records:
            return
        others = {f["id"]: self.other_records.get(f["id"]) for f in self.flips}
        other_name = self.comparison["b"]["name"] if self.comparison else ""
        self.app.push_screen(ItemScreen(records, event.cursor, others=others, other_name=other_name,
                                        run_path=self.app.current_run,
                                        run_name=self.comparison["a"]["name"] if self.comparison else ""))

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

    def action_misses_to_synth(self) -> None:
        from mathbench.tui.widgets.data_misses import open_synth_on_misses

        open_synth_on_misses(self, self.app.current_run, self.app.compare_run)
