"""The dataset screen: browse, search, filter, edit and validate an SFT file; fluid at 100k items."""

from __future__ import annotations

import gc
import re
import threading
from collections import Counter
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, Input, Label, ProgressBar, Select, Static, TextArea

from mathbench.tui.widgets.common import WorkbenchScreen, one_line
from mathbench.tui.widgets.data_filters import DataFilters, FilterSpec, has_code, matching_rows, source_of
from mathbench.tui.widgets.data_item_list import ItemList
from mathbench.tui.widgets.data_item_view import DataItemView, item_renderable
from mathbench.tui.widgets.data_messages import (
    ClustersFound,
    DatasetLoaded,
    DatasetSaved,
    RowsFiltered,
    StatsComputed,
    ValidationFinished,
    ValidationProgressed,
)
from mathbench.tui.widgets.data_stats import DataStats, compute_stats

STATUS_MARKS = {"match": ("✓", "green"), "mismatch": ("✗", "red"), "error": ("!", "magenta"),
                "timeout": ("⧗", "yellow"), "no_code": ("·", "dim"), "schema": ("§", "bold red")}
DATA_SUFFIXES = (".json", ".jsonl")
ITEM_VIEW_DELAY = 0.08
"""Seconds the cursor must rest on an item before the item view redraws."""


