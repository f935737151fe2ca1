"""Eval: start a detached eval job, or follow any run directory live as its results land."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static
from textual.worker import get_current_worker

from mathbench.core.evaluation.follow import RunFollower
from mathbench.core.jobs.commands import eval_command
from mathbench.core.records import RunStatus
from mathbench.tui.widgets.common import VERDICT_MARKS, VERDICT_STYLES, WorkbenchScreen, duration, one_line, pct

# -- messages (facts) --------------------------------------------------------------------------


class EvalJobStarted(Message):
    """A detached eval job was started and writes to *run_dir*."""

    def __init__(self, job_id: str, run_dir: Path, argv: list[str]) -> None:
        super().__init__()
        self.job_id = job_id
        self.run_dir = run_dir
        self.argv = argv


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


class RunFollowStarted(Message):
    """Following *run_dir* began; what was already on disk is in the first RunProgressed."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir


class RunProgressed(Message):
    """New results were read from the followed run (cumulative: a newer one replaces an older queued one)."""

    def __init__(self, run_dir: Path, state: dict[str, Any]) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.state = state

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunProgressed) and message.run_dir == self.run_dir


class RunFollowEnded(RunProgressed):
    """The followed run has no writer any more: it finished, failed or was stopped."""

    def can_replace(self, message: Message) -> bool:
        return False


# -- following a run (worker side) --------------------------------------------------------------


def find_eval_job(workspace: Any, run_dir: Path) -> Any | None:
    """The newest eval job of the workspace that writes *run_dir*, if any."""
    from mathbench.core.jobs.registry import list_jobs

    wanted = str(Path(run_dir).resolve())
    for job in list_jobs(workspace, kind="eval"):
        recorded = job.meta.get("run_dir") or job.output_dir
        if recorded and str(Path(recorded).resolve()) == wanted:
            return job
    return None


class JobWatch:
    """Which process writes a followed run: the workspace's eval job for it, else any writer of its lock."""

    def __init__(self, follower: RunFollower, workspace: Any) -> None:
        self.follower = follower
        self.workspace = workspace
        self.job_log: list[str] = []
        """The last lines a failed job printed (why it failed)."""

    def state(self) -> tuple[str, str | None]:
        """("running"|a job state|the run's status, job id) of whatever writes this run."""
        run = self.follower.run
        job = None
        try:
            job = find_eval_job(self.workspace, run.path)
        except Exception:  # an unreadable jobs folder must not stop the live view
            job = None
        if job is not None and job.active:
            return "running", job.id
        if run.is_running():
            return "running", job.id if job else None
        if job is not None:
            if job.state == "failed" and not self.job_log:
                from mathbench.core.jobs.registry import tail_log

                self.job_log = [line for line in tail_log(job, 4) if line.strip()]
            return job.state, job.id
        return self.follower.status(running=False).value, None

    def snapshot(self, status: str, job_id: str | None) -> dict[str, Any]:
        """The follower's picture of the run with who writes it."""
        return dict(self.follower.snapshot(), status=status, job_id=job_id, job_log=list(self.job_log))


# -- the form's job command ----------------------------------------------------------------------


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question answered by y or n."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(self.question)
            yield Static("[b]y[/b] yes   [b]n[/b] no", classes="muted")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


# -- the screen ----------------------------------------------------------------------------------


