"""The jobs screen: every detached job of the workspace, attach to one, stop one."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from mathbench.tui.widgets.common import WorkbenchScreen, duration, one_line
from mathbench.tui.widgets.log_view import LogView

STATE_STYLES = {"starting": "cyan", "running": "bold green", "succeeded": "green", "failed": "bold red", "stopped": "yellow"}
ATTACH_SCREENS = {"train": "train", "serve": "serve", "synth": "synth", "eval": "eval"}
"""Which registry screen shows a job of each kind."""


class JobsListed(Message):
    """A fresh read of the workspace's jobs (with progress text) is ready."""

    def __init__(self, rows: list[tuple]) -> None:
        super().__init__()
        self.rows = rows

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, JobsListed)


class JobStopped(Message):
    """A stop request for a job has finished (the job ended or was killed)."""

    def __init__(self, job_id: str, state: str, error: str | None = None) -> None:
        super().__init__()
        self.job_id = job_id
        self.state = state
        self.error = error


class JobsScreen(WorkbenchScreen):
    """A table of jobs, refreshed every two seconds, and the selected job's log tail."""

    TITLE = "Jobs"
    CSS_PATH = "../styles/jobs.tcss"
    AUTO_FOCUS = "#jobs-table"
    BINDINGS = [
        Binding("enter,a", "attach", "Attach", id="jobs.attach", tooltip="Open the job's screen (train, serve, synth, eval)"),
        Binding("s,delete", "stop", "Stop", id="jobs.stop", tooltip="Stop the selected job (asks first)"),
        Binding("r,f5", "refresh", "Refresh", id="jobs.refresh", tooltip="Re-read the jobs now"),
        Binding("l", "focus_log", "Log", id="jobs.log", tooltip="Move to the log filter of the selected job"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._jobs: dict[str, object] = {}
        self._shown_log_for: str | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="jobs-body"):
            yield Static("", id="jobs-summary")
            yield DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="jobs-detail")
            yield LogView(id="jobs-log")

    def on_mount(self) -> None:
        table = self.query_one("#jobs-table", DataTable)
        for label, key in (("id", "id"), ("kind", "kind"), ("state", "state"), ("progress", "progress"),
                           ("started", "started"), ("took", "took"), ("what", "what")):
            table.add_column(label, key=key)
        self.action_refresh()
        self.set_interval(2.0, self.action_refresh)

    def on_screen_resume(self) -> None:
        self.action_refresh()

    # reading ------------------------------------------------------------------------------
    def action_refresh(self) -> None:
        self.read_jobs()

    @work(thread=True, exclusive=True, group="jobs-read", exit_on_error=False)
    def read_jobs(self) -> None:
        from mathbench.core.jobs.progress import job_progress
        from mathbench.core.jobs.registry import list_jobs

        rows = []
        for job in list_jobs(self.workspace):
            try:
                progress = job_progress(job)
            except Exception:  # noqa: BLE001 - a job whose progress cannot be read still lists
                progress = None
            rows.append((job, progress))
        self.post_message(JobsListed(rows))

    def on_jobs_listed(self, message: JobsListed) -> None:
        table = self.query_one("#jobs-table", DataTable)
        selected = self.selected_job_id
        self._jobs = {job.id: job for job, _ in message.rows}
        table.clear()
        for job, progress in message.rows:
            state = Text(job.state, style=STATE_STYLES.get(job.state, ""))
            if job.state == "failed" and job.exit_code is not None:
                state.append(f" ({job.exit_code})", style="red")
            prog = "—"
            if progress is not None:
                fraction = getattr(progress, "fraction", None)
                prog = progress.text or (f"{100 * fraction:.0f}%" if fraction is not None else "—")
            started = time.strftime("%m-%d %H:%M", time.localtime(job.start)) if job.start else "—"
            table.add_row(job.id, job.kind, state, one_line(prog, 30), started, duration(job.duration),
                          one_line(job.title, 60), key=job.id)
        if selected in self._jobs:
            table.move_cursor(row=table.get_row_index(selected))
        active = sum(1 for job, _ in message.rows if job.active)
        self.query_one("#jobs-summary", Static).update(
            f"{len(message.rows)} job(s), {active} active — in {self.workspace.jobs_dir}"
            if message.rows else "No jobs yet. Start one from the Train, Serve, Eval or Synth screen, or `mathbench train|serve`."
        )
        self._show_selected()

    @property
    def selected_job_id(self) -> str | None:
        """The id of the job under the table's cursor."""
        table = self.query_one("#jobs-table", DataTable)
        if table.row_count == 0:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:  # noqa: BLE001 - an empty or refreshing table has no key
            return None

    @on(DataTable.RowHighlighted, "#jobs-table")
    def _row_highlighted(self) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        job = self._jobs.get(self.selected_job_id or "")
        detail = self.query_one("#jobs-detail", Static)
        if job is None:
            detail.update("")
            return
        lines = [f"[b]{job.id}[/b]  {' '.join(job.command)}"]
        extra = []
        if job.output_dir:
            extra.append(f"output: {job.output_dir}")
        if job.url:
            extra.append(f"url: {job.url}")
        if job.error:
            extra.append(f"[red]{job.error}[/]")
        if extra:
            lines.append("  ".join(extra))
        detail.update("\n".join(lines))
        if self._shown_log_for != job.id:
            self._shown_log_for = job.id
            self.query_one("#jobs-log", LogView).follow(job.log_path)

    # actions ------------------------------------------------------------------------------
    async def action_attach(self) -> None:
        job = self._jobs.get(self.selected_job_id or "")
        if job is None:
            return
        screen_name = ATTACH_SCREENS.get(job.kind)
        if screen_name is None:
            self.action_focus_log()
            return
        await self.app.switch_mode(screen_name)
        attach = getattr(self.app.screen, "attach_job", None)
        if callable(attach):
            attach(job.id)
        elif screen_name == "eval" and job.meta.get("run_dir"):
            open_run = getattr(self.app, "open_run", None)
            if callable(open_run):
                open_run(job.meta["run_dir"], "eval")

    def action_focus_log(self) -> None:
        self.query_one("#jobs-log Input").focus()

    def action_stop(self) -> None:
        job = self._jobs.get(self.selected_job_id or "")
        if job is None:
            return
        if not job.active:
            self.notify(f"Job {job.id} is already {job.state}.", title="Jobs")
            return
        from mathbench.tui.widgets.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self.notify(f"Stopping {job.id} …", title="Jobs")
                self.stop_job(job.id)

        self.app.push_screen(ConfirmScreen(f"Stop job [b]{job.id}[/b] ({job.kind})?\n{one_line(job.title, 80)}",
                                           yes="Stop"), answered)

    @work(thread=True, group="jobs-stop", exit_on_error=False)
    def stop_job(self, job_id: str) -> None:
        from mathbench.core.jobs import JobError, stop_job

        try:
            job = stop_job(self.workspace, job_id)
        except JobError as exc:
            self.post_message(JobStopped(job_id, "?", str(exc)))
            return
        self.post_message(JobStopped(job_id, job.state))

    def on_job_stopped(self, message: JobStopped) -> None:
        if message.error:
            self.notify(message.error, title=f"Stop {message.job_id}", severity="error")
        else:
            self.notify(f"Job {message.job_id} is {message.state}.", title="Jobs")
        self.action_refresh()
