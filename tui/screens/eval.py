"""Eval: start a detached eval job, or follow any run directory live as its results land."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button
from textual.worker import get_current_worker

from mathbench.core.records import RunStatus
from mathbench.tui.widgets.common import WorkbenchScreen
from mathbench.tui.widgets.eval_form import REMEMBERED, EvalForm
from mathbench.tui.widgets.eval_live import EvalLive, RunFollowEnded, RunFollowStarted, RunProgressed, follow_run

__all__ = ["EvalScreen", "EvalJobStarted", "EvalJobFailed", "EvalJobStopped", "RunFollowStarted", "RunProgressed",
           "RunFollowEnded"]


class EvalJobStarted(Message):
    """A detached eval job was started and writes to *run_dir*."""

    def __init__(self, job_id: str, run_dir: Path, argv: list[str], state: str = "running") -> None:
        super().__init__()
        self.job_id = job_id
        self.run_dir = run_dir
        self.argv = argv
        self.state = state
        """The job's state just after the start ("failed" when it ended at once)."""


class EvalJobFailed(Message):
    """An eval job could not be started (or stopped)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class EvalJobStopped(Message):
    """The eval job was asked to stop and has ended (or was signalled)."""

    def __init__(self, job_id: str | None, state: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.state = state


class FormDefaultsRead(Message):
    """The workspace's benchmarks, prompt templates and remembered form values were read."""

    def __init__(self, benchmark: str, prompts: list[str], remembered: dict[str, Any]) -> None:
        super().__init__()
        self.benchmark = benchmark
        self.prompts = prompts
        self.remembered = remembered


