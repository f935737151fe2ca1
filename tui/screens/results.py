"""Results browser: every item of a run, filtered and sorted, each openable in full."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Static

from mathbench.tui.widgets.common import VERDICT_STYLES, WorkbenchScreen, one_line
from mathbench.tui.widgets.sample_folds import fold_samples
from mathbench.tui.widgets.item_list import Column, ItemList
from mathbench.tui.widgets.run_data import (RunLoaded, RunLoadFailed, RunSnapshot, VerdictOverridden, VerdictOverrides,
                                            level_key, load_run, run_signature)

VERDICT_FILTERS = ("all", "correct", "wrong", "uncertain", "error", "human")
SORTS = ("file", "id", "verdict", "level", "subject", "latency", "rounds")


def _verdict_style(value: str) -> str | None:
    return VERDICT_STYLES.get(value.rstrip("*"))


COLUMNS = [
    Column("#", 5, "right"),
    Column("id", 14),
    Column("verdict", 10, style=_verdict_style),
    Column("level", 8, hide_below=100),
    Column("subject", 16, hide_below=110),
    Column("gold", 12),
    Column("predicted", 12),
    Column("reason", 18, hide_below=130),
    Column("sec", 6, "right", hide_below=90),
    Column("question"),
]


def row_of(n: int, record: dict, snapshot: RunSnapshot, verdict: str) -> tuple[str, ...]:
    """The table row of the *n*-th record (a human verdict is marked with *)."""
    latency = record.get("latency")
    pred = record.get("pred_answer")
    return (
        str(n), str(record.get("id")), verdict + ("*" if snapshot.is_human(record) else ""),
        str(record.get("level") or ""), str(record.get("subject") or ""),
        one_line(record.get("gold_answer"), 40), one_line(pred if pred is not None else "—", 40),
        str(record.get("reason") or record.get("error") or ""),
        f"{latency:.1f}" if isinstance(latency, (int, float)) else "",
        one_line(record.get("question"), 300),
    )


def build_rows(snapshot: RunSnapshot) -> tuple[list[tuple[str, ...]], list[str], list[str]]:
    """Table rows, lower-cased search text and verdict of every record (done in the loading worker)."""
    rows: list[tuple[str, ...]] = []
    haystacks: list[str] = []
    verdicts: list[str] = []
    for n, record in enumerate(snapshot.records, 1):
        verdict = snapshot.verdict_of(record)
        pred = record.get("pred_answer")
        verdicts.append(verdict)
        rows.append(row_of(n, record, snapshot, verdict))
        haystacks.append(" ".join(
            str(x) for x in (record.get("id"), record.get("question"), record.get("gold_answer"), pred,
                             record.get("reason"), record.get("error")) if x is not None
        ).lower())
    return rows, haystacks, verdicts


class RowsBuilt(RunLoaded):
    """A run was read and its table rows built."""

    def __init__(self, snapshot: RunSnapshot, rows: list, haystacks: list[str], verdicts: list[str],
                 signature: tuple) -> None:
        super().__init__(snapshot)
        self.rows = rows
        self.haystacks = haystacks
        self.verdicts = verdicts
        self.signature = signature


def read_rows(path: Path) -> RowsBuilt:
    """Read *path* and build its table rows (in a worker thread; the app may do it ahead of time)."""
    signature = run_signature(path)
    snapshot = load_run(path)
    return RowsBuilt(snapshot, *build_rows(snapshot), signature)


class ResultsScreen(VerdictOverrides, WorkbenchScreen):
    """All items of the app's current run in a table that draws only visible rows."""

    CSS_PATH = "../styles/results.tcss"

    TITLE = "Results"
    AUTO_FOCUS = "#results-table"
    BINDINGS = [
        Binding("slash", "search", "Search", id="results.search", tooltip="Filter by text (question, answers, id)"),
        Binding("v", "cycle('verdict')", "Verdict", id="results.verdict", tooltip="Cycle the verdict filter"),
        Binding("l", "cycle('level')", "Level", id="results.level", tooltip="Cycle the level filter"),
        Binding("s", "cycle('subject')", "Subject", id="results.subject", tooltip="Cycle the subject filter"),
        Binding("t", "sort", "Sort", id="results.sort", tooltip="Cycle the sort column"),
        Binding("r", "reverse", "Reverse", id="results.reverse", tooltip="Reverse the sort order"),
        Binding("x", "clear", "Clear", id="results.clear", tooltip="Clear every filter"),
        Binding("y", "verdict('correct')", "Correct", id="results.correct",
                tooltip="Override the highlighted item: a human says correct"),
        Binding("n", "verdict('wrong')", "Wrong", id="results.wrong",
                tooltip="Override the highlighted item: a human says wrong"),
        Binding("u", "verdict(None)", "Undo verdict", id="results.undo", show=False,
                tooltip="Take back the highlighted item's last human verdict"),
        Binding("space", "fold", "Fold", id="results.fold",
                tooltip="Show or hide the samples of the highlighted problem (runs with several samples)"),
        Binding("o", "pick_run", "Run…", id="results.pick-run", tooltip="Choose the run to show"),
        Binding("f5,ctrl+r", "reload", "Reload", id="results.reload", tooltip="Read the run again from disk"),
        Binding("m", "misses_to_synth", "Misses→Synth", id="results.misses",
                tooltip="Write the run's wrong, flipped or uncertain problems as pairs and open Synth on them"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: RunSnapshot | None = None
        self.rows: list[tuple[str, ...]] = []
        self.haystacks: list[str] = []
        self.verdicts: list[str] = []
        self.shown: list[int] = []
        """Record index of each table row (a folded problem's row: its first shown sample)."""
        self.headers: dict[int, list[int]] = {}
        """Table position of each problem row of a sampled run -> the record indices of its shown samples."""
        self.expanded: set[Any] = set()
        self.filters: dict[str, str | None] = {"verdict": "all", "level": None, "subject": None}
        self.query_text = ""
        self.sort_key = "file"
        self.sort_reverse = False
        self._signature: tuple | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("loading…", id="results-status")
        with Horizontal(id="results-filterbar"):
            yield Input(placeholder="/ search question, answers, id, reason", id="results-search")
            yield Static(id="results-filters")
        yield ItemList(columns=COLUMNS, id="results-table")

    def on_screen_resume(self) -> None:
        wanted = self.app.current_run
        if wanted is None:
            self.query_one("#results-status", Static).update("No run yet: start one on the Eval screen (2) or press o.")
        else:
            # Read again only when it is a new run, or this one changed while the screen was hidden.
            self._load(wanted, only_if_changed=True)

    # -- loading ----------------------------------------------------------------------

    def load(self, path: Path) -> None:
        """Read *path* in a worker; the table fills when it arrives."""
        self.query_one("#results-status", Static).update(f"loading {path.name}…")
        self._load(path)

    @work(thread=True, exclusive=True, group="results-load", exit_on_error=False)
    def _load(self, path: Path, only_if_changed: bool = False) -> None:
        signature = run_signature(path)
        if only_if_changed and signature == self._signature:
            return
        try:
            # The app may already be reading this run since start-up: take its rows when they are current.
            built = self.app.take_preloaded(path)
            if built is None or built.signature != signature:
                built = read_rows(path)
        except (OSError, ValueError) as exc:
            self.post_message(RunLoadFailed(path, str(exc)))
            return
        self.post_message(built)

    @on(RunLoadFailed)
    def load_failed(self, message: RunLoadFailed) -> None:
        self.query_one("#results-status", Static).update(f"[red]{message.path}: {message.reason}[/red]")

    @on(RowsBuilt)
    def loaded(self, message: RowsBuilt) -> None:
        if not self.app.is_running:
            return  # rows read for a screen the quitting app is taking down
        snapshot = message.snapshot
        self.snapshot = snapshot
        self._signature = message.signature
        self.refresh_bindings()
        self.rows, self.haystacks, self.verdicts = message.rows, message.haystacks, message.verdicts
        if snapshot.problems:
            self.notify("\n".join(snapshot.problems[:5]), title="Skipped lines", severity="warning", timeout=15)
        self.refilter(cursor=0)
        if not isinstance(self.focused, Input):
            self.query_one(ItemList).focus()

    # -- filtering and sorting ----------------------------------------------------------

    def _choices(self, field: str) -> list[str | None]:
        if self.snapshot is None:
            return [None]
        values = {r.get(field) for r in self.snapshot.records if r.get(field)}
        ordered = sorted(values, key=level_key) if field == "level" else sorted(values, key=str)
        return [None, *ordered]

    def refilter(self, *, cursor: int | None = None) -> None:
        """Apply the filters and sort to every row and show the result."""
        if self.snapshot is None:
            return
        records = self.snapshot.records
        verdict = self.filters["verdict"]
        level, subject = self.filters["level"], self.filters["subject"]
        words = self.query_text.lower().split()
        visible: list[int] = []
        for i, record in enumerate(records):
            if verdict == "human":
                if not self.snapshot.is_human(record):
                    continue
            elif verdict != "all" and self.verdicts[i] != verdict:
                continue
            if level is not None and record.get("level") != level:
                continue
            if subject is not None and record.get("subject") != subject:
                continue
            if words and not all(w in self.haystacks[i] for w in words):
                continue
            visible.append(i)
        if self.sort_key != "file":
            visible.sort(key=self._sort_value, reverse=self.sort_reverse)
        elif self.sort_reverse:
            visible.reverse()
        if self.snapshot.sampled:
            self.shown, table_rows, self.headers = fold_samples(self.snapshot, visible, self.rows, self.verdicts,
                                                                self.expanded)
        else:
            self.shown, table_rows, self.headers = visible, [self.rows[i] for i in visible], {}
        self.query_one(ItemList).set_rows(table_rows, cursor=cursor)
        self._show_status()

    def _sort_value(self, i: int) -> Any:
        record = self.snapshot.records[i]
        if self.sort_key == "verdict":
            return self.verdicts[i]
        if self.sort_key == "level":
            return level_key(record.get("level"))
        if self.sort_key in ("latency", "rounds"):
            value = record.get(self.sort_key)
            return value if isinstance(value, (int, float)) else -1
        return str(record.get(self.sort_key) or "")

    def _show_status(self) -> None:
        snapshot = self.snapshot
        total = len(snapshot.records)
        correct = sum(1 for v in self.verdicts if v == "correct")
        counts = " · ".join(
            f"[{VERDICT_STYLES[v]}]{v} {sum(1 for x in self.verdicts if x == v)}[/]"
            for v in ("correct", "wrong", "uncertain", "error")
        )
        graded = sum(1 for v in self.verdicts if v != "error")  # an errored item was not measured
        acc = f"{100 * correct / graded:.1f}%" if graded else "—"
        if self.headers:
            samples = sum(len(members) for members in self.headers.values())
            shown = f"{len(self.headers):,} problems ({samples:,} of {total:,} samples) shown"
        else:
            shown = f"{len(self.shown):,} of {total:,} shown"
        self.query_one("#results-status", Static).update(
            f"[b]{snapshot.name}[/b]  {shown} · accuracy {acc} · {counts}"
        )
        parts = [f"verdict={self.filters['verdict']}"]
        for field in ("level", "subject"):
            if self.filters[field]:
                parts.append(f"{field}={self.filters[field]}")
        arrow = "↓" if self.sort_reverse else "↑"
        parts.append(f"sort={self.sort_key}{arrow}")
        self.query_one("#results-filters", Static).update(" ".join(parts))

    def action_cycle(self, field: str) -> None:
        choices = list(VERDICT_FILTERS) if field == "verdict" else self._choices(field)
        current = self.filters[field]
        index = choices.index(current) if current in choices else -1
        self.filters[field] = choices[(index + 1) % len(choices)]
        self.refilter(cursor=0)

    def action_sort(self) -> None:
        self.sort_key = SORTS[(SORTS.index(self.sort_key) + 1) % len(SORTS)]
        self.refilter(cursor=0)

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.refilter(cursor=0)

    def action_clear(self) -> None:
        self.filters = {"verdict": "all", "level": None, "subject": None}
        self.query_text = ""
        self.query_one("#results-search", Input).value = ""
        self.refilter(cursor=0)

    def action_search(self) -> None:
        self.query_one("#results-search", Input).focus()

    @on(Input.Changed, "#results-search")
    def search_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self.refilter(cursor=0)

    @on(Input.Submitted, "#results-search")
    def search_done(self) -> None:
        self.query_one(ItemList).focus()

    def action_reload(self) -> None:
        if self.app.current_run is not None:
            self.load(self.app.current_run)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fold":
            return self.snapshot is not None and self.snapshot.sampled  # no samples: no key in the footer
        return True

    def action_fold(self) -> None:
        table = self.query_one(ItemList)
        if self.snapshot is None or not self.snapshot.sampled or table.cursor >= len(self.shown):
            return
        pid = self.snapshot.records[self.shown[table.cursor]].get("id")
        header = next(pos for pos in sorted(self.headers, reverse=True) if pos <= table.cursor)
        self.expanded.symmetric_difference_update({pid})
        self.refilter(cursor=header)

    def action_verdict(self, verdict: str | None) -> None:
        table = self.query_one(ItemList)
        if self.snapshot is None or not self.shown or table.cursor >= len(self.shown):
            return
        if table.cursor in self.headers:
            self.notify("A verdict settles one sample: space shows this problem's samples.", title="Results")
            return
        self.override(self.snapshot.path, self.snapshot.records[self.shown[table.cursor]], verdict)

    @on(VerdictOverridden)
    def overridden(self, message: VerdictOverridden) -> None:
        snapshot = self.snapshot
        if snapshot is None or message.run_path != snapshot.path:
            return
        snapshot.adjudications = message.adjudications
        for i, record in enumerate(snapshot.records):
            if record.get("id") == message.record_id:
                self.verdicts[i] = snapshot.verdict_of(record)
                self.rows[i] = row_of(i + 1, record, snapshot, self.verdicts[i])
        # The run changed on disk through this screen: no reload needed when it shows again.
        self._signature = message.signature
        self.refilter()

    def action_pick_run(self) -> None:
        from mathbench.tui.widgets.run_picker import RunPicker

        def picked(path: Path | None) -> None:
            if path is not None:
                self.app.select_run(path)
                self.load(self.app.current_run)

        self.app.push_screen(RunPicker("Show results of run", self.app.current_run), picked)

    @on(ItemList.Selected, "#results-table")
    def open_item(self, event: ItemList.Selected) -> None:
        from mathbench.tui.screens.item import ItemScreen

        if self.snapshot is None or not self.shown:
            return
        records = [self.snapshot.records[i] for i in self.shown]

        def closed(index: int | None) -> None:
            if index is not None:
                self.query_one(ItemList).move_cursor(index)

        self.app.push_screen(ItemScreen(records, event.cursor, self.snapshot), closed)

    def action_misses_to_synth(self) -> None:
        from mathbench.tui.widgets.data_misses import open_synth_on_misses

        open_synth_on_misses(self, self.app.current_run, self.app.compare_run)
