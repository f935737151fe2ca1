"""The dataset screen: browse, search, filter, edit and validate an SFT file; fluid at 100k items."""

from __future__ import annotations

import gc
import re
import threading
from collections import Counter
from pathlib import Path

from rich.console import Group
from rich.rule import Rule
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import ContentSwitcher, Input, Label, ProgressBar, Select, Static, TextArea

from mathbench.tui.widgets.common import WorkbenchScreen, one_line
from mathbench.tui.widgets.data_item_list import ItemList
from mathbench.tui.widgets.train_chart import ChartData, LineChart, Series

STATUS_MARKS = {"match": ("✓", "green"), "mismatch": ("✗", "red"), "error": ("!", "magenta"),
                "timeout": ("⧗", "yellow"), "no_code": ("·", "dim"), "schema": ("§", "bold red")}
ROLE_STYLES = {"human": "bold cyan", "gpt": "bold green", "observation": "bold yellow", "system": "bold magenta"}
DATA_SUFFIXES = (".json", ".jsonl")
ITEM_VIEW_DELAY = 0.08
"""Seconds the cursor must rest on an item before the item view redraws."""


class DatasetLoaded(Message):
    """A dataset file was read into memory."""

    def __init__(self, dataset, error: str | None = None) -> None:
        super().__init__()
        self.dataset = dataset
        self.error = error


class RowsFiltered(Message):
    """The search and filters picked these item indices."""

    def __init__(self, rows: list[int], query: str) -> None:
        super().__init__()
        self.rows = rows
        self.query = query

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RowsFiltered)