class EvalScreen(WorkbenchScreen):
    """A form to start a detached eval, and the live view of the run it (or any run) writes."""

    CSS_PATH = "../styles/eval.tcss"

    TITLE = "Eval"
    BINDINGS = [
        Binding("ctrl+s,f2", "start", "Start eval", id="eval.start", tooltip="Start the eval in the form as a detached job"),
        Binding("n", "new", "New", id="eval.new", tooltip="Show the form for a new eval"),
        Binding("a", "attach", "Attach…", id="eval.attach", tooltip="Follow a running job or any run directory"),
        Binding("x", "cancel", "Cancel run", id="eval.cancel", tooltip="Stop the followed eval job"),
        Binding("r", "resume", "Resume", id="eval.resume", tooltip="Resume the followed run where it stopped"),
        Binding("e", "retry_errors", "Re-run errors", id="eval.retry", tooltip="Re-run the followed run's errored items"),
        Binding("enter", "results", "Results", id="eval.results", tooltip="Browse the followed run's items"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.following: Path | None = None
        self.live: dict[str, Any] | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="eval-main"):
            yield EvalForm(id="eval-form")
            yield EvalLive(id="eval-live")

    def on_mount(self) -> None:
        self.read_form_defaults()

    @work(thread=True, exclusive=True, group="eval-form", exit_on_error=False)
    def read_form_defaults(self) -> None:
        """The first benchmark file, the prompt templates and the last values used in this workspace."""
        ws = self.app.workspace
        benches = sorted(ws.benchmarks_dir.glob("*.json*")) if ws.benchmarks_dir.is_dir() else []
        try:
            from mathbench.core.evaluation.pot import available_prompts

            prompts = list(available_prompts())
        except Exception:  # a broken prompts folder still leaves the two defaults
            prompts = []
        benchmark = str(benches[0].relative_to(ws.root)) if benches else "gsm8k"
        self.post_message(FormDefaultsRead(benchmark, prompts, ws.remembered(REMEMBERED)))

    @on(FormDefaultsRead)
    def fill_form(self, message: FormDefaultsRead) -> None:
        self.query_one(EvalForm).fill(message.benchmark, message.prompts, message.remembered)

    def on_screen_resume(self) -> None:
        request = getattr(self.app, "follow_request", None)
        if request is not None:
            self.app.follow_request = None
            self.follow(Path(request))
        elif self.following is None:
            self.attach_default()

    @work(thread=True, exclusive=True, group="eval-attach", exit_on_error=False)
    def attach_default(self) -> None:
        """Follow the newest running eval job, else the app's current run."""
        from mathbench.core.jobs.registry import list_jobs

        target = None
        try:
            for job in list_jobs(self.app.workspace, kind="eval"):
                if job.active and (job.meta.get("run_dir") or job.output_dir):
                    target = Path(job.meta.get("run_dir") or job.output_dir)
                    break
        except Exception:  # no jobs folder yet, or an unreadable one: fall back to the current run
            target = None
        target = target or self.app.current_run
        if target is not None and not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.follow, target)

    @work(thread=True, exclusive=True, group="eval-attach", exit_on_error=False)
    def attach_job(self, job_id: str) -> None:
        """Follow the run that eval job *job_id* writes (called by the jobs screen)."""
        from mathbench.core.jobs.registry import JobError, get_job

        try:
            job = get_job(self.app.workspace, job_id)
        except JobError as exc:
            self.post_message(EvalJobFailed(str(exc)))
            return
        run_dir = job.meta.get("run_dir") or job.output_dir
        if run_dir and not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.follow, Path(run_dir))

    # -- following --------------------------------------------------------------------------

    def follow(self, run_dir: Path) -> None:
        """Show *run_dir* live from now on (what is on disk at once, then each change, whoever writes it)."""
        self.following = Path(run_dir).resolve()
        self.live = None
        self.query_one(EvalLive).show_title(f"reading {self.following.name}…")
        self._follow(self.following)

    @work(thread=True, exclusive=True, group="eval-follow", exit_on_error=False, name="eval-follow")
    def _follow(self, run_dir: Path) -> None:
        """Watch the run until another run is followed or the screen goes away."""
        worker = get_current_worker()
        follow_run(run_dir, self.app.workspace, self.post_message, lambda: worker.is_cancelled)

    @on(RunProgressed)
    def progressed(self, message: RunProgressed) -> None:
        if message.run_dir != self.following:
            return
        self.live = message.state
        with self.app.batch_update():
            self.query_one(EvalLive).show(message.state)

    # -- starting, cancelling, resuming ------------------------------------------------------

    def action_start(self) -> None:
        form = self.query_one(EvalForm)
        missing = form.missing()
        if missing:
            self.notify(f"Fill in: {', '.join(missing)}", severity="error")
            return
        try:
            options = form.options()
        except ValueError as exc:
            self.notify(f"Not a number: {exc}", severity="error")
            return
        run_dir = self.app.workspace.runs_dir / (form.text("name") or form.values()["name"] or "eval")
        self.start_job(run_dir, options, f"eval {run_dir.name}", remember=form.remembered_values())

    @on(Button.Pressed, "#eval-start")
    def start_pressed(self) -> None:
        self.action_start()

    @work(thread=True, group="eval-start", exit_on_error=False)
    def start_job(self, run_dir: Path, options: dict[str, Any], title: str, remember: dict | None = None) -> None:
        """Start `mathbench eval` as a detached job (it outlives the workbench); a job that fails at once says why."""
        from mathbench.core.jobs.commands import eval_command
        from mathbench.core.jobs.registry import JobError, start_job, tail_log

        workspace = self.app.workspace
        argv = eval_command(workspace.root, run_dir, **options)
        try:
            if remember is not None:
                workspace.remember(REMEMBERED, remember)
            job = start_job(workspace, "eval", argv, meta={"title": title, "run_dir": str(run_dir)}, output_dir=run_dir)
        except (JobError, OSError) as exc:
            self.post_message(EvalJobFailed(str(exc)))
            return
        if job.state == "failed":
            detail = " / ".join(line for line in tail_log(job, 3) if line.strip()) or f"exit code {job.exit_code}"
            self.post_message(EvalJobFailed(f"the eval job {job.id} ended at once: {detail}"))
        self.post_message(EvalJobStarted(job.id, run_dir, argv, job.state))

    @on(EvalJobStarted)
    def job_started(self, message: EvalJobStarted) -> None:
        if message.state != "failed":
            self.notify(f"eval job {message.job_id} writes runs/{message.run_dir.name}", title="Eval started")
        self.app.select_run(message.run_dir)
        self.remove_class("-form-open")
        self.set_focus(None)
        self.query_one(EvalForm).next_run()
        self.follow(message.run_dir)

    @on(EvalJobFailed)
    def job_failed(self, message: EvalJobFailed) -> None:
        self.notify(message.reason, title="Eval job", severity="error", timeout=10)

    def _followed_idle(self, verb: str) -> bool:
        """True when a run is followed and nothing writes it now; says why not otherwise."""
        if self.following is None or self.live is None:
            self.notify("No run is followed: a picks one.", severity="warning")
            return False
        if self.live["status"] == RunStatus.RUNNING.value:
            self.notify(f"The run is still being written; {verb} once it ends.", severity="warning")
            return False
        return True

    def action_cancel(self) -> None:
        from mathbench.tui.widgets.confirm import ConfirmScreen

        if self.live is None or self.live["status"] != RunStatus.RUNNING.value:
            self.notify("No running eval is followed.", severity="warning")
            return
        run_dir, job_id = self.following, self.live.get("job_id")

        def answered(yes: bool | None) -> None:
            if yes:
                self.stop_job(run_dir, job_id)

        self.app.push_screen(ConfirmScreen(f"Stop the eval writing [b]{self.live['name']}[/b]?\n"
                                           "Finished items stay; r resumes it.", yes="Stop"), answered)

    @work(thread=True, group="eval-stop", exit_on_error=False)
    def stop_job(self, run_dir: Path, job_id: str | None) -> None:
        """Stop the job gracefully (then by force), or signal a writer started outside the workbench."""
        import os
        import signal

        from mathbench.core.evaluation.rundir import RunDir
        from mathbench.core.jobs import JobError, stop_job

        try:
            if job_id:
                job = stop_job(self.app.workspace, job_id, grace=15.0)
                self.post_message(EvalJobStopped(job_id, job.state))
                return
            pid = RunDir(run_dir).writer_pid()
            if pid and pid > 0:
                os.kill(pid, signal.SIGINT)
                self.post_message(EvalJobStopped(None, "interrupted"))
        except (JobError, OSError) as exc:
            self.post_message(EvalJobFailed(f"could not stop: {exc}"))

    @on(EvalJobStopped)
    def job_stopped(self, message: EvalJobStopped) -> None:
        self.notify(f"eval {message.job_id or ''} {message.state}; r resumes it", title="Eval stopped")

    def action_resume(self) -> None:
        if not self._followed_idle("resume it"):
            return
        if self.live["run_status"] != RunStatus.INCOMPLETE.value:
            self.notify("This run is complete; e re-runs its errored items.")
            return
        self.start_job(self.following, {}, f"eval {self.following.name} (resumed)")

    def action_retry_errors(self) -> None:
        if not self._followed_idle("re-run errors"):
            return
        if not self.live["summary"]["errors"]:
            self.notify("This run has no errored items.")
            return
        self.start_job(self.following, {"retry_errors": True}, f"eval {self.following.name} (re-run errors)")

    def action_new(self) -> None:
        self.add_class("-form-open")
        self.query_one(EvalForm).focus_first_empty()

    def watch_focused(self, focused) -> None:
        # Leaving the form (Esc) on a narrow terminal brings the live view back.
        if self.has_class("-form-open") and (focused is None or self.query_one(EvalForm) not in focused.ancestors):
            self.remove_class("-form-open")

    def action_attach(self) -> None:
        from mathbench.tui.widgets.run_picker import RunPicker

        def picked(path: Path | None) -> None:
            if path is not None:
                self.remove_class("-form-open")
                self.follow(path)

        self.app.push_screen(RunPicker("Follow run", self.following), picked)

    def action_results(self) -> None:
        if self.following is not None:
            self.app.open_run(self.following, "results")