class DatasetScreen(WorkbenchScreen):
    """Item list on the left, the item (or its editor, or stats) on the right."""

    TITLE = "Data"
    CSS_PATH = "../styles/dataset.tcss"
    AUTO_FOCUS = "#data-list"
    BINDINGS = [
        Binding("slash,ctrl+f", "search", "Search", id="dataset.search", tooltip="Search every turn (/regex for a regex)"),
        Binding("e", "edit", "Edit", id="dataset.edit", tooltip="Edit the item's turns inline"),
        Binding("ctrl+s,f2", "save_edit", "Save", id="dataset.save", tooltip="Save the inline edit (atomic, previous file kept as .bak)"),
        Binding("ctrl+g,f10", "cancel_edit", "Cancel", id="dataset.cancel", tooltip="Leave the editor without saving"),
        Binding("u,ctrl+z", "undo", "Undo", id="dataset.undo", tooltip="Undo the last edit and save"),
        Binding("o", "open_editor", "$EDITOR", id="dataset.editor", tooltip="Open the item in $EDITOR"),
        Binding("n", "new_item", "New item", id="dataset.new", tooltip="Add an item after this one and edit it"),
        Binding("x,delete", "delete_item", "Delete item", id="dataset.delete", tooltip="Remove the item (asks first; u undoes)"),
        Binding("v", "validate", "Validate all", id="dataset.validate",
                tooltip="Run every item's code and compare outputs (v again stops)"),
        Binding("t", "stats", "Stats", id="dataset.stats", tooltip="Counts, lengths and status shares"),
        Binding("f", "focus_filters", "Filters", id="dataset.filters", tooltip="Move to the filter selectors"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.dataset = None
        """The core.datasets.Dataset shown."""
        self.statuses: dict[int, str] = {}
        """Validation status per item index (from validate-all)."""
        self.clusters: dict[int, int] = {}
        """Duplicate cluster number (1-based) per item index (items in no cluster are absent)."""
        self.cluster_list: list = []
        """core.datasets.dedupe.Cluster objects of the loaded file, largest first."""
        self.checks: dict[int, object] = {}
        """core.datasets.checks.ItemCheck per item index, from the last validate-all."""
        self.last_counts: dict[str, int] = {}
        """The counts of the last validate-all (core's summary keys)."""
        self.code_timeout = 10.0
        """Seconds each item's code may run during validate-all."""
        self.editing: int | None = None
        self._pending_item: int | None = None
        self._focus_after_save: int | None = None
        self._validate_stop: threading.Event | None = None
        self._item_timer = None
        self._code_cache: dict[int, bool] = {}

    def compose_body(self) -> ComposeResult:
        with Vertical(id="data-body"):
            yield DataFilters(id="data-filters")
            with Horizontal(id="data-main"):
                with Vertical(id="data-left"):
                    yield Static("", id="data-count")
                    yield ItemList(self._row_text, id="data-list")
                with ContentSwitcher(initial="data-view", id="data-right"):
                    yield DataItemView(id="data-view")
                    with Vertical(id="data-edit"):
                        yield Label("Edit: <<<role>>> starts a turn · ctrl+s save · ctrl+g cancel", classes="pane-title")
                        yield TextArea(id="data-editor", soft_wrap=True, show_line_numbers=True)
                    yield DataStats(id="data-stats")
            with Horizontal(id="data-progress-row"):
                yield ProgressBar(total=1, show_eta=True, id="data-progress")
                yield Static("", id="data-progress-text")

    def on_mount(self) -> None:
        files = self._dataset_files()
        select = self.query_one("#data-file", Select)
        select.set_options([(p.name, str(p)) for p in files])
        if files:
            select.value = str(files[0])
        else:
            self.query_one("#data-count", Static).update(f"No .json/.jsonl files in {self.workspace.datasets_dir}")

    def on_unmount(self) -> None:
        gc.unfreeze()

    def _dataset_files(self) -> list[Path]:
        root = self.workspace.datasets_dir
        if not root.is_dir():
            return []
        return sorted(p for p in root.iterdir() if p.suffix in DATA_SUFFIXES and p.is_file())

    # loading ------------------------------------------------------------------------------
    @on(Select.Changed, "#data-file")
    def _file_chosen(self, event: Select.Changed) -> None:
        if event.value is not Select.BLANK:
            self.open_file(Path(str(event.value)))

    def open_file(self, path: Path) -> None:
        """Load *path* (in a worker) and show it."""
        self.query_one("#data-count", Static).update(f"loading {path.name} …")
        self.load_dataset(path)

    @work(thread=True, exclusive=True, group="data-load", exit_on_error=False)
    def load_dataset(self, path: Path) -> None:
        from mathbench.core.datasets import Dataset, DatasetError

        try:
            dataset = Dataset.load(path)
        except DatasetError as exc:
            self.post_message(DatasetLoaded(None, str(exc)))
            return
        self.post_message(DatasetLoaded(dataset, sources=Counter(source_of(item) for item in dataset.items)))

    def on_dataset_loaded(self, message: DatasetLoaded) -> None:
        if message.error:
            self.query_one("#data-count", Static).update(f"[red]{message.error}[/]")
            self.notify(message.error, title="Dataset", severity="error", timeout=10)
            return
        self.dataset = message.dataset
        # A big file is millions of long-lived objects; kept out of the cyclic GC's scans, a full collection
        # no longer stalls every few key presses. Unfrozen when the file or the screen goes, so that
        # whatever was frozen with it can still be collected.
        gc.unfreeze()
        gc.freeze()
        self.statuses, self.clusters, self._code_cache, self.checks = {}, {}, {}, {}
        self.cluster_list = []
        self.find_clusters(message.dataset)
        self.query_one(DataFilters).show_sources(message.sources)
        self.apply_filters()

    @work(thread=True, exclusive=True, group="data-dedupe", exit_on_error=False)
    def find_clusters(self, dataset) -> None:
        """Exact and near-duplicate clusters of the problems, from core.datasets.dedupe."""
        from mathbench.core.datasets import find_duplicates

        clusters = find_duplicates([dataset.problem(i) for i in range(len(dataset))])
        mapping = {index: number for number, cluster in enumerate(clusters, start=1) for index in cluster.members}
        self.post_message(ClustersFound(dataset, mapping, clusters))

    def on_clusters_found(self, message: ClustersFound) -> None:
        if message.dataset is not self.dataset:
            return  # found for a file no longer shown
        self.clusters = message.mapping
        self.cluster_list = message.clusters
        self.query_one(ItemList).invalidate()
        if self.query_one("#data-dup", Select).value == "dup":
            self.apply_filters()

    # rows ---------------------------------------------------------------------------------
    def _row_text(self, index: int) -> Text:
        ds = self.dataset
        if ds is None or index >= len(ds):
            return Text("")  # a row of the previous filter, redrawn before the new one arrives
        status = self.statuses.get(index)
        mark, style = STATUS_MARKS.get(status, (" ", ""))
        text = Text(f"{index + 1:>6} ", style="dim")
        text.append(mark, style=style)
        text.append(" ")
        turns = ds.turns(index)
        text.append(f"{len(turns):>2}t ", style="dim")
        code = self._code_cache.get(index)
        if code is None:
            code = self._code_cache[index] = has_code(turns)
        text.append("py " if code else "   ", style="cyan")
        if index in self.clusters:
            text.append(f"≈{self.clusters[index]} ", style="yellow")
        text.append(one_line(ds.problem(index), 200))
        return text

    @on(Input.Changed, "#data-search")
    @on(Select.Changed, "#data-status")
    @on(Select.Changed, "#data-code")
    @on(Select.Changed, "#data-dup")
    @on(Select.Changed, "#data-source")
    def _filters_changed(self) -> None:
        self.apply_filters()

    def apply_filters(self) -> None:
        """Recompute the shown rows from the search box and filters (in a worker)."""
        if self.dataset is None:
            return
        self.filter_rows(self.dataset, self.query_one(DataFilters).spec(), dict(self.statuses), dict(self.clusters))

    @work(thread=True, exclusive=True, group="data-filter", exit_on_error=False)
    def filter_rows(self, dataset, spec: FilterSpec, statuses: dict[int, str], clusters: dict[int, int]) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        try:
            rows = matching_rows(dataset, spec, statuses, clusters, lambda: worker.is_cancelled)
        except re.error as exc:
            self.post_message(RowsFiltered([], spec.query, f"bad regex: {exc}"))
            return
        if rows is not None:
            self.post_message(RowsFiltered(rows, spec.query))

    def on_rows_filtered(self, message: RowsFiltered) -> None:
        if message.error:
            self.notify(message.error, severity="error")
            return
        item_list = self.query_one(ItemList)
        keep = item_list.current
        if self._focus_after_save is not None:
            keep, self._focus_after_save = self._focus_after_save, None
        item_list.set_rows(message.rows, keep=keep)
        total = len(self.dataset) if self.dataset is not None else 0
        name = self.dataset.path.name if self.dataset is not None and self.dataset.path else ""
        dirty = " [yellow](unsaved)[/]" if self.dataset is not None and self.dataset.dirty else ""
        self.query_one("#data-count", Static).update(f"{name}: showing {len(message.rows):,} of {total:,}{dirty}")

    @property
    def shown_rows(self) -> list[int]:
        """Item indices the list shows now."""
        return list(self.query_one(ItemList).rows)

    # item view ----------------------------------------------------------------------------
    def on_item_list_highlighted(self, message: ItemList.Highlighted) -> None:
        # Drawing an item (highlighted code) is the slow part of moving: wait until the cursor rests.
        self._pending_item = message.index
        if self._item_timer is not None:
            self._item_timer.stop()
        self._item_timer = self.set_timer(ITEM_VIEW_DELAY, self._show_pending_item)

    def on_item_list_chosen(self, message: ItemList.Chosen) -> None:
        self._show_item(message.index)
        self.query_one("#data-view").focus()

    def _show_pending_item(self) -> None:
        self._item_timer = None
        self._show_item(self._pending_item)

    def _show_item(self, index: int | None) -> None:
        view = self.query_one(DataItemView)
        if index is None or self.dataset is None or index >= len(self.dataset):
            view.show(None)
            return
        number = self.clusters.get(index)
        cluster = self.cluster_list[number - 1] if number is not None and number <= len(self.cluster_list) else None
        view.show(item_renderable(self.dataset, index, status=self.statuses.get(index), cluster_number=number,
                                  cluster=cluster, check=self.checks.get(index)))

    # editing ------------------------------------------------------------------------------
    def action_edit(self) -> None:
        from mathbench.core.datasets import turns_to_text

        index = self.query_one(ItemList).current
        if index is None or self.dataset is None:
            return
        self.editing = index
        editor = self.query_one("#data-editor", TextArea)
        editor.load_text(turns_to_text(self.dataset.turns(index), index + 1))
        self.query_one("#data-right", ContentSwitcher).current = "data-edit"
        editor.focus()

    def action_save_edit(self) -> None:
        from mathbench.core.datasets import DatasetError, text_to_turns

        if self.editing is None or self.dataset is None:
            return
        text = self.query_one("#data-editor", TextArea).text
        try:
            turns = text_to_turns(text, f"item {self.editing + 1}")
            if not turns:
                raise DatasetError(None, "no turns left; nothing changed")
            if turns != self.dataset.turns(self.editing):
                self.dataset.set_turns(self.editing, turns)
        except (DatasetError, ValueError) as exc:
            self.notify(str(exc), title="Edit not saved", severity="error", timeout=10)
            return
        index, self.editing = self.editing, None
        self._after_change(index, "edit")

    def action_cancel_edit(self) -> None:
        if self.editing is None:
            return
        self.editing = None
        self.query_one("#data-right", ContentSwitcher).current = "data-view"
        self.query_one(ItemList).focus()

    def action_undo(self) -> None:
        if self.dataset is None or not self.dataset.can_undo:
            self.notify("Nothing to undo.", title="Dataset")
            return
        before = list(self.dataset.items)
        label = self.dataset.undo()
        after = self.dataset.items
        if len(before) != len(after):
            # Items were added or removed: every index after the change moved, so no status is trusted.
            self.statuses, self.checks, self._code_cache = {}, {}, {}
        else:
            for index in (i for i in range(len(after)) if before[i] is not after[i]):
                self.statuses.pop(index, None)
                self.checks.pop(index, None)
                self._code_cache.pop(index, None)
        self._after_change(None, f"undo {label or ''}".strip())

    def action_new_item(self) -> None:
        if self.dataset is None:
            return
        current = self.query_one(ItemList).current
        at = len(self.dataset) if current is None else current + 1
        self.dataset.add_item([("human", ""), ("gpt", "")], index=at)
        self.statuses, self.checks, self._code_cache = {}, {}, {}  # indices after *at* moved
        self._after_change(None, "new item")
        self._focus_after_save = at
        self.notify("Item added; e edits it, u removes it again.", title="Dataset")

    def action_delete_item(self) -> None:
        index = self.query_one(ItemList).current
        if index is None or self.dataset is None:
            return
        from mathbench.tui.widgets.jobs_confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes and self.dataset is not None:
                self.dataset.remove_item(index)
                self.statuses, self.checks, self._code_cache = {}, {}, {}
                self._after_change(None, f"delete item {index + 1}")

        problem = one_line(self.dataset.problem(index), 70)
        self.app.push_screen(ConfirmScreen(f"Delete item {index + 1}?\n{problem}", yes="Delete"), answered)

    def action_open_editor(self) -> None:
        from mathbench.core.datasets import edit_item_in_editor

        index = self.query_one(ItemList).current
        if index is None or self.dataset is None:
            return
        from textual.app import SuspendNotSupported

        try:
            with self.app.suspend():
                outcome = edit_item_in_editor(self.dataset, index)
        except SuspendNotSupported:
            self.notify("This terminal cannot hand itself to an editor; use e to edit inline.",
                        title="$EDITOR", severity="error")
            return
        if outcome.error:
            self.notify(outcome.error, title="$EDITOR", severity="error", timeout=10)
        elif outcome.changed:
            self._after_change(index, "edit in $EDITOR")
        else:
            self.notify("No change.", title="$EDITOR")

    def _after_change(self, index: int | None, label: str) -> None:
        """Redraw the changed item and save the file."""
        self.query_one("#data-right", ContentSwitcher).current = "data-view"
        item_list = self.query_one(ItemList)
        rows = item_list.rows
        if self.dataset is not None and rows and rows[-1] >= len(self.dataset):  # rows are in ascending order
            # Items went away: show every index that still exists until the filter runs again.
            item_list.set_rows(range(len(self.dataset)), keep=item_list.current)
        if index is not None:
            self._code_cache.pop(index, None)
            self.statuses.pop(index, None)
            self.checks.pop(index, None)
        item_list.invalidate()
        item_list.focus()
        self._show_item(item_list.current)
        self.save_dataset(self.dataset, label)

    @work(thread=True, exclusive=True, group="data-save", exit_on_error=False)
    def save_dataset(self, ds, label: str) -> None:
        from mathbench.core.datasets import DatasetError

        try:
            path = ds.save()
        except (DatasetError, OSError) as exc:
            self.post_message(DatasetSaved(ds.path, label, str(exc)))
            return
        self.post_message(DatasetSaved(path, label))

    def on_dataset_saved(self, message: DatasetSaved) -> None:
        if message.error:
            self.notify(message.error, title="Save failed", severity="error", timeout=10)
        else:
            self.notify(f"{message.label}: saved {message.path.name} (previous kept as .bak)", title="Dataset")
        self.apply_filters()

    # validation ---------------------------------------------------------------------------
    def action_validate(self) -> None:
        if self.dataset is None:
            return
        if self._validate_stop is not None and not self._validate_stop.is_set():
            self._validate_stop.set()
            self.query_one("#data-progress-text", Static).update("stopping …")
            return
        self._validate_stop = threading.Event()
        self.query_one("#data-progress", ProgressBar).update(total=len(self.dataset), progress=0)
        self.query_one("#data-progress-text", Static).update("validating …")
        self.validate_all(self.dataset, self._validate_stop)

    @work(thread=True, exclusive=True, group="data-validate", exit_on_error=False)
    def validate_all(self, dataset, stop: threading.Event) -> None:
        from mathbench.core.datasets import default_cache_path, validate_items

        total = len(dataset)

        def progressed(done: int, _total: int) -> None:
            self.post_message(ValidationProgressed(done, total))

        try:
            report = validate_items(dataset.items, fmt=dataset.fmt, lines=dataset.lines, timeout=self.code_timeout,
                                    cache=default_cache_path(self.workspace.state_dir), on_progress=progressed,
                                    stop=stop, path=str(dataset.path) if dataset.path else None)
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

    def on_validation_progressed(self, message: ValidationProgressed) -> None:
        self.query_one("#data-progress", ProgressBar).update(total=message.total, progress=message.done)
        self.query_one("#data-progress-text", Static).update(f"{message.done:,}/{message.total:,}")

    def on_validation_finished(self, message: ValidationFinished) -> None:
        text = self.query_one("#data-progress-text", Static)
        if message.error:
            text.update(f"[red]{message.error}[/]")
            return
        self.statuses = message.statuses
        self.checks = message.checks
        self.last_counts = message.counts
        self.query_one("#data-progress", ProgressBar).update(progress=len(message.statuses))
        text.update("  ".join(f"{k}: {v}" for k, v in sorted(message.counts.items())))
        self.query_one(ItemList).invalidate()
        self.apply_filters()
        self._show_item(self.query_one(ItemList).current)

    # stats --------------------------------------------------------------------------------
    def action_stats(self) -> None:
        switcher = self.query_one("#data-right", ContentSwitcher)
        if switcher.current == "data-stats":
            switcher.current = "data-view"
            return
        if self.dataset is not None:
            self.compute_stats(self.dataset)
        switcher.current = "data-stats"

    @work(thread=True, exclusive=True, group="data-stats", exit_on_error=False)
    def compute_stats(self, dataset) -> None:
        self.post_message(StatsComputed(compute_stats(dataset)))

    def on_stats_computed(self, message: StatsComputed) -> None:
        self.query_one(DataStats).show(message.figures, self.statuses)

    def action_search(self) -> None:
        self.query_one("#data-search", Input).focus()

    def action_focus_filters(self) -> None:
        self.query_one("#data-status", Select).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "data-search":
            self.query_one(ItemList).focus()