class EvalScreen(WorkbenchScreen):
    """A form to start a detached eval, and the live view of the run it (or any run) writes."""

    TITLE = "Eval"
    BINDINGS = [
        Binding("ctrl+s,f2", "start", "Start eval", id="eval.start", tooltip="Start the eval in the form as a detached job"),
        Binding("n", "new", "New", id="eval.new", tooltip="Show the form for a new eval"),
        Binding("a", "attach", "Attach…", id="eval.attach", tooltip="Follow a running job or any run directory"),
        Binding("x", "cancel", "Cancel run", id="eval.cancel", tooltip="Stop the followed eval job"),
        Binding("e", "retry_errors", "Re-run errors", id="eval.retry", tooltip="Re-run the followed run's errored items"),
        Binding("enter", "results", "Results", id="eval.results", tooltip="Browse the followed run's items"),
        Binding("escape", "close_form", "Close form", show=False, id="eval.close-form",
                tooltip="Back to the live view (narrow terminals)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.following: Path | None = None
        self.live: dict[str, Any] | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="eval-main"):
            with VerticalScroll(id="eval-form"):
                yield Static("New eval (detached job)", classes="pane-title")
                yield Label("benchmark  [dim]gsm8k · math · FILE[/dim]")
                yield Input(id="eval-benchmark", compact=True)
                yield Label("endpoint(s)  [dim]space-separated base URLs[/dim]")
                yield Input(placeholder="http://127.0.0.1:8000/v1", id="eval-endpoints", compact=True)
                yield Label("model")
                yield Input(placeholder="served model name", id="eval-model", compact=True)
                with Horizontal(classes="eval-pair"):
                    with Vertical():
                        yield Label("concurrency")
                        yield Input("16", type="integer", id="eval-concurrency", compact=True)
                    with Vertical():
                        yield Label("limit  [dim]blank: all[/dim]")
                        yield Input(type="integer", id="eval-limit", compact=True)
                yield Label("prompt template")
                yield Select([("zh", "zh"), ("en", "en")], value="zh", allow_blank=False, id="eval-prompt", compact=True)
                yield Label("run name  [dim]folder under runs/[/dim]")
                yield Input(id="eval-name", compact=True)
                yield Button("Start  (ctrl+s)", id="eval-start", variant="primary")
            with VerticalScroll(id="eval-live"):
                yield Static("Not following a run. Start one (ctrl+s) or attach (a).", id="eval-title")
                yield ProgressBar(show_eta=False, id="eval-progress")
                yield Static(id="eval-stats")
                yield Static(id="eval-accuracy")
                with Horizontal(id="eval-tables"):
                    yield Static(id="eval-by-level")
                    yield Static(id="eval-by-subject")
                yield Static("Last items", classes="pane-title")
                yield Static(id="eval-recent")
                yield Static(id="eval-errors")

    def on_mount(self) -> None:
        self._fill_defaults()

    def _fill_defaults(self) -> None:
        ws = self.app.workspace
        benches = sorted(ws.benchmarks_dir.glob("*.json*")) if ws.benchmarks_dir.is_dir() else []
        self.query_one("#eval-benchmark", Input).value = str(benches[0].relative_to(ws.root)) if benches else "gsm8k"
        self.query_one("#eval-endpoints", Input).value = "http://127.0.0.1:8000/v1"
        self.query_one("#eval-name", Input).value = time.strftime("eval-%Y%m%d-%H%M%S")
        try:
            from mathbench.core.evaluation.pot import available_prompts

            prompts = available_prompts() or ["zh", "en"]
        except Exception:  # a broken prompts folder still leaves the two defaults
            prompts = ["zh", "en"]
        select = self.query_one("#eval-prompt", Select)
        select.set_options([(p, p) for p in prompts])
        select.value = "zh" if "zh" in prompts else prompts[0]

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
        if target is not None:
            self.app.call_from_thread(self.follow, target)

    # -- following --------------------------------------------------------------------------

    def follow(self, run_dir: Path) -> None:
        """Show *run_dir* live from now on (what is on disk at once, then each new result)."""
        self.following = Path(run_dir).resolve()
        self.live = None
        self.query_one("#eval-title", Static).update(f"reading {self.following.name}…")
        self._follow(self.following)

    @work(thread=True, exclusive=True, group="eval-follow", exit_on_error=False, name="eval-follow")
    def _follow(self, run_dir: Path) -> None:
        """Tail the run's results.jsonl; report by messages at most ~4 times a second."""
        worker = get_current_worker()
        follower = RunFollower(run_dir)
        watch = JobWatch(follower, self.app.workspace)
        self.post_message(RunFollowStarted(run_dir))
        last_status_check = 0.0
        status, job_id = "running", None
        first = True
        idle_since = None
        while not worker.is_cancelled:
            changed = bool(follower.poll())
            now = time.monotonic()
            if now - last_status_check > 1.0 or first:
                status, job_id = watch.state()
                last_status_check = now
            if changed or first:
                self.post_message(RunProgressed(run_dir, watch.snapshot(status, job_id)))
                first = False
                idle_since = None
            if status != "running":
                # One last read after the writer went away, then stop following.
                idle_since = idle_since or now
                if now - idle_since > 0.5:
                    follower.poll()
                    self.post_message(RunFollowEnded(run_dir, watch.snapshot(status, job_id)))
                    return
            time.sleep(0.25)

    @on(RunProgressed)
    def progressed(self, message: RunProgressed) -> None:
        if message.run_dir != self.following:
            return
        self.live = message.state
        with self.app.batch_update():
            self.render_live()

    def render_live(self) -> None:
        state = self.live
        if state is None:
            return
        s = state["summary"]
        status = state["status"]
        status_style = {"running": "bold yellow", "succeeded": "green", RunStatus.COMPLETE: "green"}.get(status, "magenta")
        title = Text.assemble((state["name"], "bold"), "  ", (str(state["model"] or "?"), "cyan"), " on ",
                              (str(state["benchmark"] or "?"), "cyan"), "  ", (status, status_style))
        if state["job_id"]:
            title.append(f"  job {state['job_id']}", style="dim")
        self.query_one("#eval-title", Static).update(title)
        total = state["total"] or max(1, state["done"])
        self.query_one(ProgressBar).update(total=total, progress=state["done"])
        rate = f"{state['rate']:.2f} items/s" if state["rate"] else "— items/s"
        tok = f" · {state['tok_rate']:.0f} tok/s" if state["tok_rate"] else ""
        eta = f" · ETA {duration(state['eta'])}" if state["eta"] is not None and status == "running" else ""
        self.query_one("#eval-stats", Static).update(
            f"[b]{state['done']:,}[/b] / {state['total'] or '?'} items · {rate}{tok}{eta} · "
            f"errors [magenta]{s['errors']}[/magenta]"
        )
        lo, hi = s["ci95"] or (None, None)
        self.query_one("#eval-accuracy", Static).update(
            f"accuracy [b]{pct(s['accuracy'])}[/b] [dim](95% CI {pct(lo)}–{pct(hi)})[/dim] · "
            f"[green]correct {s['correct']}[/] · [red]wrong {s['wrong']}[/] · [yellow]uncertain {s['uncertain']}[/]"
        )
        for group, widget in (("level", "#eval-by-level"), ("subject", "#eval-by-subject")):
            buckets = s.get(f"by_{group}") or {}
            table = Table(box=None, pad_edge=False, expand=True, show_edge=False)
            table.add_column(group, no_wrap=True, ratio=1, min_width=8)
            table.add_column("n", justify="right")
            table.add_column("acc", justify="right")
            table.add_column("95% CI", justify="right", style="dim")
            for key, b in buckets.items():
                label = f"Level {key}" if group == "level" and str(key).isdigit() else str(key)
                ci = b.get("ci95") or (None, None)
                table.add_row(one_line(label, 22), str(b["total"]), pct(b["accuracy"]), f"{pct(ci[0], 0)}–{pct(ci[1], 0)}")
            self.query_one(widget, Static).update(table if buckets else "")
        recent = Text()
        for item in state["recent"]:
            verdict = item["verdict"]
            recent.append(f"{VERDICT_MARKS.get(verdict, '·')} ", style=VERDICT_STYLES.get(verdict, ""))
            recent.append(f"{item['id']}", style="bold")
            if item["error"]:
                recent.append(f"  error: {one_line(item['error'], 80)}\n", style="magenta")
                continue
            latency = f"{item['latency']:.1f}s" if isinstance(item["latency"], (int, float)) else ""
            recent.append(f"  gold {one_line(item['gold'], 18)}  pred {one_line(item['pred'], 18)}  "
                          f"{item['reason'] or ''}  {latency}\n", style="")
        self.query_one("#eval-recent", Static).update(recent or Text("no results yet", style="dim"))
        errors = Text()
        if state["errors"]:
            errors.append("Errors (e re-runs them)\n", style="bold magenta")
            for item in state["errors"]:
                errors.append(f"! {item['id']}  {one_line(item['error'], 100)}\n", style="magenta")
        for problem in state["problems"]:
            errors.append(f"{problem}\n", style="red")
        if state.get("job_log"):
            errors.append(f"The job {state['job_id']} failed:\n", style="bold red")
            for line in state["job_log"]:
                errors.append(f"  {line}\n", style="red")
        self.query_one("#eval-errors", Static).update(errors)

    # -- starting, cancelling, re-running -----------------------------------------------------

    def _form(self) -> dict[str, Any] | None:
        def text(widget_id: str) -> str:
            return self.query_one(widget_id, Input).value.strip()

        endpoints = text("#eval-endpoints").replace(",", " ").split()
        model = text("#eval-model")
        benchmark = text("#eval-benchmark")
        missing = [name for name, value in (("benchmark", benchmark), ("endpoint", endpoints), ("model", model)) if not value]
        if missing:
            self.notify(f"Fill in: {', '.join(missing)}", severity="error")
            return None
        name = text("#eval-name") or time.strftime("eval-%Y%m%d-%H%M%S")
        run_dir = self.app.workspace.runs_dir / name
        if (run_dir / "manifest.json").exists():
            self.notify(f"runs/{name} exists: the job resumes it", severity="warning")
        prompt = self.query_one("#eval-prompt", Select).value
        return {
            "benchmark": benchmark, "endpoints": endpoints, "model": model,
            "concurrency": int(text("#eval-concurrency") or 0) or None, "limit": int(text("#eval-limit") or 0) or None,
            "prompt": prompt if isinstance(prompt, str) else None, "run_dir": run_dir,
        }

    def action_start(self) -> None:
        form = self._form()
        if form is None:
            return
        argv = eval_command(self.app.workspace.root, **form)
        self.start_job(argv, form["run_dir"], f"eval {form['run_dir'].name}")

    @on(Button.Pressed, "#eval-start")
    def start_pressed(self) -> None:
        self.action_start()

    @work(thread=True, group="eval-start", exit_on_error=False)
    def start_job(self, argv: list[str], run_dir: Path, title: str) -> None:
        """Start *argv* as a detached eval job (it outlives the workbench)."""
        from mathbench.core.jobs.registry import JobError, start_job

        try:
            job = start_job(self.app.workspace, "eval", argv, meta={"title": title, "run_dir": str(run_dir)},
                            output_dir=run_dir)
        except (JobError, OSError) as exc:
            self.post_message(EvalJobFailed(str(exc)))
            return
        if job.state == "failed":
            from mathbench.core.jobs.registry import tail_log

            self.post_message(EvalJobFailed("the eval job ended at once: " + " / ".join(tail_log(job, 3))))
        self.post_message(EvalJobStarted(job.id, run_dir, argv))

    @on(EvalJobStarted)
    def job_started(self, message: EvalJobStarted) -> None:
        self.notify(f"eval job {message.job_id} writes runs/{message.run_dir.name}", title="Eval started")
        self.app.select_run(message.run_dir)
        self.remove_class("-form-open")
        self.query_one("#eval-name", Input).value = time.strftime("eval-%Y%m%d-%H%M%S")
        self.follow(message.run_dir)

    @on(EvalJobFailed)
    def job_failed(self, message: EvalJobFailed) -> None:
        self.notify(message.reason, title="Eval job", severity="error", timeout=10)

    def action_cancel(self) -> None:
        if self.live is None or self.live["status"] != "running":
            self.notify("No running eval is followed.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.stop_job(self.following, self.live.get("job_id"))

        self.app.push_screen(ConfirmDialog(f"Stop the eval writing [b]{self.live['name']}[/b]? "
                                           "Finished items stay; it can be resumed."), answered)

    @work(thread=True, group="eval-stop", exit_on_error=False)
    def stop_job(self, run_dir: Path, job_id: str | None) -> None:
        """Stop the job gracefully (then by force), or signal a writer started outside the workbench."""
        import os
        import signal

        from mathbench.core.jobs.registry import JobError, stop_job
        from mathbench.core.evaluation.rundir import RunDir

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
        self.notify(f"eval {message.job_id or ''} {message.state}", title="Eval stopped")

    def action_retry_errors(self) -> None:
        if self.following is None or self.live is None:
            return
        if self.live["status"] == "running":
            self.notify("The run is still being written; re-run errors once it ends.", severity="warning")
            return
        if not self.live["summary"]["errors"]:
            self.notify("This run has no errored items.")
            return
        argv = eval_command(self.app.workspace.root, benchmark=None, endpoints=[], model=None, concurrency=None,
                            limit=None, prompt=None, run_dir=self.following, retry_errors=True)
        self.start_job(argv, self.following, f"eval {self.following.name} (re-run errors)")

    def action_new(self) -> None:
        self.add_class("-form-open")
        self.query_one("#eval-model", Input).focus()

    def action_close_form(self) -> None:
        self.remove_class("-form-open")
        self.set_focus(None)

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
