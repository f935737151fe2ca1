"""The dataset screen: browse, search, filter, edit, validate an SFT file and check it against benchmarks."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, Input, Label, Select, Static, TextArea

from mathbench.core.datasets.filtering import has_code
from mathbench.tui.widgets.common import WorkbenchScreen, one_line
from mathbench.tui.widgets.data_filters import DataFilters
from mathbench.tui.widgets.item_list import ItemList
from mathbench.tui.widgets.data_item_view import DataItemView, item_renderable, row_text
from mathbench.tui.widgets.data_messages import (
    ClustersFound,
    ContaminationFound,
    DatasetLoaded,
    DatasetSaved,
    FilesListed,
    LinesFound,
    RowsFiltered,
    StatsComputed,
    ValidationFinished,
)
from mathbench.tui.widgets.data_stats import DataStats
from mathbench.tui.widgets.data_tasks import DataTasks, contamination_note, summary_line

ITEM_VIEW_DELAY = 0.08
"""Seconds the cursor must rest on an item before the item view redraws."""
BIG = 50_000
"""Items above which near duplicates and the benchmark check wait to be asked for instead of running on open."""
FILES_EVERY = 2.0
"""Seconds between looks at the datasets folder for files created or removed meanwhile."""


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
        Binding("c", "check_benchmarks", "Benchmarks", id="dataset.benchmarks",
                tooltip="Flag items that repeat a problem of the workspace's benchmarks"),
        Binding("D", "drop_flagged", "Drop flagged", id="dataset.drop-flagged",
                tooltip="Remove every item that repeats a benchmark problem (asks first; u undoes)"),
        Binding("t", "stats", "Stats", id="dataset.stats", tooltip="Counts, lengths and status shares"),
        Binding("f", "focus_filters", "Filters", id="dataset.filters", tooltip="Move to the filter selectors"),
        Binding("escape", "leave_input", "Leave input", id="dataset.leave-input", show=False,
                tooltip="Leave the search box or a selector: the screen's keys work again"),
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
        self.near_done = False
        """Whether the clusters include near duplicates (a big file has only exact ones until asked)."""
        self.hits: dict[int, object] = {}
        """core.datasets.decontaminate.Hit per item index that repeats a benchmark problem."""
        self.checks: dict[int, object] = {}
        """core.datasets.checks.ItemCheck per item index, from the last validate-all."""
        self.last_counts: dict[str, int] = {}
        """The counts of the last validate-all (core's summary keys)."""
        self.files: list[Path] = []
        """The dataset files the picker offers."""
        self.code_timeout = 10.0
        """Seconds each item's code may run during validate-all."""
        self.editing: int | None = None
        self._pending_item: int | None = None
        self._focus_after_save: int | None = None
        self._validate_stop: threading.Event | None = None
        self._item_timer = None
        self._code_cache: dict[int, bool] = {}
        self._opening: Path | None = None
        self._check_asked = False

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
            yield DataTasks(id="data-tasks")

    def on_mount(self) -> None:
        self._look_for_files()
        self.set_interval(FILES_EVERY, self._look_for_files)

    def on_unmount(self) -> None:
        gc.unfreeze()

    def unsaved_work(self) -> str | None:
        """What quitting now would lose on this screen, if anything."""
        if self.editing is not None:
            return f"the inline edit of item {self.editing + 1}"
        if self.dataset is not None and self.dataset.dirty:
            return f"unsaved edits to {self.dataset.path.name if self.dataset.path else 'the dataset'}"
        return None

    # files --------------------------------------------------------------------------------
    def _look_for_files(self) -> None:  # the worker lists the folder: no file I/O here
        self.query_one(DataTasks).list_files(self.workspace.datasets_dir)

    def on_files_listed(self, message: FilesListed) -> None:
        if message.files == self.files:
            return
        self.files = message.files
        open_path = self.dataset.path if self.dataset is not None else None
        filters = self.query_one(DataFilters)
        filters.show_files(self.files, open_path)
        if self.dataset is None and self._opening is None:
            if self.files:
                filters.choose_file(self.files[0])  # opens it
            else:
                self.query_one("#data-count", Static).update(f"No .json/.jsonl files in {self.workspace.datasets_dir}")

    # loading ------------------------------------------------------------------------------
    @on(Select.Changed, "#data-file")
    def _file_chosen(self, event: Select.Changed) -> None:
        if event.value is not Select.BLANK:
            self.open_file(Path(str(event.value)))

    def open_file(self, path: Path) -> None:
        """Load *path* (in a worker, with progress) and show it."""
        self._opening = path
        self.query_one("#data-count", Static).update(f"loading {path.name} …")
        self.query_one(DataTasks).load(path)

    def on_dataset_loaded(self, message: DatasetLoaded) -> None:
        self._opening = None
        if message.error:
            self.notify(message.error, title="Dataset", severity="error", timeout=10)
            # The picker goes back to the file still shown.
            self.query_one(DataFilters).show_files(self.files, self.dataset.path if self.dataset else None)
            if self.dataset is None:
                self.query_one("#data-count", Static).update(f"[red]{message.error}[/]")
            else:
                self._show_count(len(self.query_one(ItemList).rows), note=f"could not open {message.path.name}")
            return
        self.dataset = message.dataset
        # A big file is millions of long-lived objects; kept out of the cyclic GC's scans, a full collection
        # no longer stalls every few key presses. Unfrozen when the file or the screen goes, so that
        # whatever was frozen with it can still be collected.
        gc.unfreeze()
        gc.freeze()
        self.statuses, self.checks, self.last_counts = {}, {}, {}
        self.query_one(DataTasks).show_summary(None)
        filters = self.query_one(DataFilters)
        filters.show_files(self.files, self.dataset.path)
        filters.show_sources(message.sources)
        self._forget_positions()
        self.apply_filters()

    def _forget_positions(self) -> None:
        """Items moved (a load, an insert, a delete): facts kept by index are gone; look again in the background."""
        self.statuses, self.checks, self._code_cache, self.hits = {}, {}, {}, {}
        self.clusters, self.cluster_list = {}, []
        if self.dataset is None:
            return
        small = len(self.dataset) <= BIG
        tasks = self.query_one(DataTasks)
        tasks.find_clusters(self.dataset, near=small or self.near_done)
        if small:
            tasks.check_benchmarks(self.dataset, self.workspace)

    def on_clusters_found(self, message: ClustersFound) -> None:
        if message.dataset is not self.dataset:
            return  # found for a file no longer shown
        self.clusters, self.cluster_list, self.near_done = message.mapping, message.clusters, message.near
        item_list = self.query_one(ItemList)
        item_list.invalidate()
        if self.query_one("#data-dup", Select).value == "dup":
            self.apply_filters()
        else:
            self._show_item(item_list.current)  # its cluster line

    def on_lines_found(self, message: LinesFound) -> None:
        if message.dataset is self.dataset:
            self._show_item(self.query_one(ItemList).current)  # its file:line

    def on_contamination_found(self, message: ContaminationFound) -> None:
        if message.dataset is not self.dataset:
            return
        report = message.report
        self.hits = report.by_item() if report is not None else {}
        asked, self._check_asked = self._check_asked, False
        note = contamination_note(report, len(self.hits), asked)
        if note is not None:
            self.notify(note[0], title="Benchmarks", severity=note[1], timeout=8)
        item_list = self.query_one(ItemList)
        item_list.invalidate()
        self._show_count(len(item_list.rows))
        self._show_item(item_list.current)
        if self.query_one("#data-dup", Select).value == "bench":
            self.apply_filters()

    # rows ---------------------------------------------------------------------------------
    def _row_text(self, index: int) -> Text:
        ds = self.dataset
        if ds is None or index >= len(ds):
            return Text("")  # a row of the previous filter, redrawn before the new one arrives
        turns = ds.turns(index)
        code = self._code_cache.get(index)
        if code is None:
            code = self._code_cache[index] = has_code(turns)
        return row_text(index, ds.problem(index), len(turns), code, status=self.statuses.get(index),
                        flagged=index in self.hits, cluster=self.clusters.get(index))

    @on(Input.Changed, "#data-search")
    @on(Select.Changed, "#data-status")
    @on(Select.Changed, "#data-code")
    @on(Select.Changed, "#data-dup")
    @on(Select.Changed, "#data-source")
    def _filters_changed(self) -> None:
        if self.dataset is not None and self.query_one("#data-dup", Select).value == "dup" and not self.near_done:
            self.query_one(DataTasks).find_clusters(self.dataset, near=True)
            self.notify(f"Looking for near duplicates among {len(self.dataset):,} items …", title="Dataset")
        self.apply_filters()

    def apply_filters(self) -> None:
        """Recompute the shown rows from the search box and filters (in a worker)."""
        if self.dataset is None:
            return
        self.query_one(DataTasks).filter_rows(self.dataset, self.query_one(DataFilters).spec(), dict(self.statuses),
                                              dict(self.clusters), frozenset(self.hits))

    def on_rows_filtered(self, message: RowsFiltered) -> None:
        if message.error:
            self.notify(message.error, severity="error")
            return
        item_list = self.query_one(ItemList)
        keep = item_list.current
        if self._focus_after_save is not None:
            keep, self._focus_after_save = self._focus_after_save, None
        item_list.set_rows(message.rows, keep=keep)
        note = f"no item matches {message.query!r} (the search box)" if message.query and not message.rows \
            else ""
        self._show_count(len(message.rows), note=note)

    def _show_count(self, shown: int, note: str = "") -> None:
        ds = self.dataset
        total = len(ds) if ds is not None else 0
        name = ds.path.name if ds is not None and ds.path else ""
        dirty = " [yellow](unsaved)[/]" if ds is not None and ds.dirty else ""
        flagged = f" · [red]⚑ {len(self.hits):,}[/]" if self.hits else ""
        extra = f" · [yellow]{note}[/]" if note else ""
        self.query_one("#data-count", Static).update(f"{name}: showing {shown:,} of {total:,}{flagged}{dirty}{extra}")

    @property
    def shown_rows(self) -> list[int]:
        """Item indices the list shows now."""
        return list(self.query_one(ItemList).rows)

    # item view ----------------------------------------------------------------------------
    def on_item_list_highlighted(self, message: ItemList.Highlighted) -> None:
        # Drawing an item (highlighted code) is the slow part of moving: wait until the cursor rests.
        self._pending_item = message.row
        if self._item_timer is not None:
            self._item_timer.stop()
        self._item_timer = self.set_timer(ITEM_VIEW_DELAY, self._show_pending_item)

    def on_item_list_selected(self, message: ItemList.Selected) -> None:
        self._show_item(message.row)
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
                                  cluster=cluster, check=self.checks.get(index), hit=self.hits.get(index)))

    # editing ------------------------------------------------------------------------------
    def unsaved_work(self) -> str | None:
        if self.editing is not None:
            return f"the edit of item {self.editing + 1} (not saved)"
        if self.dataset is not None and self.dataset.dirty:
            return "changes to the dataset (not saved)"
        return None

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
            self._forget_positions()  # items were added or removed: every index after the change moved
        else:
            for index in (i for i in range(len(after)) if before[i] is not after[i]):
                for facts in (self.statuses, self.checks, self._code_cache, self.hits):
                    facts.pop(index, None)
        self._after_change(None, f"undo {label or ''}".strip())

    def action_new_item(self) -> None:
        if self.dataset is None:
            return
        current = self.query_one(ItemList).current
        at = len(self.dataset) if current is None else current + 1
        self.dataset.add_item([("human", ""), ("gpt", "")], index=at)
        self._forget_positions()
        self._after_change(None, "new item")
        self._focus_after_save = at
        self.notify("Item added; e edits it, u removes it again.", title="Dataset")

    def action_delete_item(self) -> None:
        index = self.query_one(ItemList).current
        if index is None or self.dataset is None:
            return
        from mathbench.tui.widgets.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes and self.dataset is not None:
                self.dataset.remove_item(index)
                self._forget_positions()
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
            for facts in (self.statuses, self.checks, self._code_cache, self.hits):
                facts.pop(index, None)
        item_list.invalidate()
        item_list.focus()
        self._show_item(item_list.current)
        self.query_one(DataTasks).save(self.dataset, label)

    def on_dataset_saved(self, message: DatasetSaved) -> None:
        if message.error:
            self.notify(message.error, title="Save failed", severity="error", timeout=10)
        else:
            self.notify(f"{message.label}: saved {message.path.name} (previous kept as .bak)", title="Dataset")
        self.apply_filters()


    # benchmarks ---------------------------------------------------------------------------
    def action_check_benchmarks(self) -> None:
        if self.dataset is None:
            return
        self._check_asked = True
        self.query_one(DataTasks).check_benchmarks(self.dataset, self.workspace)

    def action_drop_flagged(self) -> None:
        if self.dataset is None or not self.hits:
            self.notify("No item is flagged as repeating a benchmark problem (c checks).", title="Benchmarks")
            return
        from mathbench.tui.widgets.confirm import ConfirmScreen

        flagged = sorted(self.hits)

        def answered(yes: bool | None) -> None:
            if yes and self.dataset is not None:
                self.dataset.remove_items(flagged)
                self._forget_positions()
                self._after_change(None, f"drop {len(flagged)} items that repeat benchmark problems")

        self.app.push_screen(ConfirmScreen(f"Remove the {len(flagged)} items that repeat a benchmark problem?\n"
                                           "u undoes it.", yes="Remove"), answered)

    # validation ---------------------------------------------------------------------------
    def action_validate(self) -> None:
        if self.dataset is None:
            return
        tasks = self.query_one(DataTasks)
        if self._validate_stop is not None and not self._validate_stop.is_set():
            self._validate_stop.set()
            tasks.say("stopping …")
            return
        from mathbench.core.datasets import default_cache_path

        self._validate_stop = threading.Event()
        tasks.validate(self.dataset, self._validate_stop, self.code_timeout,
                       default_cache_path(self.workspace.state_dir))

    def on_validation_finished(self, message: ValidationFinished) -> None:
        tasks = self.query_one(DataTasks)
        if message.error:
            tasks.say(f"[red]{message.error}[/]")
            return
        self.statuses, self.checks, self.last_counts = message.statuses, message.checks, message.counts
        tasks.say(f"validated {len(message.statuses):,} items")
        tasks.show_summary(summary_line(message.counts))
        self.query_one(ItemList).invalidate()
        self.apply_filters()
        self._show_item(self.query_one(ItemList).current)

    # stats and focus ----------------------------------------------------------------------
    def action_stats(self) -> None:
        switcher = self.query_one("#data-right", ContentSwitcher)
        if switcher.current == "data-stats":
            switcher.current = "data-view"
            return
        if self.dataset is not None:
            self.query_one(DataTasks).compute_stats(self.dataset)
        switcher.current = "data-stats"

    def on_stats_computed(self, message: StatsComputed) -> None:
        self.query_one(DataStats).show(message.figures, self.statuses)

    def action_search(self) -> None:
        self.query_one("#data-search", Input).focus()

    def action_focus_filters(self) -> None:
        self.query_one("#data-status", Select).focus()

    def action_leave_input(self) -> None:
        self.query_one(ItemList).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "data-search":
            self.query_one(ItemList).focus()
