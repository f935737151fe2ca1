"""Home: the workspace at a glance; pick a run and jump to its results, adjudication or report."""

from __future__ import annotations

import time
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static

from mathbench.core.records import RunStatus
from mathbench.tui.registry import SCREENS
from mathbench.tui.widgets.common import WorkbenchScreen, pct
from mathbench.tui.widgets.item_list import Column, ItemList


def _status_style(value: str) -> str | None:
    return {RunStatus.RUNNING: "bold yellow", RunStatus.COMPLETE: "green", RunStatus.INCOMPLETE: "magenta"}.get(value)


RUN_COLUMNS = [
    Column("run"),
    Column("benchmark", 16, hide_below=100),
    Column("model", 14),
    Column("items", 5, "right"),
    Column("acc", 6, "right"),
    Column("uncertain", 9, "right"),
    Column("status", 10, style=_status_style),
    Column("when", 11),
]


class WorkspaceRead(Message):
    """The workspace's runs and other contents were listed."""

    def __init__(self, runs: list[dict], counts: dict[str, int], jobs: list[str]) -> None:
        super().__init__()
        self.runs = runs
        self.counts = counts
        self.jobs = jobs


def _when(created: float | None) -> str:
    if not created:
        return ""
    return time.strftime("%m-%d %H:%M", time.localtime(created))


class HomeScreen(WorkbenchScreen):
    """Lists the workspace's runs; enter opens one in the results browser."""

    TITLE = "Home"
    AUTO_FOCUS = "#home-table"
    BINDINGS = [
        Binding("enter", "open('results')", "Results", id="home.results", tooltip="Browse the highlighted run"),
        Binding("a", "open('adjudicate')", "Adjudicate", id="home.adjudicate",
                tooltip="Adjudicate the highlighted run's uncertain items"),
        Binding("r", "open('report')", "Report", id="home.report", tooltip="Charts of the highlighted run"),
        Binding("c", "compare", "Compare with", id="home.compare",
                tooltip="Use the highlighted run as the report's second run"),
        Binding("e", "open('eval')", "Follow", id="home.follow", tooltip="Follow the highlighted run live on the Eval screen"),
        Binding("f5,ctrl+r", "reload", "Reload", id="home.reload", tooltip="List the workspace again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[dict] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="home-main"):
            with Vertical(id="home-runs"):
                yield Static("Runs", classes="pane-title")
                yield ItemList(columns=RUN_COLUMNS, id="home-table")
                yield Static(id="home-selection")
            with Vertical(id="home-side"):
                yield Static("Workspace", classes="pane-title")
                yield Static(id="home-workspace")
                yield Static("Screens", classes="pane-title screens-title")
                yield Static(self._screens_text(), id="home-screens")

    def _screens_text(self) -> str:
        lines = [f"[b cyan]{spec.key}[/] {spec.title:<11}[dim]{spec.description}[/dim]" for spec in SCREENS]
        lines.append("[b cyan]?[/] Help       [dim]every key of the screen[/dim]")
        lines.append("[b cyan]:[/] Commands   [dim]search screens and actions[/dim]")
        return "\n".join(lines)

    def on_screen_resume(self) -> None:
        # Listing runs reads every results file: let the frame out before it competes for the GIL.
        self.call_after_refresh(self.action_reload)

    def action_reload(self) -> None:
        self.read_workspace()

    @work(thread=True, exclusive=True, group="home", exit_on_error=False)
    def read_workspace(self) -> None:
        """List runs (with their review backlog), datasets, jobs and logs of the workspace."""
        from mathbench.core.evaluation.listing import list_runs

        ws = self.app.workspace
        runs = [
            {"path": info.path, "name": info.name, "error": info.error, "benchmark": info.benchmark or "?",
             "model": info.model or "?", "items": info.total, "accuracy": info.accuracy, "pending": info.pending,
             "status": info.status, "created": info.created}
            for info in list_runs(ws.root)  # newest first
        ]
        counts = {}
        for label, folder, pattern in (("datasets", ws.datasets_dir, "*.json*"), ("benchmarks", ws.benchmarks_dir, "*.json*"),
                                       ("training runs", ws.train_dir, "*"), ("logs", ws.logs_dir, "*.log")):
            counts[label] = len(list(folder.glob(pattern))) if folder.is_dir() else 0
        jobs: list[str] = []
        try:
            from mathbench.core.jobs.registry import list_jobs

            jobs = [f"{job.kind} {job.id} · {job.state}" for job in list_jobs(ws) if job.active]
        except Exception as exc:  # a jobs folder in a bad state must not hide the runs
            jobs = [f"jobs unreadable: {exc}"]
        self.app.current_run  # noqa: B018 - the app's current run, found here rather than in the handler
        self.post_message(WorkspaceRead(runs, counts, jobs))

    @on(WorkspaceRead)
    def show_workspace(self, message: WorkspaceRead) -> None:
        self.runs = message.runs
        rows = []
        for run in self.runs:
            if run.get("error"):
                rows.append((run["name"], "", "", "", "", "", "unreadable", run["error"]))
                continue
            rows.append((run["name"], run["benchmark"], run["model"], str(run["items"]), pct(run["accuracy"]),
                         str(run["pending"] or ""), run["status"], _when(run.get("created"))))
        table = self.query_one(ItemList)
        table.set_rows(rows)
        current = self.app.current_run
        for i, run in enumerate(self.runs):
            if current and Path(run["path"]).resolve() == current:
                table.move_cursor(i)
        ws = self.app.workspace
        lines = [f"[b]{self.app.sub_title or ws.root}[/b]", ""]
        lines += [f"{n} {label}" for label, n in message.counts.items()]
        lines.append(f"{len(self.runs)} eval runs")
        lines.append("")
        lines += ([f"[yellow]● {job}[/yellow]" for job in message.jobs] or ["[dim]no job running[/dim]"])
        self.query_one("#home-workspace", Static).update("\n".join(lines))
        self._show_selection()

    def _highlighted(self) -> dict | None:
        table = self.query_one(ItemList)
        if not self.runs or table.cursor >= len(self.runs):
            return None
        return self.runs[table.cursor]

    @on(ItemList.Highlighted, "#home-table")
    def highlighted(self) -> None:
        if self.runs:  # before the workspace is read there is nothing to select (and no run listing to wait on)
            self._show_selection()

    def _show_selection(self) -> None:
        compare = self.app.compare_run
        current = self.app.current_run
        self.query_one("#home-selection", Static).update(
            f"[dim]selected:[/dim] {current.name if current else '—'}   "
            f"[dim]compared with:[/dim] {compare.name if compare else '—'}"
        )

    @on(ItemList.Selected, "#home-table")
    def selected(self) -> None:
        self.action_open("results")

    def action_open(self, screen: str) -> None:
        run = self._highlighted()
        if run is None:
            if screen == "eval":
                self.app.action_show("eval")
            return
        if screen == "eval":
            self.app.follow_request = Path(run["path"]).resolve()
        self.app.open_run(Path(run["path"]), screen)

    def action_compare(self) -> None:
        run = self._highlighted()
        if run is None:
            return
        path = Path(run["path"]).resolve()
        if path == self.app.current_run:
            self.notify("That is the selected run; highlight another run to compare with.", severity="warning")
            return
        self.app.compare_run = path
        self._show_selection()
        self.notify(f"The report compares {self.app.current_run.name if self.app.current_run else '—'} with {path.name}")