class DatasetSaved(Message):
    """The dataset was written to disk (atomically, by core)."""

    def __init__(self, path: Path, label: str, error: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.label = label
        self.error = error


class ValidationProgressed(Message):
    """Validate-all has checked `done` of `total` items."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ValidationProgressed)


class ValidationFinished(Message):
    """Validate-all finished: a status per item index and the counts."""

    def __init__(self, statuses: dict[int, str], counts: dict[str, int], error: str | None = None) -> None:
        super().__init__()
        self.statuses = statuses
        self.counts = counts
        self.error = error


def _source_of(item: dict) -> str:
    """Where an item came from, when it says so (`source` as merged or synthesized data write it)."""
    value = item.get("source") if isinstance(item, dict) else None
    return str(value) if value not in (None, "") else ""


def _has_code(turns) -> bool:
    return any(t.role in ("gpt", "function_call") and "```" in t.content for t in turns)


def _matcher(query: str):
    """A predicate over text: `/regex` (case-insensitive) or a case-insensitive substring."""
    if query.startswith("/") and len(query) > 1:
        regex = re.compile(query[1:], re.IGNORECASE)
        return lambda text: regex.search(text) is not None
    needle = query.lower()
    return lambda text: needle in text.lower()


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def _turn_renderables(content: str) -> list:
    """A turn as text with its fenced blocks shown as highlighted code (cheaper than full Markdown)."""
    from rich.syntax import Syntax

    out: list = []
    position = 0
    for match in _FENCE.finditer(content):
        before = content[position:match.start()].strip("\n")
        if before:
            out.append(Text(before))
        language = match.group(1).lower() or "text"
        code = match.group(2).rstrip("\n")
        out.append(Syntax(code, "python" if language in ("python", "py", "python3") else "text",
                          theme="monokai", word_wrap=True, background_color="default"))
        position = match.end()
    rest = content[position:].strip("\n")
    if rest:
        out.append(Text(rest))
    return out


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
        """The core.dataset.Dataset shown."""
        self.statuses: dict[int, str] = {}
        """Validation status per item index (from validate-all)."""
        self.clusters: dict[int, int] = {}
        """Duplicate cluster number (1-based) per item index (items in no cluster are absent)."""
        self.cluster_list: list = []
        """core.dedupe.Cluster objects of the loaded file, largest first."""
        self.checks: dict[int, object] = {}
        """core.validate.ItemCheck per item index, from the last validate-all."""
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
            with Horizontal(id="data-filters"):
                yield Select([], prompt="dataset file", id="data-file")
                yield Input(placeholder="search every turn (/regex)", id="data-search")
                yield Select([("any status", "any"), ("not validated", "none"), ("schema error", "schema"),
                              ("code match", "match"), ("mismatch", "mismatch"), ("code error", "error"),
                              ("timeout", "timeout"), ("no code", "no_code")],
                             value="any", allow_blank=False, id="data-status")
                yield Select([("code: any", "any"), ("has code", "yes"), ("no code", "no")], value="any",
                             allow_blank=False, id="data-code")
                yield Select([("dups: any", "any"), ("in a dup cluster", "dup")], value="any", allow_blank=False,
                             id="data-dup")
                yield Select([("source: any", "any")], value="any", allow_blank=False, id="data-source")
            with Horizontal(id="data-main"):
                with Vertical(id="data-left"):
                    yield Static("", id="data-count")
                    yield ItemList(self._row_text, id="data-list")
                with ContentSwitcher(initial="data-view", id="data-right"):
                    with VerticalScroll(id="data-view"):
                        yield Static("", id="data-item")
                    with Vertical(id="data-edit"):
                        yield Label("Edit: <<<role>>> starts a turn · ctrl+s save · ctrl+g cancel", classes="pane-title")
                        yield TextArea(id="data-editor", soft_wrap=True, show_line_numbers=True)
                    with Vertical(id="data-stats"):
                        yield Static("", id="data-stats-text")
                        yield LineChart(ChartData("turns per item"), id="data-turns-chart")
                        yield LineChart(ChartData("characters per item"), id="data-length-chart")
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
            self.post_message(DatasetLoaded(Dataset.load(path)))
        except DatasetError as exc:
            self.post_message(DatasetLoaded(None, str(exc)))

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
        self.load_clusters(message.dataset)
        self._show_sources(message.dataset)
        self.apply_filters()

    @work(thread=True, exclusive=True, group="data-dedupe", exit_on_error=False)
    def load_clusters(self, dataset) -> None:
        """Exact and near-duplicate clusters of the problems, from core.dedupe."""
        from mathbench.core.datasets import find_duplicates

        clusters = find_duplicates([dataset.problem(i) for i in range(len(dataset))])
        mapping = {index: number for number, cluster in enumerate(clusters, start=1) for index in cluster.members}
        self.app.call_from_thread(self._set_clusters, mapping, clusters)

    def _set_clusters(self, mapping: dict[int, int], clusters: list) -> None:
        self.clusters = mapping
        self.cluster_list = clusters
        self.query_one(ItemList).invalidate()
        if self.query_one("#data-dup", Select).value == "dup":
            self.apply_filters()

    def _show_sources(self, dataset) -> None:
        """Offer the items' `source` values (merged and synthesized data carry one) as a filter."""
        counts = Counter(_source_of(item) for item in dataset.items)
        select = self.query_one("#data-source", Select)
        options = [("source: any", "any")] + [(f"{name} ({n})", name) for name, n in counts.most_common() if name]
        with select.prevent(Select.Changed):
            select.set_options(options)
            select.value = "any"
        select.display = len(options) > 1

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
        text.append("py " if self._code(index, turns) else "   ", style="cyan")
        if index in self.clusters:
            text.append(f"≈{self.clusters[index]} ", style="yellow")
        text.append(one_line(ds.problem(index), 200))
        return text

    def _code(self, index: int, turns=None) -> bool:
        cached = self._code_cache.get(index)
        if cached is None:
            cached = self._code_cache[index] = _has_code(turns if turns is not None else self.dataset.turns(index))
        return cached

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
        query = self.query_one("#data-search", Input).value.strip()
        status = str(self.query_one("#data-status", Select).value)
        code = str(self.query_one("#data-code", Select).value)
        dup = str(self.query_one("#data-dup", Select).value)
        source = str(self.query_one("#data-source", Select).value)
        self.filter_rows(self.dataset, query, status, code, dup, source)

    @work(thread=True, exclusive=True, group="data-filter", exit_on_error=False)
    def filter_rows(self, dataset, query: str, status: str, code: str, dup: str, source: str = "any") -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        try:
            match = _matcher(query) if query else None
        except re.error as exc:
            self.app.call_from_thread(self.notify, f"bad regex: {exc}", severity="error")
            return
        rows = []
        statuses, clusters = dict(self.statuses), dict(self.clusters)
        for index in range(len(dataset)):
            if index % 5000 == 0 and worker.is_cancelled:
                return
            if status != "any" and statuses.get(index, "none") != status:
                continue
            if dup == "dup" and index not in clusters:
                continue
            if source != "any" and _source_of(dataset[index]) != source:
                continue
            if code != "any" or match is not None:
                turns = dataset.turns(index)
                if code != "any" and self._code(index, turns) != (code == "yes"):
                    continue
                if match is not None and not any(match(t.content) for t in turns):
                    continue
            rows.append(index)
        self.post_message(RowsFiltered(rows, query))

    def on_rows_filtered(self, message: RowsFiltered) -> None:
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
        # Drawing an item (markdown, highlighted code) is the slow part of moving: wait until the cursor rests.
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
        view = self.query_one("#data-item", Static)
        if index is None or self.dataset is None:
            view.update("")
            return
        ds = self.dataset
        parts: list = []
        line = ds.line_of(index)
        where = f"{ds.path.name}:{line}" if ds.path and line else ""
        status = self.statuses.get(index, "not validated")
        parts.append(Text(f"item {index + 1}  {where}  status: {status}", style="bold"))
        number = self.clusters.get(index)
        if number is not None and number <= len(self.cluster_list):
            cluster = self.cluster_list[number - 1]
            others = ", ".join(str(m + 1) for m in cluster.members if m != index)
            parts.append(Text(f"  {cluster.kind} duplicate (cluster ≈{number}, similarity {cluster.similarity:.2f}) of item {others}",
                              style="yellow"))
        check = self.checks.get(index)
        if check is not None:
            for problem in list(check.schema_errors) + list(check.warnings):
                parts.append(Text(f"  {problem}", style="red"))
            for rnd in check.rounds:
                if rnd.result != "match":
                    parts.append(Text(f"  turn {rnd.turn}: {rnd.result} {rnd.how}".rstrip(), style="yellow"))
                    ran = rnd.stdout.strip() or rnd.error_tail.strip()
                    parts.append(Text(f"    ran:      {one_line(ran, 200)}", style="dim"))
                    if rnd.recorded is not None:
                        parts.append(Text(f"    recorded: {one_line(rnd.recorded, 200)}", style="dim"))
            if check.answer_status == "inconsistent":
                parts.append(Text(f"  answer {check.answer}: {check.answer_reason}", style="yellow"))
        for number, turn in enumerate(ds.turns(index)):
            parts.append(Rule(f"{number} {turn.role}", style=ROLE_STYLES.get(turn.role, "red"), align="left"))
            parts.extend(_turn_renderables(turn.content))
        extra = {k: v for k, v in ds[index].items() if k not in ("conversations", "messages")}
        if extra:
            parts.append(Rule("other fields", style="dim", align="left"))
            parts.append(Text(one_line(extra, 400), style="dim"))
        view.update(Group(*parts))

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
        self.save_dataset(label)

    @work(thread=True, exclusive=True, group="data-save", exit_on_error=False)
    def save_dataset(self, label: str) -> None:
        from mathbench.core.datasets import DatasetError

        ds = self.dataset
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
            self.post_message(ValidationFinished({}, {}, f"{type(exc).__name__}: {exc}"))
            return
        statuses = {check.index: ("schema" if check.schema_errors else check.code_status) for check in report.checks}
        self.checks = {check.index: check for check in report.checks}
        summary = report.summary()
        counts = {k: summary[k] for k in ("schema_errors", "code_match", "code_mismatch", "code_error",
                                           "code_timeout", "no_code", "valid") if summary.get(k)}
        if report.cancelled:
            counts["stopped early"] = len(report.checks)
        stop.set()
        self.post_message(ValidationFinished(statuses, counts))

    def on_validation_progressed(self, message: ValidationProgressed) -> None:
        self.query_one("#data-progress", ProgressBar).update(total=message.total, progress=message.done)
        self.query_one("#data-progress-text", Static).update(f"{message.done:,}/{message.total:,}")

    def on_validation_finished(self, message: ValidationFinished) -> None:
        text = self.query_one("#data-progress-text", Static)
        if message.error:
            text.update(f"[red]{message.error}[/]")
            return
        self.statuses = message.statuses
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
        turns_count: Counter = Counter()
        lengths = []
        roles: Counter = Counter()
        for index in range(len(dataset)):
            turns = dataset.turns(index)
            turns_count[len(turns)] += 1
            lengths.append(sum(len(t.content) for t in turns))
            roles.update(t.role for t in turns)
        self.app.call_from_thread(self._show_stats, dataset, turns_count, lengths, roles)

    def _show_stats(self, dataset, turns_count: Counter, lengths: list[int], roles: Counter) -> None:
        n = len(dataset)
        lines = [f"[b]{n:,}[/b] items · format {dataset.fmt} · turns by role: "
                 + ", ".join(f"{r} {c:,}" for r, c in roles.most_common())]
        if lengths:
            ordered = sorted(lengths)
            lines.append(f"characters per item: median {ordered[len(ordered) // 2]:,}, max {ordered[-1]:,}")
        if self.statuses:
            counts = Counter(self.statuses.values())
            lines.append("status: " + ", ".join(f"{k} {v} ({100 * v / max(1, n):.0f}%)" for k, v in counts.most_common()))
        self.query_one("#data-stats-text", Static).update("\n".join(lines))
        keys = sorted(turns_count)
        self.query_one("#data-turns-chart", LineChart).show(ChartData(
            "items by number of turns", (Series("items", tuple(range(len(keys))), tuple(float(turns_count[k]) for k in keys)),),
            kind="bar", bar_labels=tuple(str(k) for k in keys)))
        if lengths:
            top = max(lengths) or 1
            bins = 10
            width = max(1, -(-top // bins))
            hist = Counter(min(bins - 1, length // width) for length in lengths)
            labels = tuple(f"{b * width // 1000}k" if width >= 1000 else str(b * width) for b in range(bins))
            self.query_one("#data-length-chart", LineChart).show(ChartData(
                "items by characters", (Series("items", tuple(range(bins)), tuple(float(hist[b]) for b in range(bins))),),
                kind="bar", bar_labels=labels))

    def action_search(self) -> None:
        self.query_one("#data-search", Input).focus()

    def action_focus_filters(self) -> None:
        self.query_one("#data-status", Select).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "data-search":
            self.query_one(ItemList).focus()


