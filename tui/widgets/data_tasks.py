"""The Data screen's background work and its progress line: load, filter, save, validate, find duplicates,
check against benchmarks, list files. Workers compute and post messages; the screen's handlers change it."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Static
from textual.worker import Worker, WorkerState

from mathbench.core.datasets.filtering import FilterSpec, matching_rows, source_of
from mathbench.tui.widgets.data_messages import (
    ClustersFound,
    ContaminationFound,
    DatasetLoaded,
    DatasetSaved,
    FilesListed,
    LinesFound,
    RowsFiltered,
    StatsComputed,
    TaskProgressed,
    ValidationFinished,
)
from mathbench.tui.widgets.data_stats import compute_stats

DATA_SUFFIXES = (".json", ".jsonl")
SUMMARY_LABELS = (("code_match", "match"), ("code_mismatch", "mismatch"), ("code_error", "error"),
                  ("code_timeout", "timeout"), ("no_code", "no code"), ("schema_errors", "schema"),
                  ("valid", "valid"), ("stopped early", "stopped after"))


class Pairs:
    """Label-and-number pairs joined by ' · ', wrapped between pairs only, so no number leaves its label."""

    def __init__(self, pairs: list[str]) -> None:
        self.pairs = pairs

    def __rich_console__(self, console, options):
        from rich.text import Text

        line = ""
        for pair in self.pairs:
            joined = f"{line} · {pair}" if line else pair
            if line and len(joined) > options.max_width:
                yield Text(line)
                joined = pair
            line = joined
        if line:
            yield Text(line)


def summary_line(counts: dict[str, int]) -> Pairs:
    """Validation counts in words, every number shown however narrow the terminal."""
    return Pairs([f"{label} {counts[key]:,}" for key, label in SUMMARY_LABELS if key in counts])


def contamination_note(report, flagged: int, asked: bool) -> tuple[str, str] | None:
    """What to tell the user of a benchmark check (and how loudly); None when nothing is worth saying."""
    if report is None:
        return ("The workspace has no benchmark to check against (benchmarks/ is empty and no run names one).",
                "information") if asked else None
    if flagged:
        by = ", ".join(f"{name} {n}" for name, n in report.by_benchmark().items() if n)
        return f"{flagged} items repeat a benchmark problem ({by}); D drops them.", "warning"
    return (f"No item repeats a problem of {', '.join(report.benchmarks)}.", "information") if asked else None


class DataTasks(Vertical):
    """A progress bar with what it measures, and the last validation's counts below."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="data-progress-row"):
            yield ProgressBar(total=1, show_eta=False, id="data-progress")
            yield Static("", id="data-progress-text")
        summary = Static("", id="data-summary")
        summary.display = False
        yield summary

    def on_mount(self) -> None:
        self._unfinished: dict[str, tuple[str, int, int]] = {}  # worker group -> (label, done, total)

    def on_task_progressed(self, message: TaskProgressed) -> None:
        message.stop()
        key = message.group or message.label
        if message.total and message.done < message.total:
            self._unfinished[key] = (message.label, message.done, message.total)
        else:
            self._unfinished.pop(key, None)
        self._show_progress()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            if self._unfinished.pop(event.worker.group, None) is not None:
                self._show_progress()  # a task stopped or replaced before its last step

    def _show_progress(self) -> None:
        bar, text = self.query_one(ProgressBar), self.query_one("#data-progress-text", Static)
        if not self._unfinished:
            # Whichever task ended last, the line reads the same once nothing runs.
            bar.update(total=1, progress=1)
            text.update("done")
            return
        label, done, total = self._unfinished[min(self._unfinished)]
        bar.update(total=total, progress=done)
        more = f" (+{len(self._unfinished) - 1})" if len(self._unfinished) > 1 else ""
        text.update(f"{label} {100 * done // total}%{more}")

    def say(self, text: str) -> None:
        """Show *text* beside the progress bar."""
        self.query_one("#data-progress-text", Static).update(text)

    def show_summary(self, counts: Pairs | None) -> None:
        """Show the last validation's counts (None: the line goes)."""
        summary = self.query_one("#data-summary", Static)
        summary.update(counts if counts is not None else "")
        summary.display = counts is not None

    def _progress(self, label: str):
        """A progress callback for the calling worker's task."""
        from textual.worker import get_current_worker

        group = get_current_worker().group
        return lambda done, total: self.post_message(TaskProgressed(label, done, total, group))

    # -- workers ----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="data-files", exit_on_error=False, description="data-files")
    def list_files(self, root: Path) -> None:
        files = sorted(p for p in root.iterdir() if p.suffix in DATA_SUFFIXES and p.is_file()) if root.is_dir() else []
        self.post_message(FilesListed(files))

    @work(thread=True, exclusive=True, group="data-load", exit_on_error=False, description="data-load")
    def load(self, path: Path) -> None:
        from mathbench.core.datasets import Dataset, DatasetError

        try:
            dataset = Dataset.load(path, on_progress=self._progress(f"loading {path.name}"))
        except DatasetError as exc:
            self.post_message(DatasetLoaded(None, str(exc), path=path))
            return
        self.post_message(TaskProgressed(f"loaded {path.name}", 1, 1, "data-load"))
        self.post_message(DatasetLoaded(dataset, sources=Counter(source_of(item) for item in dataset.items), path=path))
        if not dataset.lines_known:
            dataset.lines  # noqa: B018 - finding them is the work
            self.post_message(LinesFound(dataset))

    @work(thread=True, exclusive=True, group="data-filter", exit_on_error=False, description="data-filter")
    def filter_rows(self, dataset, spec: FilterSpec, statuses: dict[int, str], clusters: dict[int, int],
                    flagged: frozenset[int]) -> None:
        import re

        from textual.worker import get_current_worker

        worker = get_current_worker()
        try:
            rows = matching_rows(dataset, spec, statuses, clusters, lambda: worker.is_cancelled, flagged)
        except re.error as exc:
            self.post_message(RowsFiltered([], spec.query, f"bad regex: {exc}"))
            return
        if rows is not None:
            self.post_message(RowsFiltered(rows, spec.query))

    @work(thread=True, exclusive=True, group="data-save", exit_on_error=False, description="data-save")
    def save(self, dataset, label: str) -> None:
        from mathbench.core.datasets import DatasetError

        try:
            path = dataset.save()
        except (DatasetError, OSError) as exc:
            self.post_message(DatasetSaved(dataset.path, label, str(exc)))
            return
        self.post_message(DatasetSaved(path, label))

    @work(thread=True, exclusive=True, group="data-dedupe", exit_on_error=False, description="data-dedupe")
    def find_clusters(self, dataset, near: bool) -> None:
        """Exact (and, when *near*, MinHash near-duplicate) clusters of the problems."""
        from mathbench.core.datasets import find_duplicates

        texts = [dataset.problem(i) for i in range(len(dataset))]
        clusters = find_duplicates(texts, near=near, on_progress=self._progress("duplicates"))
        mapping = {index: number for number, cluster in enumerate(clusters, start=1) for index in cluster.members}
        self.post_message(ClustersFound(dataset, mapping, clusters, near))

    @work(thread=True, exclusive=True, group="data-decontaminate", exit_on_error=False, description="data-decontaminate")
    def check_benchmarks(self, dataset, workspace) -> None:
        """The items against the workspace's benchmarks (and, for items made from a run, their own)."""
        from mathbench.core.datasets.export import check_before_export

        check = check_before_export(dataset.items, workspace=workspace,
                                    on_progress=self._progress("benchmark check"))
        self.post_message(ContaminationFound(dataset, check.report, check.against, check.problems))

    @work(thread=True, exclusive=True, group="data-validate", exit_on_error=False, description="data-validate")
    def validate(self, dataset, stop: threading.Event, timeout: float, cache: Path) -> None:
        from mathbench.core.datasets import validate_items

        try:
            report = validate_items(dataset.items, fmt=dataset.fmt, lines=dataset.lines, timeout=timeout, cache=cache,
                                    on_progress=self._progress("validating"), stop=stop,
                                    path=str(dataset.path) if dataset.path else None)
        except Exception as exc:  # noqa: BLE001 - reported, the screen stays
            stop.set()
            self.post_message(ValidationFinished({}, {}, error=f"{type(exc).__name__}: {exc}"))
            return
        statuses = {check.index: ("schema" if check.schema_errors else check.code_status) for check in report.checks}
        summary = report.summary()
        counts = {k: summary[k] for k in ("schema_errors", "code_match", "code_mismatch", "code_error",
                                           "code_timeout", "no_code", "valid") if summary.get(k)}
        if report.cancelled:
            counts["stopped early"] = len(report.checks)
        stop.set()
        self.post_message(ValidationFinished(statuses, counts, {check.index: check for check in report.checks}))

    @work(thread=True, exclusive=True, group="data-stats", exit_on_error=False, description="data-stats")
    def compute_stats(self, dataset) -> None:
        self.post_message(StatsComputed(compute_stats(dataset)))
